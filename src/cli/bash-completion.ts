// Generates the bash completion script from the command table (commands, flags, choices baked in); names
// only the daemon knows come from `orbctl __complete SOURCE` when Tab is pressed.
import { commandTable, globalFlags } from "./command-table.js";
import type { CommandSpec, CompletionSource, FlagSpec } from "./command-types.js";

interface Node {
  path: string;
  spec: CommandSpec;
}

function walk(spec: CommandSpec, path: string[], out: Node[]): void {
  out.push({ path: path.join(" "), spec });
  for (const c of spec.children ?? []) if (!c.hidden) walk(c, [...path, c.name], out);
}

/** What completes a value: a word list, "@files", or "@<source>" for live names. */
function words(choices: readonly string[] | undefined, source: CompletionSource | undefined): string | undefined {
  if (choices) return choices.join(" ");
  if (source) return `@${source}`;
  return undefined;
}

const q = (s: string) => `"${s.replace(/(["\\$`])/g, "\\$1")}"`;

function flagNames(flags: readonly FlagSpec[]): string[] {
  return flags.flatMap((f) => [`--${f.name}`, ...(f.short ? [`-${f.short}`] : [])]);
}

function caseFunction(name: string, comment: string, arms: [string, string][], argNames = '"$1"'): string {
  const body = arms.map(([pattern, value]) => `    ${pattern}) echo ${q(value)} ;;`).join("\n");
  return `# ${comment}\n${name}() {\n  case ${argNames} in\n${body}\n  esac\n}\n`;
}

export function bashCompletionScript(): string {
  const nodes: Node[] = [];
  walk(commandTable, [], nodes);
  const children: [string, string][] = [];
  const flags: [string, string][] = [];
  const valueFlags: [string, string][] = [];
  const flagValues: [string, string][] = [];
  const args: [string, string][] = [];
  for (const { path, spec } of nodes) {
    const kids = (spec.children ?? []).filter((c) => !c.hidden).map((c) => c.name);
    if (kids.length) children.push([q(path), kids.join(" ")]);
    const own = spec.flags ?? [];
    if (own.length) {
      flags.push([q(path), own.map((f) => `--${f.name}`).join(" ")]);
      const withValue = own.filter((f) => f.value !== undefined);
      if (withValue.length) valueFlags.push([q(path), flagNames(withValue).join(" ")]);
      for (const f of withValue) {
        const w = words(f.choices, f.complete);
        if (w) flagValues.push([flagNames([f]).map((n) => q(`${path} ${n}`)).join("|"), w]);
      }
    }
    const specArgs = spec.args ?? [];
    specArgs.forEach((a, i) => {
      const w = words(a.choices, a.complete);
      if (w) args.push([a.variadic ? `${q(`${path} `)}*` : q(`${path} ${i}`), w]);
    });
  }
  // Global flags' values complete the same on every command.
  for (const f of globalFlags.filter((g) => g.value !== undefined)) {
    const w = words(f.choices, f.complete);
    if (w) flagValues.push([flagNames([f]).map((n) => `*${q(` ${n}`)}`).join("|"), w]);
  }
  const globalValue = flagNames(globalFlags.filter((f) => f.value !== undefined)).join(" ");
  const globalAll = globalFlags.map((f) => `--${f.name}`).join(" ");

  return `# bash completion for orbctl. Generated from orbctl's command table by \`orbctl completion bash\`;
# do not edit. Install: orbctl completion bash > /etc/bash_completion.d/orbctl

${caseFunction("_orbctl_children", "sub-commands of a command path", children)}
${caseFunction("_orbctl_flags", "flags of a command path (global flags come on top)", flags)}
${caseFunction("_orbctl_value_flags", "flags of a command path that take a value", valueFlags)}
${caseFunction("_orbctl_flag_values", 'values of "<path> <flag>": words, @files, or @<source> (live names)', flagValues, '"$1 $2"')}
${caseFunction("_orbctl_arg", 'values of positional argument "<path> <index>"', args, '"$1 $2"')}
_orbctl() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" path="" npos=0 expect="" socket="" w i kids words
  for ((i = 1; i < COMP_CWORD; i++)); do
    w="\${COMP_WORDS[i]}"
    if [[ -n "$expect" ]]; then
      [[ "$expect" == "--socket" ]] && socket="$w"
      expect=""
      continue
    fi
    if [[ "$w" == -?* ]]; then
      [[ "$w" == *=* ]] && continue
      if [[ " ${globalValue} $(_orbctl_value_flags "$path") " == *" $w "* ]]; then expect="$w"; fi
      continue
    fi
    kids="$(_orbctl_children "$path")"
    if [[ $npos -eq 0 && -n "$kids" ]]; then
      [[ " $kids " == *" $w "* ]] || return 0
      path="\${path:+$path }$w"
      continue
    fi
    npos=$((npos + 1))
  done
  if [[ -n "$expect" ]]; then
    words="$(_orbctl_flag_values "$path" "$expect")"
  elif [[ "$cur" == -* ]]; then
    words="$(_orbctl_flags "$path") ${globalAll}"
  else
    words="$(_orbctl_children "$path")"
    [[ -z "$words" ]] && words="$(_orbctl_arg "$path" "$npos")"
  fi
  case "$words" in
    @files)
      compopt -o filenames 2>/dev/null
      COMPREPLY=($(compgen -f -- "$cur"))
      return 0
      ;;
    @*) words="$("\${COMP_WORDS[0]}" \${socket:+--socket "$socket"} __complete "\${words#@}" 2>/dev/null)" ;;
  esac
  COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -F _orbctl orbctl
`;
}
