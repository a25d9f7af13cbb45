// Test harness for orbital-supervise (native/build/<arch>/orbital-supervise): runs it as a child process,
// collects its stderr (its own timestamped lines and, interleaved, the supervised daemon's pino JSON lines) and
// parses the supervisor's event lines ("child started pid=.. start=..", "child exited pid=.. status=|signal=..").
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { repoRoot } from "../../scripts/proto-image.js";
import { DAEMON_BUNDLE, NATIVE_DIR, requireBuild } from "./daemon.js";

const ARCH = process.arch === "arm64" ? "aarch64" : process.arch === "x64" ? "x86_64" : process.arch;
export const SUPERVISOR = path.join(repoRoot, "native", "build", ARCH, "orbital-supervise");

/** A line the supervisor logged: "<ISO time> orbital-supervise[<pid>]: <text>". */
export interface SupervisorLine {
  time: Date;
  text: string;
}

export interface ChildEvent {
  kind: "started" | "exited";
  pid: number;
  time: Date;
  start?: number;
  status?: number;
  signal?: number;
  uptimeMs?: number;
  /** Delay before the next start; absent when the supervisor is stopping. */
  restartInMs?: number;
}

const LINE = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) orbital-supervise\[\d+\]: (.*)$/;

export class RunningSupervisor {
  private stderr = "";
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(readonly proc: ChildProcess) {
    proc.stderr!.setEncoding("utf8");
    proc.stderr!.on("data", (d: string) => (this.stderr += d));
    this.exited = new Promise((resolve) => proc.once("exit", (code, signal) => resolve({ code, signal })));
  }

  get rawStderr(): string {
    return this.stderr;
  }

  lines(): SupervisorLine[] {
    const out: SupervisorLine[] = [];
    for (const l of this.stderr.split("\n")) {
      const m = LINE.exec(l);
      if (m) out.push({ time: new Date(m[1]!), text: m[2]! });
    }
    return out;
  }

  /** The daemon's pino JSON lines. */
  daemonLogs(): Record<string, unknown>[] {
    const out: Record<string, unknown>[] = [];
    for (const l of this.stderr.split("\n")) {
      if (!l.startsWith("{")) continue;
      try {
        out.push(JSON.parse(l) as Record<string, unknown>);
      } catch {
        // a line cut by a concurrent write: not ours to judge here
      }
    }
    return out;
  }

  events(): ChildEvent[] {
    const out: ChildEvent[] = [];
    for (const { time, text } of this.lines()) {
      const started = /^child started pid=(\d+) start=(\d+)/.exec(text);
      if (started) out.push({ kind: "started", pid: Number(started[1]), start: Number(started[2]), time });
      const exited = /^child exited pid=(\d+) (?:status=(\d+)|signal=(\d+)[^ ]* \(\w+\)) uptime_ms=(\d+)(?: restart_in_ms=(\d+))?/.exec(text);
      if (exited) {
        out.push({
          kind: "exited",
          pid: Number(exited[1]),
          time,
          ...(exited[2] !== undefined ? { status: Number(exited[2]) } : {}),
          ...(exited[3] !== undefined ? { signal: Number(exited[3]) } : {}),
          uptimeMs: Number(exited[4]),
          ...(exited[5] !== undefined ? { restartInMs: Number(exited[5]) } : {}),
        });
      }
    }
    return out;
  }

  /** pid of the child the supervisor started last. */
  currentChild(): number | undefined {
    return this.events()
      .filter((e) => e.kind === "started")
      .at(-1)?.pid;
  }

  async waitFor<T>(probe: () => T | undefined | false, what: string, timeoutMs = 15_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = probe();
      if (hit !== undefined && hit !== false) return hit;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; supervisor stderr:\n${this.stderr}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  waitForLine(re: RegExp, timeoutMs?: number): Promise<SupervisorLine> {
    return this.waitFor(() => this.lines().find((l) => re.test(l.text)), `a line matching ${re}`, timeoutMs);
  }

  /** SIGKILLs the supervisor if it still runs (its child gets SIGTERM through PR_SET_PDEATHSIG). */
  async kill(): Promise<void> {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill("SIGKILL");
    await this.exited;
  }
}

export interface SupervisorStartOptions {
  /** Options before "--". */
  args: string[];
  /** The supervised command and its arguments. */
  command: string[];
  env?: NodeJS.ProcessEnv;
}

export function startSupervisor(opts: SupervisorStartOptions): RunningSupervisor {
  if (!existsSync(SUPERVISOR)) throw new Error(`${SUPERVISOR} is missing: run \`npm run build\` before the tests`);
  const proc = spawn(SUPERVISOR, [...opts.args, "--", ...opts.command], {
    env: { ...process.env, ...opts.env },
    stdio: ["ignore", "ignore", "pipe"],
  });
  return new RunningSupervisor(proc);
}

/** The command line that runs the built orbitald on the sim data plane (its socket comes from the supervisor). */
export function orbitaldCommand(dataDir: string, ...extra: string[]): string[] {
  requireBuild();
  return [process.execPath, DAEMON_BUNDLE, "--data-dir", dataDir, "--dataplane", "sim", "--drain-ms", "3000", ...extra];
}

export const ORBITALD_ENV: NodeJS.ProcessEnv = { ORBITAL_NATIVE_DIR: NATIVE_DIR, ORBITAL_LOG_LEVEL: "info", ORBITAL_FAILPOINTS: "" };

/** Whether a process exists (signal 0). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Connects to a Unix socket once and hangs up: undefined when it was accepted, else the error code (ECONNREFUSED...). */
export function connectError(socketPath: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    const s = net.connect(socketPath);
    s.once("connect", () => {
      s.destroy();
      resolve(undefined);
    });
    s.once("error", (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
  });
}
