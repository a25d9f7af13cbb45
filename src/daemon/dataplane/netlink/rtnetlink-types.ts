// The contract between the data plane and the rtnetlink addon (native/rtnetlink): what the kernel reports
// about links, addresses and routes, and the batched operations the addon executes. Plain data, no API types.

/** Route protocol number orbitald installs its routes with (rtm_protocol), so that it never touches others'. */
export const ORBITAL_ROUTE_PROTOCOL = 77;
export const MAIN_TABLE = 254;

/** rtm_type values of the routes orbitald installs. */
export const RouteType = { UNICAST: 1, BLACKHOLE: 6, UNREACHABLE: 7, PROHIBIT: 8 } as const;
export type RouteType = (typeof RouteType)[keyof typeof RouteType];

export interface LinkStats {
  rxBytes: bigint;
  rxPackets: bigint;
  rxErrors: bigint;
  rxDropped: bigint;
  txBytes: bigint;
  txPackets: bigint;
  txErrors: bigint;
  txDropped: bigint;
}

export interface LinkInfo {
  ifindex: number;
  name: string;
  /** IFLA_INFO_KIND ("vlan", "veth", ...); "" when the kernel reports none (physical NICs, loopback). */
  kind: string;
  loopback: boolean;
  /** IFF_UP. */
  up: boolean;
  /** IF_OPER_* (RFC 2863): 0 unknown, 1 notpresent, 2 down, 3 lowerlayerdown, 4 testing, 5 dormant, 6 up. */
  operState: number;
  mtu: number;
  /** "52:54:00:12:34:56"; "" without a link-layer address. */
  mac: string;
  alias: string;
  /** IFLA_LINK: the parent of a VLAN (or the peer of a veth in another namespace). */
  parentIndex?: number;
  vlanId?: number;
  stats: LinkStats;
}

export interface AddressInfo {
  ifindex: number;
  family: 4 | 6;
  address: string;
  prefixLength: number;
  /** RT_SCOPE_*: 0 universe, 253 link, 254 host. */
  scope: number;
}

export interface RouteSpec {
  family: 4 | 6;
  table: number;
  /** CIDR, host bits zero. */
  destination: string;
  gateway?: string;
  oif?: number;
  priority: number;
  protocol: number;
  type: RouteType;
}

export interface RouteInfo extends RouteSpec {
  /** RT_SCOPE_* of the route. */
  scope: number;
}

export type NetlinkOp =
  | { op: "linkSet"; ifindex: number; up?: boolean; mtu?: number; alias?: string }
  | { op: "vlanAdd"; name: string; parentIndex: number; vlanId: number }
  | { op: "linkDel"; ifindex: number }
  | { op: "addrAdd" | "addrDel"; ifindex: number; family: 4 | 6; address: string; prefixLength: number }
  /** routeAdd refuses (EEXIST) when any route holds the key; routeReplace replaces it. */
  | { op: "routeReplace" | "routeAdd" | "routeDel"; route: RouteSpec };

/** Outcome of one operation of a batch: errno 0 on success (positive errno otherwise, e.g. 19 ENODEV). */
export interface OpResult {
  errno: number;
  /** strerror(errno), plus the kernel's extended ack message when it sent one. */
  message: string;
}

export type NetlinkEvent =
  | { type: "link"; action: "new" | "del"; link: LinkInfo }
  | { type: "address"; action: "new" | "del"; address: AddressInfo }
  | { type: "route"; action: "new" | "del"; route: RouteInfo };

export interface RtnetlinkSocket {
  listLinks(): Promise<LinkInfo[]>;
  listAddresses(): Promise<AddressInfo[]>;
  /** Routes of every table; filter by table and/or protocol. */
  listRoutes(filter?: { table?: number; protocol?: number }): Promise<RouteInfo[]>;
  /**
   * As listRoutes, but hands each route to `each` instead of collecting them: a million-route dump is never
   * held as a million objects at once.
   */
  scanRoutes(filter: { table?: number; protocol?: number }, each: (r: RouteInfo) => void): Promise<void>;
  /**
   * Executes the operations in order, many per sendmsg, each with NLM_F_ACK, and returns one result per
   * operation (same order). Failed items do not stop the others. Runs off the event loop.
   */
  execute(ops: NetlinkOp[]): Promise<OpResult[]>;
  /**
   * Delivers kernel link/address/route events until the returned function is called. `onOverrun` (optional)
   * is called when events were lost (the kernel dropped them: ENOBUFS): state must then be read again.
   */
  subscribe(listener: (e: NetlinkEvent) => void, onOverrun?: () => void): () => void;
  close(): void;
}
