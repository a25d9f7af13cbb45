// What the XDP tries hold for a configuration: the contract of fast-path-lists.ts.
import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { AddressFamily } from "../../../gen/orbital/api/v1/ip_pb.js";
import { ConfigurationSchema } from "../../../gen/orbital/config/v1/configuration_pb.js";
import { FastPathAction } from "../../../gen/orbital/firewall/v1/firewall_pb.js";
import { encodeLists, interfaceLists, KEY_SIZE, VERDICT_ALLOW, VERDICT_DROP, type EncodedList } from "./fast-path-lists.js";

/** The entries of an encoded list as "prefix verdict" text. */
function entries(list: EncodedList): string[] {
  const size = KEY_SIZE[list.family];
  const out: string[] = [];
  for (let i = 0; i < list.count; i++) {
    const length = list.keys.readUInt32LE(i * size);
    const addr = list.keys.subarray(i * size + 4, (i + 1) * size);
    const text = list.family === 4 ? [...addr].join(".") : [...Array(8).keys()].map((w) => addr.readUInt16BE(w * 2).toString(16)).join(":");
    out.push(`${text}/${length} ${list.verdicts[i] === VERDICT_DROP ? "drop" : list.verdicts[i] === VERDICT_ALLOW ? "allow" : "?"}`);
  }
  return out.sort();
}

describe("fast-path lists", () => {
  it("keep every allow prefix and leave out the drop prefixes an allow prefix covers (allow wins whatever the lengths)", () => {
    const { v4 } = encodeLists(["10.0.0.0/8", "192.0.2.0/24", "192.0.2.128/25", "198.51.100.7/32"], ["10.1.0.0/16", "192.0.2.0/24", "198.51.100.0/24"]);
    expect(entries(v4)).toEqual(["10.0.0.0/8 drop", "10.1.0.0/16 allow", "192.0.2.0/24 allow", "198.51.100.0/24 allow"]);
  });

  it("split the families and merge duplicates", () => {
    const { v4, v6 } = encodeLists(["2001:db8::/32", "192.0.2.0/24", "192.0.2.0/24"], ["2001:db8:1::/48"]);
    expect(entries(v4)).toEqual(["192.0.2.0/24 drop"]);
    expect(entries(v6)).toEqual(["2001:db8:0:0:0:0:0:0/32 drop", "2001:db8:1:0:0:0:0:0/48 allow"]);
  });

  it("give equal tables equal digests, and different ones different digests", () => {
    const a = encodeLists(["192.0.2.0/24"], []).v4;
    expect(encodeLists(["192.0.2.0/24"], []).v4.digest).toEqual(a.digest);
    expect(encodeLists(["192.0.2.0/25"], []).v4.digest).not.toEqual(a.digest);
    expect(encodeLists(["192.0.2.0/24"], ["192.0.2.0/24"]).v4.digest).not.toEqual(a.digest);
  });

  it("merge the lists of each interface from every set attached to it, in set name order", () => {
    const config = create(ConfigurationSchema, {
      prefixSets: [
        { name: "bogons", family: AddressFamily.IPV4, prefixes: [{ cidr: "240.0.0.0/4" }] },
        { name: "blocked", family: AddressFamily.IPV6, prefixes: [{ cidr: "2001:db8::/32" }] },
        { name: "partners", family: AddressFamily.IPV4, prefixes: [{ cidr: "240.1.0.0/16" }] },
      ],
      fastPathLists: [
        { prefixSet: "partners", action: FastPathAction.ALLOW, interfaces: ["eth0"] },
        { prefixSet: "bogons", action: FastPathAction.DROP, interfaces: ["eth0", "eth1"] },
        { prefixSet: "blocked", action: FastPathAction.DROP, interfaces: ["eth1"] },
      ],
    });
    const lists = interfaceLists(config);
    expect(lists.map((l) => [l.name, l.sets, l.items])).toEqual([
      ["eth0", ["bogons", "partners"], ["fast_path_lists[bogons]", "fast_path_lists[partners]"]],
      ["eth1", ["blocked", "bogons"], ["fast_path_lists[blocked]", "fast_path_lists[bogons]"]],
    ]);
    expect(entries(lists[0]!.v4)).toEqual(["240.0.0.0/4 drop", "240.1.0.0/16 allow"]);
    expect(lists[0]!.v6.count).toBe(0);
    expect(entries(lists[1]!.v6)).toEqual(["2001:db8:0:0:0:0:0:0/32 drop"]);
  });
});
