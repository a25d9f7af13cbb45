// The validation rules of interfaces, routes, firewall rules and prefix sets, as written in their proto
// field comments. Each check adds field violations under the given field prefix; the services stage an item
// only when it passes, and bulk calls report each failing item with the reason of its first violation.
import { ErrorReason } from "../../gen/orbital/api/v1/error_reason_pb.js";
import type { Configuration } from "../../gen/orbital/config/v1/configuration_pb.js";
import { FastPathAction, type FastPathList, type PrefixSet, type Rule } from "../../gen/orbital/firewall/v1/firewall_pb.js";
import { ITEM_NAME, prefixSetViolations, ruleViolations } from "../dataplane/nftables/nft-ruleset.js";
import { InterfaceKind, type Interface } from "../../gen/orbital/interface/v1/interface_pb.js";
import { RouteType, type Route } from "../../gen/orbital/routing/v1/routing_pb.js";
import { parseAddress, parseInterfaceAddress, parsePrefix } from "./ip.js";
import { checkDescription, Violations } from "./violations.js";

export const INTERFACE_NAME = /^[A-Za-z0-9_.-]{1,15}$/;
export const MAX_ADDRESSES = 64;

export function checkInterfaceName(v: Violations, field: string, name: string): void {
  v.check(INTERFACE_NAME.test(name) && name !== "." && name !== "..", field, '1..15 bytes of [A-Za-z0-9_.-], not "." or ".."');
}

export function validateInterface(v: Violations, i: Interface, field: string): void {
  checkInterfaceName(v, `${field}.name`, i.name);
  v.check(i.mtu === 0 || (i.mtu >= 68 && i.mtu <= 9216), `${field}.mtu`, "must be 68..9216 (or 0 for the kernel default)");
  checkDescription(v, `${field}.description`, i.description);
  v.check(i.addresses.length <= MAX_ADDRESSES, `${field}.addresses`, `at most ${MAX_ADDRESSES}`);
  const seen = new Set<string>();
  let hasV6 = false;
  i.addresses.forEach((a, n) => {
    const p = parseInterfaceAddress(a.cidr);
    if (typeof p === "string") return v.add(`${field}.addresses[${n}].cidr`, p, ErrorReason.INVALID_ADDRESS, a.cidr);
    v.check(!seen.has(p.cidr), `${field}.addresses[${n}].cidr`, `${p.cidr} is listed twice`);
    seen.add(p.cidr);
    a.cidr = p.cidr;
    hasV6 ||= p.family === 6;
  });
  if (hasV6 && i.mtu !== 0) v.check(i.mtu >= 1280, `${field}.mtu`, "must be at least 1280 with IPv6 addresses");
  if (i.kind === InterfaceKind.VLAN) {
    v.check(i.vlan !== undefined, `${field}.vlan`, "is required for a VLAN");
    if (i.vlan) {
      checkInterfaceName(v, `${field}.vlan.parent`, i.vlan.parent);
      v.check(i.vlan.vlanId >= 1 && i.vlan.vlanId <= 4094, `${field}.vlan.vlan_id`, "must be 1..4094");
    }
  } else {
    v.check(i.vlan === undefined, `${field}.vlan`, "only VLAN interfaces have VLAN parameters");
  }
}

/** Route rules; `interfaceExists` answers for configured and kernel interfaces. */
export function validateRoute(v: Violations, r: Route, field: string, interfaceExists: (name: string) => boolean): void {
  const dest = parsePrefix(r.destination?.cidr ?? "");
  if (typeof dest === "string") v.add(`${field}.destination.cidr`, dest, ErrorReason.INVALID_PREFIX, r.destination?.cidr ?? "");
  else r.destination!.cidr = dest.cidr;
  v.check(r.table === 0 || r.table === 254 || (r.table >= 1 && r.table <= 4294967295 && (r.table < 253 || r.table > 255)), `${field}.table`, "must be 1..4294967295 except 253 and 255 (0 and 254 mean main)");
  const forwards = r.type === RouteType.UNSPECIFIED || r.type === RouteType.UNICAST;
  if (r.gateway?.address !== undefined && r.gateway.address !== "") {
    const gw = parseAddress(r.gateway.address);
    if (!gw) v.add(`${field}.gateway.address`, `"${r.gateway.address}" is not an IP address`, ErrorReason.INVALID_ADDRESS, r.gateway.address);
    else if (typeof dest !== "string" && gw.family !== dest.family) v.add(`${field}.gateway.address`, `an IPv${gw.family} gateway cannot serve an IPv${dest.family} destination`, ErrorReason.INVALID_ADDRESS, r.gateway.address);
    else r.gateway.address = gw.address;
  }
  const hasGateway = !!r.gateway?.address;
  if (r.interface) {
    checkInterfaceName(v, `${field}.interface`, r.interface);
    v.check(!INTERFACE_NAME.test(r.interface) || interfaceExists(r.interface), `${field}.interface`, `interface "${r.interface}" does not exist`, ErrorReason.REFERENCE_MISSING);
  }
  if (forwards) v.check(hasGateway || !!r.interface, field, "a unicast route needs a gateway or an interface");
  else v.check(!hasGateway && !r.interface, field, "blackhole, unreachable and prohibit routes take neither gateway nor interface");
  checkDescription(v, `${field}.description`, r.description);
}

/**
 * Prefix-set rules. The structural checks (name, family, prefixes) are the firewall compiler's, so that what
 * the service accepts and what nftables can load never drift apart; this adds the description and stores
 * prefixes canonical and without duplicates, as the comment promises.
 */
export function validatePrefixSet(v: Violations, s: PrefixSet, field: string): void {
  for (const x of prefixSetViolations(s, field)) v.add(x.field, x.description, x.reason);
  checkDescription(v, `${field}.description`, s.description);
  const seen = new Set<string>();
  s.prefixes = s.prefixes.filter((pfx) => {
    const p = parsePrefix(pfx.cidr);
    if (typeof p === "string" || seen.has(p.cidr)) return typeof p === "string";
    seen.add(p.cidr);
    pfx.cidr = p.cidr;
    return true;
  });
}

/** Rule rules: the compiler's structural checks, plus the description and (chain, sequence) uniqueness. */
export function validateRule(v: Violations, r: Rule, field: string, config: Configuration): void {
  for (const x of ruleViolations(r, config.prefixSets, field)) v.add(x.field, x.description, x.reason);
  checkDescription(v, `${field}.description`, r.description);
  const clash = config.firewallRules.find((o) => o.name !== r.name && o.chain === r.chain && o.sequence === r.sequence);
  v.check(!clash, `${field}.sequence`, `sequence ${r.sequence} is taken by rule "${clash?.name}" in this chain`);
}

/** Interfaces one list may name (FastPathList.interfaces). */
const MAX_FAST_PATH_INTERFACES = 64;

/** The rules of FastPathList's field comments (the set's existence is checked with the whole configuration). */
export function validateFastPathList(v: Violations, list: FastPathList, field: string): void {
  v.check(ITEM_NAME.test(list.prefixSet), `${field}.prefix_set`, "1..63 characters, ^[a-z][a-z0-9-]*$");
  v.check(list.action === FastPathAction.DROP || list.action === FastPathAction.ALLOW, `${field}.action`, "must be DROP or ALLOW");
  v.check(list.interfaces.length >= 1 && list.interfaces.length <= MAX_FAST_PATH_INTERFACES, `${field}.interfaces`, `1..${MAX_FAST_PATH_INTERFACES} interfaces`);
  const seen = new Set<string>();
  list.interfaces.forEach((name, i) => {
    checkInterfaceName(v, `${field}.interfaces[${i}]`, name);
    v.check(!seen.has(name), `${field}.interfaces[${i}]`, `${name} is listed twice`);
    seen.add(name);
  });
}
