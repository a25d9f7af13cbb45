// Translation between configured routes (API types) and kernel route specs: route type numbers, the main
// table default, our protocol number, and the key that identifies a route in both worlds.
import { RouteType as ApiRouteType, type Route } from "../../gen/orbital/routing/v1/routing_pb.js";
import { parseAddress, parsePrefix } from "../validation/ip.js";
import { MAIN_TABLE, ORBITAL_ROUTE_PROTOCOL, RouteType, type RouteSpec } from "./netlink/rtnetlink-types.js";

const kernelType: Record<ApiRouteType, RouteType> = {
  [ApiRouteType.UNSPECIFIED]: RouteType.UNICAST,
  [ApiRouteType.UNICAST]: RouteType.UNICAST,
  [ApiRouteType.BLACKHOLE]: RouteType.BLACKHOLE,
  [ApiRouteType.UNREACHABLE]: RouteType.UNREACHABLE,
  [ApiRouteType.PROHIBIT]: RouteType.PROHIBIT,
};

/** The rtm_type of an API route type (UNSPECIFIED is UNICAST). */
export function kernelRouteType(t: ApiRouteType): RouteType {
  return kernelType[t] ?? RouteType.UNICAST;
}

export function apiRouteType(kernel: number): ApiRouteType {
  const hit = Object.entries(kernelType).find(([api, k]) => k === kernel && Number(api) !== ApiRouteType.UNSPECIFIED);
  return hit ? (Number(hit[0]) as ApiRouteType) : ApiRouteType.UNSPECIFIED;
}

/** The kernel spec of a validated configured route; `ifindexOf` resolves its interface (undefined: absent). */
export function routeSpecOf(r: Route, ifindexOf: (name: string) => number | undefined): RouteSpec {
  const p = parsePrefix(r.destination?.cidr ?? "");
  if (typeof p === "string") throw new Error(p);
  const spec: RouteSpec = {
    family: p.family,
    table: r.table || MAIN_TABLE,
    destination: p.cidr,
    priority: r.metric,
    protocol: ORBITAL_ROUTE_PROTOCOL,
    type: kernelType[r.type],
  };
  if (r.gateway?.address) spec.gateway = parseAddress(r.gateway.address)?.address ?? r.gateway.address;
  if (r.interface) {
    const oif = ifindexOf(r.interface);
    if (oif !== undefined) spec.oif = oif;
  }
  return spec;
}

/** The kernel stores IPv6 routes given priority 0 with its default metric 1024 and reports that. */
const IPV6_DEFAULT_METRIC = 1024;

/** Identity of a kernel route for reconciling: table, destination and priority (metric, as the kernel keeps it). */
export function kernelRouteKey(r: Pick<RouteSpec, "family" | "table" | "destination" | "priority">): string {
  const priority = r.family === 6 && r.priority === 0 ? IPV6_DEFAULT_METRIC : r.priority;
  return `${r.table}|${r.destination}|${priority}`;
}
