// One batch of a dynamic route set's changes, from API messages to the kernel and back: validates each item
// into a RouteRecord, leaves out what the set already holds unchanged (a resync resends everything: only what
// differs reaches the kernel), hands the rest to the data plane as one batch, and records what the kernel
// accepted in the set's columns. Every refused item becomes a BulkItemFailure; none stops the others.
import { create } from "@bufbuild/protobuf";
import { ErrorReason } from "../../gen/orbital/api/v1/error_reason_pb.js";
import { BulkItemFailureSchema, RouteType as ApiRouteType, type BulkItemFailure, type Route, type RouteKey } from "../../gen/orbital/routing/v1/routing_pb.js";
import { OrbitalError } from "../../common/errors.js";
import type { Dataplane, RouteOp } from "../dataplane/dataplane.js";
import { kernelRouteType } from "../dataplane/kernel-routes.js";
import { MAIN_TABLE, RouteType } from "../dataplane/netlink/rtnetlink-types.js";
import { INTERFACE_NAME } from "../validation/network-rules.js";
import { INSTALLED, RouteRecord, STALE, type RouteColumns } from "./route-columns.js";
import { formatDestination, formatGateway, parseDestination, parseGateway } from "./route-record-text.js";

/** Set on a slot while an operation of the batch under way is about it. */
const PENDING = 8;
const ESRCH = 3;
const EEXIST = 17;

export interface RouteSetTarget {
  name: string;
  protocol: number;
  distance: number;
  routes: RouteColumns;
}

export interface BatchOutcome {
  added: number;
  deleted: number;
  failures: BulkItemFailure[];
}

/** How many dynamic routes may still be added (all sets together). */
export type RouteBudget = { left(): number; take(n: number): void };

function invalid(field: string, message: string, reason = ErrorReason.INVALID_FIELD): OrbitalError {
  return new OrbitalError({ reason, message: `invalid ${field}: ${message}`, metadata: { field } });
}

function validTable(t: number): boolean {
  return t === 0 || t === MAIN_TABLE || (t >= 1 && t <= 4294967295 && (t < 253 || t > 255));
}

/** Fills r from an add; undefined when valid, else the error. */
function readAdd(route: Route, r: RouteRecord, ifindexOf: (name: string) => number | undefined): OrbitalError | undefined {
  const cidr = route.destination?.cidr ?? "";
  const bad = parseDestination(cidr, r);
  if (bad) return invalid("destination.cidr", bad, ErrorReason.INVALID_PREFIX);
  if (!validTable(route.table)) return invalid("table", "must be 1..4294967295 except 253 and 255 (0 and 254 mean main)");
  r.table = route.table || MAIN_TABLE;
  r.type = kernelRouteType(route.type);
  r.hasGateway = false;
  r.gw.fill(0);
  const gateway = route.gateway?.address ?? "";
  if (gateway !== "") {
    const wrong = parseGateway(gateway, r);
    if (wrong) return invalid("gateway.address", wrong, ErrorReason.INVALID_ADDRESS);
  }
  r.oif = 0;
  if (route.interface) {
    const oif = INTERFACE_NAME.test(route.interface) ? ifindexOf(route.interface) : undefined;
    if (oif === undefined) return invalid("interface", `interface "${route.interface}" does not exist`, ErrorReason.REFERENCE_MISSING);
    r.oif = oif;
  }
  const forwards = route.type === ApiRouteType.UNSPECIFIED || route.type === ApiRouteType.UNICAST;
  if (forwards && !r.hasGateway && r.oif === 0) return invalid("route", "a unicast route needs a gateway or an interface");
  if (!forwards && (r.hasGateway || r.oif !== 0)) return invalid("route", "blackhole, unreachable and prohibit routes take neither gateway nor interface");
  return undefined;
}

function readKey(key: RouteKey, r: RouteRecord): OrbitalError | undefined {
  const bad = parseDestination(key.destination?.cidr ?? "", r);
  if (bad) return invalid("destination.cidr", bad, ErrorReason.INVALID_PREFIX);
  if (!validTable(key.table)) return invalid("table", "must be 1..4294967295 except 253 and 255 (0 and 254 mean main)");
  r.table = key.table || MAIN_TABLE;
  return undefined;
}

/** The kernel operation for a record of `set`. */
export function routeOp(op: RouteOp["op"], set: RouteSetTarget, r: RouteRecord): RouteOp {
  const gateway = formatGateway(r);
  return {
    op,
    route: {
      family: r.family,
      table: r.table,
      destination: formatDestination(r),
      ...(gateway ? { gateway } : {}),
      ...(r.oif ? { oif: r.oif } : {}),
      priority: set.distance,
      protocol: set.protocol,
      type: r.type as RouteType,
    },
  };
}

function kernelRefusal(errno: number, message: string, what: string): OrbitalError {
  if (errno === EEXIST) {
    return new OrbitalError({ reason: ErrorReason.FOREIGN_ROUTE_CONFLICT, message: `another route holds ${what} at this distance (metric); it is left alone`, metadata: { item: what } });
  }
  return new OrbitalError({ reason: ErrorReason.DATAPLANE_REJECTED, message: `the kernel refused ${what}: ${message}`, metadata: { item: what } });
}

const enum Kind {
  ADD,
  REPLACE,
  DELETE,
}

/**
 * Applies adds then deletes of one request to `set` (items numbered from `firstIndex`). `ifindexOf` resolves
 * interface names. Must not run concurrently with anything else that changes `set` (the registry queues).
 */
export async function applyRouteBatch(
  set: RouteSetTarget,
  dataplane: Pick<Dataplane, "changeRoutes">,
  adds: readonly Route[],
  deletes: readonly RouteKey[],
  firstIndex: number,
  ifindexOf: (name: string) => number | undefined,
  budget: RouteBudget,
): Promise<BatchOutcome> {
  const cols = set.routes;
  const r = new RouteRecord();
  const failures: BulkItemFailure[] = [];
  const fail = (index: number, key: RouteKey | undefined, e: OrbitalError) =>
    failures.push(create(BulkItemFailureSchema, { index: BigInt(index), ...(key ? { key } : {}), reason: e.reason, description: e.message }));
  const keyOf = (route: Route): RouteKey | undefined => (route.destination ? ({ destination: route.destination, table: route.table } as RouteKey) : undefined);
  const ops: RouteOp[] = [];
  /** Per op: its kind, its slot, and the request item (index into adds, or adds.length + index into deletes). */
  const kinds: Kind[] = [];
  const slots: number[] = [];
  const items: number[] = [];
  let added = 0;
  let newRoutes = 0;
  const duplicate = () => invalid("route", "the same route (table, destination) appears twice in one request");

  for (let i = 0; i < adds.length; i++) {
    const route = adds[i]!;
    const wrong = readAdd(route, r, ifindexOf);
    if (wrong) {
      fail(firstIndex + i, keyOf(route), wrong);
      continue;
    }
    const slot = cols.find(r);
    if (slot >= 0) {
      const flags = cols.flags(slot);
      if (flags & PENDING) {
        fail(firstIndex + i, keyOf(route), duplicate());
        continue;
      }
      if (flags & INSTALLED && cols.sameTarget(slot, r)) {
        cols.setFlags(slot, flags & ~STALE);
        added++;
        continue;
      }
      cols.setFlags(slot, flags | PENDING);
      ops.push(routeOp(flags & INSTALLED ? "routeReplace" : "routeAdd", set, r));
      kinds.push(Kind.REPLACE);
      slots.push(slot);
    } else {
      if (newRoutes >= budget.left()) {
        fail(firstIndex + i, keyOf(route), new OrbitalError({ reason: ErrorReason.ROUTE_LIMIT_REACHED, message: "the daemon holds the most dynamic routes it accepts", metadata: { limit: budget.left() + newRoutes } }));
        continue;
      }
      newRoutes++;
      slots.push(cols.insert(r, PENDING));
      ops.push(routeOp("routeAdd", set, r));
      kinds.push(Kind.ADD);
    }
    items.push(i);
  }
  budget.take(newRoutes);
  for (let i = 0; i < deletes.length; i++) {
    const key = deletes[i]!;
    const index = firstIndex + adds.length + i;
    const wrong = readKey(key, r);
    if (wrong) {
      fail(index, key, wrong);
      continue;
    }
    const slot = cols.find(r);
    if (slot < 0) {
      fail(index, key, new OrbitalError({ reason: ErrorReason.NOT_FOUND, message: `route set "${set.name}" holds no route ${formatDestination(r)} in table ${r.table}`, metadata: { resourceType: "route", name: formatDestination(r) } }));
      continue;
    }
    if (cols.flags(slot) & PENDING) {
      fail(index, key, duplicate());
      continue;
    }
    cols.setFlags(slot, cols.flags(slot) | PENDING);
    ops.push(routeOp("routeDel", set, cols.read(slot, r)));
    kinds.push(Kind.DELETE);
    slots.push(slot);
    items.push(adds.length + i);
  }

  let results;
  try {
    results = await dataplane.changeRoutes(ops);
  } catch (err) {
    // Nothing can be said of single items: new ones are not held, the others stay as they were.
    const gone: number[] = [];
    for (let k = 0; k < ops.length; k++) {
      if (kinds[k] === Kind.ADD) gone.push(slots[k]!);
      else cols.setFlags(slots[k]!, cols.flags(slots[k]!) & ~PENDING);
    }
    removeDescending(cols, gone);
    budget.take(-gone.length);
    throw err;
  }

  const gone: number[] = [];
  let deleted = 0;
  let refusedNew = 0;
  for (let k = 0; k < ops.length; k++) {
    const { errno, message } = results[k]!;
    const slot = slots[k]!;
    const item = items[k]!;
    const kind = kinds[k]!;
    const what = `${ops[k]!.route.destination} in table ${ops[k]!.route.table}`;
    if (kind === Kind.DELETE) {
      if (errno === 0 || errno === ESRCH) {
        gone.push(slot);
        deleted++;
      } else {
        cols.setFlags(slot, cols.flags(slot) & ~PENDING);
        fail(firstIndex + item, deletes[item - adds.length], kernelRefusal(errno, message, what));
      }
      continue;
    }
    const route = adds[item]!;
    if (errno === 0) {
      readAdd(route, r, ifindexOf);
      cols.update(slot, r, INSTALLED);
      added++;
    } else if (kind === Kind.ADD) {
      gone.push(slot);
      refusedNew++;
      fail(firstIndex + item, keyOf(route), kernelRefusal(errno, message, what));
    } else {
      cols.setFlags(slot, cols.flags(slot) & ~PENDING);
      fail(firstIndex + item, keyOf(route), kernelRefusal(errno, message, what));
    }
  }
  removeDescending(cols, gone);
  budget.take(-(refusedNew + deleted));
  failures.sort((a, b) => (a.index < b.index ? -1 : a.index > b.index ? 1 : 0));
  return { added, deleted, failures };
}

/**
 * Removes slots, highest first: a removal moves the last slot into the hole, and the last slot is never one
 * still to be removed when they go in descending order.
 */
export function removeDescending(cols: RouteColumns, slots: number[]): void {
  slots.sort((a, b) => b - a);
  for (const s of slots) cols.remove(s);
}

/**
 * Withdraws from the kernel, in batches of `batchSize`, the slots of `set` whose flags have every bit of
 * `mask` set (mask 0: all of them), and drops them from the columns. Returns how many were withdrawn.
 */
export async function withdrawRoutes(set: RouteSetTarget, dataplane: Pick<Dataplane, "changeRoutes">, mask: number, batchSize: number): Promise<number> {
  const cols = set.routes;
  const r = new RouteRecord();
  let withdrawn = 0;
  for (let end = cols.size; end > 0; ) {
    const start = Math.max(0, end - batchSize);
    const ops: RouteOp[] = [];
    const chosen: number[] = [];
    for (let s = end - 1; s >= start; s--) {
      if ((cols.flags(s) & mask) !== mask) continue;
      chosen.push(s);
      ops.push(routeOp("routeDel", set, cols.read(s, r)));
    }
    const results = await dataplane.changeRoutes(ops);
    const gone = chosen.filter((_, k) => results[k]!.errno === 0 || results[k]!.errno === ESRCH);
    removeDescending(cols, gone);
    withdrawn += gone.length;
    // Slots below `start` did not move (removals only move the last slot, which is at or above start).
    end = start;
  }
  return withdrawn;
}
