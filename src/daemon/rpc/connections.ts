// Tracks accepted connections: each gets an id that grpc-js reports back as the call's peer, its peer
// credentials (read once, before grpc-js sees the socket) and its count of calls in flight.
import type net from "node:net";
import type { PeerCredentials } from "../auth/peer-credentials.js";

export interface Connection {
  id: string;
  /** Credentials, or why they could not be read (every call on it is then refused). */
  peer: PeerCredentials | { error: string };
  inFlight: number;
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
    const conn: Connection = { id, peer, inFlight: 0 };
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
}
