// Tracks accepted connections of every transport: each gets an id (that grpc-js reports back as the call's
// peer), its peer credentials (read once, before any transport sees a byte) and its count of calls in flight;
// and the principal a connection's calls run as.
import type net from "node:net";
import { ErrorReason } from "../../gen/orbital/api/v1/error_reason_pb.js";
import { OrbitalError } from "../../common/errors.js";
import type { PeerCredentials } from "../auth/peer-credentials.js";
import type { Principal } from "../auth/principal.js";

export interface Connection {
  id: string;
  /** Credentials, or why they could not be read (every call on it is then refused). */
  peer: PeerCredentials | { error: string };
  inFlight: number;
  /** The transport its first bytes chose; undefined until then. */
  protocol: "grpc" | "fast" | undefined;
}

const PEER_PREFIX = "orbital-conn-";

export class ConnectionTable {
  private seq = 0;
  private readonly byId = new Map<string, Connection>();

  /**
   * Registers an accepted socket. grpc-js names a call's peer after its socket's remoteAddress, which Unix
   * sockets lack; giving each socket its own is how a call finds its connection again.
   */
  add(socket: net.Socket, peer: Connection["peer"]): Connection {
    const id = `${PEER_PREFIX}${++this.seq}`;
    Object.defineProperty(socket, "remoteAddress", { value: id, configurable: true });
    const conn: Connection = { id, peer, inFlight: 0, protocol: undefined };
    this.byId.set(id, conn);
    socket.once("close", () => this.byId.delete(id));
    return conn;
  }

  /** The connection of a call, from grpc-js's getPeer(). */
  byPeer(peer: string): Connection | undefined {
    return this.byId.get(peer);
  }

  get size(): number {
    return this.byId.size;
  }

  /** Open connections of one transport. */
  sizeOf(protocol: Connection["protocol"]): number {
    let n = 0;
    for (const c of this.byId.values()) if (c.protocol === protocol) n++;
    return n;
  }
}

/** The principal of a connection's calls, or the structured reason why there is none. */
export function connectionPrincipal(conn: Connection | undefined, authenticatePeer: (peer: PeerCredentials) => Principal): Principal {
  if (!conn) {
    throw new OrbitalError({ reason: ErrorReason.CREDENTIALS_MISSING, message: "the call came on a connection without credentials" });
  }
  if ("error" in conn.peer) {
    throw new OrbitalError({
      reason: ErrorReason.PEER_CREDENTIALS_UNAVAILABLE,
      message: "peer credentials are unavailable; refusing every call",
      metadata: { cause: conn.peer.error },
    });
  }
  return authenticatePeer(conn.peer);
}

/** The uid of a connection's peer, when its credentials were read. */
export function peerUid(conn: Connection | undefined): number | undefined {
  return conn && "uid" in conn.peer ? conn.peer.uid : undefined;
}

/** Counts a call in flight on `conn`, or refuses it (RATE_LIMITED) past `limit`; returns the release. */
export function admitCall(conn: Connection, limit: number): () => void {
  if (conn.inFlight >= limit) {
    throw new OrbitalError({ reason: ErrorReason.RATE_LIMITED, message: `more than ${limit} calls in flight on this connection`, metadata: { limit }, retryDelayMs: 100 });
  }
  conn.inFlight++;
  return () => void conn.inFlight--;
}
