// The serving status of every service, shared by SystemService.GetHealth and grpc.health.v1.Health, with
// change notification for Health.Watch. A service has a baseline (implemented or not, a configuration
// fall-back) and conditions raised and cleared by what it depends on (a failing backend, items the kernel
// refused, a handler that failed); its status is the worst of them, its detail says why.
import { EventEmitter } from "node:events";
import { HealthStatus } from "../../gen/orbital/system/v1/system_pb.js";

export interface ServiceStatus {
  status: HealthStatus;
  detail: string;
}

export class HealthState {
  private readonly baselines = new Map<string, ServiceStatus>();
  /** service → condition source ("backend:nftables", "handler:GetVersion") → status. */
  private readonly conditions = new Map<string, Map<string, ServiceStatus>>();
  private readonly events = new EventEmitter();
  readonly messages: string[] = [];

  constructor() {
    this.events.setMaxListeners(0);
  }

  /** Sets a service's baseline status. */
  set(service: string, status: HealthStatus, detail = ""): void {
    this.baselines.set(service, { status, detail });
    this.events.emit("change", service);
  }

  /** Raises (or, with SERVING, clears) the condition `source` on a service. */
  setCondition(service: string, source: string, status: HealthStatus, detail = ""): void {
    const own = this.conditions.get(service) ?? new Map<string, ServiceStatus>();
    const before = own.get(source);
    if (status === HealthStatus.SERVING) {
      if (!before) return;
      own.delete(source);
    } else {
      if (before?.status === status && before.detail === detail) return;
      own.set(source, { status, detail });
    }
    this.conditions.set(service, own);
    this.events.emit("change", service);
  }

  clearCondition(service: string, source: string): void {
    this.setCondition(service, source, HealthStatus.SERVING);
  }

  get(service: string): ServiceStatus | undefined {
    const baseline = this.baselines.get(service);
    if (!baseline) return undefined;
    let worst = baseline.status;
    const details = baseline.status !== HealthStatus.SERVING && baseline.detail ? [baseline.detail] : [];
    for (const c of this.conditions.get(service)?.values() ?? []) {
      if (c.status > worst) worst = c.status;
      if (c.detail) details.push(c.detail);
    }
    return { status: worst, detail: details.join("; ") };
  }

  all(): [string, ServiceStatus][] {
    return [...this.baselines.keys()].sort((a, b) => a.localeCompare(b)).map((s) => [s, this.get(s)!]);
  }

  /** The worst status of all services (SERVING < DEGRADED < NOT_SERVING). */
  overall(): HealthStatus {
    let worst = HealthStatus.SERVING;
    for (const [, { status }] of this.all()) if (status > worst) worst = status;
    return worst;
  }

  onChange(listener: (service: string) => void): () => void {
    this.events.on("change", listener);
    return () => this.events.off("change", listener);
  }
}
