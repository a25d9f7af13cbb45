// Proves: FirewallService.BulkUpdatePrefixSetEntries, what one stream does to prefix sets: adds and removes in
// stream order (the last operation on a prefix wins), a set's entries keep their order with the new ones after
// them, counts only what changed, and reports each refused item by its index in the stream (invalid prefix,
// wrong family, removing what is not there, an unknown set) while the rest commits as one revision; a stream
// with nothing valid commits nothing.
// Topology: one orbitald (sim data plane); the SDK in this process.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AddressFamily } from "../../src/gen/orbital/api/v1/ip_pb.js";
import { ConfigService } from "../../src/gen/orbital/config/v1/config_pb.js";
import { FirewallService } from "../../src/gen/orbital/firewall/v1/firewall_pb.js";
import { startDaemon, type RunningDaemon } from "../support/daemon.js";

let d: RunningDaemon;
beforeAll(async () => {
  d = await startDaemon();
});
afterAll(() => d.cleanup());

type Batch = { prefixSet: string; adds?: string[]; removes?: string[] };
async function* stream(batches: Batch[]) {
  for (const b of batches) yield { prefixSet: b.prefixSet, adds: (b.adds ?? []).map((cidr) => ({ cidr })), removes: (b.removes ?? []).map((cidr) => ({ cidr })) };
}
const prefixesOf = async (name: string) => (await d.api(FirewallService).getPrefixSet({ name })).prefixSet!.prefixes.map((p) => p.cidr);
const headRevision = async () => (await d.api(ConfigService).listRevisions({})).revisions[0]!.revision;

describe("bulk prefix-set entries", () => {
  it("adds and removes in stream order, keeps the set's order, counts what changed and names each refused item by its index", async () => {
    const fw = d.api(FirewallService);
    await fw.createPrefixSet({ prefixSet: { name: "bulk4", family: AddressFamily.IPV4, prefixes: [{ cidr: "192.0.2.0/24" }, { cidr: "198.51.100.0/24" }, { cidr: "203.0.113.0/24" }] } });
    const before = await headRevision();
    const res = await fw.bulkUpdatePrefixSetEntries(
      stream([
        // items 0..4
        { prefixSet: "bulk4", adds: ["10.0.0.0/8", "192.0.2.0/24", "10.0.0.1/8", "2001:db8::/32", "10.1.0.0/16"] },
        // items 5..8: removes of a present, an absent, a just-added (then added again below) prefix, and a bad one
        { prefixSet: "bulk4", removes: ["198.51.100.0/24", "100.64.0.0/10", "10.1.0.0/16", "nonsense"] },
        // items 9..10: an unknown set, then the re-add
        { prefixSet: "no-such-set", adds: ["172.16.0.0/12"] },
        { prefixSet: "bulk4", adds: ["10.1.0.0/16"] },
      ]),
    );
    expect(res.added).toBe(2n); // 10.0.0.0/8 and 10.1.0.0/16; 192.0.2.0/24 was there already
    expect(res.removed).toBe(1n); // 198.51.100.0/24
    expect(res.failures.map((f) => [Number(f.index), f.prefixSet, f.cidr, f.reason])).toEqual([
      [2, "bulk4", "10.0.0.1/8", "INVALID_PREFIX"],
      [3, "bulk4", "2001:db8::/32", "INVALID_PREFIX"],
      [6, "bulk4", "100.64.0.0/10", "NOT_FOUND"],
      [8, "bulk4", "nonsense", "INVALID_PREFIX"],
      [9, "no-such-set", "172.16.0.0/12", "NOT_FOUND"],
    ]);
    expect(res.failures[1]!.description).toMatch(/not IPv4/);
    expect(res.revision).toBe(before + 1n);
    expect(await prefixesOf("bulk4")).toEqual(["192.0.2.0/24", "203.0.113.0/24", "10.0.0.0/8", "10.1.0.0/16"]);
  });

  it("an IPv6 set takes IPv6 prefixes, and a stream with nothing valid commits nothing", async () => {
    const fw = d.api(FirewallService);
    await fw.createPrefixSet({ prefixSet: { name: "bulk6", family: AddressFamily.IPV6 } });
    const r6 = await fw.bulkUpdatePrefixSetEntries(stream([{ prefixSet: "bulk6", adds: ["2001:db8::/32", "2001:db8::/32", "192.0.2.0/24"] }]));
    expect([r6.added, r6.failures.map((f) => [Number(f.index), f.reason])]).toEqual([1n, [[2, "INVALID_PREFIX"]]]);
    expect(await prefixesOf("bulk6")).toEqual(["2001:db8::/32"]);
    const before = await headRevision();
    const none = await fw.bulkUpdatePrefixSetEntries(stream([{ prefixSet: "bulk6", adds: ["bad"] }]));
    expect([none.revision, none.added, none.failures.length]).toEqual([0n, 0n, 1]);
    expect(await headRevision()).toBe(before);
  });
});
