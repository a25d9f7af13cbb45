// The firewall compiler: firewall rules and prefix sets of a configuration → one nftables transaction in the
// libnftables JSON schema (`nft -j -f -`). Pure: no I/O, the same configuration always gives the same text.
//
// Everything orbitald installs lives in one table of its own, `inet orbital`; other tables are never named.
// The transaction replaces that table whole and atomically:
//
//   add table inet orbital            (so that the delete below cannot fail on a fresh box)
//   delete table inet orbital         (drops the previous chains, sets and rules)
//   add table inet orbital
//   add chain input | forward | output   (filter base chains, hook priority 0, policy accept)
//   add set <prefix set name>            (type ipv4_addr|ipv6_addr, flags interval), in name order
//   add rule ...                         (chain order input, forward, output; sequence ascending)
//
// The kernel commits the batch as one generation or not at all, so a refused rule leaves the previous
// ruleset fully in force. Every rule carries its API name as comment, which maps counters back.
//
// The validation helpers at the end say, as field violations, what the compiler knows the kernel would
// refuse or misread; the firewall service runs them when an item is staged (INVALID_FIELD, INVALID_PREFIX).
import { ErrorReason } from "../../../gen/orbital/api/v1/error_reason_pb.js";
import { AddressFamily, type IpPrefix } from "../../../gen/orbital/api/v1/ip_pb.js";
import type { Configuration } from "../../../gen/orbital/config/v1/configuration_pb.js";
import {
  Action,
  Chain,
  ConnectionState,
  Protocol,
  type AddressMatch,
  type PortRange,
  type PrefixSet,
  type Rule,
} from "../../../gen/orbital/firewall/v1/firewall_pb.js";
import { parsePrefix, type ParsedCidr } from "../../validation/ip.js";
import { DataplaneError } from "../dataplane.js";

export const TABLE_FAMILY = "inet";
export const TABLE_NAME = "orbital";

/** Rule and prefix-set names: 1..63 characters, ^[a-z][a-z0-9-]*$ (firewall.proto). */
export const ITEM_NAME = /^[a-z][a-z0-9-]{0,62}$/;
/** Kernel interface names: 1..15 bytes of [A-Za-z0-9_.-], not "." or ".." (interface.proto; IFNAMSIZ 16). */
export const INTERFACE_NAME = /^[A-Za-z0-9_.-]{1,15}$/;
export const MAX_PORT_RANGES = 16;
export const MAX_SET_PREFIXES = 1_000_000;

// ---- libnftables JSON --------------------------------------------------------------------------------------

/** One statement or match of a rule: {"match": ...}, {"counter": ...}, {"accept": null}, ... */
export type NftExpr = Record<string, unknown>;

export interface NftTable {
  family: string;
  name: string;
}
export interface NftChain {
  family: string;
  table: string;
  name: string;
  type: "filter";
  hook: "input" | "forward" | "output";
  prio: number;
  policy: "accept";
}
export type NftSetElement = string | { prefix: { addr: string; len: number } };
export interface NftSet {
  family: string;
  table: string;
  name: string;
  type: "ipv4_addr" | "ipv6_addr";
  flags: ["interval"];
  elem?: NftSetElement[];
}
export interface NftRule {
  family: string;
  table: string;
  chain: string;
  comment: string;
  expr: NftExpr[];
}
export type NftCommand =
  | { add: { table: NftTable } }
  | { delete: { table: NftTable } }
  | { add: { chain: NftChain } }
  | { add: { set: NftSet } }
  | { add: { rule: NftRule } };
export interface NftDocument {
  nftables: NftCommand[];
}

export interface CounterValues {
  packets: bigint;
  bytes: bigint;
}

export interface CompileOptions {
  /**
   * Counter values to start rules at, by rule name, so that re-applying a configuration (every commit does)
   * does not reset the counters of rules that did not change. Absent names start at zero.
   */
  counters?: ReadonlyMap<string, CounterValues>;
}

export interface CompiledFirewall {
  /** The whole transaction, for one `nft -j -f -`. */
  document: NftDocument;
  /** For each command of document.nftables, the item it comes from ("prefix_sets[x]", "firewall_rules[y]"); "" for the table and its chains. */
  origins: string[];
}

const table: NftTable = { family: TABLE_FAMILY, name: TABLE_NAME };

const CHAINS: readonly { chain: Chain; name: NftChain["hook"] }[] = [
  { chain: Chain.INPUT, name: "input" },
  { chain: Chain.FORWARD, name: "forward" },
  { chain: Chain.OUTPUT, name: "output" },
];

const IP_PROTO: Record<Protocol, number | undefined> = {
  [Protocol.UNSPECIFIED]: undefined,
  [Protocol.TCP]: 6,
  [Protocol.UDP]: 17,
  [Protocol.ICMP]: 1,
  [Protocol.ICMPV6]: 58,
};

const CT_STATE: Record<ConnectionState, string | undefined> = {
  [ConnectionState.UNSPECIFIED]: undefined,
  [ConnectionState.NEW]: "new",
  [ConnectionState.ESTABLISHED]: "established",
  [ConnectionState.RELATED]: "related",
  [ConnectionState.INVALID]: "invalid",
};

export const ruleItem = (name: string): string => `firewall_rules[${name}]`;
export const setItem = (name: string): string => `prefix_sets[${name}]`;

/** The transaction that removes our table, whether or not it exists; nothing else is touched. */
export function removalDocument(): NftDocument {
  return { nftables: [{ add: { table: { ...table } } }, { delete: { table: { ...table } } }] };
}

/** Whether a configuration has anything for the firewall; when not, our table should not exist at all. */
export function hasFirewallItems(config: Pick<Configuration, "firewallRules" | "prefixSets">): boolean {
  return config.firewallRules.length > 0 || config.prefixSets.length > 0;
}

/**
 * Compiles the firewall of a configuration. Throws DataplaneError (operation "compile", errno EINVAL) naming
 * the first item that firewallViolations() refuses: such a configuration should never have been staged.
 */
export function compileFirewall(config: Pick<Configuration, "firewallRules" | "prefixSets">, options: CompileOptions = {}): CompiledFirewall {
  // Sets are parsed once, for their violations and their elements (a set holds up to a million prefixes).
  const sets = [...config.prefixSets].sort((a, b) => cmp(a.name, b.name)).map((s) => ({ s, ...analyzeSet(s, "prefix_set", true) }));
  const problems = [
    ...sets.filter((x) => x.violations.length).map((x) => ({ item: setItem(x.s.name), violations: x.violations })),
    ...ruleProblems(config),
  ];
  const first = problems[0];
  if (first) {
    throw new DataplaneError(
      `${first.item}: ${first.violations.map((v) => `${v.field}: ${v.description}`).join("; ")}`,
      first.item,
      "compile",
      "EINVAL",
    );
  }
  const nftables: NftCommand[] = [{ add: { table: { ...table } } }, { delete: { table: { ...table } } }, { add: { table: { ...table } } }];
  const origins: string[] = ["", "", ""];
  for (const c of CHAINS) {
    nftables.push({ add: { chain: { ...inTable(), name: c.name, type: "filter", hook: c.name, prio: 0, policy: "accept" } } });
    origins.push("");
  }

  const setFamilies = new Map<string, 4 | 6>();
  for (const { s, elements } of sets) {
    const family = s.family === AddressFamily.IPV6 ? 6 : 4;
    setFamilies.set(s.name, family);
    const set: NftSet = { ...inTable(), name: s.name, type: family === 4 ? "ipv4_addr" : "ipv6_addr", flags: ["interval"] };
    if (elements.length) set.elem = elements;
    nftables.push({ add: { set } });
    origins.push(setItem(s.name));
  }

  for (const rule of sortRules(config.firewallRules)) {
    for (const r of compileRule(rule, setFamilies)) {
      nftables.push({ add: { rule: r } });
      origins.push(ruleItem(rule.name));
    }
  }
  const compiled = { document: { nftables }, origins };
  return options.counters?.size ? withCounterValues(compiled, options.counters) : compiled;
}

/**
 * The same transaction with rules' counters starting at the given values (by rule name; on the first nft rule
 * of a name that has a counter). Names without a counter statement are ignored.
 */
export function withCounterValues(compiled: CompiledFirewall, counters: ReadonlyMap<string, CounterValues>): CompiledFirewall {
  const done = new Set<string>();
  const nftables = compiled.document.nftables.map((c): NftCommand => {
    if (!("add" in c) || !("rule" in c.add)) return c;
    const rule = c.add.rule;
    const values = counters.get(rule.comment);
    const at = rule.expr.findIndex((e) => "counter" in e);
    if (!values || at < 0 || done.has(rule.comment)) return c;
    done.add(rule.comment);
    const expr = [...rule.expr];
    expr[at] = values.packets || values.bytes ? { counter: { packets: values.packets, bytes: values.bytes } } : { counter: null };
    return { add: { rule: { ...rule, expr } } };
  });
  return { document: { nftables }, origins: compiled.origins };
}

/** Per rule name, the text of its nft rules: equal texts mean the kernel would do the same. */
export function ruleFingerprints(compiled: CompiledFirewall): Map<string, string> {
  const out = new Map<string, string>();
  compiled.document.nftables.forEach((c) => {
    if ("add" in c && "rule" in c.add) out.set(c.add.rule.comment, (out.get(c.add.rule.comment) ?? "") + nftJsonText({ nftables: [c] }));
  });
  return out;
}

function inTable(): { family: string; table: string } {
  return { family: TABLE_FAMILY, table: TABLE_NAME };
}

const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Rules in evaluation order: chain (input, forward, output), then sequence; name breaks (invalid) ties. */
export function sortRules(rules: readonly Rule[]): Rule[] {
  const order = (c: Chain) => CHAINS.findIndex((x) => x.chain === c);
  return [...rules].sort((a, b) => order(a.chain) - order(b.chain) || a.sequence - b.sequence || cmp(a.name, b.name));
}

/** The nft rules of one API rule: one, or two for REJECT without a protocol (TCP reset, then ICMP unreachable). */
function compileRule(rule: Rule, setFamilies: ReadonlyMap<string, 4 | 6>): NftRule[] {
  const chain = CHAINS.find((c) => c.chain === rule.chain)!.name;
  const m = rule.match;
  const expr: NftExpr[] = [];
  const families = new Set<string>();
  const address = (side: "saddr" | "daddr", a: AddressMatch | undefined) => {
    if (a?.match.case === "prefix") {
      const p = parseFast(a.match.value.cidr) as FastPrefix;
      if (p.prefixLength === 0) {
        // "ip saddr 0.0.0.0/0" is only the family test; say so.
        const nfproto = p.family === 4 ? "ipv4" : "ipv6";
        if (!families.has(nfproto)) expr.push(match({ meta: { key: "nfproto" } }, nfproto));
        families.add(nfproto);
      } else {
        expr.push(match({ payload: { protocol: p.family === 4 ? "ip" : "ip6", field: side } }, setElement(p)));
      }
    } else if (a?.match.case === "prefixSet") {
      const family = setFamilies.get(a.match.value)!;
      expr.push(match({ payload: { protocol: family === 4 ? "ip" : "ip6", field: side } }, `@${a.match.value}`));
    }
  };
  address("saddr", m?.source);
  address("daddr", m?.destination);
  const proto = m ? IP_PROTO[m.protocol] : undefined;
  if (proto !== undefined) expr.push(match({ meta: { key: "l4proto" } }, proto));
  const l4 = m?.protocol === Protocol.UDP ? "udp" : "tcp";
  if (m?.sourcePorts.length) expr.push(match({ payload: { protocol: l4, field: "sport" } }, portsValue(m.sourcePorts)));
  if (m?.destinationPorts.length) expr.push(match({ payload: { protocol: l4, field: "dport" } }, portsValue(m.destinationPorts)));
  if (m?.inInterface) expr.push(match({ meta: { key: "iifname" } }, m.inInterface));
  if (m?.outInterface) expr.push(match({ meta: { key: "oifname" } }, m.outInterface));
  if (m?.connectionStates.length) {
    const states = [...new Set(m.connectionStates)].sort((a, b) => a - b).map((s) => CT_STATE[s]!);
    expr.push({ match: { op: "in", left: { ct: { key: "state" } }, right: states } });
  }

  const counter: NftExpr[] = rule.counter ? [{ counter: null }] : [];
  const nftRule = (e: NftExpr[]): NftRule => ({ ...inTable(), chain, comment: rule.name, expr: e });

  switch (rule.action) {
    case Action.ACCEPT:
      return [nftRule([...expr, ...counter, { accept: null }])];
    case Action.DROP:
      return [nftRule([...expr, ...counter, { drop: null }])];
    default: {
      const icmpx: NftExpr = { reject: { type: "icmpx", expr: "port-unreachable" } };
      const reset: NftExpr = { reject: { type: "tcp reset" } };
      if (m?.protocol === Protocol.TCP) return [nftRule([...expr, ...counter, reset])];
      if (proto !== undefined) return [nftRule([...expr, ...counter, icmpx])];
      // Any protocol: TCP gets a reset, everything else an ICMP(v6) port unreachable. Both nft rules carry the
      // rule's name; the counters read back are their sum.
      return [
        nftRule([...expr, match({ meta: { key: "l4proto" } }, IP_PROTO[Protocol.TCP]!), ...counter, reset]),
        nftRule([...expr, ...counter, icmpx]),
      ];
    }
  }
}

const match = (left: unknown, right: unknown): NftExpr => ({ match: { op: "==", left, right } });

/** Port ranges merged (overlapping and adjacent ranges joined) and sorted: a port, a range, or a set of them. */
export function mergePortRanges(ranges: readonly PortRange[]): [number, number][] {
  const sorted = ranges.map((r): [number, number] => [r.first, r.last || r.first]).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const out: [number, number][] = [];
  for (const [first, last] of sorted) {
    const prev = out[out.length - 1];
    if (prev && first <= prev[1] + 1) prev[1] = Math.max(prev[1], last);
    else out.push([first, last]);
  }
  return out;
}

function portsValue(ranges: readonly PortRange[]): unknown {
  const items = mergePortRanges(ranges).map(([a, b]) => (a === b ? a : { range: [a, b] }));
  return items.length === 1 ? items[0] : { set: items };
}

interface FastPrefix {
  family: 4 | 6;
  /** Canonical address text. */
  address: string;
  prefixLength: number;
  /** First and last address: numbers for IPv4, bigints for IPv6. */
  start: number | bigint;
  end: number | bigint;
}

const V4_CIDR = /^(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\/(0|[1-9]\d?)$/;

/**
 * parsePrefix() with a fast path for plain IPv4 (a million-prefix set is parsed in about a second instead of
 * six); anything else goes through parsePrefix, which decides and words the errors.
 */
function parseFast(cidr: string): FastPrefix | string {
  const v4 = V4_CIDR.exec(cidr);
  if (v4) {
    const o = [Number(v4[1]), Number(v4[2]), Number(v4[3]), Number(v4[4])];
    const len = Number(v4[5]);
    if (o.every((x) => x <= 255) && len <= 32) {
      const start = ((o[0]! << 24) >>> 0) + (o[1]! << 16) + (o[2]! << 8) + o[3]!;
      const size = 2 ** (32 - len);
      if (start % size === 0) return { family: 4, address: cidr.slice(0, cidr.indexOf("/")), prefixLength: len, start, end: start + size - 1 };
    }
  }
  const p = parsePrefix(cidr);
  if (typeof p === "string") return p;
  return fromParsed(p);
}

function fromParsed(p: ParsedCidr): FastPrefix {
  if (p.family === 4) {
    const start = ((p.bytes[0]! << 24) >>> 0) + (p.bytes[1]! << 16) + (p.bytes[2]! << 8) + p.bytes[3]!;
    return { family: 4, address: p.address, prefixLength: p.prefixLength, start, end: start + 2 ** (32 - p.prefixLength) - 1 };
  }
  let start = 0n;
  for (const b of p.bytes) start = (start << 8n) | BigInt(b);
  return { family: 6, address: p.address, prefixLength: p.prefixLength, start, end: start + (1n << BigInt(128 - p.prefixLength)) - 1n };
}

function setElement(p: { family: 4 | 6; address: string; prefixLength: number }): NftSetElement {
  return p.prefixLength === (p.family === 4 ? 32 : 128) ? p.address : { prefix: { addr: p.address, len: p.prefixLength } };
}

/**
 * Prefixes as the kernel's interval set takes them: sorted, duplicates and prefixes covered by a wider one
 * dropped (nft refuses overlapping intervals). Prefixes are nested or disjoint, so after sorting by start
 * (then length) one that starts inside the last kept one lies inside it.
 */
function normalize(list: FastPrefix[]): FastPrefix[] {
  list.sort((a, b) => a.family - b.family || (a.start < b.start ? -1 : a.start > b.start ? 1 : a.prefixLength - b.prefixLength));
  const out: FastPrefix[] = [];
  let last: FastPrefix | undefined;
  for (const x of list) {
    if (last && last.family === x.family && x.start <= last.end) continue;
    out.push(x);
    last = x;
  }
  return out;
}

/** The prefixes of a set, normalized for an interval set (see normalize); invalid entries are skipped. */
export function normalizePrefixes(prefixes: readonly IpPrefix[]): { family: 4 | 6; address: string; prefixLength: number }[] {
  const parsed: FastPrefix[] = [];
  for (const x of prefixes) {
    const p = parseFast(x.cidr);
    if (typeof p !== "string") parsed.push(p);
  }
  return normalize(parsed).map(({ family, address, prefixLength }) => ({ family, address, prefixLength }));
}

/** The JSON text of a document; counter values (bigint) are written as exact integers. */
export function nftJsonText(doc: NftDocument): string {
  const MARK = "\u0000bigint:";
  return JSON.stringify(doc, (_k, v: unknown) => (typeof v === "bigint" ? `${MARK}${v}` : v)).replace(/"\\u0000bigint:(\d+)"/g, "$1");
}

/** The items of a compiled firewall in document order (sets, then rules), each once. */
export function compiledItems(compiled: CompiledFirewall): string[] {
  return [...new Set(compiled.origins.filter((o) => o !== ""))];
}

/** The transaction restricted to the table, its chains and the first `count` items of compiledItems(). */
export function restrictDocument(compiled: CompiledFirewall, count: number): NftDocument {
  const keep = new Set(compiledItems(compiled).slice(0, count));
  return { nftables: compiled.document.nftables.filter((_c, i) => compiled.origins[i] === "" || keep.has(compiled.origins[i]!)) };
}

// ---- validation ----------------------------------------------------------------------------------------------

export interface FirewallViolation {
  /** Path of the field, snake_case from the given base: "rule.match.destination_ports[0].first". */
  field: string;
  description: string;
  reason: ErrorReason;
}

export interface ItemViolations {
  /** "firewall_rules[name]" or "prefix_sets[name]". */
  item: string;
  violations: FirewallViolation[];
}

const familyName = (f: 4 | 6) => (f === 4 ? "IPv4" : "IPv6");
const isEnum = (e: object, v: number) => Object.values(e).includes(v);

/** At most this many prefixes of one set are reported. */
const MAX_REPORTED_PREFIXES = 100;

/**
 * What is wrong with a rule that nftables would refuse or that could never match as written. `sets` are the
 * prefix sets it may refer to (a set not among them is not checked here: validateConfiguration reports
 * REFERENCE_MISSING at commit). Covers name, chain, sequence, action and the whole match; not description.
 */
export function ruleViolations(rule: Rule, sets: readonly Pick<PrefixSet, "name" | "family">[], field = "rule"): FirewallViolation[] {
  const out: FirewallViolation[] = [];
  const bad = (f: string, description: string, reason = ErrorReason.INVALID_FIELD) => out.push({ field: `${field}.${f}`, description, reason });
  if (!ITEM_NAME.test(rule.name)) bad("name", "1..63 characters matching ^[a-z][a-z0-9-]*$");
  if (rule.chain === Chain.UNSPECIFIED || !isEnum(Chain, rule.chain)) bad("chain", "must be CHAIN_INPUT, CHAIN_FORWARD or CHAIN_OUTPUT");
  if (!Number.isInteger(rule.sequence) || rule.sequence < 1 || rule.sequence > 65535) bad("sequence", "must be 1..65535");
  if (rule.action === Action.UNSPECIFIED || !isEnum(Action, rule.action)) bad("action", "must be ACTION_ACCEPT, ACTION_DROP or ACTION_REJECT");
  const m = rule.match;
  if (!m) return out;

  const family = (side: "source" | "destination"): 4 | 6 | undefined => {
    const a = m[side];
    if (a?.match.case === "prefix") {
      const p = parseFast(a.match.value.cidr);
      if (typeof p === "string") {
        bad(`match.${side}.prefix.cidr`, p, ErrorReason.INVALID_PREFIX);
        return undefined;
      }
      return p.family;
    }
    if (a?.match.case === "prefixSet") {
      if (!ITEM_NAME.test(a.match.value)) {
        bad(`match.${side}.prefix_set`, "a prefix set name: 1..63 characters matching ^[a-z][a-z0-9-]*$");
        return undefined;
      }
      const set = sets.find((s) => s.name === a.match.value);
      return set?.family === AddressFamily.IPV4 ? 4 : set?.family === AddressFamily.IPV6 ? 6 : undefined;
    }
    return undefined;
  };
  const src = family("source");
  const dst = family("destination");
  const what = (side: "source" | "destination") => (m[side]?.match.case === "prefixSet" ? `prefix set "${m[side]?.match.value as string}"` : "prefix");
  if (src && dst && src !== dst) {
    bad("match.destination", `${familyName(dst)} ${what("destination")}, but the source ${what("source")} is ${familyName(src)}; a rule matches one address family`);
  }
  const fam = src ?? dst;

  if (!isEnum(Protocol, m.protocol)) bad("match.protocol", "unknown protocol");
  if (m.protocol === Protocol.ICMP && fam === 6) bad("match.protocol", "PROTOCOL_ICMP is IPv4 but the addresses are IPv6 (use PROTOCOL_ICMPV6)");
  if (m.protocol === Protocol.ICMPV6 && fam === 4) bad("match.protocol", "PROTOCOL_ICMPV6 is IPv6 but the addresses are IPv4 (use PROTOCOL_ICMP)");

  const ports = (name: "source_ports" | "destination_ports", list: PortRange[]) => {
    if (!list.length) return;
    if (m.protocol !== Protocol.TCP && m.protocol !== Protocol.UDP) bad(`match.${name}`, "ports only with PROTOCOL_TCP or PROTOCOL_UDP");
    if (list.length > MAX_PORT_RANGES) bad(`match.${name}`, `at most ${MAX_PORT_RANGES} ranges`);
    list.forEach((r, i) => {
      if (r.first < 1 || r.first > 65535) bad(`match.${name}[${i}].first`, "must be 1..65535");
      else if (r.last !== 0 && (r.last < r.first || r.last > 65535)) bad(`match.${name}[${i}].last`, "must be 0 (= first) or first..65535");
    });
  };
  ports("source_ports", m.sourcePorts);
  ports("destination_ports", m.destinationPorts);

  const iface = (name: "in_interface" | "out_interface", value: string, chains: Chain[], chainText: string) => {
    if (!value) return;
    if (!INTERFACE_NAME.test(value) || value === "." || value === "..") bad(`match.${name}`, `"${value}" is not an interface name: 1..15 bytes of [A-Za-z0-9_.-], not "." or ".."`);
    if (isEnum(Chain, rule.chain) && rule.chain !== Chain.UNSPECIFIED && !chains.includes(rule.chain)) bad(`match.${name}`, `only in ${chainText}`);
  };
  iface("in_interface", m.inInterface, [Chain.INPUT, Chain.FORWARD], "CHAIN_INPUT and CHAIN_FORWARD");
  iface("out_interface", m.outInterface, [Chain.FORWARD, Chain.OUTPUT], "CHAIN_FORWARD and CHAIN_OUTPUT");

  m.connectionStates.forEach((s, i) => {
    if (s === ConnectionState.UNSPECIFIED || !isEnum(ConnectionState, s)) bad(`match.connection_states[${i}]`, "must be NEW, ESTABLISHED, RELATED or INVALID");
  });
  return out;
}

/** What is wrong with a prefix set: name, family, every prefix valid and of the set's family, its size. */
export function prefixSetViolations(set: PrefixSet, field = "prefix_set"): FirewallViolation[] {
  return analyzeSet(set, field, false).violations;
}

function analyzeSet(set: PrefixSet, field: string, withElements: boolean): { violations: FirewallViolation[]; elements: NftSetElement[] } {
  const out: FirewallViolation[] = [];
  const bad = (f: string, description: string, reason = ErrorReason.INVALID_FIELD) => out.push({ field: `${field}.${f}`, description, reason });
  if (!ITEM_NAME.test(set.name)) bad("name", "1..63 characters matching ^[a-z][a-z0-9-]*$");
  const family = set.family === AddressFamily.IPV4 ? 4 : set.family === AddressFamily.IPV6 ? 6 : undefined;
  if (!family) bad("family", "must be ADDRESS_FAMILY_IPV4 or ADDRESS_FAMILY_IPV6");
  if (set.prefixes.length > MAX_SET_PREFIXES) bad("prefixes", `at most ${MAX_SET_PREFIXES} prefixes`);
  let reported = 0;
  const parsed: FastPrefix[] = [];
  for (let i = 0; i < set.prefixes.length; i++) {
    const p = parseFast(set.prefixes[i]!.cidr);
    if (typeof p === "string") {
      if (reported++ < MAX_REPORTED_PREFIXES) bad(`prefixes[${i}].cidr`, p, ErrorReason.INVALID_PREFIX);
    } else if (family && p.family !== family) {
      if (reported++ < MAX_REPORTED_PREFIXES) bad(`prefixes[${i}].cidr`, `"${p.address}/${p.prefixLength}" is ${familyName(p.family)}, the set is ${familyName(family)}`, ErrorReason.INVALID_PREFIX);
    } else if (withElements) parsed.push(p);
  }
  if (reported > MAX_REPORTED_PREFIXES) bad("prefixes", `${reported - MAX_REPORTED_PREFIXES} more invalid prefixes not listed`, ErrorReason.INVALID_PREFIX);
  return { violations: out, elements: withElements && !out.length ? normalize(parsed).map(setElement) : [] };
}

/**
 * Every firewall item of a configuration that cannot be compiled, with its violations; prefix sets first,
 * then rules in evaluation order. A rule naming a set that does not exist is reported (REFERENCE_MISSING).
 */
export function firewallViolations(config: Pick<Configuration, "firewallRules" | "prefixSets">): ItemViolations[] {
  const out: ItemViolations[] = [];
  for (const s of [...config.prefixSets].sort((a, b) => cmp(a.name, b.name))) {
    const violations = prefixSetViolations(s);
    if (violations.length) out.push({ item: setItem(s.name), violations });
  }
  return [...out, ...ruleProblems(config)];
}

function ruleProblems(config: Pick<Configuration, "firewallRules" | "prefixSets">): ItemViolations[] {
  const out: ItemViolations[] = [];
  const names = new Set(config.prefixSets.map((s) => s.name));
  for (const r of sortRules(config.firewallRules)) {
    const violations = ruleViolations(r, config.prefixSets);
    for (const side of ["source", "destination"] as const) {
      const a = r.match?.[side];
      if (a?.match.case === "prefixSet" && ITEM_NAME.test(a.match.value) && !names.has(a.match.value)) {
        violations.push({ field: `rule.match.${side}.prefix_set`, description: `prefix set "${a.match.value}" does not exist`, reason: ErrorReason.REFERENCE_MISSING });
      }
    }
    if (violations.length) out.push({ item: ruleItem(r.name), violations });
  }
  return out;
}
