// A handler that fails by itself (throws: INTERNAL, or never returns: HANDLER_TIMEOUT) makes its service
// DEGRADED, naming the RPC and the trace id to look for in the log, until a call of that RPC succeeds again
// or, for an RPC nobody calls again, until it has not failed for HANDLER_FAULT_MEMORY_MS.
import { HealthStatus } from "../../gen/orbital/system/v1/system_pb.js";
import type { OrbitalError } from "../../common/errors.js";
import type { MethodEntry } from "../rpc/call-pipeline.js";
import type { HealthState } from "./health-state.js";

export const HANDLER_FAULT_MEMORY_MS = 10 * 60_000;

const forgetTimers = new Map<string, NodeJS.Timeout>();

export function reportHandlerOutcome(health: HealthState, entry: MethodEntry, failure: OrbitalError | undefined): void {
  const service = entry.method.parent.typeName;
  const source = `handler:${entry.method.name}`;
  const key = `${service} ${source}`;
  if (!failure) {
    if (!forgetTimers.has(key)) return;
    clearTimeout(forgetTimers.get(key));
    forgetTimers.delete(key);
    health.clearCondition(service, source);
    return;
  }
  const what = failure.reason === "HANDLER_TIMEOUT" ? "did not finish in time" : "failed with an internal error";
  health.setCondition(service, source, HealthStatus.DEGRADED, `${entry.method.name} ${what} (trace ${failure.traceId ?? "unknown"})`);
  clearTimeout(forgetTimers.get(key));
  const timer = setTimeout(() => {
    forgetTimers.delete(key);
    health.clearCondition(service, source);
  }, HANDLER_FAULT_MEMORY_MS);
  timer.unref();
  forgetTimers.set(key, timer);
}
