// The boundary between the control plane and the kernel: the config engine hands a whole configuration to
// a backend, which makes the kernel match it (idempotently, so that it also serves as reconcile), and the
// services read the kernel's view (links, addresses, routes, counters, events) through it. The data plane
// knows nothing of the API; it reports the item it failed on.
import type { Configuration } from "../../gen/orbital/config/v1/configuration_pb.js";
import type { AddressInfo, LinkInfo, NetlinkEvent, RouteInfo } from "./netlink/rtnetlink-types.js";

export class DataplaneError extends Error {
  constructor(
    message: string,
    /** The item that failed, as a change path ("routes[table=254,destination=10.0.0.0/8]"). */
    readonly item: string,
    readonly operation: string,
    readonly errno?: string,
  ) {
    super(message);
    this.name = "DataplaneError";
  }
}

export interface RuleCounters {
  packets: bigint;
  bytes: bigint;
}

export interface Dataplane {
  readonly name: string;
  /** Makes the kernel state owned by orbitald match `config`. Throws DataplaneError naming the failing item. */
  apply(config: Configuration): Promise<void>;
  links(): Promise<LinkInfo[]>;
  addresses(): Promise<AddressInfo[]>;
  /** Routes of every table and protocol. */
  routes(): Promise<RouteInfo[]>;
  /** Counters of the firewall rules, by rule name. */
  ruleCounters(): Promise<Map<string, RuleCounters>>;
  /** Kernel link/address/route events until the returned function is called. */
  subscribe(listener: (e: NetlinkEvent) => void): () => void;
  close(): void;
}
