// What a service handler knows about the call it serves: who calls, under which trace, until when.
import type { Logger } from "../../common/logger.js";
import type { TraceContext } from "../../common/trace.js";
import type { Principal } from "../auth/principal.js";

export interface CallContext {
  /** "/orbital.routing.v1.RoutingService/ListRoutes" */
  path: string;
  principal: Principal;
  trace: TraceContext;
  /** Aborted when the caller cancels, the deadline passes or the daemon shuts down. */
  signal: AbortSignal;
  log: Logger;
}
