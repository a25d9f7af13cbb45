// Turns any failure into its stderr lines ("error: <message> [<REASON>] trace=<id>", then one per field
// violation) and its exit code; on the shell's terminal the lines fold to its width.
import { CliError } from "./cli-error.js";
import { ExitCode, exitCodeForGrpc } from "./exit-codes.js";
import { wrap } from "./text-wrap.js";

/** The fields of the SDK's OrbitalError that orbctl reads (duck-typed, so that this module loads no SDK). */
export interface ApiErrorLike {
  code: number;
  reason: string;
  message: string;
  metadata: Record<string, string>;
  violations: { field: string; description: string }[];
  traceId?: string;
}

export function isApiError(err: unknown): err is ApiErrorLike {
  const e = err as Partial<ApiErrorLike> | null;
  return typeof e === "object" && e !== null && typeof e.code === "number" && typeof e.reason === "string" && Array.isArray(e.violations);
}

export interface ErrorReport {
  lines: string[];
  exitCode: ExitCode;
}

export function reportFor(err: unknown): ErrorReport {
  if (err instanceof CliError) {
    const trace = err.traceId ? ` trace=${err.traceId}` : "";
    return { lines: [`error: ${err.message} [${err.reason}]${trace}`, ...err.details.map(([k, v]) => `  ${k}: ${v}`)], exitCode: err.exitCode };
  }
  if (isApiError(err)) {
    const trace = err.traceId ? ` trace=${err.traceId}` : "";
    return {
      lines: [`error: ${err.message} [${err.reason}]${trace}`, ...err.violations.map((v) => `  ${v.field}: ${v.description}`)],
      exitCode: exitCodeForGrpc(err.code),
    };
  }
  const message = err instanceof Error ? err.message : String(err);
  const lines = [`error: ${message} [INTERNAL]`];
  if (process.env.ORBCTL_DEBUG && err instanceof Error && err.stack) lines.push(err.stack);
  return { lines, exitCode: ExitCode.FAILURE };
}

/** Error lines folded to the width: "trace=" on a line of its own, long texts wrapped and indented. */
export function foldErrorLines(lines: readonly string[], width: number): string[] {
  return lines.flatMap((line) => {
    if (line.length <= width) return [line];
    const at = line.lastIndexOf(" trace=");
    const [head, trace] = at > 0 ? [line.slice(0, at), `  ${line.slice(at + 1)}`] : [line, undefined];
    const indent = head.startsWith("  ") ? "    " : "  ";
    const wrapped = head.length <= width ? [head] : wrap(head.trimStart(), width - indent.length).map((l, i) => (i === 0 ? (head.startsWith("  ") ? `  ${l}` : l) : `${indent}${l}`));
    return trace ? [...wrapped, trace] : wrapped;
  });
}
