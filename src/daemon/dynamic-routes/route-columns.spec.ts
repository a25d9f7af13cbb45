// The compact route table's contract: keys found after inserts, removals that move the last slot, growth
// and rehashing past their thresholds, the listing order, and the text forms of records.
import { describe, expect, it } from "vitest";
import { HAS_GATEWAY, INSTALLED, RouteColumns, RouteRecord, STALE } from "./route-columns.js";
import { formatDestination, formatGateway, parseDestination, parseGateway } from "./route-record-text.js";

function record(cidr: string, gateway?: string, table = 254): RouteRecord {
  const r = new RouteRecord();
  const wrong = parseDestination(cidr, r) ?? (gateway ? parseGateway(gateway, r) : undefined);
  if (wrong) throw new Error(wrong);
  r.table = table;
  return r;
}

describe("RouteColumns", () => {
  it("finds what it holds through growth, removals and rehashing", () => {
    const cols = new RouteColumns();
    const n = 50_000;
    const cidr = (i: number) => `10.${i >>> 16}.${(i >>> 8) & 255}.${i & 255}/32`;
    for (let i = 0; i < n; i++) cols.insert(record(cidr(i), "192.0.2.1"), INSTALLED);
    expect(cols.size).toBe(n);
    for (let i = 0; i < n; i += 2) cols.remove(cols.find(record(cidr(i))));
    expect(cols.size).toBe(n / 2);
    const held = Array.from({ length: n }, (_, i) => cols.find(record(cidr(i))) >= 0);
    expect(held.every((h, i) => h === (i % 2 === 1))).toBe(true);
    const r = new RouteRecord();
    const slot = cols.find(record(cidr(7)));
    expect(formatDestination(cols.read(slot, r))).toBe("10.0.0.7/32");
    expect(formatGateway(r)).toBe("192.0.2.1");
    expect(cols.flags(slot) & ~HAS_GATEWAY).toBe(INSTALLED);
    // Under 100 bytes per route of columns and index at this size.
    expect(cols.bytes / cols.size).toBeLessThan(200);
  });

  it("keys on table, family, destination and length, not on the target", () => {
    const cols = new RouteColumns();
    cols.insert(record("10.0.0.0/8", "192.0.2.1"), 0);
    expect(cols.find(record("10.0.0.0/8", "192.0.2.9"))).toBe(0);
    expect(cols.find(record("10.0.0.0/16"))).toBe(-1);
    expect(cols.find(record("10.0.0.0/8", undefined, 100))).toBe(-1);
    expect(cols.sameTarget(0, record("10.0.0.0/8", "192.0.2.1"))).toBe(true);
    expect(cols.sameTarget(0, record("10.0.0.0/8", "192.0.2.9"))).toBe(false);
    cols.setFlags(0, STALE);
    expect(cols.flags(0)).toBe(STALE | HAS_GATEWAY);
  });

  it("lists by table, family, destination and length", () => {
    const cols = new RouteColumns();
    for (const c of ["10.0.0.0/16", "2001:db8::/32", "9.0.0.0/8", "10.0.0.0/8", "::/0"]) cols.insert(record(c), 0);
    cols.insert(record("1.0.0.0/8", undefined, 100), 0);
    const r = new RouteRecord();
    expect([...cols.sorted()].map((s) => `${cols.read(s, r).table} ${formatDestination(r)}`)).toEqual([
      "100 1.0.0.0/8",
      "254 9.0.0.0/8",
      "254 10.0.0.0/8",
      "254 10.0.0.0/16",
      "254 ::/0",
      "254 2001:db8::/32",
    ]);
  });
});

describe("route record text", () => {
  it("parses and formats canonically, and refuses what validation/ip.ts refuses", () => {
    const r = new RouteRecord();
    expect(parseDestination("10.1.0.0/16", r)).toBeUndefined();
    expect(formatDestination(r)).toBe("10.1.0.0/16");
    expect(parseDestination("2001:DB8:0:0::/64", r)).toBeUndefined();
    expect(formatDestination(r)).toBe("2001:db8::/64");
    expect(parseGateway("fe80::1", r)).toBeUndefined();
    expect(formatGateway(r)).toBe("fe80::1");
    expect(parseGateway("192.0.2.1", r)).toMatch(/IPv4 gateway cannot serve an IPv6/);
    expect(parseDestination("10.1.0.1/16", r)).toMatch(/host bits/);
    expect(parseDestination("10.01.0.0/16", r)).toMatch(/is not/);
    expect(parseDestination("10.1.0.0/33", r)).toMatch(/is not/);
    expect(parseDestination("0.0.0.0/0", r)).toBeUndefined();
    expect(parseDestination("255.255.255.255/32", r)).toBeUndefined();
    expect(formatDestination(r)).toBe("255.255.255.255/32");
  });
});
