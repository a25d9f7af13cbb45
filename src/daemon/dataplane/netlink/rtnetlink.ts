// The RtnetlinkSocket of the Linux data plane, on the native rtnetlink addon (native/rtnetlink, libmnl):
// dumps, batched operations with one ack each (many per sendmsg, on the addon's worker thread) and kernel
// events (read on their own thread). The addon is found like every orbitald addon (native-addon.ts).
//
// Calls reach the kernel in the order they were made, across calls too (an execute() followed by a
// listRoutes() sees its result). execute() validates and serializes its operations on the event loop in
// slices of PREPARE_CHUNK, yielding between slices, and only then hands them all to the worker: an invalid
// operation rejects the call before anything of it is executed.
import { loadNativeAddon, nativeAddonDirs } from "../../native-addon.js";
import type { AddressInfo, LinkInfo, NetlinkEvent, NetlinkOp, OpResult, RouteInfo, RtnetlinkSocket } from "./rtnetlink-types.js";

export interface RtnetlinkOptions {
  /** A network namespace file (e.g. /var/run/netns/lab): the sockets live there. Default: the current one. */
  netnsPath?: string;
  /**
   * Tuning, rarely needed. Receive buffer of the request socket, bytes (default 16 MiB): acks of a batch wait
   * there. Requests per sendmsg (default: as many as that buffer holds acks for, at most 2048, and at most
   * 64 KiB). A batch whose acks overran the buffer reports ENOBUFS "outcome unknown" for the unacked items and
   * halves the batches that follow.
   */
  receiveBufferBytes?: number;
  maxBatchMessages?: number;
}

/** Thrown (or rejected with) by the addon: a system error carries its errno and, e.g., code "ENODEV". */
export interface RtnetlinkError extends Error {
  errno?: number;
  code?: string;
  /** For an invalid operation: its index in the execute() call. */
  index?: number;
}

declare const preparedBrand: unique symbol;
/** Operations validated and serialized by the addon, consumed by one execute(). */
type PreparedOps = { readonly [preparedBrand]: true };

/** A dump flattened by the addon: fixed numbers per record, and their strings joined (decodeRoutes/decodeAddresses). */
interface Flat {
  nums: Float64Array;
  strings: string;
}

/** Events flattened by the addon (decodeEvents); link events as objects in `links`. */
interface FlatEvents extends Flat {
  links: LinkInfo[];
}

interface NativeSubscription {
  /** Up to `max` waiting events, or undefined when none wait. */
  take(max: number): FlatEvents | undefined;
  stop(): void;
}

interface NativeSocket {
  listLinks(): Promise<LinkInfo[]>;
  listAddresses(): Promise<Flat>;
  listRoutes(table?: number, protocol?: number): Promise<Flat>;
  execute(prepared: PreparedOps[]): Promise<{ errnos: Int32Array; messages: [number, string][] }>;
  /** `signal` runs (on the event loop) when events wait after none did. */
  subscribe(signal: () => void): NativeSubscription;
  close(): void;
}

interface RtnetlinkAddon {
  RtnetlinkSocket: new (options?: RtnetlinkOptions) => NativeSocket;
  prepare(nums: Float64Array, strings: string, firstIndex: number): PreparedOps;
}

/** Operations validated and serialized per turn of the event loop (a few milliseconds each). */
const PREPARE_CHUNK = 8192;
/** Events decoded and dispatched per turn of the event loop. */
const EVENTS_PER_TURN = 2048;

let cached: RtnetlinkAddon | undefined;

/** The rtnetlink addon; throws when it cannot be loaded (the error lists every file tried). */
export function loadRtnetlinkAddon(dirs: string[] = nativeAddonDirs()): RtnetlinkAddon {
  if (cached) return cached;
  const loaded = loadNativeAddon<RtnetlinkAddon>("rtnetlink", dirs);
  if (!loaded.loaded) throw new Error(loaded.cause);
  return (cached = loaded.addon);
}

/** Opens a NETLINK_ROUTE socket (in `netnsPath` when given). Throws with errno when that fails. */
export function openRtnetlink(opts: RtnetlinkOptions = {}): RtnetlinkSocket {
  const addon = loadRtnetlinkAddon();
  const { netnsPath, receiveBufferBytes, maxBatchMessages } = opts;
  return new NativeRtnetlinkSocket(addon, new addon.RtnetlinkSocket({ netnsPath, receiveBufferBytes, maxBatchMessages }));
}

const closedError = (): RtnetlinkError => Object.assign(new Error("the rtnetlink socket is closed"), { errno: 9, code: "EBADF" });
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

interface Listener {
  listener: (e: NetlinkEvent) => void;
  onOverrun: (() => void) | undefined;
}

class NativeRtnetlinkSocket implements RtnetlinkSocket {
  private closed = false;
  /** Settles once the previous call has been handed to the addon: keeps calls in order. */
  private handedOver: Promise<unknown> = Promise.resolve();
  private readonly listeners = new Set<Listener>();
  private subscription: NativeSubscription | undefined;
  /** A drain of the waiting events is under way (one slice per turn of the event loop). */
  private draining = false;

  constructor(
    private readonly addon: RtnetlinkAddon,
    private readonly native: NativeSocket,
  ) {}

  listLinks(): Promise<LinkInfo[]> {
    return this.inOrder(async () => ({ result: this.native.listLinks() }));
  }

  listAddresses(): Promise<AddressInfo[]> {
    return this.inOrder(async () => ({ result: this.native.listAddresses().then(decodeAddresses) }));
  }

  listRoutes(filter: { table?: number; protocol?: number } = {}): Promise<RouteInfo[]> {
    return this.inOrder(async () => ({ result: this.native.listRoutes(filter.table, filter.protocol).then(decodeRoutes) }));
  }

  scanRoutes(filter: { table?: number; protocol?: number }, each: (r: RouteInfo) => void): Promise<void> {
    return this.inOrder(async () => ({ result: this.native.listRoutes(filter.table, filter.protocol).then((flat) => eachRoute(flat, each)) }));
  }

  execute(ops: NetlinkOp[]): Promise<OpResult[]> {
    return this.inOrder(async () => {
      if (!Array.isArray(ops)) throw new TypeError("execute(ops): ops must be an array of NetlinkOp");
      const prepared: PreparedOps[] = [];
      for (let i = 0; i < ops.length; i += PREPARE_CHUNK) {
        if (i > 0) await nextTurn();
        const { nums, strings } = encodeOps(ops, i, Math.min(ops.length, i + PREPARE_CHUNK));
        prepared.push(this.addon.prepare(nums, strings, i));
      }
      return { result: ops.length === 0 ? Promise.resolve([]) : this.native.execute(prepared).then(toResults) };
    });
  }

  subscribe(listener: (e: NetlinkEvent) => void, onOverrun?: () => void): () => void {
    if (this.closed) throw closedError();
    const entry: Listener = { listener, onOverrun };
    // One kernel subscription, shared by every listener, alive while there is one.
    this.subscription ??= this.native.subscribe(() => this.drain());
    this.listeners.add(entry);
    return () => {
      if (!this.listeners.delete(entry) || this.listeners.size > 0) return;
      this.subscription?.stop();
      this.subscription = undefined;
    };
  }

  /**
   * Stops the events at once; calls made before still complete (the addon finishes what it was handed, then
   * closes its sockets); calls made after reject with EBADF.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.listeners.clear();
    this.subscription?.stop();
    this.subscription = undefined;
    void this.handedOver.then(() => this.native.close());
  }

  /**
   * Runs `handOver` once every earlier call has been handed to the addon; it returns (boxed, so that it is
   * not awaited here) the promise of the addon's answer.
   */
  private inOrder<T>(handOver: () => Promise<{ result: Promise<T> }>): Promise<T> {
    if (this.closed) return Promise.reject(closedError());
    const turn = this.handedOver.then(handOver);
    this.handedOver = turn.catch(() => undefined);
    return turn.then((boxed) => boxed.result);
  }

  /** Takes the waiting events a slice at a time, one slice per turn of the event loop, until none wait. */
  private drain(): void {
    if (this.draining) return;
    this.draining = true;
    const step = () => {
      const flat = this.subscription?.take(EVENTS_PER_TURN);
      if (!flat) {
        this.draining = false;
        return;
      }
      this.dispatch(flat);
      setImmediate(step);
    };
    step();
  }

  private dispatch(flat: FlatEvents): void {
    const listeners = [...this.listeners];
    decodeEvents(flat, (e) => {
      for (const l of listeners) {
        if (!this.listeners.has(l)) continue; // unsubscribed by an earlier listener meanwhile
        try {
          if (e === OVERRUN) l.onOverrun?.();
          else l.listener(e);
        } catch (err) {
          queueMicrotask(() => {
            throw err; // a throwing listener is a bug of its own: report it, keep the others served
          });
        }
      }
    });
  }
}

function toResults({ errnos, messages }: { errnos: Int32Array; messages: [number, string][] }): OpResult[] {
  const text = new Map(messages);
  const results: OpResult[] = new Array(errnos.length);
  for (let i = 0; i < errnos.length; i++) {
    const errno = errnos[i]!;
    results[i] = { errno, message: text.get(i) ?? (errno === 0 ? "Success" : `errno ${errno}`) };
  }
  return results;
}

// ---- the flat forms exchanged with the addon (keep in step with native/rtnetlink/ops.cc and addon.cc) ----

/** Numbers per op; `undefined` is ABSENT, a value of the wrong type NaN: the addon checks and explains. */
const OP_STRIDE = 16;
const ABSENT = -Infinity;
const OPCODES = new Map<unknown, number>([
  ["linkSet", 0],
  ["vlanAdd", 1],
  ["linkDel", 2],
  ["addrAdd", 3],
  ["addrDel", 4],
  ["routeReplace", 5],
  ["routeDel", 6],
  ["routeAdd", 7],
]);
const UNKNOWN_OP = -1;
const OP_NOT_STRING = -2;
const NOT_OBJECT = -3;

type Loose = Record<string, unknown>;
const num = (v: unknown) => (typeof v === "number" && Number.isFinite(v) ? v : v === undefined ? ABSENT : NaN);
const bool = (v: unknown) => (v === true ? 1 : v === false ? 0 : v === undefined ? ABSENT : NaN);

/**
 * Flattens ops[start, end) for the addon's prepare(): OP_STRIDE numbers per op (slot layout in ops.cc) and the
 * string fields joined into one string, each referenced by (offset, length). Copies values only; judging them
 * is the addon's job.
 */
export function encodeOps(ops: readonly unknown[], start: number, end: number): { nums: Float64Array; strings: string } {
  const nums = new Float64Array((end - start) * OP_STRIDE);
  const parts: string[] = [];
  let pos = 0;
  const str = (slot: number, v: unknown) => {
    if (typeof v === "string") {
      nums[slot] = pos;
      nums[slot + 1] = v.length;
      parts.push(v);
      pos += v.length;
    } else {
      nums[slot + 1] = v === undefined ? ABSENT : NaN;
    }
  };
  for (let i = start; i < end; i++) {
    const b = (i - start) * OP_STRIDE;
    const o = ops[i] as Loose | null | undefined;
    if (typeof o !== "object" || o === null) {
      nums[b] = NOT_OBJECT;
      continue;
    }
    const code = OPCODES.get(o.op);
    if (code === undefined) {
      nums[b] = typeof o.op === "string" ? UNKNOWN_OP : OP_NOT_STRING;
      str(b + 14, o.op);
      continue;
    }
    nums[b] = code;
    switch (code) {
      case 0: // linkSet
      case 2: // linkDel
        nums[b + 1] = num(o.ifindex);
        nums[b + 2] = bool(o.up);
        nums[b + 3] = num(o.mtu);
        str(b + 4, o.alias);
        break;
      case 1: // vlanAdd
        nums[b + 1] = num(o.parentIndex);
        nums[b + 2] = num(o.vlanId);
        str(b + 4, o.name);
        break;
      case 3: // addrAdd
      case 4: // addrDel
        nums[b + 1] = num(o.ifindex);
        nums[b + 2] = num(o.family);
        nums[b + 3] = num(o.prefixLength);
        str(b + 4, o.address);
        break;
      default: {
        // routeReplace, routeAdd, routeDel
        const r = o.route as Loose | null | undefined;
        if (typeof r !== "object" || r === null) break; // slot 7 stays 0: "must be a RouteSpec object"
        nums[b + 1] = num(r.family);
        nums[b + 2] = num(r.table);
        nums[b + 3] = num(r.oif);
        nums[b + 4] = num(r.priority);
        nums[b + 5] = num(r.protocol);
        nums[b + 6] = num(r.type);
        nums[b + 7] = 1;
        str(b + 8, r.destination);
        str(b + 10, r.gateway);
      }
    }
  }
  return { nums, strings: parts.join("") };
}

const ROUTE_STRIDE = 9;
const ADDRESS_STRIDE = 5;

function decodeRoutes(flat: Flat): RouteInfo[] {
  const routes: RouteInfo[] = [];
  eachRoute(flat, (r) => routes.push(r));
  return routes;
}

function eachRoute({ nums, strings }: Flat, each: (r: RouteInfo) => void): void {
  const n = nums.length / ROUTE_STRIDE;
  let pos = 0;
  for (let i = 0, b = 0; i < n; i++, b += ROUTE_STRIDE) {
    const dstLen = nums[b + 7]!;
    const gwLen = nums[b + 8]!;
    const r: RouteInfo = {
      family: nums[b] as 4 | 6,
      table: nums[b + 1]!,
      destination: strings.slice(pos, pos + dstLen),
      priority: nums[b + 3]!,
      protocol: nums[b + 4]!,
      type: nums[b + 5] as RouteInfo["type"],
      scope: nums[b + 6]!,
    };
    pos += dstLen;
    if (gwLen > 0) r.gateway = strings.slice(pos, pos + gwLen);
    pos += gwLen;
    if (nums[b + 2]! >= 0) r.oif = nums[b + 2]!;
    each(r);
  }
}

function decodeAddresses({ nums, strings }: Flat): AddressInfo[] {
  const n = nums.length / ADDRESS_STRIDE;
  const out: AddressInfo[] = new Array(n);
  let pos = 0;
  for (let i = 0, b = 0; i < n; i++, b += ADDRESS_STRIDE) {
    const len = nums[b + 4]!;
    out[i] = {
      ifindex: nums[b]!,
      family: nums[b + 1] as 4 | 6,
      address: strings.slice(pos, pos + len),
      prefixLength: nums[b + 2]!,
      scope: nums[b + 3]!,
    };
    pos += len;
  }
  return out;
}

const EVENT_STRIDE = 12;
const OVERRUN = Symbol("overrun");

/** Calls `each` with every event of a slice taken from the addon, in order (layout: FlatEvents in addon.cc). */
function decodeEvents({ nums, strings, links }: FlatEvents, each: (e: NetlinkEvent | typeof OVERRUN) => void): void {
  let pos = 0;
  for (let b = 0; b < nums.length; b += EVENT_STRIDE) {
    const action = nums[b + 1] === 1 ? "new" : "del";
    switch (nums[b]) {
      case 0:
        each({ type: "link", action, link: links[nums[b + 2]!]! });
        break;
      case 1: {
        const len = nums[b + 6]!;
        const address: AddressInfo = {
          ifindex: nums[b + 2]!,
          family: nums[b + 3] as 4 | 6,
          address: strings.slice(pos, pos + len),
          prefixLength: nums[b + 4]!,
          scope: nums[b + 5]!,
        };
        pos += len;
        each({ type: "address", action, address });
        break;
      }
      case 2: {
        const dstLen = nums[b + 9]!;
        const gwLen = nums[b + 10]!;
        const route: RouteInfo = {
          family: nums[b + 2] as 4 | 6,
          table: nums[b + 3]!,
          destination: strings.slice(pos, pos + dstLen),
          priority: nums[b + 5]!,
          protocol: nums[b + 6]!,
          type: nums[b + 7] as RouteInfo["type"],
          scope: nums[b + 8]!,
        };
        pos += dstLen;
        if (gwLen > 0) route.gateway = strings.slice(pos, pos + gwLen);
        pos += gwLen;
        if (nums[b + 4]! >= 0) route.oif = nums[b + 4]!;
        each({ type: "route", action, route });
        break;
      }
      default:
        each(OVERRUN);
    }
  }
}
