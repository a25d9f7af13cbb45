// Test harness for the CLI: runs the bundled orbctl (dist/orbctl.mjs) as a child process against a daemon
// socket, as root or as another uid (group "orbital"), with its own per-user state directories.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, chmodSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { repoRoot } from "../../scripts/proto-image.js";
import { orbitalGroup } from "./daemon.js";

export const ORBCTL = path.join(repoRoot, "dist", "orbctl.mjs");

export function requireOrbctl(): void {
  if (!existsSync(ORBCTL)) throw new Error("dist/orbctl.mjs is missing: run `npm run build` before the tests");
}

export interface OrbctlResult {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

export interface OrbctlOptions {
  env?: NodeJS.ProcessEnv;
  /** Run as this uid, in group "orbital". */
  uid?: number;
  input?: string;
}

/** A per-test-file home for orbctl state (transaction, history, code cache); remove() at the end. */
export function orbctlHome(): { dir: string; env: NodeJS.ProcessEnv; remove(): void } {
  const dir = mkdtempSync(path.join(tmpdir(), "orbctl-home-"));
  chmodSync(dir, 0o777);
  return {
    dir,
    env: { XDG_RUNTIME_DIR: path.join(dir, "run"), XDG_STATE_HOME: path.join(dir, "state"), XDG_CACHE_HOME: path.join(dir, "cache") },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export function orbctl(socketPath: string, args: string[], opts: OrbctlOptions = {}): Promise<OrbctlResult> {
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [ORBCTL, ...args], {
      cwd: "/",
      stdio: ["pipe", "pipe", "pipe"],
      env: { PATH: process.env.PATH, TERM: "xterm", ORBITAL_SOCKET: socketPath, ...opts.env },
      ...(opts.uid !== undefined ? { uid: opts.uid, gid: orbitalGroup() } : {}),
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.once("error", reject);
    child.stdin.end(opts.input ?? "");
    child.on("close", (code) => resolve({ code, stdout, stderr, ms: Date.now() - t0 }));
  });
}
