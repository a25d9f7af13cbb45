// Help rendered from the command table: usage lines, command lists, arguments, flags and examples, for
// `orbctl help`, `--help` at any level, the shell's `help`, and the exit-code topic; wrapped to the width.
import { commandTable, globalFlags, helpTopics } from "./command-table.js";
import type { CommandSpec, FlagSpec } from "./command-types.js";
import { exitCodeTable } from "./exit-codes.js";
import { indentWrap, wrap } from "./text-wrap.js";

/** "orbctl user add NAME [flags]". */
export function usageLine(path: readonly string[], spec: CommandSpec): string {
  const words = ["orbctl", ...path];
  if (spec.children) {
    words.push(path.length === 0 ? "<command>" : path.length === 1 && spec.children.some((c) => c.children) ? "<noun> <verb>" : "<verb>");
  }
  for (const a of spec.args ?? []) {
    const w = a.variadic ? `${a.name}...` : a.name;
    words.push(a.optional ? `[${w}]` : w);
  }
  if ((spec.flags?.length ?? 0) > 0 || path.length === 0) words.push("[flags]");
  return words.join(" ");
}

export function flagLabel(f: FlagSpec): string {
  const long = `--${f.name}${f.value ? ` ${f.value}` : ""}`;
  return f.short ? `-${f.short}, ${long}` : `    ${long}`;
}

/** Two columns: a label and its wrapped description; labels wider than the column get their own line. */
function columns(rows: readonly [string, string][], width: number): string {
  const labelWidth = Math.min(26, Math.max(0, ...rows.map(([l]) => l.length)));
  const out: string[] = [];
  for (const [label, text] of rows) {
    const descWidth = Math.max(20, width - labelWidth - 4);
    const lines = wrap(text, descWidth);
    if (label.length > labelWidth) {
      out.push(`  ${label}`);
      for (const l of lines) out.push(`${" ".repeat(labelWidth + 4)}${l}`);
    } else {
      out.push(`  ${label.padEnd(labelWidth)}  ${lines[0] ?? ""}`.trimEnd());
      for (const l of lines.slice(1)) out.push(`${" ".repeat(labelWidth + 4)}${l}`);
    }
  }
  return out.join("\n");
}

function examples(list: readonly string[], width: number): string {
  return list.map((e) => indentWrap(e, width, 6, 2)).join("\n");
}

/** Help for any command of the table (the root, a noun or a verb). */
export function commandHelp(path: readonly string[], spec: CommandSpec, width: number): string {
  const parts: string[] = [];
  const isRoot = path.length === 0;
  parts.push(`Usage: ${usageLine(path, spec)}`);
  parts.push(wrap(isRoot ? `orbctl - ${spec.summary}` : spec.summary, width).join("\n"));
  if (spec.description) parts.push(wrap(spec.description, width).join("\n"));
  const children = (spec.children ?? []).filter((c) => !c.hidden);
  if (children.length > 0) {
    parts.push(`${isRoot ? "Commands" : "Verbs"}:\n${columns(children.map((c) => [c.name, c.summary]), width)}`);
  }
  if (spec.args?.length) parts.push(`Arguments:\n${columns(spec.args.map((a) => [a.variadic ? `${a.name}...` : a.name, a.help + (a.choices ? ` (${a.choices.join(", ")})` : "")]), width)}`);
  if (spec.flags?.length) parts.push(`Flags:\n${columns(spec.flags.map((f) => [flagLabel(f), f.help + (f.choices && !f.value?.includes("|") ? ` (${f.choices.join(", ")})` : "")]), width)}`);
  if (isRoot) {
    parts.push(`Global flags (any command):\n${columns(globalFlags.map((f) => [flagLabel(f), f.help]), width)}`);
    parts.push(`Help topics:\n${columns(helpTopics.map((t) => [t.name, t.summary]), width)}`);
  }
  // A noun shows its own examples, or else the first example of each verb.
  const ex = spec.examples ?? children.flatMap((c) => c.examples?.slice(0, 1) ?? c.children?.flatMap((g) => g.examples?.slice(0, 1) ?? []) ?? []);
  if (ex.length > 0) parts.push(`Examples:\n${examples(ex, width)}`);
  if (!isRoot) {
    parts.push(wrap(`Global flags: ${globalFlags.map((f) => (f.short ? `-${f.short}` : `--${f.name}`) + (f.value ? ` ${f.value}` : "")).join(", ")}. See \`orbctl help\`.`, width).join("\n"));
  } else {
    parts.push(wrap("Run `orbctl <command> --help` for the verbs of a command, `orbctl <command> <verb> --help` for its flags and examples.", width).join("\n"));
  }
  return `${parts.join("\n\n")}\n`;
}

export function exitCodesHelp(width: number): string {
  const rows = exitCodeTable.map((e): [string, string] => [`${e.code}  ${e.name}`, e.meaning]);
  return `Exit status of orbctl:\n${columns(rows, width)}\n\n${wrap("The status follows from the gRPC code of the failed call (one mapping, src/cli/exit-codes.ts). Errors go to standard error as one line \"error: <message> [<REASON>] trace=<trace id>\" and one line per invalid field.", width).join("\n")}\n`;
}

/** Help for `orbctl help WORDS...`: a topic, or the command the words name. undefined when they name nothing. */
export function helpFor(words: readonly string[], width: number): string | undefined {
  if (words.length === 1 && words[0] === "exit-codes") return exitCodesHelp(width);
  let spec = commandTable;
  for (const w of words) {
    const child = spec.children?.find((c) => c.name === w);
    if (!child) return undefined;
    spec = child;
  }
  return commandHelp(words, spec, width);
}
