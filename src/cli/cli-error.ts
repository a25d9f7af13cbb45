// Errors orbctl raises itself (as opposed to errors from the daemon): usage mistakes, an unreachable daemon,
// a missing transaction. Each carries its exit code and a reason shown in brackets like an API reason.
import { ExitCode } from "./exit-codes.js";

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode,
    /** Shown as "[REASON]", like the daemon's ErrorInfo reasons. */
    readonly reason: string,
    /** Extra "  key: text" lines printed under the error line. */
    readonly details: readonly [string, string][] = [],
    /** Trace id of the daemon call this error came from, if any. */
    readonly traceId?: string,
  ) {
    super(message);
    this.name = "CliError";
  }
}

/** A command line orbctl cannot run: unknown word, missing argument, bad flag value. Exit status 2. */
export class UsageError extends CliError {
  constructor(message: string, usage?: string) {
    super(message, ExitCode.USAGE, "USAGE", usage ? [["usage", usage]] : []);
    this.name = "UsageError";
  }
}
