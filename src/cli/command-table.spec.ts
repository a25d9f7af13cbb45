// Proves: the command table is consistent: every command has a handler that exists and help with examples,
// every example is a valid command line, names are kebab-case, flags do not clash, help fits 80 columns, and
// docs/cli.md covers every command and exit status.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parseCommandLine } from "./argv-parser.js";
import { commandTable, globalFlags } from "./command-table.js";
import type { CommandSpec } from "./command-types.js";
import { exitCodeTable } from "./exit-codes.js";
import { loadHandler } from "./handler-registry.js";
import { commandHelp, exitCodesHelp } from "./help-text.js";
import { splitWords } from "./shell-words.js";

function all(spec: CommandSpec, path: string[] = []): { path: string[]; spec: CommandSpec }[] {
  return [{ path, spec }, ...(spec.children ?? []).flatMap((c) => all(c, [...path, c.name]))];
}
const commands = all(commandTable);
const leaves = commands.filter((c) => !c.spec.children);
const visibleLeaves = leaves.filter((c) => !c.spec.hidden);

describe("command table", () => {
  it("gives every command a handler that exists, and nothing else has one", async () => {
    for (const { path, spec } of commands) {
      if (spec.children) expect(spec.handler, path.join(" ")).toBeUndefined();
      else expect(typeof (await loadHandler(spec.handler!)), path.join(" ")).toBe("function");
    }
  });

  it("has examples for every command, and every example parses", () => {
    for (const { path, spec } of visibleLeaves) {
      expect(spec.examples?.length ?? 0, path.join(" ")).toBeGreaterThan(0);
      for (const example of spec.examples!) {
        const lines = [...example.matchAll(/orbctl ([^|&>)]*)/g)].map((m) => m[1]!.trim());
        expect(lines.length, example).toBeGreaterThan(0);
        for (const line of lines) {
          const inv = parseCommandLine(commandTable, splitWords(line));
          expect(inv.global.help, example).toBe(false);
        }
      }
    }
  });

  it("uses kebab-case names and flags that do not clash", () => {
    const globals = new Set(globalFlags.flatMap((f) => [f.name, f.short]));
    for (const { path, spec } of commands) {
      if (path.length) expect(spec.name, path.join(" ")).toMatch(/^(__)?[a-z][a-z0-9]*(-[a-z0-9]+)*$/);
      const names = (spec.flags ?? []).flatMap((f) => [f.name, ...(f.short ? [f.short] : [])]);
      expect(new Set(names).size, path.join(" ")).toBe(names.length);
      for (const n of names) expect(globals.has(n), `${path.join(" ")} --${n}`).toBe(false);
      const kids = (spec.children ?? []).map((c) => c.name);
      expect(new Set(kids).size).toBe(kids.length);
      const variadic = (spec.args ?? []).findIndex((a) => a.variadic);
      if (variadic >= 0) expect(variadic).toBe(spec.args!.length - 1);
    }
  });

  it("renders help within 80 columns for every command", () => {
    for (const { path, spec } of commands) {
      for (const line of commandHelp(path, spec, 80).split("\n")) expect(line.length, `${path.join(" ")}: ${line}`).toBeLessThanOrEqual(80);
    }
    for (const line of exitCodesHelp(80).split("\n")) expect(line.length).toBeLessThanOrEqual(80);
  });

  it("is documented in docs/cli.md: every command and every exit status", () => {
    const doc = readFileSync(new URL("../../docs/cli.md", import.meta.url), "utf8");
    for (const { path } of visibleLeaves) expect(doc, path.join(" ")).toContain(path.join(" "));
    for (const e of exitCodeTable) expect(doc).toMatch(new RegExp(`\\| ${e.code} \\| ${e.name} \\|`));
  });
});
