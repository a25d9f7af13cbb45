// Parses a command line against the command table: finds the command, checks and converts its arguments and
// flags (global flags may appear anywhere), and hands the handler an Invocation. Mistakes are UsageErrors.
import { globalFlags } from "./command-table.js";
import type { ArgSpec, CommandSpec, FlagSpec, ValueType } from "./command-types.js";
import { UsageError } from "./cli-error.js";
import { parseDuration } from "./duration.js";
import { usageLine } from "./help-text.js";

export type OutputFormat = "table" | "json" | "yaml";

export interface GlobalOptions {
  socket?: string;
  deadlineMs?: number;
  output: OutputFormat;
  noTransaction: boolean;
  help: boolean;
  version: boolean;
}

type Value = string | number;

/** A parsed command line: the command found, its arguments and flags by name, and the global options. */
export class Invocation {
  constructor(
    /** Command words, e.g. ["firewall", "rule", "add"]. */
    readonly path: readonly string[],
    readonly spec: CommandSpec,
    private readonly argValues: ReadonlyMap<string, Value | Value[]>,
    private readonly flagValues: ReadonlyMap<string, Value | Value[] | true>,
    readonly global: GlobalOptions,
  ) {}

  /** The command as typed, e.g. "firewall rule add". */
  get command(): string {
    return this.path.join(" ");
  }

  has(flag: string): boolean {
    return this.flagValues.has(flag);
  }

  bool(flag: string): boolean {
    return this.flagValues.get(flag) === true;
  }

  str(flag: string): string | undefined {
    const v = this.flagValues.get(flag);
    return v === undefined || v === true ? undefined : String(Array.isArray(v) ? v[v.length - 1] : v);
  }

  int(flag: string): number | undefined {
    const v = this.flagValues.get(flag);
    return typeof v === "number" ? v : undefined;
  }

  /** Every value of a repeatable flag (empty when not given). */
  list(flag: string): string[] {
    const v = this.flagValues.get(flag);
    if (v === undefined || v === true) return [];
    return (Array.isArray(v) ? v : [v]).map(String);
  }

  arg(name: string): string | undefined {
    const v = this.argValues.get(name);
    return v === undefined ? undefined : String(Array.isArray(v) ? v[0] : v);
  }

  argInt(name: string): number | undefined {
    const v = this.argValues.get(name);
    return typeof v === "number" ? v : undefined;
  }

  args(name: string): string[] {
    const v = this.argValues.get(name);
    return v === undefined ? [] : (Array.isArray(v) ? v : [v]).map(String);
  }
}

function convert(value: string, type: ValueType | undefined, choices: readonly string[] | undefined, what: string, usage: string): Value {
  if (choices && !choices.includes(value)) throw new UsageError(`${what}: "${value}" is not one of ${choices.join(", ")}`, usage);
  switch (type) {
    case "int": {
      if (!/^-?\d+$/.test(value) || !Number.isSafeInteger(Number(value))) throw new UsageError(`${what}: "${value}" is not a whole number`, usage);
      return Number(value);
    }
    case "duration": {
      const ms = parseDuration(value);
      if (ms === undefined) throw new UsageError(`${what}: "${value}" is not a duration (e.g. 500ms, 30s, 5m, 1h30m, 7d)`, usage);
      return ms;
    }
    default:
      return value;
  }
}

/** Edit distance counting a swap of two neighbours as one edit ("shwo" is one edit from "show"). */
function distance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}

/** " (did you mean x?)" when a known word is close to the one typed. */
export function suggestion(word: string, known: readonly string[]): string {
  const best = known
    .map((k) => ({ k, d: k.startsWith(word) ? 0 : distance(word, k) }))
    .sort((x, y) => x.d - y.d)[0];
  return best && best.d <= Math.max(1, Math.floor(word.length / 3)) ? ` (did you mean "${best.k}"?)` : "";
}

/** The visible sub-commands of a command. */
export function visibleChildren(spec: CommandSpec): CommandSpec[] {
  return (spec.children ?? []).filter((c) => !c.hidden);
}

/** Finds a flag by its long name or one-letter alias among the command's flags and the global ones. */
function findFlag(flags: readonly FlagSpec[], word: string): FlagSpec | undefined {
  if (word.startsWith("--")) return flags.find((f) => f.name === word.slice(2));
  return flags.find((f) => f.short === word.slice(1));
}

/**
 * Parses argv (without the leading "orbctl") against the table rooted at `root`. A command that has children
 * but no more words, or --help anywhere, yields an Invocation of that command with global.help set (the
 * caller shows help instead of running it).
 */
export function parseCommandLine(root: CommandSpec, argv: readonly string[]): Invocation {
  const global: GlobalOptions = { output: "table", noTransaction: false, help: false, version: false };
  const path: string[] = [];
  let spec = root;
  const positional: string[] = [];
  const flagValues = new Map<string, Value | Value[] | true>();
  let onlyPositional = false;

  const usage = () => usageLine(path, spec);
  const setFlag = (flag: FlagSpec, raw: string | undefined, isGlobal: boolean) => {
    const what = `--${flag.name}`;
    if (flag.value === undefined) {
      if (raw !== undefined) throw new UsageError(`${what} takes no value`, usage());
      if (isGlobal) {
        if (flag.name === "help") global.help = true;
        else if (flag.name === "version") global.version = true;
        else if (flag.name === "no-transaction") global.noTransaction = true;
      } else flagValues.set(flag.name, true);
      return;
    }
    if (raw === undefined) throw new UsageError(`${what} needs a value (${flag.value})`, usage());
    const value = convert(raw, flag.type, flag.choices, what, usage());
    if (isGlobal) {
      if (flag.name === "socket") global.socket = String(value);
      else if (flag.name === "deadline") global.deadlineMs = Number(value);
      else if (flag.name === "output") global.output = value as OutputFormat;
      return;
    }
    const prev = flagValues.get(flag.name);
    if (flag.repeat) flagValues.set(flag.name, [...(Array.isArray(prev) ? prev : []), value]);
    else if (prev !== undefined) throw new UsageError(`${what} is given twice`, usage());
    else flagValues.set(flag.name, value);
  };

  // --help anywhere (before "--") asks for help, even on a line that would not parse.
  const dashdash = argv.indexOf("--");
  global.help = (dashdash < 0 ? argv : argv.slice(0, dashdash)).some((w) => w === "--help" || w === "-h");

  for (let i = 0; i < argv.length; i++) {
    const word = argv[i]!;
    if (!onlyPositional && word === "--") {
      onlyPositional = true;
      continue;
    }
    if (!onlyPositional && word.startsWith("-") && word !== "-") {
      const eq = word.startsWith("--") ? word.indexOf("=") : -1;
      let name = eq > 0 ? word.slice(0, eq) : word;
      let inline = eq > 0 ? word.slice(eq + 1) : undefined;
      // -ojson: a one-letter flag with its value attached
      if (!word.startsWith("--") && word.length > 2) {
        name = word.slice(0, 2);
        inline = word.slice(2);
      }
      const own = findFlag(spec.flags ?? [], name);
      const flag = own ?? findFlag(globalFlags, name);
      if (!flag) {
        const known = [...(spec.flags ?? []), ...globalFlags].map((f) => `--${f.name}`);
        throw new UsageError(`unknown flag ${name} for "${["orbctl", ...path].join(" ")}"${suggestion(name, known)}`, usage());
      }
      let raw = inline;
      if (flag.value !== undefined && raw === undefined) {
        raw = argv[i + 1];
        if (raw !== undefined) i++;
      }
      setFlag(flag, raw, own === undefined);
      continue;
    }
    // A word: a sub-command while the current command has children, else a positional argument.
    if (spec.children && positional.length === 0) {
      const child = spec.children.find((c) => c.name === word);
      if (!child) {
        if (global.help) break; // "orbctl foo --help" style: show the nearest help
        const what = path.length === 0 ? "command" : `verb for "${path.join(" ")}"`;
        throw new UsageError(`unknown ${what}: "${word}"${suggestion(word, visibleChildren(spec).map((c) => c.name))}`, usage());
      }
      spec = child;
      path.push(word);
      continue;
    }
    positional.push(word);
  }

  if (spec.children) {
    // An incomplete command shows its help.
    return new Invocation(path, spec, new Map(), flagValues, { ...global, help: true });
  }

  const argValues = new Map<string, Value | Value[]>();
  const argSpecs: readonly ArgSpec[] = spec.args ?? [];
  let p = 0;
  for (const a of argSpecs) {
    if (a.variadic) {
      const rest = positional.slice(p).map((w) => convert(w, a.type, a.choices, a.name, usage()));
      p = positional.length;
      if (rest.length === 0 && !a.optional && !global.help) throw new UsageError(`missing ${a.name}`, usage());
      argValues.set(a.name, rest);
      continue;
    }
    const w = positional[p];
    if (w === undefined) {
      if (!a.optional && !global.help) throw new UsageError(`missing ${a.name} (${a.help})`, usage());
      continue;
    }
    argValues.set(a.name, convert(w, a.type, a.choices, a.name, usage()));
    p++;
  }
  if (p < positional.length && !global.help) {
    throw new UsageError(`unexpected argument "${positional[p]}" for "${["orbctl", ...path].join(" ")}"`, usage());
  }
  return new Invocation(path, spec, argValues, flagValues, global);
}
