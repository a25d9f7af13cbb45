// What a command handler gets besides its Invocation: typed clients on the session's connection, the output,
// stderr, the open transaction, call options (deadline, the shell's Ctrl-C) and the process environment.
import type { DescService } from "@bufbuild/protobuf";
import type { CallOptions, Client } from "../client/client.js";
import type { Transport } from "../client/transport.js";
import type { Invocation } from "./argv-parser.js";
import type { Output } from "./output.js";
import type { TerminalInfo } from "./terminal.js";
import type { TransactionState } from "./transaction-state.js";

export interface Writer {
  write(text: string): unknown;
  isTTY?: boolean;
}

export interface CommandContext {
  client<S extends DescService>(service: S): Client<S>;
  /** The SDK transport under the clients (for callJson). */
  transport(): Transport;
  /** Waits for the connection (long-running calls that run without a deadline); throws if unreachable. */
  waitConnected(): Promise<void>;
  readonly out: Output;
  readonly stderr: Writer;
  readonly stderrTerm: TerminalInfo;
  readonly tx: TransactionState;
  readonly socketPath: string;
  /** Options for every call: the --deadline override and the shell's Ctrl-C signal. */
  readonly call: CallOptions;
  readonly env: NodeJS.ProcessEnv;
  readonly stdin: NodeJS.ReadableStream;
  readonly inShell: boolean;
}

/** A handler runs one command; it returns its exit code, or nothing for success. */
export type Handler = (ctx: CommandContext, inv: Invocation) => Promise<number | void>;
