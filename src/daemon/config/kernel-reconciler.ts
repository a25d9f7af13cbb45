// Brings what is not in force back in force without a restart: while a backend fails or the kernel holds
// back configured items, the running configuration is applied again (through the engine, in turn with
// commits) when the kernel reports a link, address or route change (a NIC appeared, a foreign route went
// away), debounced, and on a retry timer; a data dir that refused writes is probed on the same timer. A
// failing backend is first probed with a read outside the commit queue, so that a hung one never holds
// the commits of the others.
import type { Logger } from "../../common/logger.js";
import { BACKENDS, type BackendName, type Dataplane } from "../dataplane/dataplane.js";
import type { BackendHealth } from "../services/backend-health.js";
import type { ConfigEngine } from "./config-engine.js";

export interface ReconcilerOptions {
  /** Retry period while anything is outstanding, ms. */
  retryMs: number;
  /** Quiet time after a kernel event before reconciling, ms (a NIC coming up sends a burst). */
  debounceMs: number;
}

export const defaultReconcilerOptions: ReconcilerOptions = { retryMs: 30_000, debounceMs: 250 };

export class KernelReconciler {
  private readonly opts: ReconcilerOptions;
  private retryTimer: NodeJS.Timeout | undefined;
  private eventTimer: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void) | undefined;
  private running: Promise<void> | undefined;
  /** Why another pass is due once the one running ends (an event arrived meanwhile). */
  private again: string | undefined;
  private stopped = false;

  constructor(
    private readonly engine: ConfigEngine,
    private readonly dataplane: Dataplane,
    private readonly health: BackendHealth,
    private readonly log: Logger,
    opts: Partial<ReconcilerOptions> = {},
  ) {
    this.opts = { ...defaultReconcilerOptions, ...opts };
  }

  start(): void {
    try {
      this.unsubscribe = this.dataplane.subscribe(() => this.onKernelEvent());
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, "no kernel events: outstanding items are retried on the timer only");
    }
    this.retryTimer = setInterval(() => void this.pass("retry"), this.opts.retryMs);
    this.retryTimer.unref();
  }

  stop(): void {
    this.stopped = true;
    this.unsubscribe?.();
    if (this.retryTimer) clearInterval(this.retryTimer);
    if (this.eventTimer) clearTimeout(this.eventTimer);
  }

  private onKernelEvent(): void {
    // Items that wait for a link: configured interfaces and routes, and fast-path lists of absent interfaces.
    const outstanding = this.health.outstanding();
    if (!outstanding.has("rtnetlink") && !outstanding.has("xdp")) return;
    if (this.eventTimer) clearTimeout(this.eventTimer);
    this.eventTimer = setTimeout(() => void this.pass("kernel event"), this.opts.debounceMs);
    this.eventTimer.unref();
  }

  /** One reconcile of whatever is outstanding; passes never overlap (one due meanwhile runs after). */
  private async pass(why: string): Promise<void> {
    if (this.stopped) return;
    if (this.running) {
      this.again = why;
      return;
    }
    const outstanding = this.health.outstanding();
    if (outstanding.size === 0) return;
    this.running = (async () => {
      if (outstanding.has("storage")) this.engine.probeStorage();
      const backends: BackendName[] = [];
      for (const b of BACKENDS) {
        if (!outstanding.has(b)) continue;
        if (this.health.faultOf(b)) {
          try {
            await this.dataplane.probe(b);
          } catch (err) {
            this.log.debug({ backend: b, err: (err as Error).message }, "backend still failing");
            continue;
          }
        }
        backends.push(b);
      }
      if (backends.length === 0) return;
      await this.engine.reconcile(backends);
      const left = this.health.outstanding();
      this.log.info({ why, backends, outstanding: [...left] }, left.size ? "reconciled; still not all in force" : "reconciled; everything in force");
    })()
      .catch((err) => this.log.error({ err }, "reconcile failed"))
      .finally(() => (this.running = undefined));
    await this.running;
    const next = this.again;
    this.again = undefined;
    if (next) await this.pass(next);
  }
}
