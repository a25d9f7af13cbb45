// Test harness: runs the real, built orbitald (dist/orbitald.mjs) as a child process with its own socket and
// data dir under a fresh temp dir, with the executable's Node.js options, and clients in this process or as
// other uids in child processes.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, chmodSync } from "node:fs";
import { machine, tmpdir } from "node:os";
import path from "node:path";
import type { DescService } from "@bufbuild/protobuf";
import { createClient, type Client } from "../../src/client/client.js";
import { createTransport, type Protocol, type Transport } from "../../src/client/transport.js";
import { EXEC_ARGV, fetchNode } from "../../scripts/build-sea.mjs";
import { MEMORY_CHECK_INTERVAL_MS } from "../../src/daemon/process-memory.js";
import { repoRoot } from "../../scripts/proto-image.js";

export const DAEMON_BUNDLE = path.join(repoRoot, "dist", "orbitald.mjs");
export const CLIENT_BUNDLE = path.join(repoRoot, "dist", "client.mjs");
export const NATIVE_DIR = path.join(repoRoot, "dist", "native");

export function requireBuild(): void {
  if (!existsSync(DAEMON_BUNDLE) || !existsSync(CLIENT_BUNDLE)) {
    throw new Error("dist/ is missing: run `npm run build` (the test command does) before the tests");
  }
}

export interface DaemonStartOptions {
  args?: string[];
  env?: NodeJS.ProcessEnv;
  /** Reuse a data dir (e.g. to restart on the same state). */
  dataDir?: string;
  /** Socket path to bind; default api.sock in the daemon's temp dir. */
  socketPath?: string;
  /** Extra file descriptors handed to the child, from fd 3 on (socket activation). */
  stdio?: (number | "ignore" | "pipe")[];
  /** Do not wait for "orbitald serving". */
  noWait?: boolean;
  /** Daemon bundle to run; default dist/orbitald.mjs. */
  bundle?: string;
  /** Run inside this network namespace (ip netns exec) with the Linux data plane; default: sim, host netns. */
  netns?: string;
  /**
   * The Node.js that runs the daemon: this process's (default), or "production", the version the executable
   * embeds (fetched into build/sea-cache/ when missing), for tests that measure what the image would do.
   */
  runtime?: "test" | "production";
}

export class RunningDaemon {
  readonly transports: Transport[] = [];
  private stderr = "";
  readonly exited: Promise<number | null>;

  constructor(
    readonly proc: ChildProcess,
    readonly dir: string,
    readonly socketPath: string,
    readonly dataDir: string,
  ) {
    proc.stderr!.setEncoding("utf8");
    proc.stderr!.on("data", (d: string) => (this.stderr += d));
    this.exited = new Promise((resolve) => proc.once("exit", (code) => resolve(code)));
  }

  /** Parsed JSON log lines (pino), plus any non-JSON lines as { raw }. */
  logs(): Record<string, unknown>[] {
    return this.stderr
      .split("\n")
      .filter((l) => l.trim() !== "")
      .map((l) => {
        try {
          return JSON.parse(l) as Record<string, unknown>;
        } catch {
          return { raw: l };
        }
      });
  }

  get rawStderr(): string {
    return this.stderr;
  }

  async waitForLog(predicate: (line: Record<string, unknown>) => boolean, timeoutMs = 15_000): Promise<Record<string, unknown>> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const hit = this.logs().find(predicate);
      if (hit) return hit;
      if (this.proc.exitCode !== null) throw new Error(`orbitald exited with ${this.proc.exitCode}:\n${this.stderr}`);
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error(`timed out waiting for a log line:\n${this.stderr}`);
  }

  /** A typed client as root on one connection per service, kept for the daemon's life (polling loops). */
  api<S extends DescService>(service: S): Client<S> {
    let c = this.shared.get(service);
    if (!c) this.shared.set(service, (c = this.client(service)));
    return c as Client<S>;
  }

  private readonly shared = new Map<DescService, unknown>();

  /** A typed client as root (this test process), on its own connection (the SDK's default protocol unless given). */
  client<S extends DescService>(service: S, deadlineMs = 10_000, protocol?: Protocol): Client<S> {
    const t = createTransport({ socketPath: this.socketPath, deadlineMs, ...(protocol ? { transport: protocol } : {}) });
    this.transports.push(t);
    return createClient(service, t);
  }

  /** Memory of the daemon process in KiB (VmRSS). */
  rssKiB(): number {
    return this.status("VmRSS");
  }

  /**
   * The daemon's RSS at rest, in KiB: the least RSS seen until one memory check after its next memory reduction
   * (src/daemon/process-memory.ts: the first idle check after 4 MiB of growth collects garbage and trims malloc;
   * V8's concurrent sweeping after a burst can keep a check or two from counting as idle), or over 8 checks
   * when it has nothing to reduce. What a burst left behind for good, not what it is still collecting.
   */
  async restingRssKiB(): Promise<number> {
    const reductions = () => this.logs().filter((l) => l.msg === "memory reduced").length;
    const before = reductions();
    let least = this.rssKiB();
    let until = Date.now() + MEMORY_CHECK_INTERVAL_MS * 8;
    for (let reduced = false; Date.now() < until; ) {
      await new Promise((r) => setTimeout(r, 100));
      least = Math.min(least, this.rssKiB());
      if (!reduced && reductions() > before) {
        reduced = true;
        until = Math.min(until, Date.now() + MEMORY_CHECK_INTERVAL_MS * 1.5);
      }
    }
    return least;
  }

  /** The most memory the daemon process has had, in KiB (VmHWM). */
  peakRssKiB(): number {
    return this.status("VmHWM");
  }

  private status(field: string): number {
    const status = readFileSync(`/proc/${this.proc.pid}/status`, "utf8");
    return Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? NaN);
  }

  async stop(signal: NodeJS.Signals = "SIGTERM"): Promise<number | null> {
    for (const t of this.transports.splice(0)) t.close();
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill(signal);
    return this.exited;
  }

  async cleanup(): Promise<void> {
    await this.stop("SIGKILL");
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export async function startDaemon(opts: DaemonStartOptions = {}): Promise<RunningDaemon> {
  requireBuild();
  orbitalGroup(); // the daemon gives its socket to this group; clients as other uids join it
  const dir = mkdtempSync(path.join(tmpdir(), "orbitald-test-"));
  chmodSync(dir, 0o755); // clients running as other uids must reach the socket
  const socketPath = opts.socketPath ?? path.join(dir, "api.sock");
  const dataDir = opts.dataDir ?? path.join(dir, "data");
  const node = opts.runtime === "production" ? fetchNode(machine()) : process.execPath;
  const daemonArgs = [...EXEC_ARGV, opts.bundle ?? DAEMON_BUNDLE, "--socket", socketPath, "--data-dir", dataDir, "--dataplane", opts.netns ? "linux" : "sim", "--drain-ms", "3000", ...(opts.args ?? [])];
  // `ip netns exec` execs the command, so the child's pid is the daemon's.
  const [command, args] = opts.netns ? ["ip", ["netns", "exec", opts.netns, node, ...daemonArgs]] : [node, daemonArgs];
  const proc = spawn(command, args, {
    env: { ...process.env, ORBITAL_NATIVE_DIR: NATIVE_DIR, ORBITAL_LOG_LEVEL: "debug", ORBITAL_FAILPOINTS: "", ...opts.env },
    stdio: ["ignore", "ignore", "pipe", ...(opts.stdio ?? [])],
  });
  const d = new RunningDaemon(proc, dir, socketPath, dataDir);
  if (!opts.noWait) await d.waitForLog((l) => l.msg === "orbitald serving");
  return d;
}

/** gid of the "orbital" group, created when missing (the tests run as root). */
export function orbitalGroup(): number {
  const read = () => spawnSync("getent", ["group", "orbital"], { encoding: "utf8" }).stdout.split(":")[2];
  let gid = read();
  if (!gid) {
    spawnSync("groupadd", ["--system", "orbital"], { stdio: "inherit" });
    gid = read();
  }
  if (!gid) throw new Error("cannot create the orbital group (are the tests running as root?)");
  return Number(gid);
}

export interface CallResult {
  ok: boolean;
  responses?: unknown[];
  /** Server stream still open when CallAsOptions.streamWindowMs ran out (the daemon accepted the call). */
  open?: boolean;
  error?: { code: number; reason: string; message: string; metadata: Record<string, string>; violations: { field: string; description: string; reason?: string }[]; traceId?: string };
}

/**
 * Calls an RPC (JSON request) from a child process running as `uid` (group "orbital", so that the socket's
 * 0660 mode lets it connect): authentication sees that uid through SO_PEERCRED.
 */
export interface CallAsOptions {
  /**
   * Server streams: cancel the stream this long after the daemon's response headers and report { ok: true,
   * open: true } instead of waiting for its end (Watch* streams end only when cancelled). A refusal still
   * comes back as the error: it follows the headers at once.
   */
  streamWindowMs?: number;
  /** The SDK protocol the child speaks; default the SDK's own (the fast path). */
  protocol?: Protocol;
}

/** The environment of a child client: the SDK bundle, and the options' protocol and stream window. */
function childEnv(options: CallAsOptions): NodeJS.ProcessEnv {
  return {
    ORBITAL_CLIENT_BUNDLE: CLIENT_BUNDLE,
    PATH: process.env.PATH,
    ...(options.streamWindowMs !== undefined ? { ORBITAL_STREAM_WINDOW_MS: String(options.streamWindowMs) } : {}),
    ...(options.protocol ? { ORBITAL_TRANSPORT: options.protocol } : {}),
  };
}

export function callAs(socketPath: string, uid: number, method: string, request: unknown = {}, options: CallAsOptions = {}): Promise<CallResult> {
  const gid = orbitalGroup();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(repoRoot, "test", "support", "call-json.mjs"), socketPath, method, JSON.stringify(request)], {
      uid,
      gid,
      cwd: "/",
      stdio: ["ignore", "pipe", "pipe"],
      env: childEnv(options),
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    // "close", not "exit": "exit" may come before stdout is drained, and the result would be lost under load.
    child.on("close", (code, signal) => {
      try {
        resolve(JSON.parse(out) as CallResult);
      } catch {
        reject(new Error(`call-json as uid ${uid} printed no result (exit ${code ?? signal}): ${out}${err}`));
      }
    });
  });
}

/** A connection held by a child process running as one uid, for many calls (see call-session.mjs). */
export interface CallSession {
  /** Calls an RPC (JSON request) as the session's uid; calls are answered in order. */
  call(method: string, request?: unknown): Promise<CallResult>;
  close(): Promise<void>;
}

/** Starts a child process running as `uid` (group "orbital") that keeps one connection to the daemon. */
export function callSession(socketPath: string, uid: number, options: CallAsOptions = {}): CallSession {
  const child = spawn(process.execPath, [path.join(repoRoot, "test", "support", "call-session.mjs"), socketPath], {
    uid,
    gid: orbitalGroup(),
    cwd: "/",
    stdio: ["pipe", "pipe", "pipe"],
    env: childEnv(options),
  });
  const waiting = new Map<number, { resolve: (r: CallResult) => void; reject: (e: Error) => void }>();
  let next = 0;
  let buffered = "";
  let stderr = "";
  child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  child.stdout.setEncoding("utf8").on("data", (d: string) => {
    buffered += d;
    let nl: number;
    while ((nl = buffered.indexOf("\n")) >= 0) {
      const { id, outcome } = JSON.parse(buffered.slice(0, nl)) as { id: number; outcome: CallResult };
      buffered = buffered.slice(nl + 1);
      waiting.get(id)?.resolve(outcome);
      waiting.delete(id);
    }
  });
  const exited = new Promise<void>((resolve) =>
    child.once("close", (code, signal) => {
      for (const w of waiting.values()) w.reject(new Error(`call session as uid ${uid} ended (${code ?? signal}): ${stderr}`));
      waiting.clear();
      resolve();
    }),
  );
  return {
    call(method, request = {}) {
      const id = next++;
      return new Promise<CallResult>((resolve, reject) => {
        waiting.set(id, { resolve, reject });
        child.stdin.write(`${JSON.stringify({ id, method, request })}\n`);
      });
    },
    async close() {
      child.stdin.end();
      await exited;
    },
  };
}
