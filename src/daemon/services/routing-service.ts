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
import { toOrbitalError } from "../../common/errors.js";
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
import { paginate } from "../validation/pagination.js";
import { checkBulkBatch } from "../validation/bulk-batch.js";
import { Violations } from "../validation/violations.js";
import { alreadyExists, notFound } from "./resource-errors.js";

const RTPROT_KERNEL = 2;

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

export function routingService(engine: ConfigEngine, dataplane: Dataplane, backendHealth: BackendHealth): ServiceImpl<typeof RoutingService> {
  /** Configured routes with their installed flag, plus (on request) the kernel's other routes. */
  const routeViews = async (config: Configuration, includeUnowned: boolean): Promise<Route[]> => {
    const [kernel, links] = await Promise.all([dataplane.routes(), dataplane.links()]);
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
      const all = (await routeViews(engine.running, req.includeUnowned)).filter(
        (r) => (req.table === 0 || (r.table || MAIN_TABLE) === req.table) && (req.family === AddressFamily.UNSPECIFIED || familyOfCidr(r.destination!.cidr) === req.family),
      );
      const { items, page } = paginate(all, req.page, `routes:${req.table}:${req.family}:${req.includeUnowned}`);
      return { routes: items, page };
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

    async *watchRoutes(req, ctx) {
      const pending: { type: RouteEventType; route: Route }[] = [];
      let wake: (() => void) | undefined;
      const links = await dataplane.links();
      const off = dataplane.subscribe((e) => {
        if (e.type !== "route") return;
        if (req.table && e.route.table !== req.table) return;
        if (!req.includeUnowned && e.route.protocol !== ORBITAL_ROUTE_PROTOCOL) return;
        const route = foreignRoute(e.route, links);
        if (e.route.protocol === ORBITAL_ROUTE_PROTOCOL) route.origin = RouteOrigin.STATIC;
        route.installed = e.action === "new";
        pending.push({ type: e.action === "new" ? RouteEventType.ADDED : RouteEventType.REMOVED, route });
        wake?.();
      });
      const aborted = new Promise<void>((r) => ctx.signal.addEventListener("abort", () => r(), { once: true }));
      try {
        for (const route of await routeViews(engine.running, req.includeUnowned)) {
          if (req.table && (route.table || MAIN_TABLE) !== req.table) continue;
          yield { type: RouteEventType.EXISTING, route };
        }
        yield { type: RouteEventType.SYNCED };
        while (!ctx.signal.aborted) {
          const e = pending.shift();
          if (e) yield e;
          else await Promise.race([new Promise<void>((r) => (wake = r)), aborted]);
        }
      } finally {
        off();
      }
    },
  };
}
