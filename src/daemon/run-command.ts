// Runs a helper program the daemon drives (nft, rauc) and collects what it printed, with a deadline after which
// it is killed. Never throws: a program that cannot be started or is killed is a result with code null, whose
// stderr says why ("Error: cannot run ...", "Error: <name> timed out after N ms").
import { spawn } from "node:child_process";

export interface CommandResult {
  /** Exit code; null when the program could not be started or was killed at its deadline. */
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface RunCommandOptions {
  /** A file descriptor to give the program as its stdin; default none. */
  stdin?: number;
  timeoutMs: number;
  /** The name in the timeout message ("nft"); default the command. */
  name?: string;
  /** Sees each line of stdout as it comes (progress output). */
  onStdoutLine?: (line: string) => void;
}

export function runCommand(cmd: string, argv: readonly string[], options: RunCommandOptions): Promise<CommandResult> {
  return new Promise((resolve) => {
    const child = spawn(cmd, argv, { stdio: [options.stdin ?? "ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    let pending = "";
    let settled = false;
    const finish = (r: CommandResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(r);
    };
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      finish({ code: null, stdout, stderr: `Error: ${options.name ?? cmd} timed out after ${options.timeoutMs} ms` });
    }, options.timeoutMs);
    child.stdout!.setEncoding("utf8").on("data", (d: string) => {
      stdout += d;
      if (!options.onStdoutLine) return;
      pending += d;
      for (let nl = pending.indexOf("\n"); nl >= 0; nl = pending.indexOf("\n")) {
        options.onStdoutLine(pending.slice(0, nl));
        pending = pending.slice(nl + 1);
      }
    });
    child.stderr!.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.on("error", (e) => finish({ code: null, stdout, stderr: `Error: cannot run ${cmd}: ${e.message}` }));
    child.on("close", (code) => {
      if (pending && options.onStdoutLine) options.onStdoutLine(pending);
      finish({ code, stdout, stderr });
    });
  });
}
