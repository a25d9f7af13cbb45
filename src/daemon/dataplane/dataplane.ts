// The boundary between the control plane and the kernel: the config engine hands a whole configuration to
// a backend, which makes the kernel match it (idempotently, so that it also serves as reconcile) and reports
// every item the kernel refused; the services read the kernel's view (links, addresses, routes, counters,
// events) through it. The data plane knows nothing of the API; it names the items it failed on, and tells a
// refused item (DataplaneError, in the report) from a backend that fails as a whole (BackendFault).
import type { Configuration } from "../../gen/orbital/config/v1/configuration_pb.js";
import type { Route } from "../../gen/orbital/routing/v1/routing_pb.js";
import type { AddressInfo, LinkInfo, NetlinkEvent, NetlinkOp, OpResult, RouteInfo } from "./netlink/rtnetlink-types.js";
import type { FastPathCounterValues, FastPathInterfaceStatus } from "./xdp/xdp-fast-path.js";

/** A route operation of a dynamic route set. */
export type RouteOp = Extract<NetlinkOp, { route: unknown }>;

/** The parts of the data plane that can fail on their own. */
export type BackendName = "rtnetlink" | "nftables" | "xdp";
export const BACKENDS: readonly BackendName[] = ["rtnetlink", "nftables", "xdp"];

/** A route of someone else's that holds the key a configured route needs (the kernel said EEXIST). */
export interface ForeignRoute {
  table: number;
  destination: string;
  metric: number;
  /** rtm_protocol number, e.g. 4 for "static" (`ip route add`), 2 for the kernel's own. */
  protocol: number;
  /** rtm_type name: "unicast", "blackhole", ... */
  type: string;
}

export interface DataplaneErrorDetails {
  /** Default "rtnetlink". */
  backend?: BackendName;
  /** Set when the item collides with a route orbitald does not own. */
  foreignRoute?: ForeignRoute;
  /**
   * The item waits for a link that is not in the kernel (a configured NIC that is absent, a VLAN's parent):
   * not a refusal, it is applied when the link appears.
   */
  waitsForLink?: boolean;
}

/** The kernel refused one item (or, with waitsForLink, cannot apply it yet). */
export class DataplaneError extends Error {
  readonly backend: BackendName;
  readonly foreignRoute: ForeignRoute | undefined;
  readonly waitsForLink: boolean;

  constructor(
    message: string,
    /** The item that failed, as a change path ("routes[table=254,destination=10.0.0.0/8]"). */
    readonly item: string,
    readonly operation: string,
    readonly errno?: string,
    details: DataplaneErrorDetails = {},
  ) {
    super(message);
    this.name = "DataplaneError";
    this.backend = details.backend ?? "rtnetlink";
    this.foreignRoute = details.foreignRoute;
    this.waitsForLink = details.waitsForLink ?? false;
  }
}

/**
 * A backend fails as a whole: it cannot be reached, hangs past its deadline, is not permitted (EPERM), lost
 * the outcome of its requests (ENOBUFS) or answers garbage. Nothing can be said about single items.
 */
export class BackendFault extends Error {
  constructor(
    readonly backend: BackendName,
    message: string,
    readonly errno?: string,
  ) {
    super(message);
    this.name = "BackendFault";
  }
}

/** A configured route a commit puts (after), changes (both) or removes (before). */
export interface RouteChange {
  before: Route | undefined;
  after: Route | undefined;
}

export interface ApplyOptions {
  /** The backends to make match; the others are left untouched. Default: all of them. */
  backends?: ReadonlySet<BackendName>;
  /**
   * The configured routes to change on top of `config`, which the kernel already matches (a commit of single
   * routes), by route key. Only those are applied, nothing else is read or changed.
   */
  routeChanges?: ReadonlyMap<string, RouteChange>;
}

export interface ApplyReport {
  /** The backends that were applied. */
  backends: ReadonlySet<BackendName>;
  /** Items the kernel refused; everything else of those backends is in force. */
  failures: DataplaneError[];
}

export interface RuleCounters {
  packets: bigint;
  bytes: bigint;
}

export interface Dataplane {
  readonly name: string;
  /**
   * Makes the kernel state owned by orbitald match `config` for the chosen backends, applying every item it
   * can: refused items are in the report, not thrown. Throws BackendFault when a backend fails as a whole.
   */
  apply(config: Configuration, options?: ApplyOptions): Promise<ApplyReport>;
  links(): Promise<LinkInfo[]>;
  addresses(): Promise<AddressInfo[]>;
  /** Routes of every table and protocol. */
  routes(): Promise<RouteInfo[]>;
  /**
   * Routes of one protocol (a dynamic route set's; undefined: every route), each handed to `each` and not
   * kept: a full table is never held as objects.
   */
  scanRoutes(protocol: number | undefined, each: (r: RouteInfo) => void): Promise<void>;
  /**
   * Adds, replaces or removes routes of the dynamic route sets in one batch (never configured ones): one
   * result per operation, refused ones do not stop the others. Throws BackendFault when the backend fails as
   * a whole.
   */
  changeRoutes(ops: RouteOp[]): Promise<OpResult[]>;
  /** Counters of the firewall rules, by rule name. */
  ruleCounters(): Promise<Map<string, RuleCounters>>;
  /** The XDP fast path per interface: mode, counters, lists, what is not in force. */
  fastPathStatus(): Promise<FastPathInterfaceStatus[]>;
  /** XDP counters by interface name, read at once (for metrics); empty when there is no fast path. */
  fastPathCounters(): Map<string, FastPathCounterValues>;
  /** A cheap read that succeeds when `backend` answers again (throws BackendFault otherwise); changes nothing. */
  probe(backend: BackendName): Promise<void>;
  /**
   * Kernel link/address/route events until the returned function is called; `onOverrun` when events were
   * lost (the kernel or the addon dropped them).
   */
  subscribe(listener: (e: NetlinkEvent) => void, onOverrun?: () => void): () => void;
  close(): void;
}

/**
 * The backends a configuration section is applied by (sections of users, roles, tokens, settings: none).
 * Prefix sets feed both the nftables sets and the XDP fast-path lists made of them.
 */
export function backendsOfSections(sections: readonly string[]): Set<BackendName> {
  const out = new Set<BackendName>();
  for (const s of sections) {
    if (s === "interfaces" || s === "routes") out.add("rtnetlink");
    if (s === "firewall_rules" || s === "prefix_sets") out.add("nftables");
    if (s === "fast_path_lists" || s === "prefix_sets") out.add("xdp");
  }
  return out;
}

/** Rejects with BackendFault ETIMEDOUT when `work` has not settled within `ms` (it may still finish later). */
export function withDeadline<T>(work: Promise<T>, ms: number, backend: BackendName, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new BackendFault(backend, `${what} did not answer within ${ms} ms`, "ETIMEDOUT")), ms);
    work.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(timer);
        reject(e);
      },
    );
  });
}
