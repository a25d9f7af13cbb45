// The serving status of every service, shared by SystemService.GetHealth and grpc.health.v1.Health, with
// change notification for Health.Watch.
import { EventEmitter } from "node:events";
import { HealthStatus } from "../../gen/orbital/system/v1/system_pb.js";

export interface ServiceStatus {
  status: HealthStatus;
  detail: string;
}

export class HealthState {
  private readonly statuses = new Map<string, ServiceStatus>();
  private readonly events = new EventEmitter();
  readonly messages: string[] = [];

  constructor() {
    this.events.setMaxListeners(0);
  }

  set(service: string, status: HealthStatus, detail = ""): void {
    this.statuses.set(service, { status, detail });
    this.events.emit("change", service);
  }

  get(service: string): ServiceStatus | undefined {
    return this.statuses.get(service);
  }

  all(): [string, ServiceStatus][] {
    return [...this.statuses].sort(([a], [b]) => a.localeCompare(b));
  }

  /** The worst status of all services (SERVING < DEGRADED < NOT_SERVING). */
  overall(): HealthStatus {
    let worst = HealthStatus.SERVING;
    for (const { status } of this.statuses.values()) if (status > worst) worst = status;
    return worst;
  }

  onChange(listener: (service: string) => void): () => void {
    this.events.on("change", listener);
    return () => this.events.off("change", listener);
  }
}
