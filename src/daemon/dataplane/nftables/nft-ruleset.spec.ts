import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { ErrorReason } from "../../../gen/orbital/api/v1/error_reason_pb.js";
import { AddressFamily } from "../../../gen/orbital/api/v1/ip_pb.js";
import { ConfigurationSchema, type Configuration } from "../../../gen/orbital/config/v1/configuration_pb.js";
import { Action, Chain, ConnectionState, PrefixSetSchema, Protocol, RuleSchema } from "../../../gen/orbital/firewall/v1/firewall_pb.js";
import { parsePrefix } from "../../validation/ip.js";
import { DataplaneError } from "../dataplane.js";
import {
  compileFirewall,
  compiledItems,
  firewallViolations,
  hasFirewallItems,
  mergePortRanges,
  nftJsonText,
  normalizePrefixes,
  prefixSetViolations,
  removalDocument,
  restrictDocument,
  ruleFingerprints,
  ruleViolations,
  withCounterValues,
  type NftCommand,
  type NftRule,
} from "./nft-ruleset.js";

type RuleInit = MessageInitShape<typeof RuleSchema>;
type SetInit = MessageInitShape<typeof PrefixSetSchema>;

const rule = (r: RuleInit) => create(RuleSchema, { chain: Chain.INPUT, sequence: 10, action: Action.ACCEPT, ...r });
const set = (s: SetInit) => create(PrefixSetSchema, { family: AddressFamily.IPV4, ...s });
const config = (rules: RuleInit[], sets: SetInit[] = []): Configuration =>
  create(ConfigurationSchema, { firewallRules: rules.map(rule), prefixSets: sets.map(set) });
const prefix = (cidr: string) => ({ match: { case: "prefix" as const, value: { cidr } } });
const setRef = (name: string) => ({ match: { case: "prefixSet" as const, value: name } });

const T = { family: "inet", table: "orbital" };
const rulesOf = (cmds: NftCommand[]): NftRule[] => cmds.flatMap((c) => ("add" in c && "rule" in c.add ? [c.add.rule] : []));
const onlyRule = (r: RuleInit, sets: SetInit[] = []) => {
  const rules = rulesOf(compileFirewall(config([r], sets)).document.nftables);
  expect(rules).toHaveLength(1);
  return rules[0]!;
};
const m = (left: unknown, right: unknown) => ({ match: { op: "==", left, right } });

describe("compileFirewall: layout", () => {
  it("replaces our table whole: add, delete, add table, three base chains, sets by name, rules", () => {
    const c = compileFirewall(
      config(
        [{ name: "ssh", chain: Chain.INPUT, sequence: 10, match: { protocol: Protocol.TCP, destinationPorts: [{ first: 22 }] } }],
        [{ name: "zeta", prefixes: [{ cidr: "192.0.2.0/24" }] }, { name: "alpha" }],
      ),
    );
    const table = { family: "inet", name: "orbital" };
    expect(c.document.nftables).toEqual([
      { add: { table } },
      { delete: { table } },
      { add: { table } },
      { add: { chain: { ...T, name: "input", type: "filter", hook: "input", prio: 0, policy: "accept" } } },
      { add: { chain: { ...T, name: "forward", type: "filter", hook: "forward", prio: 0, policy: "accept" } } },
      { add: { chain: { ...T, name: "output", type: "filter", hook: "output", prio: 0, policy: "accept" } } },
      { add: { set: { ...T, name: "alpha", type: "ipv4_addr", flags: ["interval"] } } },
      { add: { set: { ...T, name: "zeta", type: "ipv4_addr", flags: ["interval"], elem: [{ prefix: { addr: "192.0.2.0", len: 24 } }] } } },
      {
        add: {
          rule: {
            ...T,
            chain: "input",
            comment: "ssh",
            expr: [m({ meta: { key: "l4proto" } }, 6), m({ payload: { protocol: "tcp", field: "dport" } }, 22), { accept: null }],
          },
        },
      },
    ]);
    expect(c.origins).toEqual(["", "", "", "", "", "", "prefix_sets[alpha]", "prefix_sets[zeta]", "firewall_rules[ssh]"]);
  });

  it("orders rules by chain (input, forward, output), then sequence, whatever the input order", () => {
    const rules: RuleInit[] = [
      { name: "out-1", chain: Chain.OUTPUT, sequence: 1 },
      { name: "in-20", chain: Chain.INPUT, sequence: 20 },
      { name: "fwd-5", chain: Chain.FORWARD, sequence: 5 },
      { name: "in-10", chain: Chain.INPUT, sequence: 10 },
      { name: "in-65535", chain: Chain.INPUT, sequence: 65535 },
    ];
    const a = compileFirewall(config(rules));
    expect(rulesOf(a.document.nftables).map((r) => `${r.chain}:${r.comment}`)).toEqual(["input:in-10", "input:in-20", "input:in-65535", "forward:fwd-5", "output:out-1"]);
    // Deterministic: same text for the same configuration in any order (so re-applying changes nothing).
    expect(nftJsonText(compileFirewall(config([...rules].reverse())).document)).toBe(nftJsonText(a.document));
    expect(nftJsonText(compileFirewall(config(rules)).document)).toBe(nftJsonText(a.document));
  });

  it("an empty firewall is no firewall; removal adds then deletes only our table", () => {
    expect(hasFirewallItems(config([]))).toBe(false);
    expect(hasFirewallItems(config([], [{ name: "s" }]))).toBe(true);
    expect(removalDocument()).toEqual({ nftables: [{ add: { table: { family: "inet", name: "orbital" } } }, { delete: { table: { family: "inet", name: "orbital" } } }] });
  });
});

describe("compileFirewall: matches", () => {
  it("prefixes by family, full-length prefixes as addresses, /0 as the family test", () => {
    expect(onlyRule({ name: "a", match: { source: prefix("10.0.0.0/8"), destination: prefix("10.1.2.3/32") } }).expr).toEqual([
      m({ payload: { protocol: "ip", field: "saddr" } }, { prefix: { addr: "10.0.0.0", len: 8 } }),
      m({ payload: { protocol: "ip", field: "daddr" } }, "10.1.2.3"),
      { accept: null },
    ]);
    expect(onlyRule({ name: "b", match: { source: prefix("2001:DB8::/32") } }).expr[0]).toEqual(
      m({ payload: { protocol: "ip6", field: "saddr" } }, { prefix: { addr: "2001:db8::", len: 32 } }),
    );
    expect(onlyRule({ name: "c", match: { source: prefix("::/0"), destination: prefix("::/0") } }).expr).toEqual([m({ meta: { key: "nfproto" } }, "ipv6"), { accept: null }]);
  });

  it("prefix sets: elements normalized (sorted, duplicates and covered prefixes dropped), referenced with ip or ip6 by the set's family", () => {
    const c = compileFirewall(
      config(
        [
          { name: "v4", sequence: 1, match: { source: setRef("blocked") } },
          { name: "v6", sequence: 2, match: { destination: setRef("six") } },
        ],
        [
          { name: "blocked", prefixes: ["10.1.0.0/16", "192.0.2.7/32", "10.0.0.0/8", "10.0.0.0/8", "198.51.100.0/25", "198.51.100.128/25"].map((cidr) => ({ cidr })) },
          { name: "six", family: AddressFamily.IPV6, prefixes: [{ cidr: "2001:db8::/48" }, { cidr: "2001:db8::1/128" }, { cidr: "fe80::/10" }] },
        ],
      ),
    );
    const sets = c.document.nftables.flatMap((x) => ("add" in x && "set" in x.add ? [x.add.set] : []));
    expect(sets).toEqual([
      {
        ...T,
        name: "blocked",
        type: "ipv4_addr",
        flags: ["interval"],
        elem: [{ prefix: { addr: "10.0.0.0", len: 8 } }, "192.0.2.7", { prefix: { addr: "198.51.100.0", len: 25 } }, { prefix: { addr: "198.51.100.128", len: 25 } }],
      },
      { ...T, name: "six", type: "ipv6_addr", flags: ["interval"], elem: [{ prefix: { addr: "2001:db8::", len: 48 } }, { prefix: { addr: "fe80::", len: 10 } }] },
    ]);
    const [v4, v6] = rulesOf(c.document.nftables);
    expect(v4!.expr[0]).toEqual(m({ payload: { protocol: "ip", field: "saddr" } }, "@blocked"));
    expect(v6!.expr[0]).toEqual(m({ payload: { protocol: "ip6", field: "daddr" } }, "@six"));
  });

  it("ports: one port, one range, or a set of merged ranges; tcp or udp by protocol", () => {
    const r = onlyRule({
      name: "web",
      match: {
        protocol: Protocol.TCP,
        sourcePorts: [{ first: 1024, last: 65535 }],
        destinationPorts: [{ first: 443 }, { first: 80 }, { first: 8000, last: 8080 }, { first: 8080, last: 8090 }, { first: 81, last: 81 }],
      },
    });
    expect(r.expr).toEqual([
      m({ meta: { key: "l4proto" } }, 6),
      m({ payload: { protocol: "tcp", field: "sport" } }, { range: [1024, 65535] }),
      m({ payload: { protocol: "tcp", field: "dport" } }, { set: [{ range: [80, 81] }, 443, { range: [8000, 8090] }] }),
      { accept: null },
    ]);
    const u = onlyRule({ name: "dns", match: { protocol: Protocol.UDP, destinationPorts: [{ first: 53 }] } });
    expect(u.expr).toEqual([m({ meta: { key: "l4proto" } }, 17), m({ payload: { protocol: "udp", field: "dport" } }, 53), { accept: null }]);
    expect(mergePortRanges([{ first: 5, last: 0 } as never, { first: 1, last: 4 } as never])).toEqual([[1, 5]]);
  });

  it("interfaces, connection states (deduplicated, in enum order), icmp protocols", () => {
    const r = onlyRule({
      name: "fw",
      chain: Chain.FORWARD,
      match: {
        protocol: Protocol.ICMPV6,
        inInterface: "lan0",
        outInterface: "wan0.100",
        connectionStates: [ConnectionState.RELATED, ConnectionState.ESTABLISHED, ConnectionState.RELATED],
      },
    });
    expect(r.chain).toBe("forward");
    expect(r.expr).toEqual([
      m({ meta: { key: "l4proto" } }, 58),
      m({ meta: { key: "iifname" } }, "lan0"),
      m({ meta: { key: "oifname" } }, "wan0.100"),
      { match: { op: "in", left: { ct: { key: "state" } }, right: ["established", "related"] } },
      { accept: null },
    ]);
    expect(onlyRule({ name: "p", match: { protocol: Protocol.ICMP } }).expr[0]).toEqual(m({ meta: { key: "l4proto" } }, 1));
  });
});

describe("compileFirewall: actions and counters", () => {
  it("drop, and counter only when rule.counter, named by the comment", () => {
    expect(onlyRule({ name: "d", action: Action.DROP }).expr).toEqual([{ drop: null }]);
    const r = onlyRule({ name: "d2", action: Action.DROP, counter: true, match: { source: prefix("10.99.0.1/32") } });
    expect(r.comment).toBe("d2");
    expect(r.expr).toEqual([m({ payload: { protocol: "ip", field: "saddr" } }, "10.99.0.1"), { counter: null }, { drop: null }]);
  });

  it("reject: TCP reset for TCP, ICMP(x) port unreachable for other protocols, both for any protocol", () => {
    expect(onlyRule({ name: "t", action: Action.REJECT, match: { protocol: Protocol.TCP } }).expr.at(-1)).toEqual({ reject: { type: "tcp reset" } });
    expect(onlyRule({ name: "u", action: Action.REJECT, match: { protocol: Protocol.UDP } }).expr.at(-1)).toEqual({
      reject: { type: "icmpx", expr: "port-unreachable" },
    });
    const any = rulesOf(compileFirewall(config([{ name: "any", action: Action.REJECT, counter: true, match: { source: prefix("10.0.0.0/8") } }])).document.nftables);
    const src = m({ payload: { protocol: "ip", field: "saddr" } }, { prefix: { addr: "10.0.0.0", len: 8 } });
    expect(any).toEqual([
      { ...T, chain: "input", comment: "any", expr: [src, m({ meta: { key: "l4proto" } }, 6), { counter: null }, { reject: { type: "tcp reset" } }] },
      { ...T, chain: "input", comment: "any", expr: [src, { counter: null }, { reject: { type: "icmpx", expr: "port-unreachable" } }] },
    ]);
  });

  it("counter values carried over by name, on the first nft rule of the name, written as exact integers", () => {
    const cfg = config([
      { name: "any", action: Action.REJECT, counter: true, sequence: 1 },
      { name: "plain", sequence: 2 },
      { name: "fresh", counter: true, sequence: 3 },
    ]);
    const big = 2n ** 60n + 1n;
    const c = compileFirewall(cfg, { counters: new Map([["any", { packets: 7n, bytes: big }], ["plain", { packets: 1n, bytes: 1n }]]) });
    const rules = rulesOf(c.document.nftables);
    expect(rules.map((r) => r.expr.find((e) => "counter" in e))).toEqual([{ counter: { packets: 7n, bytes: big } }, { counter: null }, undefined, { counter: null }]);
    expect(nftJsonText(c.document)).toContain(`"counter":{"packets":7,"bytes":${big}}`);
    // Fingerprints ignore counter values: the rules did not change.
    expect(ruleFingerprints(compileFirewall(cfg))).toEqual(ruleFingerprints(withCounterValues(compileFirewall(cfg), new Map())));
  });
});

describe("restrictDocument (bisection support)", () => {
  it("keeps the table, chains and the first k items (sets first, then rules in order)", () => {
    const c = compileFirewall(config([{ name: "r2", sequence: 2, action: Action.REJECT }, { name: "r1", sequence: 1 }], [{ name: "s" }]));
    expect(compiledItems(c)).toEqual(["prefix_sets[s]", "firewall_rules[r1]", "firewall_rules[r2]"]);
    expect(restrictDocument(c, 0).nftables).toHaveLength(6);
    expect(restrictDocument(c, 2).nftables).toHaveLength(8);
    // r2 is a reject without protocol: two nft rules, one item.
    expect(restrictDocument(c, 3).nftables).toEqual(c.document.nftables);
    expect(c.document.nftables).toHaveLength(10);
  });
});

describe("validation", () => {
  const fields = (v: { field: string }[]) => v.map((x) => x.field);

  it("a well-formed rule and set have no violations", () => {
    const sets = [set({ name: "bad", prefixes: [{ cidr: "10.0.0.0/8" }] })];
    expect(
      ruleViolations(
        rule({ name: "ok", match: { source: setRef("bad"), destination: prefix("10.1.0.0/16"), protocol: Protocol.TCP, destinationPorts: [{ first: 22 }], inInterface: "eth0" } }),
        sets,
      ),
    ).toEqual([]);
    expect(prefixSetViolations(sets[0]!)).toEqual([]);
  });

  it("ports without TCP or UDP, bad ranges, too many ranges", () => {
    expect(fields(ruleViolations(rule({ name: "p", match: { protocol: Protocol.ICMP, destinationPorts: [{ first: 22 }] } }), []))).toEqual(["rule.match.destination_ports"]);
    expect(fields(ruleViolations(rule({ name: "p", match: { sourcePorts: [{ first: 22 }] } }), []))).toEqual(["rule.match.source_ports"]);
    expect(
      fields(ruleViolations(rule({ name: "p", match: { protocol: Protocol.UDP, destinationPorts: [{ first: 0 }, { first: 100, last: 99 }, { first: 1, last: 65536 }] } }), [])),
    ).toEqual(["rule.match.destination_ports[0].first", "rule.match.destination_ports[1].last", "rule.match.destination_ports[2].last"]);
    const many = Array.from({ length: 17 }, (_, i) => ({ first: i + 1 }));
    expect(fields(ruleViolations(rule({ name: "p", match: { protocol: Protocol.TCP, destinationPorts: many } }), []))).toEqual(["rule.match.destination_ports"]);
  });

  it("address families: ICMP vs ICMPv6, set family vs the other prefix, prefix syntax", () => {
    expect(ruleViolations(rule({ name: "i", match: { protocol: Protocol.ICMPV6, source: prefix("10.0.0.0/8") } }), [])).toEqual([
      { field: "rule.match.protocol", description: expect.stringContaining("IPv4"), reason: ErrorReason.INVALID_FIELD },
    ]);
    expect(fields(ruleViolations(rule({ name: "i", match: { protocol: Protocol.ICMP, destination: prefix("2001:db8::/32") } }), []))).toEqual(["rule.match.protocol"]);
    const six = [set({ name: "six", family: AddressFamily.IPV6 })];
    const v = ruleViolations(rule({ name: "f", match: { source: setRef("six"), destination: prefix("192.0.2.0/24") } }), six);
    expect(v).toEqual([{ field: "rule.match.destination", description: expect.stringMatching(/IPv4 prefix, but the source prefix set "six" is IPv6/), reason: ErrorReason.INVALID_FIELD }]);
    expect(ruleViolations(rule({ name: "h", match: { source: prefix("10.0.0.1/8") } }), [])).toEqual([
      { field: "rule.match.source.prefix.cidr", description: expect.stringContaining("host bits"), reason: ErrorReason.INVALID_PREFIX },
    ]);
  });

  it("required fields, interfaces by chain and name length, connection states", () => {
    expect(fields(ruleViolations(create(RuleSchema, { name: "Bad_Name" }), []))).toEqual(["rule.name", "rule.chain", "rule.sequence", "rule.action"]);
    expect(fields(ruleViolations(rule({ name: "o", chain: Chain.OUTPUT, match: { inInterface: "eth0" } }), []))).toEqual(["rule.match.in_interface"]);
    expect(fields(ruleViolations(rule({ name: "o", chain: Chain.INPUT, match: { outInterface: "eth0" } }), []))).toEqual(["rule.match.out_interface"]);
    expect(fields(ruleViolations(rule({ name: "o", chain: Chain.FORWARD, match: { inInterface: "a-very-long-name0" } }), []))).toEqual(["rule.match.in_interface"]);
    expect(fields(ruleViolations(rule({ name: "c", match: { connectionStates: [ConnectionState.NEW, ConnectionState.UNSPECIFIED] } }), []))).toEqual([
      "rule.match.connection_states[1]",
    ]);
  });

  it("prefix sets: family required, every prefix valid and of the set's family", () => {
    expect(prefixSetViolations(set({ name: "s", family: AddressFamily.UNSPECIFIED }))).toEqual([
      { field: "prefix_set.family", description: expect.any(String), reason: ErrorReason.INVALID_FIELD },
    ]);
    expect(prefixSetViolations(set({ name: "s", prefixes: [{ cidr: "10.0.0.0/8" }, { cidr: "2001:db8::/32" }, { cidr: "nope" }] }))).toEqual([
      { field: "prefix_set.prefixes[1].cidr", description: expect.stringContaining("the set is IPv4"), reason: ErrorReason.INVALID_PREFIX },
      { field: "prefix_set.prefixes[2].cidr", description: expect.any(String), reason: ErrorReason.INVALID_PREFIX },
    ]);
  });

  it("prefix parsing agrees with parsePrefix (the IPv4 fast path included)", () => {
    let seed = 42;
    const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
    const octet = () => ["0", "00", "01", "255", "256", "10", "192", "1000"][rnd(8)] ?? String(rnd(256));
    const cases = ["0.0.0.0/0", "255.255.255.255/32", "10.0.0.0/08", "10.0.0.1/8", "10.0.0.0/33", "1.2.3.4", "::/0", "2001:DB8::/32", "2001:db8::1/32", " 1.2.3.0/24"];
    for (let i = 0; i < 3000; i++) cases.push(`${octet()}.${octet()}.${rnd(2) ? "0" : octet()}.${rnd(3) ? "0" : octet()}/${[0, 8, 16, 24, 30, 32, 33, "08"][rnd(8)]}`);
    for (const cidr of cases) {
      const want = parsePrefix(cidr);
      const got = normalizePrefixes([{ cidr } as never]);
      const violations = prefixSetViolations(set({ name: "s", family: typeof want === "string" || want.family === 4 ? AddressFamily.IPV4 : AddressFamily.IPV6, prefixes: [{ cidr }] }));
      if (typeof want === "string") {
        expect(got, cidr).toEqual([]);
        expect(violations, cidr).toEqual([{ field: "prefix_set.prefixes[0].cidr", description: want, reason: ErrorReason.INVALID_PREFIX }]);
      } else {
        expect(got, cidr).toEqual([{ family: want.family, address: want.address, prefixLength: want.prefixLength }]);
        expect(violations, cidr).toEqual([]);
      }
    }
  });

  it("the compiler refuses an invalid configuration, naming the item (sets first, then rules)", () => {
    const cfg = config(
      [
        { name: "ok", sequence: 1 },
        { name: "bad-ports", sequence: 2, match: { destinationPorts: [{ first: 22 }] } },
        { name: "dangling", sequence: 3, match: { source: setRef("nope") } },
      ],
      [{ name: "mixed", prefixes: [{ cidr: "2001:db8::/32" }] }],
    );
    expect(firewallViolations(cfg).map((x) => x.item)).toEqual(["prefix_sets[mixed]", "firewall_rules[bad-ports]", "firewall_rules[dangling]"]);
    expect(firewallViolations(cfg)[2]!.violations[0]!.reason).toBe(ErrorReason.REFERENCE_MISSING);
    let error: unknown;
    try {
      compileFirewall(cfg);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(DataplaneError);
    expect(error).toMatchObject({ item: "prefix_sets[mixed]", operation: "compile", errno: "EINVAL" });
  });
});
