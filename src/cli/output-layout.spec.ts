// Proves: tables align and shrink to the width with "...", key/value lists wrap long values, YAML quotes
// only what it must, durations parse and print, and the terminal check turns colour off for TERM=dumb,
// NO_COLOR and pipes.
import { describe, expect, it } from "vitest";
import { formatDuration, parseDuration } from "./duration.js";
import { renderFields, renderTable } from "./table-layout.js";
import { styleFor, terminalInfo } from "./terminal.js";
import { toYaml } from "./yaml-text.js";

describe("layout", () => {
  it("aligns table columns and shrinks the widest to fit", () => {
    expect(renderTable(["name", "role"], [["alice", "operator"], ["bob", "viewer"]], 80)).toEqual(["NAME   ROLE", "alice  operator", "bob    viewer"]);
    const lines = renderTable(["id", "description"], [["1", "x".repeat(100)]], 40);
    expect(lines[1]).toBe(`1   ${"x".repeat(33)}...`);
    for (const l of lines) expect(l.length).toBeLessThanOrEqual(40);
  });

  it("wraps long values of key/value lists under the value column", () => {
    expect(renderFields([["capabilities", "a.read, b.write, c.read"], ["role", "admin"]], 30)).toEqual([
      "capabilities:  a.read, b.write,",
      "               c.read",
      "role:          admin",
    ]);
  });

  it("writes YAML that reads back as the same values", () => {
    expect(toYaml({ name: "alice", uid: 1001, tags: ["a", "true"], empty: "", nested: { on: "yes" }, none: [] })).toBe(
      'name: alice\nuid: 1001\ntags:\n- a\n- "true"\nempty: ""\nnested:\n  "on": "yes"\nnone: []\n',
    );
    expect(toYaml({ text: "line 1\nline 2\n" })).toBe("text: |\n  line 1\n  line 2\n");
  });

  it("parses and prints durations", () => {
    expect(parseDuration("1h30m")).toBe(5_400_000);
    expect(parseDuration("500ms")).toBe(500);
    expect(parseDuration("90")).toBe(90_000);
    expect(parseDuration("5 minutes")).toBeUndefined();
    expect(formatDuration(93_784_000)).toBe("1d 2h");
    expect(formatDuration(250)).toBe("250ms");
  });

  it("uses colour only on a capable terminal", () => {
    const tty = { isTTY: true };
    expect(terminalInfo(tty, { TERM: "xterm" }).fancy).toBe(true);
    expect(terminalInfo(tty, { TERM: "dumb" }).fancy).toBe(false);
    expect(terminalInfo(tty, { TERM: "xterm", NO_COLOR: "1" }).fancy).toBe(false);
    expect(terminalInfo({ isTTY: false }, { TERM: "xterm" }).fancy).toBe(false);
    expect(terminalInfo(tty, { TERM: "xterm", COLUMNS: "132" }).width).toBe(132);
    expect(styleFor(terminalInfo(tty, { TERM: "dumb" })).red("x")).toBe("x");
  });
});

describe("errors on a terminal", () => {
  it("fold into the width with the trace id on its own line", async () => {
    const { foldErrorLines } = await import("./error-report.js");
    const trace = "0123456789abcdef0123456789abcdef";
    expect(foldErrorLines([`error: user "nobody" does not exist [NOT_FOUND] trace=${trace}`, "  user.name: short"], 80)).toEqual([
      'error: user "nobody" does not exist [NOT_FOUND]',
      `  trace=${trace}`,
      "  user.name: short",
    ]);
    expect(foldErrorLines(["error: short [X]"], 80)).toEqual(["error: short [X]"]);
  });
});
