// The nftables firewall against the real kernel, each test in fresh network namespaces of its own (deleted
// afterwards); the host's ruleset is never touched. What was applied is checked through an independent view,
// `ip netns exec <ns> nft -j list ruleset`, not through the code under test. Needs root, nft and ip.
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { execFileSync, spawnSync } from "node:child_process";
import { afterEach, describe, expect, it } from "vitest";
import { AddressFamily } from "../../src/gen/orbital/api/v1/ip_pb.js";
import { ConfigurationSchema, type Configuration } from "../../src/gen/orbital/config/v1/configuration_pb.js";
import { Action, Chain, ConnectionState, PrefixSetSchema, Protocol, RuleSchema } from "../../src/gen/orbital/firewall/v1/firewall_pb.js";
import { BackendFault, DataplaneError } from "../../src/daemon/dataplane/dataplane.js";
import { applyCompiled, NftablesFirewall, readRuleCounters } from "../../src/daemon/dataplane/nftables/nft-apply.js";
import { compileFirewall, type NftRule, type NftSet } from "../../src/daemon/dataplane/nftables/nft-ruleset.js";

const available = process.getuid?.() === 0 && spawnSync("nft", ["--version"]).status === 0 && spawnSync("ip", ["-V"]).status === 0;

type RuleInit = MessageInitShape<typeof RuleSchema>;
type SetInit = MessageInitShape<typeof PrefixSetSchema>;
const config = (rules: RuleInit[], sets: SetInit[] = []): Configuration =>
  create(ConfigurationSchema, {
    firewallRules: rules.map((r) => create(RuleSchema, { chain: Chain.INPUT, sequence: 10, action: Action.ACCEPT, ...r })),
    prefixSets: sets.map((s) => create(PrefixSetSchema, { family: AddressFamily.IPV4, ...s })),
  });
const prefix = (cidr: string) => ({ match: { case: "prefix" as const, value: { cidr } } });
const setRef = (name: string) => ({ match: { case: "prefixSet" as const, value: name } });

// ---- namespaces ------------------------------------------------------------------------------------------------

let serial = 0;
const created: string[] = [];

function newNetns(): string {
  const name = `orbnft-${process.pid}-${++serial}`;
  execFileSync("ip", ["netns", "add", name]);
  created.push(name);
  execFileSync("ip", ["-n", name, "link", "set", "lo", "up"]);
  return name;
}

afterEach(() => {
  for (const ns of created.splice(0)) spawnSync("ip", ["netns", "del", ns]);
});

const inNs = (ns: string, cmd: string, ...args: string[]) => execFileSync("ip", ["netns", "exec", ns, cmd, ...args], { encoding: "utf8" });
const nftIn = (ns: string, ...args: string[]) => inNs(ns, "nft", ...args);

type Obj = Record<string, Record<string, unknown>>;
/** `nft -j list ruleset` of a namespace: the independent view. */
const ruleset = (ns: string): Obj[] => (JSON.parse(nftIn(ns, "-j", "list", "ruleset")) as { nftables: Obj[] }).nftables.filter((o) => !o.metainfo);
const ofTable = (objs: Obj[], family: string, name: string) =>
  objs.filter((o) => {
    const v = Object.values(o)[0]!;
    return v.family === family && (v.table === name || (o.table && v.name === name));
  });
/** Without kernel handles, which change whenever our table is re-created. */
const withoutHandles = (objs: Obj[]): unknown => JSON.parse(JSON.stringify(objs, (k, v: unknown) => (k === "handle" ? undefined : v)));
const rulesIn = (ns: string) => ofTable(ruleset(ns), "inet", "orbital").flatMap((o) => (o.rule ? [o.rule as unknown as NftRule & { expr: Record<string, unknown>[] }] : []));

function addForeignTable(ns: string): void {
  nftIn(ns, "add", "table", "inet", "other");
  nftIn(ns, "add", "chain", "inet", "other", "in", "{ type filter hook input priority 10 ; policy accept ; }");
  nftIn(ns, "add", "rule", "inet", "other", "in", "tcp", "dport", "9", "counter", "drop", "comment", '"foreign"');
}
const foreign = (ns: string) => ofTable(ruleset(ns), "inet", "other");

const sample = config(
  [
    { name: "allow-established", sequence: 1, match: { connectionStates: [ConnectionState.ESTABLISHED, ConnectionState.RELATED] } },
    { name: "ssh", sequence: 20, counter: true, match: { protocol: Protocol.TCP, destinationPorts: [{ first: 22 }, { first: 2200, last: 2299 }], inInterface: "eth0" } },
    { name: "blocklist", sequence: 10, action: Action.DROP, counter: true, match: { source: setRef("blocked") } },
    { name: "no-telnet-out", chain: Chain.OUTPUT, sequence: 5, action: Action.REJECT, match: { protocol: Protocol.TCP, destinationPorts: [{ first: 23 }] } },
    { name: "fwd-v6", chain: Chain.FORWARD, sequence: 1, action: Action.DROP, match: { destination: prefix("2001:db8::/32"), protocol: Protocol.ICMPV6 } },
  ],
  [
    { name: "blocked", prefixes: [{ cidr: "192.0.2.0/24" }, { cidr: "198.51.100.7/32" }] },
    { name: "empty-six", family: AddressFamily.IPV6 },
  ],
);

describe("nftables firewall without nft", () => {
  it("a missing nft binary is a BackendFault of nftables (no item to blame), not a crash", async () => {
    const error = await applyCompiled(compileFirewall(sample), { nft: "/nonexistent/nft" }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(BackendFault);
    expect(error).toMatchObject({ backend: "nftables", errno: "ENOENT" });
  });
});

describe.skipIf(!available)("nftables firewall in a network namespace", () => {
  it("applies one table with base chains, sets and rules in order; applying again gives the same ruleset", async () => {
    const ns = newNetns();
    const fw = new NftablesFirewall({ netns: ns });
    await fw.apply(sample);

    const ours = ofTable(ruleset(ns), "inet", "orbital");
    const chains = ours.flatMap((o) => (o.chain ? [o.chain] : []));
    expect(chains.map((c) => [c.name, c.type, c.hook, c.prio, c.policy])).toEqual([
      ["input", "filter", "input", 0, "accept"],
      ["forward", "filter", "forward", 0, "accept"],
      ["output", "filter", "output", 0, "accept"],
    ]);
    const sets = ours.flatMap((o) => (o.set ? [o.set as unknown as NftSet] : []));
    expect(sets.map((s) => [s.name, s.type, s.flags, s.elem])).toEqual([
      ["blocked", "ipv4_addr", ["interval"], [{ prefix: { addr: "192.0.2.0", len: 24 } }, "198.51.100.7"]],
      ["empty-six", "ipv6_addr", ["interval"], undefined],
    ]);
    const rules = rulesIn(ns);
    expect(rules.map((r) => `${r.chain}:${r.comment}`)).toEqual(["input:allow-established", "input:blocklist", "input:ssh", "forward:fwd-v6", "output:no-telnet-out"]);
    const text = nftIn(ns, "list", "table", "inet", "orbital");
    expect(text).toMatch(/ip saddr @blocked counter packets 0 bytes 0 drop comment "blocklist"/);
    expect(text).toMatch(/tcp dport \{ 22, 2200-2299 \} iifname "eth0" counter packets 0 bytes 0 accept comment "ssh"/);
    expect(text).toMatch(/ct state established,related accept comment "allow-established"/);
    expect(text).toMatch(/tcp dport 23 reject with tcp reset comment "no-telnet-out"/);
    expect(text).toMatch(/ip6 daddr 2001:db8::\/32 meta l4proto ipv6-icmp drop comment "fwd-v6"/);

    // The same configuration again (every commit applies the whole configuration) changes nothing at all,
    // not even the kernel's handles; forced, or by a restarted daemon, it rebuilds the same ruleset.
    const exact = ruleset(ns);
    await fw.apply(sample);
    expect(ruleset(ns)).toEqual(exact);
    const before = withoutHandles(exact);
    await fw.apply(sample, { force: true });
    expect(ruleset(ns)).not.toEqual(exact);
    expect(withoutHandles(ruleset(ns))).toEqual(before);
    await new NftablesFirewall({ netns: ns }).apply(sample);
    expect(withoutHandles(ruleset(ns))).toEqual(before);
    // Someone deleted our table: the next apply notices and rebuilds it.
    nftIn(ns, "delete", "table", "inet", "orbital");
    await fw.apply(sample);
    expect(withoutHandles(ruleset(ns))).toEqual(before);
    expect(await readRuleCounters({ netns: ns })).toEqual(
      new Map([
        ["blocklist", { packets: 0n, bytes: 0n }],
        ["ssh", { packets: 0n, bytes: 0n }],
      ]),
    );
  });

  it("leaves a foreign table alone when applying and when removing; no firewall items means no table of ours", async () => {
    const ns = newNetns();
    addForeignTable(ns);
    const theirs = foreign(ns);
    expect(theirs.length).toBe(3);
    const fw = new NftablesFirewall({ netns: ns });

    await fw.apply(sample);
    expect(foreign(ns)).toEqual(theirs);
    expect(ofTable(ruleset(ns), "inet", "orbital").length).toBeGreaterThan(0);

    await fw.apply(config([]));
    expect(ofTable(ruleset(ns), "inet", "orbital")).toEqual([]);
    expect(foreign(ns)).toEqual(theirs);
    await fw.apply(config([])); // removing an absent table is fine
    await fw.remove();
    expect(foreign(ns)).toEqual(theirs);
    expect(await readRuleCounters({ netns: ns })).toEqual(new Map());

    // Only prefix sets: the table exists, with its empty chains.
    await fw.apply(config([], [{ name: "s" }]));
    expect(ofTable(ruleset(ns), "inet", "orbital").filter((o) => o.set || o.chain)).toHaveLength(4);
    expect(foreign(ns)).toEqual(theirs);
  });

  it("a refused rule fails the whole transaction: the previous ruleset stays in force and the rule is named", async () => {
    const ns = newNetns();
    addForeignTable(ns);
    const fw = new NftablesFirewall({ netns: ns });
    await fw.apply(sample);
    const before = ruleset(ns);

    // Validation refuses a 20-character interface name, so the kernel side is reached by editing the
    // compiled transaction: nft refuses names longer than IFNAMSIZ.
    const next = config(
      [
        { name: "first", sequence: 1, counter: true },
        { name: "bad-iface", sequence: 2, match: { inInterface: "eth1" } },
        { name: "after", sequence: 3, action: Action.DROP, match: { source: setRef("blocked") } },
      ],
      [{ name: "blocked", prefixes: [{ cidr: "10.0.0.0/8" }] }],
    );
    const compiled = compileFirewall(next);
    const bad = compiled.document.nftables.find((c) => "add" in c && "rule" in c.add && c.add.rule.comment === "bad-iface") as { add: { rule: NftRule } };
    (bad.add.rule.expr[0] as { match: { right: string } }).match.right = "abcdefghijklmnopqrst";
    const error = await applyCompiled(compiled, { netns: ns }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(DataplaneError);
    expect(error).toMatchObject({ item: "firewall_rules[bad-iface]", operation: "nft", message: expect.stringContaining("exceeds maximum length") });
    expect(ruleset(ns)).toEqual(before);

    // A refusal by the kernel itself (a set declared too small for its elements: ENFILE) names the set.
    const compiled2 = compileFirewall(next);
    const set = compiled2.document.nftables.find((c) => "add" in c && "set" in c.add) as { add: { set: NftSet & { size?: number; elem: unknown[] } } };
    set.add.set.size = 1;
    set.add.set.elem = ["10.0.0.1", "10.0.0.2"];
    const error2 = await applyCompiled(compiled2, { netns: ns }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error2).toMatchObject({ item: "prefix_sets[blocked]", operation: "nft", errno: "ENFILE" });
    expect(ruleset(ns)).toEqual(before);

    // A configuration that validation refuses never reaches nft.
    const error3 = await fw.apply(config([{ name: "ports-no-proto", match: { destinationPorts: [{ first: 22 }] } }])).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error3).toMatchObject({ item: "firewall_rules[ports-no-proto]", operation: "compile" });
    expect(ruleset(ns)).toEqual(before);

    // And the valid version applies.
    await fw.apply(next);
    expect(rulesIn(ns).map((r) => r.comment)).toEqual(["first", "bad-iface", "after"]);
  });

  it("TRAFFIC: a drop rule with a counter stops ping from A to B and counts it; removing it lets ping through", async () => {
    const a = newNetns();
    const b = newNetns();
    const va = `va${process.pid % 100000}`;
    const vb = `vb${process.pid % 100000}`;
    execFileSync("ip", ["link", "add", va, "netns", a, "type", "veth", "peer", "name", vb, "netns", b]);
    execFileSync("ip", ["-n", a, "addr", "add", "10.99.0.1/24", "dev", va]);
    execFileSync("ip", ["-n", b, "addr", "add", "10.99.0.2/24", "dev", vb]);
    execFileSync("ip", ["-n", a, "link", "set", va, "up"]);
    execFileSync("ip", ["-n", b, "link", "set", vb, "up"]);
    const ping = () => spawnSync("ip", ["netns", "exec", a, "ping", "-c1", "-W1", "10.99.0.2"]).status === 0;

    let up = false;
    for (let i = 0; i < 5 && !up; i++) up = ping(); // the first ping may race the link coming up
    expect(up).toBe(true);

    const fw = new NftablesFirewall({ netns: b });
    const dropPing = config([{ name: "drop-ping-from-a", action: Action.DROP, counter: true, match: { source: prefix("10.99.0.1/32"), protocol: Protocol.ICMP } }]);
    await fw.apply(dropPing);
    expect(ping()).toBe(false);
    const counted = (await fw.counters()).get("drop-ping-from-a");
    expect(counted?.packets).toBeGreaterThan(0n);
    expect(counted?.bytes).toBeGreaterThanOrEqual(84n * counted!.packets);
    // The independent view agrees.
    const rule = rulesIn(b).find((r) => r.comment === "drop-ping-from-a")!;
    expect(rule.expr.find((e) => e.counter)).toEqual({ counter: { packets: Number(counted!.packets), bytes: Number(counted!.bytes) } });

    // Rebuilding the table for another change keeps the counters of unchanged rules.
    await fw.apply(config([...dropPing.firewallRules.map((r) => ({ ...r })), { name: "unrelated", sequence: 50, counter: true }]));
    expect((await fw.counters()).get("drop-ping-from-a")).toEqual(counted);
    expect(ping()).toBe(false);
    // Unless the sets are too big to read counters cheaply: then a rebuild restarts them.
    const zeroCarry = new NftablesFirewall({ netns: b, carryCountersMaxPrefixes: -1 });
    await zeroCarry.apply(config([...dropPing.firewallRules.map((r) => ({ ...r })), { name: "unrelated", sequence: 50, counter: true }]));
    expect((await fw.counters()).get("drop-ping-from-a")).toEqual({ packets: 0n, bytes: 0n });
    expect(ping()).toBe(false);

    // A changed rule starts from zero.
    await fw.apply(config([{ name: "drop-ping-from-a", action: Action.DROP, counter: true, match: { source: prefix("10.99.0.0/24"), protocol: Protocol.ICMP } }]));
    expect((await fw.counters()).get("drop-ping-from-a")).toEqual({ packets: 0n, bytes: 0n });
    expect(ping()).toBe(false);
    expect((await fw.counters()).get("drop-ping-from-a")?.packets).toBe(1n);

    await fw.apply(config([{ name: "unrelated", sequence: 50, counter: true }]));
    expect(ping()).toBe(true);
    expect((await fw.counters()).has("drop-ping-from-a")).toBe(false);
    await fw.apply(config([]));
    expect(ofTable(ruleset(b), "inet", "orbital")).toEqual([]);
    expect(ping()).toBe(true);
  });
});
