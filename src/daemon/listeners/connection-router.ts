// Accepts the connections of the daemon's Unix socket for every transport that shares it: reads each one's
// peer credentials (once, before any byte is read), registers it, and by its first bytes hands it to gRPC
// (the HTTP/2 client preface "PRI ") or to the fast path (its preface "ORBF..."); anything else, or nothing
// within the preface timeout, is closed. The bytes read to decide are put back for the transport.
import type net from "node:net";
import type { Logger } from "../../common/logger.js";
import { PREFACE, PREFACE_MAGIC } from "../../common/fastpath/frame.js";
import type { PeerCredentialReader } from "../auth/peer-credentials.js";
import type { Connection, ConnectionTable } from "../rpc/connections.js";

const HTTP2_MAGIC = Buffer.from("PRI ");

export interface ConnectionRouterDeps {
  log: Logger;
  peerCredentials: PeerCredentialReader;
  connections: ConnectionTable;
  grpc: { injectConnection(socket: net.Socket): void };
  fast: { accept(socket: net.Socket, conn: Connection, preface: Buffer): void };
  /** Open connections at most (all transports); more are closed at accept. */
  maxConnections: number;
  /** How long a new connection may take to send its first bytes, ms. */
  prefaceTimeoutMs?: number;
}

export class ConnectionRouter {
  private readonly listeners: net.Server[] = [];

  constructor(private readonly deps: ConnectionRouterDeps) {}

  /** Serves the connections `listener` accepts (already listening or about to). */
  attach(listener: net.Server): void {
    listener.maxConnections = this.deps.maxConnections;
    listener.on("connection", (socket: net.Socket) => this.accept(socket));
    this.listeners.push(listener);
  }

  /** Stops accepting at once (connections already accepted go on). */
  stopAccepting(): void {
    // close()'s callback would wait for every connection to end: not waited for.
    for (const l of this.listeners) l.close();
  }

  private accept(socket: net.Socket): void {
    const { peerCredentials, log } = this.deps;
    let peer: Connection["peer"];
    if (!peerCredentials.available) {
      peer = { error: peerCredentials.cause };
    } else {
      try {
        peer = peerCredentials.read(socket);
      } catch (err) {
        peer = { error: (err as Error).message };
      }
    }
    const conn = this.deps.connections.add(socket, peer);
    socket.on("error", (err) => log.debug({ err: err.message }, "connection error"));
    this.sniff(socket, conn);
  }

  /** Reads until the first bytes tell the protocol, then puts them back and hands the socket over. */
  private sniff(socket: net.Socket, conn: Connection): void {
    const chunks: Buffer[] = [];
    let length = 0;
    const timer = setTimeout(() => {
      socket.off("data", onData);
      socket.destroy();
    }, this.deps.prefaceTimeoutMs ?? 5000);
    timer.unref();
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      length += chunk.length;
      const head = Buffer.concat(chunks, length);
      const grpc = head.subarray(0, HTTP2_MAGIC.length).equals(HTTP2_MAGIC.subarray(0, Math.min(length, HTTP2_MAGIC.length)));
      const fast = head.subarray(0, PREFACE_MAGIC.length).equals(PREFACE_MAGIC.subarray(0, Math.min(length, PREFACE_MAGIC.length)));
      if (!grpc && !fast) {
        clearTimeout(timer);
        socket.off("data", onData);
        this.deps.log.debug({ first: head.subarray(0, 8).toString("hex") }, "connection speaks no protocol of ours: closed");
        socket.destroy();
        return;
      }
      if (length < (fast ? PREFACE.length : HTTP2_MAGIC.length)) return;
      clearTimeout(timer);
      socket.off("data", onData);
      socket.pause();
      if (grpc) {
        conn.protocol = "grpc";
        // Node's HTTP/2 session reads the unshifted bytes first, then takes the socket's handle over itself.
        socket.unshift(head);
        this.deps.grpc.injectConnection(socket);
      } else {
        conn.protocol = "fast";
        if (length > PREFACE.length) socket.unshift(head.subarray(PREFACE.length));
        this.deps.fast.accept(socket, conn, head.subarray(0, PREFACE.length));
        socket.resume();
      }
    };
    socket.on("data", onData);
  }
}
