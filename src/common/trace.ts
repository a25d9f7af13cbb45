// W3C trace context for one call: accepts a `traceparent` from the caller or mints one, and carries it with
// AsyncLocalStorage through services, data plane calls, log lines, audit records and error details.
import { AsyncLocalStorage } from "node:async_hooks";
import { randomBytes } from "node:crypto";

export interface TraceContext {
  /** 32 lower-case hex digits, never all zero. */
  traceId: string;
  /** 16 hex digits: this daemon's span for the call. */
  spanId: string;
}

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
const storage = new AsyncLocalStorage<TraceContext>();

/** The trace of a valid `traceparent` header, continuing it with a new span; otherwise a fresh trace. */
export function traceFromParent(traceparent: string | undefined): TraceContext {
  const m = traceparent ? TRACEPARENT.exec(traceparent.trim()) : null;
  const traceId = m && !/^0+$/.test(m[1]!) && !/^0+$/.test(m[2]!) ? m[1]! : randomBytes(16).toString("hex");
  return { traceId, spanId: randomBytes(8).toString("hex") };
}

/** The `traceparent` value that hands this trace on (sampled flag set). */
export function toTraceparent(t: TraceContext): string {
  return `00-${t.traceId}-${t.spanId}-01`;
}

export function runWithTrace<T>(trace: TraceContext, fn: () => T): T {
  return storage.run(trace, fn);
}

/** The trace of the call being served, if any. */
export function currentTrace(): TraceContext | undefined {
  return storage.getStore();
}
