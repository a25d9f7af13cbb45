// How configurations reach the kernel, for the config engine: a commit's apply is strict for what the commit
// changes (a refused changed item, or a failing backend it needs, refuses the commit and restores the
// previous state) and touches only the backends of the sections it changes; the apply at start-up, restores
// and reconcile are tolerant (everything that can be applied is, every refused item and failing backend is
// reported through BackendHealth, and the daemon serves on). The error a refused commit answers is shaped here.
import { ErrorReason } from "../../gen/orbital/api/v1/error_reason_pb.js";
import type { Configuration } from "../../gen/orbital/config/v1/configuration_pb.js";
import { OrbitalError } from "../../common/errors.js";
import type { Logger } from "../../common/logger.js";
import { BACKENDS, BackendFault, type ApplyReport, type BackendName, type Dataplane, type DataplaneError, type RouteChange } from "../dataplane/dataplane.js";
import type { BackendHealth } from "../services/backend-health.js";
import { diffConfigurations } from "./collections.js";

/** DATAPLANE_UNAVAILABLE for `backend`; `consequence` says what it means for the call. */
export function backendUnavailable(backend: BackendName, detail: string, cause?: unknown, consequence = "nothing was changed"): OrbitalError {
  return new OrbitalError({
    reason: ErrorReason.DATAPLANE_UNAVAILABLE,
    message: `the ${backend} backend is failing (${detail}); ${consequence}`,
    metadata: { backend, cause: detail },
    ...(cause !== undefined ? { cause } : {}),
  });
}

/** The error of a commit whose changed item the kernel refused. */
function refusal(f: DataplaneError): OrbitalError {
  if (f.foreignRoute) {
    const r = f.foreignRoute;
    return new OrbitalError({
      reason: ErrorReason.FOREIGN_ROUTE_CONFLICT,
      message: `${f.message}; the previous configuration was restored`,
      metadata: { item: f.item, table: r.table, destination: r.destination, metric: r.metric, protocol: r.protocol, type: r.type },
      cause: f,
    });
  }
  return new OrbitalError({
    reason: ErrorReason.DATAPLANE_REJECTED,
    message: `the kernel refused ${f.item}: ${f.message}; the previous configuration was restored`,
    metadata: { item: f.item, operation: f.operation, errno: f.errno ?? "" },
    cause: f,
  });
}

export class KernelApplier {
  constructor(
    private readonly dataplane: Dataplane,
    private readonly health: BackendHealth,
    private readonly log: Logger,
  ) {}

  /**
   * Applies `next` to `backends` for a commit from `running`. Refuses (and leaves the kernel as `running`
   * had it) when one of them is failing or the kernel refuses an item the commit changes; items refused
   * before and not changed now stay reported, they do not block the commit.
   */
  applyCommit(running: Configuration, next: Configuration, backends: ReadonlySet<BackendName>): Promise<void> {
    return this.applyStrict(running, backends, () => this.dataplane.apply(next, { backends }), () => new Set(diffConfigurations(running, next).map((c) => c.path)));
  }

  /** applyCommit for a commit of single routes: only `changes` are applied on top of `running`. */
  applyRouteChanges(running: Configuration, changes: ReadonlyMap<string, RouteChange>, backends: ReadonlySet<BackendName>): Promise<void> {
    return this.applyStrict(running, backends, () => this.dataplane.apply(running, { backends, routeChanges: changes }), () => new Set([...changes.keys()].map((k) => `routes[${k}]`)), true);
  }

  /**
   * `changed`: the paths of the items the commit changes (worked out only when needed); `scoped`: the apply
   * covered just those, so what else is known not to be in force stays reported.
   */
  private async applyStrict(running: Configuration, backends: ReadonlySet<BackendName>, apply: () => Promise<ApplyReport>, changed: () => Set<string>, scoped = false): Promise<void> {
    if (backends.size === 0) return;
    for (const b of backends) {
      const fault = this.health.faultOf(b);
      if (fault) throw backendUnavailable(b, fault.detail);
    }
    let report: ApplyReport;
    try {
      report = await apply();
    } catch (err) {
      if (!(err instanceof BackendFault)) {
        await this.restore(running, backends);
        throw err;
      }
      this.health.fault(err.backend, err.message, err.errno);
      // The failing backend is not retried now (it would only fail again, holding the commit queue): the
      // reconciler makes it match the running configuration once it answers again.
      await this.restore(running, new Set([...backends].filter((b) => b !== err.backend)));
      throw backendUnavailable(err.backend, err.message, err);
    }
    const fatal = this.fatalFailure(changed, report);
    if (fatal) {
      await this.restore(running, backends);
      throw refusal(fatal);
    }
    this.record(report, scoped ? changed() : undefined);
  }

  /**
   * Makes the kernel match `config` as far as it accepts it, backend by backend (one failing does not keep
   * the others from being applied). Never throws: what failed is in BackendHealth.
   */
  async applyTolerant(config: Configuration, backends: Iterable<BackendName> = BACKENDS): Promise<void> {
    for (const b of backends) {
      try {
        this.record(await this.dataplane.apply(config, { backends: new Set([b]) }));
      } catch (err) {
        const fault = err instanceof BackendFault ? err : new BackendFault(b, `unexpected failure: ${(err as Error).message}`);
        if (!(err instanceof BackendFault)) this.log.error({ err, backend: b }, "applying the configuration failed unexpectedly");
        this.health.fault(b, fault.message, fault.errno);
        this.log.error({ backend: b, errno: fault.errno, err: fault.message }, "backend failing; its services are not serving until it recovers");
      }
    }
  }

  /** Puts the kernel back to `running` after a refused commit (tolerant: what it cannot restore is reported). */
  async restore(running: Configuration, backends: ReadonlySet<BackendName>): Promise<void> {
    await this.applyTolerant(running, backends);
  }

  private record(report: ApplyReport, only?: ReadonlySet<string>): void {
    for (const b of report.backends) this.health.recovered(b);
    this.health.setUnapplied(report.backends, report.failures, only);
    for (const f of report.failures) this.log.warn({ item: f.item, errno: f.errno, backend: f.backend, err: f.message }, "configured item not in force");
  }

  /**
   * The first refused item the commit is to blame for: one it changes (rtnetlink items are independent), or
   * any at all of nftables (its transaction is all or nothing, and it only runs when the firewall changed) or
   * of xdp (it runs only when prefix sets or fast-path lists changed, and a changed set is refused as the
   * fast-path list made of it). Items waiting for an absent link are not refusals.
   */
  private fatalFailure(changedPaths: () => Set<string>, report: ApplyReport): DataplaneError | undefined {
    const refused = report.failures.filter((f) => !f.waitsForLink);
    if (refused.length === 0) return undefined;
    const firewall = refused.find((f) => f.backend === "nftables" || f.backend === "xdp");
    if (firewall) return firewall;
    const changed = changedPaths();
    return refused.find((f) => changed.has(f.item));
  }
}
