// The configuration engine: the only writer of the box configuration. Candidate transactions, one-change
// commits, confirmed commits (whose deadline is persisted in the revision and survives restarts), rollback,
// conflict detection with rebase, apply-to-data-plane with restore on failure, and revision history.
// Commits are serialized: one at a time, in call order, so that no update is ever lost.
// A commit costs what it changes: a mutation works on a draft that copies only the sections it touches
// (config-draft.ts), validation checks the references of changed sections, and the revision is stored as a
// delta. Single routes (changeRoutes) go further: the routes list is a million items long, so such a commit
// checks, applies and stores just those routes and then updates the running configuration's routes list IN
// PLACE. That list is the one section ever changed in place; whoever keeps a configuration across commits
// (a transaction's base) keeps a copy of it (ownRoutes).
import { EventEmitter } from "node:events";
import { randomBytes } from "node:crypto";
import { clone, create, equals, toJson } from "@bufbuild/protobuf";
import { timestampDate, timestampFromMs, timestampNow, type Timestamp } from "@bufbuild/protobuf/wkt";
import { ErrorReason } from "../../gen/orbital/api/v1/error_reason_pb.js";
import {
  ChangeKind,
  CommitEventType,
  RevisionSchema,
  RevisionInfoSchema,
  type Revision,
  type RevisionInfo,
} from "../../gen/orbital/config/v1/config_pb.js";
import { ConfigurationSchema, type Configuration } from "../../gen/orbital/config/v1/configuration_pb.js";
import { OrbitalError, toOrbitalError } from "../../common/errors.js";
import type { Logger } from "../../common/logger.js";
import type { Principal } from "../auth/principal.js";
import { BACKENDS, backendsOfSections, type BackendName, type Dataplane } from "../dataplane/dataplane.js";
import type { BackendHealth } from "../services/backend-health.js";
import type { CallContext } from "../rpc/call-context.js";
import type { RevisionStore } from "../store/revision-store.js";
import type { RevisionChange } from "../store/revision-delta.js";
import type { RevocationLedger } from "../store/revocation-ledger.js";
import { applyItemChanges, diffConfigurations, emptyConfiguration, findItem, rebase, routeKey, sortOrderedCollections, type ItemChange } from "./collections.js";
import { draftConfiguration } from "./config-draft.js";
import { validateConfiguration, validateRoutes } from "./config-validation.js";
import { RouteSchema, type Route } from "../../gen/orbital/routing/v1/routing_pb.js";
import type { RouteChange } from "../dataplane/dataplane.js";
import { keepDeadTokensDead } from "./dead-tokens.js";
import { KernelApplier } from "./kernel-applier.js";
import { authorizeSections, changedSections, configSections, copySections } from "./section-authorization.js";

export const MIN_CONFIRM_MS = 10_000;
export const MAX_CONFIRM_MS = 24 * 3600_000;
const TRANSACTION_IDLE_MS = 3600_000;
const MAX_TRANSACTIONS_PER_PRINCIPAL = 8;

export interface Transaction {
  id: string;
  owner: string;
  base: Configuration;
  baseRevision: bigint;
  candidate: Configuration;
  /**
   * The route changes staged through changeRoutes while nothing else was staged (undefined once anything
   * else is): such a transaction diffs and commits as just those routes.
   */
  routeChanges: Map<string, RouteChange> | undefined;
  createTime: Timestamp;
  expiresAt: number;
}

/** The configured routes a changeRoutes mutation reads and changes (by key: table and destination). */
export interface RouteEdits {
  /** The route with this key (collections.ts routeKey), as changed so far. */
  get(key: string): Route | undefined;
  put(route: Route): void;
  remove(key: string): void;
}

export interface CommitEvent {
  type: CommitEventType;
  info: RevisionInfo;
}

interface CommitRequest {
  next: Configuration;
  /** Who must be authorized for every section the commit changes; absent for the daemon's own rollbacks. */
  principal?: Principal;
  /** What is committed, for refusals ("commit of transaction 1f2e…", "rollback to revision 4"). */
  what: string;
  author: string;
  traceId: string;
  comment?: string;
  confirmMs?: number;
  rolledBackTo?: bigint;
  event: CommitEventType;
}

export interface EngineOptions {
  store: RevisionStore;
  /** Ids of dead API tokens: no commit brings one back. */
  ledger: RevocationLedger;
  dataplane: Dataplane;
  /** Where the health of the backends and the items not in force are kept. */
  backendHealth: BackendHealth;
  log: Logger;
  /** Revisions kept on disk (at least 2: a confirmed commit rolls back to its predecessor). */
  keepRevisions?: number;
}

export class ConfigEngine {
  private active: Revision;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly transactions = new Map<string, Transaction>();
  private confirmTimer: NodeJS.Timeout | undefined;
  private readonly events = new EventEmitter();
  /** Why newer revisions were skipped at start-up; empty when the newest loaded. */
  readonly fallback: string[];
  private readonly keep: number;
  private readonly kernel: KernelApplier;

  private constructor(private readonly opts: EngineOptions, loaded: Revision | undefined, fallback: string[]) {
    this.keep = Math.max(2, opts.keepRevisions ?? 50);
    this.kernel = new KernelApplier(opts.dataplane, opts.backendHealth, opts.log);
    this.fallback = fallback;
    this.active =
      loaded ??
      create(RevisionSchema, {
        info: { revision: 0n, author: "system", comment: "empty configuration" },
        configuration: create(ConfigurationSchema),
      });
    this.events.setMaxListeners(0);
  }

  /**
   * Loads the newest good revision (falling back to older ones, never silently starting empty), makes the
   * kernel match it as far as the kernel accepts it (what it refuses, or a failing backend, is reported in
   * BackendHealth: the daemon starts degraded rather than not at all), and re-arms a pending confirmed commit
   * (rolling back at once if its deadline passed).
   */
  static async open(opts: EngineOptions): Promise<ConfigEngine> {
    const { active, skipped } = opts.store.loadActive((rev) => validateConfiguration(rev.configuration!));
    if (!active && skipped.length > 0) {
      throw new Error(`no usable configuration revision in ${opts.store.dir}: ${skipped.join("; ")}`);
    }
    if (active) {
      // A fall-back to an older revision must not revive a token that died in a newer one.
      const configuration = clone(ConfigurationSchema, active.configuration!);
      keepDeadTokensDead(configuration, configuration, opts.ledger);
      active.configuration = configuration;
    }
    const engine = new ConfigEngine(opts, active, skipped);
    // A crash between a commit's write and its prune can leave one revision too many; settle it now.
    opts.store.prune(engine.keep);
    if (skipped.length) opts.log.error({ active: engine.revision.toString(), skipped }, "configuration loaded from an older revision");
    await engine.kernel.applyTolerant(engine.running);
    opts.log.info({ revision: engine.revision.toString(), dataplane: opts.dataplane.name, outstanding: [...opts.backendHealth.outstanding()] }, "kernel reconciled to the active configuration");
    engine.armConfirm();
    return engine;
  }

  get running(): Configuration {
    return this.active.configuration!;
  }

  get revision(): bigint {
    return this.active.info!.revision;
  }

  get activeInfo(): RevisionInfo {
    return this.active.info!;
  }

  onEvent(listener: (e: CommitEvent) => void): () => void {
    this.events.on("commit", listener);
    return () => this.events.off("commit", listener);
  }

  close(): void {
    if (this.confirmTimer) clearTimeout(this.confirmTimer);
  }

  /** After a storage fault: whether the data dir takes writes again; updates BackendHealth either way. */
  probeStorage(): boolean {
    try {
      this.opts.store.probeWrite();
      this.opts.backendHealth.recovered("storage");
      return true;
    } catch (err) {
      const e = toOrbitalError(err);
      this.opts.backendHealth.fault("storage", `commits are refused: ${e.message}`, String(e.metadata.errno ?? ""));
      return false;
    }
  }

  /**
   * Applies the running configuration again to `backends` (tolerant), in turn with commits: what the kernel
   * refused before may be accepted now (a link appeared, a fault cleared).
   */
  reconcile(backends: Iterable<BackendName> = BACKENDS): Promise<void> {
    const chosen = [...backends];
    return this.serialized(() => this.kernel.applyTolerant(this.running, chosen));
  }

  // ----- transactions

  begin(owner: string): Transaction {
    this.sweep();
    const open = [...this.transactions.values()].filter((t) => t.owner === owner).length;
    if (open >= MAX_TRANSACTIONS_PER_PRINCIPAL) {
      throw new OrbitalError({ reason: ErrorReason.TOO_MANY_TRANSACTIONS, message: `${owner} has ${open} open transactions`, metadata: { limit: MAX_TRANSACTIONS_PER_PRINCIPAL } });
    }
    // Sections are shared with the running configuration (drafts copy what they change), but its routes list
    // changes in place: the transaction takes its own.
    const base = ownRoutes(this.running);
    const tx: Transaction = {
      id: randomBytes(8).toString("hex"),
      owner,
      base,
      baseRevision: this.revision,
      candidate: base,
      routeChanges: new Map(),
      createTime: timestampNow(),
      expiresAt: Date.now() + TRANSACTION_IDLE_MS,
    };
    this.transactions.set(tx.id, tx);
    return tx;
  }

  /** The caller's open transaction; NOT_FOUND or TRANSACTION_NOT_OWNED otherwise. */
  transaction(id: string, principal: string): Transaction {
    this.sweep();
    const tx = this.transactions.get(id);
    if (!tx) throw new OrbitalError({ reason: ErrorReason.TRANSACTION_NOT_FOUND, message: `transaction ${id} does not exist`, metadata: { transactionId: id } });
    if (tx.owner !== principal) {
      throw new OrbitalError({ reason: ErrorReason.TRANSACTION_NOT_OWNED, message: `transaction ${id} belongs to ${tx.owner}`, metadata: { transactionId: id, owner: tx.owner } });
    }
    return tx;
  }

  discard(id: string, principal: string): void {
    this.transaction(id, principal);
    this.transactions.delete(id);
  }

  private sweep(): void {
    const now = Date.now();
    for (const [id, tx] of this.transactions) if (tx.expiresAt < now) this.transactions.delete(id);
  }

  /**
   * Applies one change: staged in the transaction when `transactionId` is set (revision 0), otherwise
   * committed at once as a one-change commit. `mutate` validates the item it changes and may throw; the
   * configuration it was given is then thrown away.
   */
  async mutate<T>(ctx: CallContext, transactionId: string, mutate: (c: Configuration) => T): Promise<{ result: T; revision: bigint }> {
    if (transactionId) {
      const tx = this.transaction(transactionId, ctx.principal.user);
      const staged = draftConfiguration(tx.candidate);
      const result = mutate(staged.config);
      tx.candidate = staged.result;
      tx.routeChanges = undefined;
      tx.expiresAt = Date.now() + TRANSACTION_IDLE_MS;
      return { result, revision: 0n };
    }
    return this.serialized(async () => {
      const draft = draftConfiguration(this.running);
      const result = mutate(draft.config);
      const info = await this.commitNow({ next: draft.result, principal: ctx.principal, what: ctx.path.slice(ctx.path.lastIndexOf("/") + 1), author: ctx.principal.user, traceId: ctx.trace.traceId, event: CommitEventType.COMMITTED });
      return { result, revision: info.revision };
    });
  }

  /**
   * mutate() for single configured routes: staged in the transaction when `transactionId` is set, otherwise
   * a one-change commit that costs what it changes (see the top of this file). `edit` may throw; nothing is
   * changed then.
   */
  async changeRoutes<T>(ctx: CallContext, transactionId: string, edit: (routes: RouteEdits) => T): Promise<{ result: T; revision: bigint }> {
    if (transactionId) {
      const tx = this.transaction(transactionId, ctx.principal.user);
      const edits = routeEdits(tx.candidate);
      const result = edit(edits.api);
      // The candidate's routes list is the transaction's own, but for the one it shares with its base.
      const routes = tx.candidate.routes === tx.base.routes ? [...tx.base.routes] : tx.candidate.routes;
      tx.candidate = { ...tx.candidate, routes };
      applyItemChanges(tx.candidate, "routes", afterOf(edits.changes));
      if (tx.routeChanges) mergeRouteChanges(tx.routeChanges, edits.changes);
      tx.expiresAt = Date.now() + TRANSACTION_IDLE_MS;
      return { result, revision: 0n };
    }
    return this.serialized(async () => {
      const edits = routeEdits(this.running);
      const result = edit(edits.api);
      const info = await this.commitRoutes(edits.changes, { principal: ctx.principal, what: ctx.path.slice(ctx.path.lastIndexOf("/") + 1), author: ctx.principal.user, traceId: ctx.trace.traceId });
      return { result, revision: info.revision };
    });
  }

  diff(tx: Transaction): { changes: ItemChange[]; runningRevision: bigint } {
    const changes = tx.routeChanges && tx.baseRevision === this.revision ? diffOfRouteChanges(tx.routeChanges) : diffConfigurations(this.running, tx.candidate);
    return { changes, runningRevision: this.revision };
  }

  /** Commits a transaction; CONFIG_CONFLICT when another commit changed the same items since it began. */
  commit(ctx: CallContext, transactionId: string, comment: string, confirmMs: number | undefined): Promise<RevisionInfo> {
    const tx = this.transaction(transactionId, ctx.principal.user);
    const as = { principal: ctx.principal, what: `the commit of transaction ${tx.id}`, author: ctx.principal.user, traceId: ctx.trace.traceId, comment, ...(confirmMs !== undefined ? { confirmMs } : {}) };
    return this.serialized(async () => {
      if (tx.routeChanges) {
        const info = await this.commitRoutes(this.rebaseRouteChanges(tx, tx.routeChanges), as);
        this.transactions.delete(tx.id);
        return info;
      }
      let next = tx.candidate;
      if (tx.baseRevision !== this.revision) {
        const r = rebase(tx.base, tx.candidate, this.running);
        if (!r.config) throw this.conflict(tx, r.conflicts);
        next = r.config;
      }
      const info = await this.commitNow({ next, ...as, event: CommitEventType.COMMITTED });
      this.transactions.delete(tx.id);
      return info;
    });
  }

  private conflict(tx: Transaction, paths: string[]): OrbitalError {
    return new OrbitalError({
      reason: ErrorReason.CONFIG_CONFLICT,
      message: `revision ${this.revision} changed ${paths.join(", ")} since this transaction began at revision ${tx.baseRevision}`,
      metadata: { baseRevision: tx.baseRevision, runningRevision: this.revision },
    });
  }

  /**
   * rebase() for a transaction of single routes: its changes onto the running routes. A route changed since
   * the transaction began, to something else than the transaction makes of it, is a conflict; one changed
   * to the same is no change any more.
   */
  private rebaseRouteChanges(tx: Transaction, staged: Map<string, RouteChange>): Map<string, RouteChange> {
    if (tx.baseRevision === this.revision) return staged;
    const out = new Map<string, RouteChange>();
    const conflicts: string[] = [];
    for (const [key, c] of staged) {
      const now = findItem<Route>(this.running, "routes", key);
      if (sameRoute(now, c.before)) out.set(key, c);
      else if (!sameRoute(now, c.after)) conflicts.push(`routes[${key}]`);
    }
    if (conflicts.length) throw this.conflict(tx, conflicts.sort());
    return out;
  }

  /** A new revision whose content equals revision `target`; cancels a pending confirmed commit. */
  rollback(ctx: CallContext, target: bigint, comment: string, confirmMs: number | undefined): Promise<RevisionInfo> {
    return this.serialized(async () => {
      const old = this.readRevision(target);
      return this.commitNow({
        next: clone(ConfigurationSchema, old.configuration!),
        principal: ctx.principal,
        what: `the rollback to revision ${target}`,
        author: ctx.principal.user,
        traceId: ctx.trace.traceId,
        comment: comment || `rollback to revision ${target}`,
        rolledBackTo: target,
        ...(confirmMs !== undefined ? { confirmMs } : {}),
        event: CommitEventType.ROLLED_BACK,
      });
    });
  }

  /** Makes the pending confirmed commit permanent; the caller must be allowed to write what it changed. */
  confirm(ctx: CallContext): Promise<RevisionInfo> {
    return this.serialized(async () => {
      if (!this.active.info!.confirmDeadline) throw new OrbitalError({ reason: ErrorReason.NO_PENDING_CONFIRM, message: "no confirmed commit is waiting" });
      authorizeSections(ctx.principal, this.sectionsChangedBy(this.active), `confirming revision ${this.revision}`);
      const confirmed = create(RevisionSchema, { info: clone(RevisionInfoSchema, this.active.info!), configuration: this.running });
      confirmed.info!.confirmDeadline = undefined;
      this.opts.store.rewriteInfo(confirmed);
      this.active = confirmed;
      if (this.confirmTimer) clearTimeout(this.confirmTimer);
      this.emit(CommitEventType.CONFIRMED, confirmed.info!);
      return confirmed.info!;
    });
  }

  /** Revisions kept on disk, newest first. */
  history(): RevisionInfo[] {
    const out: RevisionInfo[] = [];
    // Files past the newest `keep` are bases of kept deltas only.
    for (const n of this.opts.store.numbers().slice(0, this.keep)) {
      try {
        out.push(n === this.revision ? this.active.info! : this.opts.store.readInfo(n));
      } catch {
        // unreadable revisions are reported by health, not listed
      }
    }
    return out;
  }

  /**
   * The sections a revision changed compared with its predecessor: recorded in it, or (revisions written
   * before that was recorded) worked out from the predecessor; every section when that is not kept.
   */
  private sectionsChangedBy(rev: Revision): string[] {
    const info = rev.info!;
    if (info.changedSections.length > 0 || info.revision === 0n) return info.changedSections;
    try {
      const before = info.revision === 1n ? emptyConfiguration() : this.opts.store.read(info.revision - 1n).configuration!;
      return changedSections(before, rev.configuration!);
    } catch {
      return configSections.map((s) => s.name);
    }
  }

  readRevision(n: bigint): Revision {
    if (n === 0n || n === this.revision) return this.active;
    try {
      return this.opts.store.read(n);
    } catch {
      throw new OrbitalError({ reason: ErrorReason.REVISION_NOT_FOUND, message: `revision ${n} is not kept`, metadata: { revision: n } });
    }
  }

  // ----- the commit path

  private serialized<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.queue.then(fn, fn);
    this.queue = p.catch(() => undefined);
    return p;
  }

  /** validate → apply → persist → publish. On any failure the kernel and the running configuration stay as they were. */
  private async commitNow(req: CommitRequest): Promise<RevisionInfo> {
    this.refuseWhileConfirmPending(req.event);
    // Token deaths are written into a draft: `req.next` may share its token sections with the running one.
    const guarded = draftConfiguration(req.next);
    const died = keepDeadTokensDead(this.running, guarded.config, this.opts.ledger);
    const nextConfig = guarded.result;
    const sections = changedSections(this.running, nextConfig);
    if (req.principal) authorizeSections(req.principal, sections, req.what);
    validateConfiguration(nextConfig, new Set(sections));
    // Single-route commits locate routes by binary search: a routes list replaced as a whole is put in order.
    if (sections.includes("routes")) sortOrderedCollections(nextConfig);
    const info = this.nextInfo(req, sections);
    const next = create(RevisionSchema, { info, configuration: nextConfig });
    const backends = backendsOfSections(sections);
    await this.kernel.applyCommit(this.running, nextConfig, backends);
    try {
      // The ledger first: after a crash in between, a token is dead without its revision, never the reverse.
      this.opts.ledger.add(died);
      this.persist(next, { base: this.revision, sections });
    } catch (err) {
      await this.kernel.restore(this.running, backends);
      throw err;
    }
    this.publish(next, req.event);
    return info;
  }

  /**
   * The one-change commit of single routes: checks, applies and stores just `changes`, then changes the
   * running routes list in place (undone should the write fail). No token dies and no other section changes.
   */
  private async commitRoutes(changes: Map<string, RouteChange>, req: Pick<CommitRequest, "principal" | "what" | "author" | "traceId" | "comment" | "confirmMs">): Promise<RevisionInfo> {
    this.refuseWhileConfirmPending(CommitEventType.COMMITTED);
    const sections = changes.size ? ["routes"] : [];
    if (req.principal) authorizeSections(req.principal, sections, req.what);
    const puts = afterOf(changes);
    validateRoutes(this.running, [...puts.values()].filter((r): r is Route => r !== undefined));
    const info = this.nextInfo({ ...req, event: CommitEventType.COMMITTED }, sections);
    const backends = backendsOfSections(sections);
    await this.kernel.applyRouteChanges(this.running, changes, backends);
    const undo = applyItemChanges(this.running, "routes", puts);
    const next = create(RevisionSchema, { info, configuration: this.running });
    try {
      this.persist(next, { base: this.revision, sections: [], routes: puts });
    } catch (err) {
      undo();
      await this.kernel.restore(this.running, backends);
      throw err;
    }
    this.publish(next, CommitEventType.COMMITTED);
    return info;
  }

  private refuseWhileConfirmPending(event: CommitEventType): void {
    const pending = this.active.info!.confirmDeadline;
    if (pending && event === CommitEventType.COMMITTED) {
      throw new OrbitalError({
        reason: ErrorReason.CONFIRM_PENDING,
        message: `revision ${this.revision} waits for confirmation; confirm it or roll back first`,
        metadata: { deadline: timestampDate(pending).toISOString() },
      });
    }
  }

  private nextInfo(req: Omit<CommitRequest, "next">, sections: string[]): RevisionInfo {
    // Number past every file on disk, unusable ones included: they are evidence, never overwritten.
    const newestOnDisk = this.opts.store.numbers()[0] ?? 0n;
    return create(RevisionInfoSchema, {
      revision: (newestOnDisk > this.revision ? newestOnDisk : this.revision) + 1n,
      author: req.author,
      commitTime: timestampNow(),
      comment: req.comment ?? "",
      traceId: req.traceId,
      rolledBackTo: req.rolledBackTo ?? 0n,
      changedSections: sections,
      ...(req.confirmMs !== undefined ? { confirmDeadline: timestampFromMs(Date.now() + req.confirmMs) } : {}),
    });
  }

  /** Writes the revision (as what it changed in the active one); STORAGE_FULL is also reported in health. */
  private persist(next: Revision, change: RevisionChange): void {
    try {
      this.opts.store.write(next, change);
      this.opts.backendHealth.recovered("storage");
    } catch (err) {
      const e = toOrbitalError(err);
      if (e.reason === "STORAGE_FULL") this.opts.backendHealth.fault("storage", `commits are refused: ${e.message}`, String(e.metadata.errno ?? ""));
      throw e;
    }
  }

  private publish(next: Revision, event: CommitEventType): void {
    const info = next.info!;
    this.active = next;
    this.opts.store.prune(this.keep);
    this.opts.log.info({ revision: info.revision.toString(), author: info.author, event: CommitEventType[event] }, "configuration committed");
    this.emit(event, info);
    this.armConfirm();
  }

  private emit(type: CommitEventType, info: RevisionInfo): void {
    this.events.emit("commit", { type, info } satisfies CommitEvent);
  }

  /** Schedules the automatic rollback of a pending confirmed commit (at once if its deadline passed). */
  private armConfirm(): void {
    if (this.confirmTimer) clearTimeout(this.confirmTimer);
    const deadline = this.active.info!.confirmDeadline;
    if (!deadline) return;
    const pendingRevision = this.revision;
    const delay = Math.max(0, timestampDate(deadline).getTime() - Date.now());
    this.confirmTimer = setTimeout(() => void this.expireConfirm(pendingRevision), delay);
    this.confirmTimer.unref();
  }

  private async expireConfirm(pendingRevision: bigint): Promise<void> {
    try {
      await this.serialized(async () => {
        if (this.revision !== pendingRevision || !this.active.info!.confirmDeadline) return;
        // Revision 0 is the empty configuration the box started with (it has no file).
        const previous = pendingRevision === 1n ? emptyConfiguration() : this.readRevision(pendingRevision - 1n).configuration!;
        this.opts.log.warn({ revision: pendingRevision.toString(), restoring: (pendingRevision - 1n).toString() }, "confirmed commit not confirmed in time: rolling back");
        // Only the sections the unconfirmed commit changed go back: what its author was authorized to change.
        const next = clone(ConfigurationSchema, this.running);
        copySections(next, clone(ConfigurationSchema, previous), this.sectionsChangedBy(this.active));
        await this.commitNow({
          next,
          what: `the automatic rollback of revision ${pendingRevision}`,
          author: "system",
          traceId: "",
          comment: `automatic rollback: revision ${pendingRevision} was not confirmed in time`,
          rolledBackTo: pendingRevision - 1n,
          event: CommitEventType.CONFIRM_EXPIRED,
        });
      });
    } catch (err) {
      this.opts.log.error({ err }, "automatic rollback failed; retrying in 5 s");
      this.confirmTimer = setTimeout(() => void this.expireConfirm(pendingRevision), 5000);
      this.confirmTimer.unref();
    }
  }
}

/** A configuration sharing every section with `config` but its routes list (see the top of this file). */
function ownRoutes(config: Configuration): Configuration {
  return { ...config, routes: [...config.routes] };
}

/** Route edits over `config` (not changed): what they read sees what they changed; `changes` collects them. */
function routeEdits(config: Configuration): { api: RouteEdits; changes: Map<string, RouteChange> } {
  const changes = new Map<string, RouteChange>();
  const get = (key: string): Route | undefined => {
    const changed = changes.get(key);
    return changed ? changed.after : findItem<Route>(config, "routes", key);
  };
  const change = (key: string, after: Route | undefined, current: Route | undefined) => {
    const before = changes.has(key) ? changes.get(key)!.before : current;
    if (before === undefined && after === undefined) changes.delete(key);
    else changes.set(key, { before, after });
  };
  return {
    changes,
    api: {
      get,
      put: (route) => change(routeKey(route), route, get(routeKey(route))),
      remove: (key) => change(key, undefined, get(key)),
    },
  };
}

const afterOf = (changes: Map<string, RouteChange>) => new Map([...changes].map(([k, c]) => [k, c.after]));

const sameRoute = (a: Route | undefined, b: Route | undefined) => (a === undefined || b === undefined ? a === b : a === b || equals(RouteSchema, a, b));

/** Adds later changes to earlier ones: each route keeps its first before and takes its last after. */
function mergeRouteChanges(into: Map<string, RouteChange>, later: Map<string, RouteChange>): void {
  for (const [key, c] of later) {
    const before = into.has(key) ? into.get(key)!.before : c.before;
    if (sameRoute(before, c.after)) into.delete(key);
    else into.set(key, { before, after: c.after });
  }
}

/** Route changes as a diff, in path order (what diffConfigurations would say of them). */
function diffOfRouteChanges(changes: Map<string, RouteChange>): ItemChange[] {
  const json = (r: Route) => toJson(RouteSchema, r);
  return [...changes]
    .map(([key, { before, after }]): ItemChange => {
      const path = `routes[${key}]`;
      if (!before) return { path, kind: ChangeKind.ADDED, after: json(after!) };
      if (!after) return { path, kind: ChangeKind.REMOVED, before: json(before) };
      return { path, kind: ChangeKind.MODIFIED, before: json(before), after: json(after) };
    })
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}
