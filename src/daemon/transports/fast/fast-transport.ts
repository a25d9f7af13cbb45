// The fast-path transport (docs/fast-path.md): takes the connections the router recognised by the fast
// preface, checks the protocol version and the per-uid connection limit, serves each with a FastConnection,
// and on stop says GOAWAY to all and lets the pipeline drain their calls.
import type net from "node:net";
import { GoawayCode } from "../../../gen/orbital/fastpath/v1/fastpath_pb.js";
import type { Logger } from "../../../common/logger.js";
import { DEFAULT_MAX_FRAME_BYTES, PREFACE } from "../../../common/fastpath/frame.js";
import type { PeerCredentials } from "../../auth/peer-credentials.js";
import type { Principal } from "../../auth/principal.js";
import type { CallPipeline } from "../../rpc/call-pipeline.js";
import { connectionPrincipal, peerUid, type Connection } from "../../rpc/connections.js";
import type { ReceiveBudget } from "../../rpc/receive-budget.js";
import { FastConnection, goawayFrame, type FastLimits } from "./fast-connection.js";

export interface FastTransportLimits extends FastLimits {
  /** Fast-path connections one uid may hold at once. */
  maxConnectionsPerUid: number;
}

export const defaultFastLimits: FastTransportLimits = {
  maxFrameBytes: DEFAULT_MAX_FRAME_BYTES,
  maxMessageBytes: 4 << 20,
  maxCallsInFlight: 32,
  maxOpenCalls: 64,
  windowBytes: 1 << 20,
  idleTimeoutMs: 5 * 60_000,
  maxDeclarations: 1024,
  maxConnectionsPerUid: 128,
};

export interface FastTransportDeps {
  log: Logger;
  pipeline: CallPipeline;
  authenticatePeer(peer: PeerCredentials): Principal;
  /** What requests may hold before their handlers have them, shared with the gRPC transport. */
  receiveBudget: ReceiveBudget;
  limits?: Partial<FastTransportLimits>;
}

export class FastTransport {
  private readonly limits: FastTransportLimits;
  private readonly open = new Set<FastConnection>();
  private readonly perUid = new Map<number, number>();
  private stopping = false;

  constructor(private readonly deps: FastTransportDeps) {
    this.limits = { ...defaultFastLimits, ...deps.limits };
  }

  /** Serves a connection whose first bytes were `preface` (the rest is still on the socket). */
  accept(socket: net.Socket, conn: Connection, preface: Buffer): void {
    if (!preface.equals(PREFACE)) {
      // Another version of the framing: this daemon does not speak it (docs/fast-path.md, section 1).
      this.deps.log.debug({ version: preface[PREFACE.length - 1] }, "fast-path version not spoken here: closed");
      socket.destroy();
      return;
    }
    const uid = peerUid(conn) ?? -1;
    const held = this.perUid.get(uid) ?? 0;
    if (this.stopping || held >= this.limits.maxConnectionsPerUid) {
      const [code, description] = this.stopping
        ? [GoawayCode.SHUTTING_DOWN, "the daemon is shutting down"]
        : [GoawayCode.TOO_MANY_CONNECTIONS, `uid ${uid} holds ${held} fast-path connections, the most allowed`];
      // Closed for good once the GOAWAY is out: a peer that never closes its end must not keep the fd.
      socket.end(goawayFrame(code, description), () => socket.destroy());
      return;
    }
    this.perUid.set(uid, held + 1);
    const fc = new FastConnection(socket, conn, {
      pipeline: this.deps.pipeline,
      limits: this.limits,
      receive: this.deps.receiveBudget.account(),
      authenticate: (c) => connectionPrincipal(c, this.deps.authenticatePeer),
      onClose: () => {
        this.open.delete(fc);
        const n = (this.perUid.get(uid) ?? 1) - 1;
        if (n > 0) this.perUid.set(uid, n);
        else this.perUid.delete(uid);
      },
    });
    this.open.add(fc);
    fc.start();
  }

  /** GOAWAY to every connection, the calls in flight drain (shared with the other transports), then close. */
  async stop(graceMs: number): Promise<void> {
    this.stopping = true;
    for (const c of this.open) c.goAway(GoawayCode.SHUTTING_DOWN, "the daemon is shutting down");
    await this.deps.pipeline.drain(graceMs);
    const deadline = Date.now() + 1000;
    while ([...this.open].some((c) => c.openCalls > 0) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    for (const c of this.open) c.destroy();
  }
}
