// The request bytes the transports hold for calls whose handler does not have them yet, counted per
// connection and for the whole daemon (both protocols share one budget), each against its cap. This is the
// accounting only; what a call holds is reported by the transport (grpc/grpc-receive-hook.ts,
// fast/fast-connection.ts), which refuses the call that goes over a cap with RATE_LIMITED.
//
// Why it exists: grpc-js receives a unary request whole (up to the client's half-close) before it calls the
// handler, and a fast-path stream queues the messages its handler has not taken, so neither authorization nor
// the in-flight cap bounds those bytes. Without the caps one client could make the daemon hold a maximum-size
// message on every stream of every connection: 4 MiB x 64 streams x 256 connections.
import { ErrorReason } from "../../gen/orbital/api/v1/error_reason_pb.js";
import { OrbitalError } from "../../common/errors.js";

export interface ReceiveCaps {
  /** Bytes one connection may hold for calls that have not reached their handler. */
  perConnection: number;
  /** The same for all connections together. */
  total: number;
}

/**
 * Two maximum-size requests arriving at once on one connection, four in the whole daemon: plenty for a control
 * plane whose requests are mostly under a KiB, and 16 MiB at most on a 512 MB router.
 */
export const defaultReceiveCaps: ReceiveCaps = { perConnection: 8 << 20, total: 16 << 20 };

/** The cap a change went over. */
export type ReceiveCap = "connection" | "daemon";

/** One connection's share of a ReceiveBudget. */
export class ReceiveAccount {
  /** Bytes this connection holds now. */
  private held = 0;

  constructor(private readonly budget: ReceiveBudget) {}

  get caps(): ReceiveCaps {
    return this.budget.caps;
  }

  /**
   * Adds `delta` bytes to what this connection holds (negative: releases them) and says which cap that
   * leaves exceeded, if any. The bytes are counted either way: the caller refuses the call and releases them.
   */
  change(delta: number): ReceiveCap | undefined {
    this.held += delta;
    return this.budget.add(delta, this.held);
  }
}

export class ReceiveBudget {
  private heldBytes = 0;

  constructor(readonly caps: ReceiveCaps) {}

  /** An empty account for a new connection. */
  account(): ReceiveAccount {
    return new ReceiveAccount(this);
  }

  /** Counts `delta` more bytes, `connectionHeld` being the connection's new total. */
  add(delta: number, connectionHeld: number): ReceiveCap | undefined {
    this.heldBytes += delta;
    if (delta <= 0) return undefined;
    if (connectionHeld > this.caps.perConnection) return "connection";
    if (this.heldBytes > this.caps.total) return "daemon";
    return undefined;
  }
}

/** RATE_LIMITED (with RetryInfo) for the call whose request took its connection or the daemon over `cap`. */
export function receiveCapError(caps: ReceiveCaps, cap: ReceiveCap): OrbitalError {
  const limit = cap === "connection" ? caps.perConnection : caps.total;
  return new OrbitalError({
    reason: ErrorReason.RATE_LIMITED,
    message: `more than ${limit} bytes of requests are waiting for their handlers ${cap === "connection" ? "on this connection" : "by the daemon"}; retry later`,
    metadata: { limit },
    retryDelayMs: 100,
  });
}
