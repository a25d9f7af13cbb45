// The one authorization check: the principal's role must hold the capability the RPC requires (declared in
// the proto, resolved once at registration). An RPC that declares none is denied to everybody.
import { ErrorReason } from "../../gen/orbital/api/v1/error_reason_pb.js";
import { OrbitalError } from "../../common/errors.js";
import type { Principal } from "./principal.js";

export interface MethodPolicy {
  /** "/orbital.routing.v1.RoutingService/ListRoutes" */
  path: string;
  /** Required capability name; undefined when the RPC declares none. */
  capability: string | undefined;
}

export function authorize(policy: MethodPolicy, principal: Principal): void {
  if (policy.capability === undefined) {
    throw new OrbitalError({
      reason: ErrorReason.CAPABILITY_UNDECLARED,
      message: `${policy.path} declares no capability`,
      metadata: { method: policy.path },
    });
  }
  if (!principal.capabilities.has(policy.capability)) {
    throw new OrbitalError({
      reason: ErrorReason.CAPABILITY_MISSING,
      message: `role "${principal.role}" of ${principal.user} lacks capability ${policy.capability}`,
      metadata: { capability: policy.capability, principal: principal.user, role: principal.role },
    });
  }
}
