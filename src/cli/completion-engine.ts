// Completion from the command table: for the words before the cursor and the word typed, the candidate
// sub-commands, flags, choices or live names (through a lookup); the shell's Tab uses it.
import { globalFlags } from "./command-table.js";
import type { CommandSpec, CompletionSource, FlagSpec } from "./command-types.js";

/** Candidates from a source the table cannot know (daemon names, files), for the word typed so far. */
export type NameLookup = (source: CompletionSource, current: string) => Promise<string[]>;

function findFlag(flags: readonly FlagSpec[], word: string): FlagSpec | undefined {
  return word.startsWith("--") ? flags.find((f) => f.name === word.slice(2)) : flags.find((f) => f.short !== undefined && `-${f.short}` === word);
}

/** Where the words before the cursor leave us: the command reached, a flag awaiting its value, arguments seen. */
export function position(root: CommandSpec, words: readonly string[]): { spec: CommandSpec; pendingFlag?: FlagSpec; positional: number } | undefined {
  let spec = root;
  let positional = 0;
  let pendingFlag: FlagSpec | undefined;
  for (const w of words) {
    if (pendingFlag) {
      pendingFlag = undefined;
      continue;
    }
    if (w.startsWith("-") && w !== "-") {
      if (w.includes("=")) continue;
      const f = findFlag([...(spec.flags ?? []), ...globalFlags], w);
      if (f?.value !== undefined) pendingFlag = f;
      continue;
    }
    if (spec.children && positional === 0) {
      const child = spec.children.find((c) => c.name === w);
      if (!child) return undefined;
      spec = child;
      continue;
    }
    positional++;
  }
  return pendingFlag ? { spec, pendingFlag, positional } : { spec, positional };
}

export async function complete(root: CommandSpec, words: readonly string[], current: string, lookup: NameLookup): Promise<string[]> {
  const at = position(root, words);
  if (!at) return [];
  let candidates: string[] = [];
  const source = async (choices: readonly string[] | undefined, src: CompletionSource | undefined) =>
    choices ? [...choices] : src ? await lookup(src, current) : [];
  if (at.pendingFlag) candidates = await source(at.pendingFlag.choices, at.pendingFlag.complete);
  else if (current.startsWith("-")) {
    candidates = [...(at.spec.flags ?? []), ...globalFlags].map((f) => `--${f.name}`);
  } else if (at.spec.children) {
    candidates = at.spec.children.filter((c) => !c.hidden).map((c) => c.name);
  } else {
    const args = at.spec.args ?? [];
    const arg = args[at.positional] ?? (args[args.length - 1]?.variadic ? args[args.length - 1] : undefined);
    if (arg) candidates = await source(arg.choices, arg.complete);
  }
  return [...new Set(candidates.filter((c) => c.startsWith(current)))].sort();
}
