// The dynamic route sets: who owns each, which session holds it open, its state (ACTIVE, RESYNCING, ORPHANED)
// and the grace timers that withdraw routes whose owner is gone, as graceful restart does. Changes of one set
// run one at a time (a queue per set). After a restart the sets come back from their record and their routes
// from the kernel (by protocol number), all stale and orphaned until their owner resumes and resyncs.
// Not here: parsing and installing one batch (route-batch.ts), the API (services/route-set-handlers.ts).
import type { BulkItemFailure, Route, RouteKey } from "../../gen/orbital/routing/v1/routing_pb.js";
import { ErrorReason } from "../../gen/orbital/api/v1/error_reason_pb.js";
import { OrbitalError } from "../../common/errors.js";
import type { Logger } from "../../common/logger.js";
import type { Dataplane } from "../dataplane/dataplane.js";
import { ORBITAL_ROUTE_PROTOCOL } from "../dataplane/netlink/rtnetlink-types.js";
import { notFound } from "../services/resource-errors.js";
import { applyRouteBatch, withdrawRoutes, type BatchOutcome, type RouteBudget } from "./route-batch.js";
import { INSTALLED, RouteColumns, RouteRecord, STALE } from "./route-columns.js";
import { parseDestination, parseGateway } from "./route-record-text.js";
import type { RouteSetDeclaration, RouteSetStore } from "./route-set-store.js";

export type RouteSetState = "active" | "resyncing" | "orphaned";

/** Most dynamic routes the daemon holds, all sets together (a full IPv4 + IPv6 table is ~1.2M). */
export const MAX_DYNAMIC_ROUTES = 2_000_000;
/** Routes per kernel batch when withdrawing. */
const WITHDRAW_BATCH = 10_000;

export class RouteSet {
  readonly routes = new RouteColumns();
  state: RouteSetState = "orphaned";
  /** When the set (orphaned) or its stale routes (resyncing) are withdrawn; undefined while active. */
  withdrawAt: number | undefined;
  timer: NodeJS.Timeout | undefined;
  session: RouteSetSession | undefined;
  /** Changes of this set, one at a time. */
  queue: Promise<unknown> = Promise.resolve();

  constructor(public decl: RouteSetDeclaration) {}

  get name(): string {
    return this.decl.name;
  }
  get protocol(): number {
    return this.decl.protocol;
  }
  get distance(): number {
    return this.decl.distance;
  }

  /** Routes whose flags hold every bit of `mask`. */
  count(mask: number): number {
    let n = 0;
    for (let s = 0; s < this.routes.size; s++) if ((this.routes.flags(s) & mask) === mask) n++;
    return n;
  }

  /** Runs `work` after every change queued before it. */
  serialize<T>(work: () => Promise<T>): Promise<T> {
    const turn = this.queue.then(work);
    this.queue = turn.catch(() => undefined);
    return turn;
  }
}

/** One owner session holding a set open (one SyncRouteSet stream). */
export class RouteSetSession {
  private nextIndex = 0;
  closed = false;

  constructor(
    private readonly registry: RouteSetRegistry,
    readonly set: RouteSet,
  ) {}

  /** Applies one request; items are numbered across the session. */
  apply(adds: readonly Route[], deletes: readonly RouteKey[], endOfResync: boolean): Promise<BatchOutcome> {
    const first = this.nextIndex;
    this.nextIndex += adds.length + deletes.length;
    return this.registry.applyBatch(this, adds, deletes, first, endOfResync);
  }

  /** The stream ended (or broke): the set is orphaned for its grace period. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.registry.release(this);
  }
}

export interface OpenRequest {
  name: string;
  protocol: number;
  distance: number;
  graceMs: number;
  resyncMs: number;
}

export class RouteSetRegistry {
  private readonly sets = new Map<string, RouteSet>();
  private held = 0;
  private stopped = false;
  private readonly budget: RouteBudget = {
    left: () => MAX_DYNAMIC_ROUTES - this.held,
    take: (n) => (this.held += n),
  };

  constructor(
    private readonly dataplane: Dataplane,
    private readonly store: RouteSetStore,
    private readonly log: Logger,
  ) {}

  /** Brings back the recorded sets and reads their routes from the kernel (stale, orphaned). */
  async start(): Promise<void> {
    for (const decl of this.store.load()) {
      const set = new RouteSet(decl);
      this.sets.set(decl.name, set);
      const r = new RouteRecord();
      let skipped = 0;
      await this.dataplane.scanRoutes(decl.protocol, (k) => {
        if (k.priority !== decl.distance || parseDestination(k.destination, r) !== undefined) {
          skipped++;
          return;
        }
        r.table = k.table;
        r.type = k.type;
        r.oif = k.oif ?? 0;
        r.hasGateway = false;
        r.gw.fill(0);
        if (k.gateway) parseGateway(k.gateway, r);
        if (set.routes.find(r) < 0) set.routes.insert(r, INSTALLED | STALE);
      });
      this.held += set.routes.size;
      this.orphan(set);
      this.log.info({ routeSet: decl.name, routes: set.routes.size, skipped, graceMs: decl.graceMs }, "dynamic route set restored from the kernel; waiting for its owner to resync");
    }
  }

  /** Clears the timers; routes stay in the kernel and the record on disk (a restart resumes them). */
  stop(): void {
    this.stopped = true;
    for (const set of this.sets.values()) clearTimeout(set.timer);
  }

  list(): RouteSet[] {
    return [...this.sets.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  get(name: string): RouteSet | undefined {
    return this.sets.get(name);
  }

  /** The set whose routes carry `protocol`, if any. */
  byProtocol(protocol: number): RouteSet | undefined {
    for (const s of this.sets.values()) if (s.protocol === protocol) return s;
    return undefined;
  }

  /** Opens a new set for `owner`, or resumes its orphaned one (its routes become stale until resent). */
  async open(req: OpenRequest, owner: string): Promise<RouteSetSession> {
    const conflict = (field: string, message: string) => new OrbitalError({ reason: ErrorReason.ROUTE_SET_CONFLICT, message, metadata: { routeSet: req.name, field } });
    if (req.protocol === ORBITAL_ROUTE_PROTOCOL) throw conflict("protocol", `protocol ${ORBITAL_ROUTE_PROTOCOL} is orbitald's own, for configured routes`);
    for (const other of this.sets.values()) {
      if (other.name === req.name) continue;
      if (other.protocol === req.protocol) throw conflict("protocol", `route set "${other.name}" uses protocol ${req.protocol}`);
      if (other.distance === req.distance) throw conflict("distance", `route set "${other.name}" has distance ${req.distance}`);
    }
    let set = this.sets.get(req.name);
    if (set) {
      if (set.decl.owner !== owner) throw new OrbitalError({ reason: ErrorReason.ROUTE_SET_NOT_OWNER, message: `route set "${req.name}" is owned by ${set.decl.owner}`, metadata: { routeSet: req.name, owner: set.decl.owner } });
      if (set.session) throw new OrbitalError({ reason: ErrorReason.ROUTE_SET_BUSY, message: `route set "${req.name}" is held open by another session`, metadata: { routeSet: req.name } });
      if (set.protocol !== req.protocol) throw conflict("protocol", `route set "${req.name}" has protocol ${set.protocol}; withdraw it to change that`);
      if (set.distance !== req.distance) throw conflict("distance", `route set "${req.name}" has distance ${set.distance}; withdraw it to change that`);
    } else {
      set = new RouteSet({ name: req.name, owner, protocol: req.protocol, distance: req.distance, graceMs: req.graceMs, resyncMs: req.resyncMs });
      this.sets.set(req.name, set);
      set.state = "active";
    }
    const session = new RouteSetSession(this, set);
    set.session = session;
    const resumed = set;
    const isNew = set.routes.size === 0 && set.state === "active";
    try {
      await set.serialize(async () => {
        if (resumed.decl.graceMs !== req.graceMs || resumed.decl.resyncMs !== req.resyncMs || isNew) {
          resumed.decl = { ...resumed.decl, graceMs: req.graceMs, resyncMs: req.resyncMs };
          this.persist();
        }
        if (resumed.state === "orphaned") this.resume(resumed);
      });
    } catch (err) {
      // Not recorded (a full disk): the set must not be held by a session that never started.
      set.session = undefined;
      if (isNew) this.sets.delete(req.name);
      throw err;
    }
    this.log.info({ routeSet: req.name, owner, state: set.state, routes: set.routes.size }, "dynamic route set opened");
    return session;
  }

  /** Withdraws a set and its routes. Its owner may always; others only while no session holds it. */
  async withdraw(name: string, caller: string): Promise<number> {
    const set = this.sets.get(name);
    if (!set) throw notFound("route set", name);
    if (set.session && set.decl.owner !== caller) {
      throw new OrbitalError({ reason: ErrorReason.ROUTE_SET_NOT_OWNER, message: `route set "${name}" is held open by its owner ${set.decl.owner}`, metadata: { routeSet: name, owner: set.decl.owner } });
    }
    return this.drop(set, "withdrawn on request");
  }

  applyBatch(session: RouteSetSession, adds: readonly Route[], deletes: readonly RouteKey[], first: number, endOfResync: boolean): Promise<BatchOutcome> {
    const set = session.set;
    return set.serialize(async () => {
      if (set.session !== session) throw new OrbitalError({ reason: ErrorReason.ROUTE_SET_BUSY, message: `route set "${set.name}" is no longer held by this session`, metadata: { routeSet: set.name } });
      const links = adds.some((a) => a.interface) ? await this.dataplane.links() : [];
      const ifindex = new Map(links.map((l) => [l.name, l.ifindex]));
      const outcome = await applyRouteBatch(set, this.dataplane, adds, deletes, first, (n) => ifindex.get(n), this.budget);
      if (endOfResync && set.state === "resyncing") outcome.deleted += await this.endResync(set);
      return outcome;
    });
  }

  /** The session ended: the set is orphaned (withdrawn at once with a grace period of 0). */
  release(session: RouteSetSession): void {
    const set = session.set;
    if (set.session !== session) return;
    set.session = undefined;
    if (this.stopped) return;
    void set.serialize(async () => this.orphan(set));
  }

  private resume(set: RouteSet): void {
    clearTimeout(set.timer);
    for (let s = 0; s < set.routes.size; s++) set.routes.setFlags(s, set.routes.flags(s) | STALE);
    set.state = "resyncing";
    this.arm(set, set.decl.resyncMs || set.decl.graceMs, () => set.serialize(() => this.endResync(set)));
  }

  /** Withdraws the routes not resent since the owner resumed; the set is active again. */
  private async endResync(set: RouteSet): Promise<number> {
    if (set.state !== "resyncing") return 0;
    clearTimeout(set.timer);
    const withdrawn = await this.withdrawSlots(set, STALE);
    set.state = set.session ? "active" : "orphaned";
    set.withdrawAt = undefined;
    if (!set.session) this.orphan(set);
    this.log.info({ routeSet: set.name, withdrawn, routes: set.routes.size }, "dynamic route set resynced; stale routes withdrawn");
    return withdrawn;
  }

  private orphan(set: RouteSet): void {
    if (set.session || this.stopped) return;
    clearTimeout(set.timer);
    set.state = "orphaned";
    if (set.decl.graceMs === 0) {
      void set.serialize(() => this.drop(set, "its owner's session ended (no grace period)"));
      return;
    }
    this.arm(set, set.decl.graceMs, () => set.serialize(() => this.drop(set, "its owner did not come back within the grace period")));
  }

  private arm(set: RouteSet, ms: number, due: () => Promise<unknown>): void {
    set.withdrawAt = Date.now() + ms;
    set.timer = setTimeout(() => {
      due().catch((err: unknown) => this.log.error({ err, routeSet: set.name }, "withdrawing dynamic routes failed; retried when the grace period ends again"));
    }, ms);
    set.timer.unref();
  }

  /** Withdraws every route of `set` and forgets it (its record too). */
  private async drop(set: RouteSet, why: string): Promise<number> {
    if (this.sets.get(set.name) !== set) return 0;
    if (set.session && why !== "withdrawn on request") return 0; // the owner came back meanwhile
    clearTimeout(set.timer);
    const withdrawn = await this.withdrawSlots(set, 0);
    if (set.routes.size > 0) {
      this.arm(set, set.decl.graceMs, () => set.serialize(() => this.drop(set, why)));
      throw new Error(`${set.routes.size} routes of route set "${set.name}" could not be withdrawn`);
    }
    this.sets.delete(set.name);
    if (set.session) set.session.closed = true;
    set.session = undefined;
    this.persist();
    this.log.info({ routeSet: set.name, withdrawn, why }, "dynamic route set withdrawn");
    return withdrawn;
  }

  private async withdrawSlots(set: RouteSet, mask: number): Promise<number> {
    const before = set.routes.size;
    const withdrawn = await withdrawRoutes(set, this.dataplane, mask, WITHDRAW_BATCH).finally(() => (this.held -= before - set.routes.size));
    return withdrawn;
  }

  private persist(): void {
    this.store.save([...this.sets.values()].map((s) => s.decl));
  }
}

