// The health of each backend the services depend on (rtnetlink, nftables, xdp, the data dir) and the configured
// items the kernel does not hold, as GetHealth reports them; each feeds the services that need it through
// HealthState conditions: a failing backend makes them NOT_SERVING, refused items DEGRADED. Every other
// service is unaffected. Updated by the config engine after each apply and by the reconciler.
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { ConfigService } from "../../gen/orbital/config/v1/config_pb.js";
import { FirewallService } from "../../gen/orbital/firewall/v1/firewall_pb.js";
import { InterfaceService } from "../../gen/orbital/interface/v1/interface_pb.js";
import { RoutingService } from "../../gen/orbital/routing/v1/routing_pb.js";
import { BackendHealthSchema, HealthStatus, UnappliedItemSchema, type BackendHealth as BackendHealthMessage, type UnappliedItem } from "../../gen/orbital/system/v1/system_pb.js";
import type { BackendName, DataplaneError } from "../dataplane/dataplane.js";
import type { HealthState } from "./health-state.js";

export type Backend = BackendName | "storage";
export const ALL_BACKENDS: readonly Backend[] = ["rtnetlink", "nftables", "xdp", "storage"];

/** The services that cannot work without a backend. */
const servicesOf: Record<Backend, string[]> = {
  rtnetlink: [InterfaceService.typeName, RoutingService.typeName],
  nftables: [FirewallService.typeName],
  xdp: [FirewallService.typeName],
  storage: [ConfigService.typeName],
};
/**
 * What a failing backend makes of its services: without the data dir the configuration is still read;
 * without XDP the nftables firewall still filters (only the fast path is missing).
 */
const faultStatus: Record<Backend, HealthStatus> = {
  rtnetlink: HealthStatus.NOT_SERVING,
  nftables: HealthStatus.NOT_SERVING,
  xdp: HealthStatus.DEGRADED,
  storage: HealthStatus.DEGRADED,
};

/** The service an item belongs to, by its change path. */
function serviceOfItem(item: string): string {
  if (item.startsWith("interfaces")) return InterfaceService.typeName;
  if (item.startsWith("routes")) return RoutingService.typeName;
  return FirewallService.typeName;
}

interface BackendState {
  fault: string | undefined;
  errno: string | undefined;
  since: number;
}

interface Unapplied {
  backend: BackendName;
  reason: string;
  errno: string;
  at: number;
}

const MAX_ITEMS_IN_DETAIL = 3;

export class BackendHealth {
  private readonly backends = new Map<Backend, BackendState>();
  private readonly unapplied = new Map<string, Unapplied>();

  constructor(private readonly health: HealthState) {
    const now = Date.now();
    for (const b of ALL_BACKENDS) this.backends.set(b, { fault: undefined, errno: undefined, since: now });
  }

  /** The backend fails as a whole: its services are NOT_SERVING (DEGRADED for storage) until recovered(). */
  fault(backend: Backend, detail: string, errno?: string): void {
    const s = this.backends.get(backend)!;
    if (s.fault === undefined) s.since = Date.now();
    s.fault = detail;
    s.errno = errno;
    for (const service of servicesOf[backend]) this.health.setCondition(service, `backend:${backend}`, faultStatus[backend], `${backend}: ${detail}`);
  }

  recovered(backend: Backend): void {
    const s = this.backends.get(backend)!;
    if (s.fault === undefined) return;
    s.fault = undefined;
    s.errno = undefined;
    s.since = Date.now();
    for (const service of servicesOf[backend]) this.health.clearCondition(service, `backend:${backend}`);
  }

  /** Why the backend fails, or undefined when it works. */
  faultOf(backend: Backend): { detail: string; errno: string | undefined } | undefined {
    const s = this.backends.get(backend)!;
    return s.fault === undefined ? undefined : { detail: s.fault, errno: s.errno };
  }

  /** Replaces what is known not to be in force for the backends an apply covered (`only`: for those items of them). */
  setUnapplied(backends: ReadonlySet<BackendName>, failures: readonly DataplaneError[], only?: ReadonlySet<string>): void {
    const now = Date.now();
    for (const [item, u] of this.unapplied) if (backends.has(u.backend) && (!only || only.has(item))) this.unapplied.delete(item);
    for (const f of failures) if (backends.has(f.backend)) this.unapplied.set(f.item, { backend: f.backend, reason: f.message, errno: f.errno ?? "", at: now });
    const byService = new Map<string, string[]>();
    for (const [item, u] of this.unapplied) {
      const service = serviceOfItem(item);
      byService.set(service, [...(byService.get(service) ?? []), `${item} (${u.reason})`]);
    }
    for (const service of new Set(Object.values(servicesOf).flat())) {
      const items = byService.get(service) ?? [];
      const shown = items.slice(0, MAX_ITEMS_IN_DETAIL).join(", ");
      const more = items.length > MAX_ITEMS_IN_DETAIL ? ` and ${items.length - MAX_ITEMS_IN_DETAIL} more` : "";
      this.health.setCondition(service, "unapplied", items.length ? HealthStatus.DEGRADED : HealthStatus.SERVING, items.length ? `not in force: ${shown}${more}` : "");
    }
  }

  /** Why an item is not in force, or undefined when it is (as far as the last apply knows). */
  unappliedReason(item: string): string | undefined {
    return this.unapplied.get(item)?.reason;
  }

  /** Backends with a fault or with items not in force: what the reconciler retries. */
  outstanding(): Set<Backend> {
    const out = new Set<Backend>();
    for (const [b, s] of this.backends) if (s.fault !== undefined) out.add(b);
    for (const u of this.unapplied.values()) out.add(u.backend);
    return out;
  }

  /** GetHealth's view. */
  report(): { backends: BackendHealthMessage[]; unappliedItems: UnappliedItem[] } {
    const backends = ALL_BACKENDS.map((name) => {
      const s = this.backends.get(name)!;
      const items = [...this.unapplied.values()].filter((u) => u.backend === name).length;
      const status = s.fault !== undefined ? HealthStatus.NOT_SERVING : items > 0 ? HealthStatus.DEGRADED : HealthStatus.SERVING;
      const detail = s.fault ?? (items > 0 ? `${items} configured item(s) not in force` : "");
      return create(BackendHealthSchema, { name, status, detail, since: timestampFromMs(s.since) });
    });
    const unappliedItems = [...this.unapplied]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([item, u]) => create(UnappliedItemSchema, { item, backend: u.backend, reason: u.reason, errno: u.errno, lastAttemptTime: timestampFromMs(u.at) }));
    return { backends, unappliedItems };
  }
}
