// The orbctl program proper, bundled to dist/orbctl-core.cjs and started by src/bin/orbctl.ts: runs one
// command line with the process's standard streams and returns its exit status.
import { runCommandLine } from "./dispatch.js";
import { runState } from "./run-state.js";

export function main(argv: readonly string[]): Promise<number> {
  // `orbctl user list | head -1`: a reader that stopped reading is not an error.
  process.stdout.on("error", (err: NodeJS.ErrnoException) => {
    if (err.code === "EPIPE") process.exit(0);
    throw err;
  });
  return runCommandLine(argv, { env: process.env, stdout: process.stdout, stderr: process.stderr, stdin: process.stdin });
}

/** Whether this run used the daemon (and so loaded the SDK). */
export function usedDaemon(): boolean {
  return runState.daemon;
}
