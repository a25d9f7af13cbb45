import { describe, expect, it } from "vitest";
import { compareVersions } from "./version-order.js";

describe("compareVersions", () => {
  it.each([
    ["1.2.0", "1.3.0", -1],
    ["1.10.0", "1.9.0", 1],
    ["1.2", "1.2.0", 0],
    ["1.2.0", "1.2.0.1", -1],
    ["2.0.0-rc1", "2.0.0", -1],
    ["2.0.0-rc.2", "2.0.0-rc.10", -1],
    ["2.0.0-rc", "2.0.0-rc.1", -1],
    ["1.2.0+build5", "1.2.0+build9", 0],
    ["0.1.0", "0.0.9", 1],
  ])("%s vs %s is %i", (a, b, want) => {
    expect(Math.sign(compareVersions(a, b))).toBe(want);
    expect(Math.sign(compareVersions(b, a))).toBe(-want || 0);
  });
});
