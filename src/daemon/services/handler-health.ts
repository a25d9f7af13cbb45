// A handler that fails by itself (throws: INTERNAL, or never returns: HANDLER_TIMEOUT) makes its service
// DEGRADED, naming the RPC and the trace id to look for in the log, until a call of that RPC succeeds again.
import { HealthStatus } from "../../gen/orbital/system/v1/system_pb.js";
import type { OrbitalError } from "../../common/errors.js";
import type { MethodEntry } from "../rpc/call-pipeline.js";
import type { HealthState } from "./health-state.js";

export function reportHandlerOutcome(health: HealthState, entry: MethodEntry, failure: OrbitalError | undefined): void {
  const service = entry.method.parent.typeName;
  const source = `handler:${entry.method.name}`;
  if (!failure) {
    health.clearCondition(service, source);
    return;
  }
  const what = failure.reason === "HANDLER_TIMEOUT" ? "did not finish in time" : "failed with an internal error";
  health.setCondition(service, source, HealthStatus.DEGRADED, `${entry.method.name} ${what} (trace ${failure.traceId ?? "unknown"})`);
}
