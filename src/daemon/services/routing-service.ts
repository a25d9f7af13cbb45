// Routing service: static routes from the configuration (installed with orbitald's own route protocol
// number), the kernel's other routes on request, bulk loading through a client stream, and change streams.
import { clone, create } from "@bufbuild/protobuf";
import { AddressFamily } from "../../gen/orbital/api/v1/ip_pb.js";
import { ErrorReason } from "../../gen/orbital/api/v1/error_reason_pb.js";
import type { Configuration } from "../../gen/orbital/config/v1/configuration_pb.js";
import {
  RouteEventType,
  RouteOrigin,
  RouteSchema,
  BulkItemFailureSchema,
  type BulkItemFailure,
  type Route,
  type RouteKey,
  type RoutingService,
} from "../../gen/orbital/routing/v1/routing_pb.js";
import { OrbitalError, toOrbitalError } from "../../common/errors.js";
import { compareRoutes, MAIN_TABLE, routeKey } from "../config/collections.js";
import type { ConfigEngine } from "../config/config-engine.js";
import type { Dataplane } from "../dataplane/dataplane.js";
import { apiRouteType, kernelRouteKey, routeSpecOf } from "../dataplane/kernel-routes.js";
import { ORBITAL_ROUTE_PROTOCOL, type LinkInfo, type RouteInfo } from "../dataplane/netlink/rtnetlink-types.js";
import type { ServiceImpl } from "../rpc/service-impl.js";
import type { BackendHealth } from "./backend-health.js";
import { parsePrefix } from "../validation/ip.js";
import { applyFieldMask } from "../validation/field-mask.js";
import { validateRoute } from "../validation/network-rules.js";
import { pageBounds, paginate } from "../validation/pagination.js";
import type { RouteSetRegistry } from "../dynamic-routes/route-set-registry.js";
import { dynamicRoutePage, listedSlots, routeSetHandlers } from "./route-set-handlers.js";
import { checkBulkBatch } from "../validation/bulk-batch.js";
import { Violations } from "../validation/violations.js";
import { alreadyExists, notFound } from "./resource-errors.js";

const RTPROT_KERNEL = 2;
/** Events a watcher may have waiting before it is told it fell behind (ERROR_REASON_WATCH_FELL_BEHIND). */
export const MAX_WATCH_BACKLOG = 100_000;

function familyOfCidr(cidr: string): AddressFamily {
  return cidr.includes(":") ? AddressFamily.IPV6 : AddressFamily.IPV4;
}

/** A canonical key for a request's (destination, table); INVALID_PREFIX when the destination is not one. */
function keyOf(destination: string, table: number, field: string): string {
  const p = parsePrefix(destination);
  const v = new Violations();
  if (typeof p === "string") v.add(field, p, ErrorReason.INVALID_PREFIX, destination);
  v.throwIfAny();
  return routeKey({ table, destination: { cidr: (p as { cidr: string }).cidr } as Route["destination"] });
}

function foreignRoute(k: RouteInfo, links: LinkInfo[]): Route {
  return create(RouteSchema, {
    destination: { cidr: k.destination },
    table: k.table,
    type: apiRouteType(k.type),
    ...(k.gateway ? { gateway: { address: k.gateway } } : {}),
    interface: links.find((l) => l.ifindex === k.oif)?.name ?? "",
    metric: k.priority,
    installed: true,
    origin: k.protocol === RTPROT_KERNEL || k.table === 255 ? RouteOrigin.KERNEL : RouteOrigin.FOREIGN,
  });
}

export function routingService(engine: ConfigEngine, dataplane: Dataplane, backendHealth: BackendHealth, routeSets: RouteSetRegistry): ServiceImpl<typeof RoutingService> {
  /**
   * Configured routes with their installed flag, plus (on request) the kernel's other routes, except those
   * of the dynamic route sets (listed from the sets). Only orbitald's own protocol is dumped otherwise.
   */
  const routeViews = async (config: Configuration, includeUnowned: boolean): Promise<Route[]> => {
    const kernel: RouteInfo[] = [];
    const [links] = await Promise.all([
      dataplane.links(),
      dataplane.scanRoutes(includeUnowned ? undefined : ORBITAL_ROUTE_PROTOCOL, (k) => {
        if (!routeSets.byProtocol(k.protocol)) kernel.push(k);
      }),
    ]);
    const installed = new Set(kernel.filter((k) => k.protocol === ORBITAL_ROUTE_PROTOCOL).map(kernelRouteKey));
    const ifindexOf = (name: string) => links.find((l) => l.name === name)?.ifindex;
    const out = config.routes.map((r) => {
      const v = clone(RouteSchema, r);
      v.origin = RouteOrigin.STATIC;
      v.installed = installed.has(kernelRouteKey(routeSpecOf(r, ifindexOf)));
      if (!v.installed) v.notInstalledReason = backendHealth.unappliedReason(`routes[${routeKey(r)}]`) ?? "not in the kernel (removed outside orbitald?); the next commit or restart puts it back";
      return v;
    });
    if (includeUnowned) out.push(...kernel.filter((k) => k.protocol !== ORBITAL_ROUTE_PROTOCOL).map((k) => foreignRoute(k, links)));
    return out.sort(compareRoutes);
  };

  const interfaceChecker = async (config: Configuration) => {
    const names = new Set([...(await dataplane.links()).map((l) => l.name), ...config.interfaces.map((i) => i.name)]);
    return (name: string) => names.has(name);
  };

  const checked = (r: Route, field: string, exists: (n: string) => boolean): Route => {
    const route = clone(RouteSchema, r);
    route.installed = false;
    route.origin = RouteOrigin.UNSPECIFIED;
    const v = new Violations();
    validateRoute(v, route, field, exists);
    v.throwIfAny();
    if (route.table === MAIN_TABLE) route.table = 0;
    return route;
  };

  return {
    async listRoutes(req) {
      const dynamicOnly = req.origin === RouteOrigin.DYNAMIC || req.routeSet !== "";
      const withStatic = !dynamicOnly && (req.origin === RouteOrigin.UNSPECIFIED || req.origin === RouteOrigin.STATIC);
      const views = withStatic || req.includeUnowned ? await routeViews(engine.running, req.includeUnowned && !dynamicOnly) : [];
      const fixed = views.filter(
        (r) =>
          (withStatic || r.origin !== RouteOrigin.STATIC) &&
          (req.origin === RouteOrigin.UNSPECIFIED || r.origin === req.origin) &&
          (req.table === 0 || (r.table || MAIN_TABLE) === req.table) &&
          (req.family === AddressFamily.UNSPECIFIED || familyOfCidr(r.destination!.cidr) === req.family),
      );
      // Dynamic routes come after the configured (and unowned) ones, set by set, straight from their columns.
      const sets = req.origin === RouteOrigin.UNSPECIFIED || req.origin === RouteOrigin.DYNAMIC ? routeSets.list().filter((s) => req.routeSet === "" || s.name === req.routeSet) : [];
      const family = req.family === AddressFamily.IPV4 ? 4 : req.family === AddressFamily.IPV6 ? 6 : 0;
      const listed = listedSlots(sets, req.table, family);
      const dynamicTotal = listed.reduce((n, l) => n + l.slots.length, 0);
      const { start, end, page } = pageBounds(fixed.length + dynamicTotal, req.page, `routes:${req.table}:${req.family}:${req.includeUnowned}:${req.origin}:${req.routeSet}`);
      const routes = fixed.slice(start, end);
      if (end > fixed.length) routes.push(...dynamicRoutePage(listed, Math.max(0, start - fixed.length), end - fixed.length, await dataplane.links()));
      return { routes, page };
    },

    async getRoute(req) {
      const key = keyOf(req.destination?.cidr ?? "", req.table, "destination.cidr");
      const route = (await routeViews(engine.running, false)).find((r) => routeKey(r) === key);
      if (!route) throw notFound("route", key);
      return { route };
    },

    async createRoute(req, ctx) {
      const exists = await interfaceChecker(engine.running);
      const route = checked(req.route ?? create(RouteSchema), "route", exists);
      const { revision } = await engine.changeRoutes(ctx, req.transactionId, (routes) => {
        if (routes.get(routeKey(route))) throw alreadyExists("route", routeKey(route));
        routes.put(route);
      });
      return { route, revision };
    },

    async updateRoute(req, ctx) {
      const key = keyOf(req.route?.destination?.cidr ?? "", req.route?.table ?? 0, "route.destination.cidr");
      const exists = await interfaceChecker(engine.running);
      const { result, revision } = await engine.changeRoutes(ctx, req.transactionId, (routes) => {
        const current = routes.get(key);
        if (!current) throw notFound("route", key);
        const merged = applyFieldMask(RouteSchema, current, req.route!, req.updateMask, ["type", "gateway", "interface", "metric", "description"]);
        const route = checked(merged, "route", exists);
        routes.put(route);
        return route;
      });
      return { route: result, revision };
    },

    async deleteRoute(req, ctx) {
      const key = keyOf(req.destination?.cidr ?? "", req.table, "destination.cidr");
      const { revision } = await engine.changeRoutes(ctx, req.transactionId, (routes) => {
        if (!routes.get(key)) throw notFound("route", key);
        routes.remove(key);
      });
      return { revision };
    },

    async bulkUpdateRoutes(batches, ctx) {
      const exists = await interfaceChecker(engine.running);
      const adds = new Map<string, Route>();
      const deletes = new Map<string, { index: bigint; key: RouteKey }>();
      const failures: BulkItemFailure[] = [];
      let index = 0n;
      let transactionId: string | undefined;
      const fail = (i: bigint, key: RouteKey | undefined, err: unknown) => {
        const e = toOrbitalError(err);
        failures.push(create(BulkItemFailureSchema, { index: i, ...(key ? { key } : {}), reason: e.reason, description: e.message }));
      };
      for await (const batch of batches) {
        transactionId = checkBulkBatch(transactionId, batch, batch.adds.length + batch.deletes.length);
        for (const r of batch.adds) {
          const i = index++;
          try {
            const route = checked(r, `adds[${i}]`, exists);
            const key = routeKey(route);
            deletes.delete(key);
            adds.set(key, route);
          } catch (err) {
            fail(i, r.destination ? { destination: r.destination, table: r.table } as RouteKey : undefined, err);
          }
        }
        for (const k of batch.deletes) {
          const i = index++;
          try {
            const key = keyOf(k.destination?.cidr ?? "", k.table, `deletes[${i}].destination.cidr`);
            adds.delete(key);
            deletes.set(key, { index: i, key: k });
          } catch (err) {
            fail(i, k, err);
          }
        }
      }
      if (adds.size === 0 && deletes.size === 0) return { added: 0n, deleted: 0n, failures, revision: 0n };
      const { result, revision } = await engine.mutate(ctx, transactionId ?? "", (config) => {
        const byKey = new Map(config.routes.map((r) => [routeKey(r), r]));
        let deleted = 0n;
        for (const [key, d] of deletes) {
          if (byKey.delete(key)) deleted++;
          else fail(d.index, d.key, notFound("route", key));
        }
        for (const [key, r] of adds) byKey.set(key, r);
        config.routes = [...byKey.values()].sort(compareRoutes);
        return { added: BigInt(adds.size), deleted };
      });
      failures.sort((a, b) => (a.index < b.index ? -1 : 1));
      return { ...result, failures, revision };
    },

    ...routeSetHandlers(routeSets),

    async *watchRoutes(req, ctx) {
      let pending: { type: RouteEventType; route: Route }[] = [];
      let head = 0;
      let dropped = 0;
      let wake: (() => void) | undefined;
      const links = await dataplane.links();
      const fellBehind = (n: number) => {
        dropped += n;
        pending = [];
        head = 0;
        wake?.();
      };
      const off = dataplane.subscribe(
        (e) => {
          if (e.type !== "route" || dropped > 0) return;
          if (req.table && e.route.table !== req.table) return;
          const set = routeSets.byProtocol(e.route.protocol);
          if (!req.includeUnowned && e.route.protocol !== ORBITAL_ROUTE_PROTOCOL && !set) return;
          const route = foreignRoute(e.route, links);
          if (e.route.protocol === ORBITAL_ROUTE_PROTOCOL) route.origin = RouteOrigin.STATIC;
          if (set) Object.assign(route, { origin: RouteOrigin.DYNAMIC, owner: set.name, distance: set.distance });
          route.installed = e.action === "new";
          if (pending.length - head >= MAX_WATCH_BACKLOG) return fellBehind(1);
          pending.push({ type: e.action === "new" ? RouteEventType.ADDED : RouteEventType.REMOVED, route });
          wake?.();
        },
        () => fellBehind(1),
      );
      const aborted = new Promise<void>((r) => ctx.signal.addEventListener("abort", () => r(), { once: true }));
      const behind = () =>
        new OrbitalError({ reason: ErrorReason.WATCH_FELL_BEHIND, message: `the watcher fell behind: events were dropped; watch again for a fresh snapshot`, metadata: { dropped } });
      try {
        for (const route of await routeViews(engine.running, req.includeUnowned)) {
          if (req.table && (route.table || MAIN_TABLE) !== req.table) continue;
          yield { type: RouteEventType.EXISTING, route };
        }
        // The dynamic routes' snapshot, a page at a time from their columns.
        const listed = listedSlots(routeSets.list(), req.table, 0);
        const total = listed.reduce((n, l) => n + l.slots.length, 0);
        for (let from = 0; from < total && !ctx.signal.aborted; from += 1000) {
          if (dropped > 0) throw behind();
          for (const route of dynamicRoutePage(listed, from, from + 1000, links)) yield { type: RouteEventType.EXISTING, route };
        }
        yield { type: RouteEventType.SYNCED };
        while (!ctx.signal.aborted) {
          if (dropped > 0) throw behind();
          if (head < pending.length) {
            const e = pending[head]!;
            pending[head++] = undefined as never;
            if (head === pending.length) {
              pending = [];
              head = 0;
            }
            yield e;
          } else await Promise.race([new Promise<void>((r) => (wake = r)), aborted]);
        }
      } finally {
        off();
      }
    },
  };
}
