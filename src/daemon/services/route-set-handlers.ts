// The dynamic-route half of the routing service: SyncRouteSet (open or resume a set, then batches, one
// acknowledgement each), WithdrawRouteSet, ListRouteSets, and the dynamic routes' page of ListRoutes, read
// straight from the sets' columns (one Route message per listed route, none held).
import { create } from "@bufbuild/protobuf";
import { durationFromMs, durationMs, timestampFromMs, type Duration } from "@bufbuild/protobuf/wkt";
import {
  RouteOrigin,
  RouteSchema,
  RouteSetSchema,
  RouteSetState,
  type Route,
  type RouteSet as ApiRouteSet,
  type RoutingService,
  type SyncRouteSetRequest,
} from "../../gen/orbital/routing/v1/routing_pb.js";
import type { LinkInfo } from "../dataplane/netlink/rtnetlink-types.js";
import { apiRouteType } from "../dataplane/kernel-routes.js";
import { INSTALLED, RouteRecord, STALE } from "../dynamic-routes/route-columns.js";
import { formatDestination, formatGateway } from "../dynamic-routes/route-record-text.js";
import type { OpenRequest, RouteSet, RouteSetRegistry, RouteSetSession } from "../dynamic-routes/route-set-registry.js";
import { MAX_BATCH_ITEMS } from "../validation/bulk-batch.js";
import { paginate } from "../validation/pagination.js";
import { Violations } from "../validation/violations.js";
import type { MethodImpl } from "../rpc/service-impl.js";

type Methods = (typeof RoutingService)["method"];

const SET_NAME = /^[a-z0-9][a-z0-9_.-]{0,62}$/;
const MAX_GRACE_MS = 3_600_000;

const apiState = { active: RouteSetState.ACTIVE, resyncing: RouteSetState.RESYNCING, orphaned: RouteSetState.ORPHANED } as const;

export function routeSetView(set: RouteSet): ApiRouteSet {
  return create(RouteSetSchema, {
    name: set.name,
    protocol: set.protocol,
    distance: set.distance,
    gracePeriod: durationFromMs(set.decl.graceMs),
    resyncTimeout: durationFromMs(set.decl.resyncMs),
    owner: set.decl.owner,
    routeCount: BigInt(set.routes.size),
    installedCount: BigInt(set.count(INSTALLED)),
    staleCount: BigInt(set.state === "resyncing" || set.state === "orphaned" ? set.count(STALE) : 0),
    state: apiState[set.state],
    ...(set.withdrawAt !== undefined ? { withdrawTime: timestampFromMs(set.withdrawAt) } : {}),
  });
}

function periodMs(d: Duration | undefined, field: string, v: Violations): number {
  if (!d) return 0;
  const ms = durationMs(d);
  v.check(Number.isInteger(ms) && ms >= 0 && ms <= MAX_GRACE_MS, field, "must be 0..3600s in whole milliseconds");
  return ms;
}


function checkOpen(req: SyncRouteSetRequest, first: boolean): OpenRequest | undefined {
  const v = new Violations();
  if (!first) {
    v.check(req.open === undefined, "open", "only the first request of the stream opens the set");
    v.check(req.adds.length + req.deletes.length <= MAX_BATCH_ITEMS, "adds", `at most ${MAX_BATCH_ITEMS} items per request`);
    v.throwIfAny();
    return undefined;
  }
  const o = req.open;
  v.check(o !== undefined, "open", "the first request must open a route set");
  v.throwIfAny();
  v.check(SET_NAME.test(o!.name), "open.name", "1..63 characters of a-z, 0-9, '-', '_', '.', starting with a letter or digit");
  v.check(o!.protocol >= 5 && o!.protocol <= 255, "open.protocol", "must be 5..255 (and not 77)");
  v.check(o!.distance >= 1 && o!.distance <= 255, "open.distance", "must be 1..255");
  const grace = periodMs(o!.gracePeriod, "open.grace_period", v);
  const resync = periodMs(o!.resyncTimeout, "open.resync_timeout", v);
  v.check(req.adds.length + req.deletes.length <= MAX_BATCH_ITEMS, "adds", `at most ${MAX_BATCH_ITEMS} items per request`);
  v.throwIfAny();
  return { name: o!.name, protocol: o!.protocol, distance: o!.distance, graceMs: grace, resyncMs: resync };
}

/** A set's slots to list, in listing order. */
export interface ListedSlots {
  set: RouteSet;
  slots: Int32Array;
}

/** The slots of each set in listing order, only those in `table` (0: all) of `family` (0: both). */
export function listedSlots(sets: readonly RouteSet[], table: number, family: 0 | 4 | 6): ListedSlots[] {
  const r = new RouteRecord();
  return sets.map((set) => {
    const sorted = set.routes.sorted();
    if (table === 0 && family === 0) return { set, slots: sorted };
    return { set, slots: sorted.filter((s) => (table === 0 || set.routes.read(s, r).table === table) && (family === 0 || set.routes.read(s, r).family === family)) };
  });
}

/** The dynamic routes of `listed`, in order, from position `from` (inclusive) to `to`. */
export function dynamicRoutePage(listed: readonly ListedSlots[], from: number, to: number, links: readonly LinkInfo[]): Route[] {
  const names = new Map(links.map((l) => [l.ifindex, l.name]));
  const r = new RouteRecord();
  const out: Route[] = [];
  let base = 0;
  for (const { set, slots: sorted } of listed) {
    const n = sorted.length;
    if (from < base + n && to > base) {
      for (let k = Math.max(0, from - base); k < Math.min(n, to - base); k++) {
        const slot = sorted[k]!;
        set.routes.read(slot, r);
        const gateway = formatGateway(r);
        out.push(
          create(RouteSchema, {
            destination: { cidr: formatDestination(r) },
            table: r.table === 254 ? 0 : r.table,
            type: apiRouteType(r.type),
            ...(gateway ? { gateway: { address: gateway } } : {}),
            interface: r.oif ? (names.get(r.oif) ?? `ifindex ${r.oif}`) : "",
            metric: set.distance,
            installed: (set.routes.flags(slot) & INSTALLED) !== 0,
            origin: RouteOrigin.DYNAMIC,
            owner: set.name,
            distance: set.distance,
          }),
        );
      }
    }
    base += n;
    if (base >= to) break;
  }
  return out;
}

export function routeSetHandlers(registry: RouteSetRegistry): {
  syncRouteSet: MethodImpl<Methods["syncRouteSet"]>;
  withdrawRouteSet: MethodImpl<Methods["withdrawRouteSet"]>;
  listRouteSets: MethodImpl<Methods["listRouteSets"]>;
} {
  return {
    async *syncRouteSet(requests, ctx) {
      let session: RouteSetSession | undefined;
      let sequence = 0n;
      try {
        for await (const req of requests) {
          const open = checkOpen(req, session === undefined);
          if (open) session = await registry.open(open, ctx.principal.user);
          const out = await session!.apply(req.adds, req.deletes, req.endOfResync);
          yield {
            sequence,
            ...(sequence === 0n ? { routeSet: routeSetView(session!.set) } : {}),
            added: BigInt(out.added),
            deleted: BigInt(out.deleted),
            failures: out.failures,
          };
          sequence++;
        }
      } finally {
        session?.close();
      }
    },

    async withdrawRouteSet(req, ctx) {
      const withdrawn = await registry.withdraw(req.name, ctx.principal.user);
      return { withdrawn: BigInt(withdrawn) };
    },

    async listRouteSets(req) {
      const { items, page } = paginate(registry.list(), req.page, "route-sets");
      return { routeSets: items.map(routeSetView), page };
    },
  };
}
