// Proves: route file lines parse into routes (type, destination, via, dev, metric, table), `ip route show`
// output is accepted, comments and blank lines are skipped, and mistakes come back as error texts.
import { describe, expect, it } from "vitest";
import { parseRouteLine } from "./route-file.js";

describe("route file lines", () => {
  it("parses every part of a route", () => {
    expect(parseRouteLine("10.0.0.0/8 via 192.0.2.1 dev eth0 metric 10 table 100")).toEqual({
      route: { destination: { cidr: "10.0.0.0/8" }, gateway: { address: "192.0.2.1" }, interface: "eth0", metric: 10, table: 100 },
    });
    expect(parseRouteLine("prohibit 2001:db8::/32  # lab")).toEqual({ route: { destination: { cidr: "2001:db8::/32" }, type: 4 } });
  });

  it("accepts ip route show output", () => {
    expect(parseRouteLine("default via 192.0.2.254 dev eth0 proto static metric 100 onlink")).toEqual({
      route: { destination: { cidr: "0.0.0.0/0" }, gateway: { address: "192.0.2.254" }, interface: "eth0", metric: 100 },
    });
    expect(parseRouteLine("default via fe80::1 dev eth0")).toMatchObject({ route: { destination: { cidr: "::/0" } } });
    expect(parseRouteLine("192.0.2.7 dev eth1 scope link src 192.0.2.1")).toEqual({ route: { destination: { cidr: "192.0.2.7/32" }, interface: "eth1" } });
    expect(parseRouteLine("2001:db8::7 dev eth1")).toEqual({ route: { destination: { cidr: "2001:db8::7/128" }, interface: "eth1" } });
  });

  it("skips blank and comment lines", () => {
    expect(parseRouteLine("")).toBeUndefined();
    expect(parseRouteLine("   # nothing")).toBeUndefined();
  });

  it("explains what is wrong", () => {
    expect(parseRouteLine("10.0.0.0/8 via")).toEqual({ error: '"via" needs a value' });
    expect(parseRouteLine("10.0.0.0/8 metric -1")).toEqual({ error: '"metric" needs a number 0..4294967295' });
    expect(parseRouteLine("10.0.0.0/8 gw 1.2.3.4")).toEqual({ error: 'unknown word "gw"' });
    expect(parseRouteLine("blackhole")).toEqual({ error: "missing destination prefix" });
    // Not an address: left for the daemon to refuse as it was written.
    expect(parseRouteLine("bogus dev eth0")).toEqual({ route: { destination: { cidr: "bogus" }, interface: "eth0" } });
  });
});
