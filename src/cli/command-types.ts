// The shape of the command table (src/cli/command-table.ts): commands, their arguments, flags, help and
// examples, as plain data read by the parser, the help, the shell's completion and the bash completion script.

/** Where completion finds candidates that only the daemon (or the file system) knows. */
export type CompletionSource =
  | "users"
  | "roles"
  | "tokens"
  | "interfaces"
  | "revisions"
  | "rules"
  | "prefix-sets"
  | "capabilities"
  | "methods"
  | "files";

/** How a flag or argument value is parsed before a handler sees it. */
export type ValueType = "string" | "int" | "duration";

export interface FlagSpec {
  /** Long name without dashes: "mtu" is given as --mtu. */
  readonly name: string;
  /** One-letter alias: "m" is given as -m. */
  readonly short?: string;
  /** Placeholder of the value in help ("N", "CIDR"); a flag without one is a boolean switch. */
  readonly value?: string;
  readonly type?: ValueType;
  /** May be given more than once; the handler gets every value in order. */
  readonly repeat?: boolean;
  /** The only values accepted (checked by the parser, offered by completion). */
  readonly choices?: readonly string[];
  readonly complete?: CompletionSource;
  /** One line; validation rules quote the proto field comments. */
  readonly help: string;
}

export interface ArgSpec {
  /** Upper-case placeholder shown in usage lines ("NAME", "CIDR"). */
  readonly name: string;
  readonly help: string;
  readonly optional?: boolean;
  /** Takes every remaining positional word (last argument only). */
  readonly variadic?: boolean;
  readonly type?: ValueType;
  readonly choices?: readonly string[];
  readonly complete?: CompletionSource;
}

/** A handler: "<module>.<export>" of src/cli/handler-registry.ts, e.g. "user.add". */
export type HandlerRef = `${string}.${string}`;

export interface CommandSpec {
  /** The word typed: kebab-case. */
  readonly name: string;
  /** One line for command lists. */
  readonly summary: string;
  /** Longer help shown by --help, wrapped to the terminal width. */
  readonly description?: string;
  readonly args?: readonly ArgSpec[];
  readonly flags?: readonly FlagSpec[];
  /** Example command lines; "  # text" after a command is a comment shown beside it. */
  readonly examples?: readonly string[];
  /** Sub-commands: a command has either children or a handler. */
  readonly children?: readonly CommandSpec[];
  readonly handler?: HandlerRef;
  /** Stages into the open transaction (transaction_id) unless --no-transaction is given. */
  readonly mutation?: boolean;
  /** Runs without a daemon connection (help, completion). */
  readonly local?: boolean;
  /** Left out of help and completion (internal helpers). */
  readonly hidden?: boolean;
}

/** A help topic that is not a command (`orbctl help exit-codes`). */
export interface HelpTopic {
  readonly name: string;
  readonly summary: string;
}
