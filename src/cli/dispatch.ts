// Runs one command line, for the orbctl executable and for each line of the shell alike: parse against the
// table, show help or run the handler on a session, and turn any failure into stderr lines and an exit code.
import { parseCommandLine, type Invocation } from "./argv-parser.js";
import { CliError, UsageError } from "./cli-error.js";
import type { CommandContext, Writer } from "./command-context.js";
import { commandTable } from "./command-table.js";
import { foldErrorLines, isApiError, reportFor } from "./error-report.js";
import { ExitCode } from "./exit-codes.js";
import { loadHandler } from "./handler-registry.js";
import { commandHelp } from "./help-text.js";
import type { Session } from "./session.js";
import { styleFor, terminalInfo } from "./terminal.js";

declare const ORBITAL_BUILD: { version: string; commit: string } | undefined;

export function orbctlVersion(): string {
  const b = typeof ORBITAL_BUILD === "undefined" ? { version: "0.0.0-dev", commit: "unknown" } : ORBITAL_BUILD;
  return `orbctl ${b.version} (${b.commit})`;
}

export interface Runtime {
  readonly env: NodeJS.ProcessEnv;
  readonly stdout: Writer;
  readonly stderr: Writer;
  readonly stdin: NodeJS.ReadableStream;
  /** The shell's persistent session; one-shot commands make their own. */
  readonly session?: Session;
  /** Aborts the running command (the shell's Ctrl-C). */
  readonly signal?: AbortSignal;
  /**
   * The shell on a terminal: fit error lines into this many columns (the trace id moves to its own line)
   * instead of the one-line form that scripts parse.
   */
  readonly errorWidth?: number;
}

function notConnected(): never {
  throw new Error("this command runs without a daemon connection");
}

async function contextFor(rt: Runtime, inv: Invocation, session: Session | undefined): Promise<CommandContext> {
  const [{ Output }, { TransactionState }, protobuf] = await Promise.all([
    import("./output.js"),
    import("./transaction-state.js"),
    session ? import("@bufbuild/protobuf") : undefined,
  ]);
  const term = terminalInfo(rt.stdout, rt.env);
  const socketPath = session?.socketPath ?? inv.global.socket ?? rt.env.ORBITAL_SOCKET ?? "/run/orbital/api.sock";
  return {
    client: session ? (s) => session.client(s) : notConnected,
    transport: session ? () => session.transport() : notConnected,
    waitConnected: session ? () => session.waitConnected(inv.global.deadlineMs, rt.signal) : notConnected,
    out: new Output(inv.global.output, (t) => rt.stdout.write(t), term, styleFor(term), protobuf?.toJson),
    stderr: rt.stderr,
    stderrTerm: terminalInfo(rt.stderr, rt.env),
    tx: new TransactionState(socketPath, rt.env, inv.global.noTransaction),
    socketPath,
    call: { ...(inv.global.deadlineMs !== undefined ? { deadlineMs: inv.global.deadlineMs } : {}), ...(rt.signal ? { signal: rt.signal } : {}) },
    env: rt.env,
    stdin: rt.stdin,
    inShell: rt.session !== undefined,
  };
}

async function run(argv: readonly string[], rt: Runtime): Promise<number> {
  const inv = parseCommandLine(commandTable, argv);
  if (inv.global.version) {
    rt.stdout.write(`${orbctlVersion()}\n`);
    return ExitCode.OK;
  }
  if (inv.global.help || !inv.spec.handler) {
    rt.stdout.write(commandHelp(inv.path, inv.spec, terminalInfo(rt.stdout, rt.env).width));
    return ExitCode.OK;
  }
  if (inv.spec.local) {
    const handler = await loadHandler(inv.spec.handler);
    return (await handler(await contextFor(rt, inv, undefined), inv)) ?? ExitCode.OK;
  }

  if (rt.session && inv.global.socket !== undefined && inv.global.socket !== rt.session.socketPath) {
    throw new UsageError("--socket cannot change inside the shell; start another shell for another socket");
  }
  const { Session, socketPathFrom } = await import("./session.js");
  const session = rt.session ?? new Session(socketPathFrom(inv.global.socket, rt.env), inv.global.deadlineMs);
  // Connect while the command's modules (its service descriptors) load.
  session.connect();
  const handler = await loadHandler(inv.spec.handler);
  const ctx = await contextFor(rt, inv, session);
  try {
    return (await handler(ctx, inv)) ?? ExitCode.OK;
  } catch (err) {
    if (isApiError(err) && err.reason === "TRANSACTION_NOT_FOUND" && !ctx.tx.bypass) {
      const stale = ctx.tx.current();
      if (stale && err.metadata.transactionId === stale) {
        // The remembered transaction ended elsewhere (committed, discarded, expired): forget it.
        ctx.tx.clear();
        throw new CliError(err.message, ExitCode.NOT_FOUND, err.reason, [["note", `transaction ${stale} is gone; orbctl forgot it (start a new one with \`orbctl config begin\`)`]], err.traceId);
      }
    }
    throw await session.explain(err);
  } finally {
    if (!rt.session) session.close();
  }
}

/** Runs one command line and returns its exit code; errors are printed on rt.stderr. */
export async function runCommandLine(argv: readonly string[], rt: Runtime): Promise<number> {
  try {
    return await run(argv, rt);
  } catch (err) {
    const report = reportFor(err);
    const lines = rt.errorWidth ? foldErrorLines(report.lines, rt.errorWidth) : report.lines;
    rt.stderr.write(`${lines.join("\n")}\n`);
    return report.exitCode;
  }
}
