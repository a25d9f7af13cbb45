import { describe, expect, it } from "vitest";
import { parseAddress, parseInterfaceAddress, parsePrefix, prefixContains } from "./ip.js";

describe("IP parsing", () => {
  it("canonicalizes addresses", () => {
    expect(parseAddress("192.0.2.1")).toMatchObject({ family: 4, address: "192.0.2.1" });
    expect(parseAddress("2001:DB8:0:0:0:0:0:1")).toMatchObject({ family: 6, address: "2001:db8::1" });
    expect(parseAddress("::")?.address).toBe("::");
  });

  it.each(["", "1.2.3", "256.1.1.1", "01.2.3.4", "fe80::1%eth0", "::ffff:1.2.3.4", "10.0.0.0/8", "host"])("refuses address %j", (a) => {
    expect(parseAddress(a)).toBeUndefined();
  });

  it("accepts networks and refuses host bits", () => {
    expect(parsePrefix("10.0.0.0/8")).toMatchObject({ cidr: "10.0.0.0/8", family: 4, prefixLength: 8 });
    expect(parsePrefix("0.0.0.0/0")).toMatchObject({ cidr: "0.0.0.0/0" });
    expect(parsePrefix("2001:db8::/32")).toMatchObject({ family: 6, prefixLength: 32 });
    expect(parsePrefix("10.0.0.1/8")).toMatch(/host bits/);
    expect(parsePrefix("10.0.0.0/33")).toMatch(/not "<address>\/<length>"/);
    expect(parsePrefix("2001:db8::/129")).toMatch(/not/);
    expect(parsePrefix("10.0.0.0")).toMatch(/not/);
    expect(parsePrefix("10.0.0.0/08x")).toMatch(/not/);
  });

  it("accepts interface addresses with host bits, not length 0", () => {
    expect(parseInterfaceAddress("192.0.2.1/24")).toMatchObject({ cidr: "192.0.2.1/24" });
    expect(parseInterfaceAddress("192.0.2.1/0")).toMatch(/not/);
  });

  it("tests containment", () => {
    const p = parsePrefix("10.1.0.0/16");
    if (typeof p === "string") throw new Error(p);
    expect(prefixContains(p, parseAddress("10.1.200.3")!)).toBe(true);
    expect(prefixContains(p, parseAddress("10.2.0.1")!)).toBe(false);
    expect(prefixContains(p, parseAddress("::1")!)).toBe(false);
  });
});
