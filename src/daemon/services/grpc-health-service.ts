// grpc.health.v1.Health over the daemon's HealthState, so that standard probes (grpc_health_probe,
// grpcurl, orchestrators) work: "" is the daemon itself, every API service has its own status.
import { Code } from "../../gen/google/rpc/code_pb.js";
import { HealthCheckResponse_ServingStatus as Serving, type Health } from "../../gen/grpc/health/v1/health_pb.js";
import { HealthStatus } from "../../gen/orbital/system/v1/system_pb.js";
import { OrbitalError } from "../../common/errors.js";
import type { ServiceImpl } from "../rpc/service-impl.js";
import type { HealthState } from "./health-state.js";

function servingStatus(health: HealthState, service: string): Serving | undefined {
  if (service === "") return Serving.SERVING;
  const s = health.get(service);
  if (!s) return undefined;
  return s.status === HealthStatus.SERVING || s.status === HealthStatus.DEGRADED ? Serving.SERVING : Serving.NOT_SERVING;
}

export function grpcHealthService(health: HealthState): ServiceImpl<typeof Health> {
  return {
    async check(req) {
      const status = servingStatus(health, req.service);
      if (status === undefined) {
        // The health protocol prescribes NOT_FOUND here; it is not one of our API reasons.
        throw new OrbitalError({ reason: { code: Code.NOT_FOUND, wire: "NOT_FOUND" }, message: `unknown service "${req.service}"`, metadata: { resourceType: "service", name: req.service } });
      }
      return { status };
    },

    async list() {
      const statuses: Record<string, { status: Serving }> = { "": { status: Serving.SERVING } };
      for (const [name] of health.all()) statuses[name] = { status: servingStatus(health, name)! };
      return { statuses };
    },

    async *watch(req, ctx) {
      let wake: (() => void) | undefined;
      const off = health.onChange((s) => s === req.service && wake?.());
      const aborted = new Promise<void>((r) => ctx.signal.addEventListener("abort", () => r(), { once: true }));
      try {
        let last: Serving | undefined;
        while (!ctx.signal.aborted) {
          const now = servingStatus(health, req.service) ?? Serving.SERVICE_UNKNOWN;
          if (now !== last) yield { status: (last = now) };
          await Promise.race([new Promise<void>((r) => (wake = r)), aborted]);
        }
      } finally {
        off();
      }
    },
  };
}
