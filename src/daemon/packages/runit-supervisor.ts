// Runs packages under runit (runsvdir, runsv, chpst, sv, svlogd): writes each package's service directory,
// keeps one runsvdir scanning them (started detached, so that packages keep running while orbitald
// restarts), reads a service's state and stops one for good. Knows nothing of manifests' origin or the API.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { ErrorReason } from "../../gen/orbital/api/v1/error_reason_pb.js";
import { OrbitalError } from "../../common/errors.js";
import type { Logger } from "../../common/logger.js";
import { readTextOrEmpty } from "../store/atomic-file.js";

export interface ServiceSpec {
  name: string;
  version: string;
  uid: number;
  gid: number;
  /** Supplementary group that may open the API socket. */
  socketGid: number;
  socketPath: string;
  /** The read-only files of this version. */
  root: string;
  dataDir: string;
  /** Absolute program and its arguments. */
  command: string[];
  limits: { memoryBytes: number; processes: number; openFiles: number; fileSizeBytes: number };
}

export type ServiceState = "running" | "down" | "failing" | "missing";

export interface ServiceStatus {
  state: ServiceState;
  pid: number;
  /** Seconds in the current state. */
  seconds: number;
  /** "exit 1", "signal 9", or "" before the first end. */
  lastExit: string;
  /** Quick exits in a row (each ended within 30 s of its start); 0 after a long run. */
  failures: number;
}

/** A start is given up after this many quick exits in a row. */
const GIVE_UP_FAILURES = 3;

const TAI_OFFSET = 4611686018427387914n; // 2^62 + 10: runit's TAI64 label of the Unix epoch

/** Single-quotes a word for sh. */
const sh = (word: string) => `'${word.replace(/'/g, `'\\''`)}'`;

function findTool(name: string): string {
  for (const dir of (process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin").split(":")) {
    const p = path.join(dir, name);
    if (existsSync(p)) return p;
  }
  throw new OrbitalError({ reason: ErrorReason.UNSUPPORTED, message: `${name} is not installed: packages need runit (runsvdir, runsv, chpst, sv, svlogd) and setpriv`, metadata: { feature: `packages (${name})` } });
}

export class RunitSupervisor {
  /** runsvdir's scan directory: one symlink per package to its service directory. */
  readonly scanDir: string;
  private readonly pidFile: string;

  constructor(
    readonly packagesDir: string,
    private readonly log: Logger,
  ) {
    this.scanDir = path.join(packagesDir, ".services");
    this.pidFile = path.join(packagesDir, ".runsvdir.pid");
  }

  serviceDir(name: string): string {
    return path.join(this.packagesDir, name, "service");
  }

  logDir(name: string): string {
    return path.join(this.packagesDir, name, "log");
  }

  /** The runsvdir scanning our directory: the running one, else a new detached one. Returns its pid. */
  ensureRunning(): number {
    mkdirSync(this.scanDir, { recursive: true, mode: 0o755 });
    const pid = this.runningPid();
    if (pid) return pid;
    const child = spawn(findTool("runsvdir"), ["-P", this.scanDir], { detached: true, stdio: "ignore", cwd: "/" });
    child.unref();
    writeFileSync(this.pidFile, `${child.pid}\n`);
    this.log.info({ pid: child.pid, scanDir: this.scanDir }, "package supervisor (runsvdir) started");
    return child.pid!;
  }

  /** Pid of the runsvdir of our scan directory, if it runs. */
  runningPid(): number | undefined {
    try {
      const pid = Number(readFileSync(this.pidFile, "utf8").trim());
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
      return cmdline.some((a) => a.endsWith("runsvdir")) && cmdline.includes(this.scanDir) ? pid : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * Writes (or rewrites, for an upgrade) the service directory and links it into the scan directory. The
   * run script is replaced atomically; a running runsv uses it from the next start.
   */
  writeService(spec: ServiceSpec): void {
    const dir = this.serviceDir(spec.name);
    const state = dir; // last-exit, started, failures: beside run (runsv ignores other files)
    mkdirSync(path.join(dir, "log"), { recursive: true, mode: 0o755 });
    mkdirSync(this.logDir(spec.name), { recursive: true, mode: 0o750 });
    // Soft and hard limits, set by the shell while root (chpst would set soft ones only, which a package may
    // raise again, and Node raises its open-files limit by itself): -d KiB, -f 512-byte blocks; processes are
    // -u in BusyBox's ash and -p in dash.
    const { limits } = spec;
    const ulimits = [
      `ulimit -n ${limits.openFiles}`,
      `ulimit -d ${Math.ceil(limits.memoryBytes / 1024)}`,
      `{ ulimit -u ${limits.processes} || ulimit -p ${limits.processes}; } 2>/dev/null || exit 111`,
      ...(limits.fileSizeBytes > 0 ? [`ulimit -f ${Math.ceil(limits.fileSizeBytes / 512)}`] : []),
    ];
    const env = [`PATH=/usr/sbin:/usr/bin:/sbin:/bin`, `HOME=${spec.dataDir}`, `ORBITAL_SOCKET=${spec.socketPath}`, `ORBITAL_PACKAGE=${spec.name}`, `ORBITAL_PACKAGE_VERSION=${spec.version}`, `ORBITAL_PACKAGE_ROOT=${spec.root}`, `ORBITAL_PACKAGE_DATA=${spec.dataDir}`];
    const run = [
      "#!/bin/sh",
      `# Written by orbitald for package ${spec.name} ${spec.version}; runsv runs it, as root, and restarts it.`,
      "exec 2>&1",
      `date +%s >${sh(path.join(state, "started"))}`,
      `cd ${sh(spec.dataDir)} || exit 111`,
      ...ulimits,
      // Own uid and gid (plus the socket's group), and no new privileges for what it execs.
      `exec ${findTool("env")} -i ${env.map(sh).join(" ")} ${sh(findTool("chpst"))} -u ${sh(`:${spec.uid}:${spec.gid}:${spec.socketGid}`)} ${sh(findTool("setpriv"))} --nnp ${spec.command.map(sh).join(" ")}`,
      "",
    ].join("\n");
    // finish: records how the process ended and backs off on quick repeated failures (runsv waits for it).
    const finish = [
      "#!/bin/sh",
      `state=${sh(state)}`,
      `if [ "$1" = -1 ]; then echo "signal $2" >"$state/last-exit.tmp"; else echo "exit $1" >"$state/last-exit.tmp"; fi`,
      `mv "$state/last-exit.tmp" "$state/last-exit"`,
      `now=$(date +%s); started=$(cat "$state/started" 2>/dev/null || echo 0); n=$(cat "$state/failures" 2>/dev/null || echo 0)`,
      `if [ $((now - started)) -ge 30 ]; then n=0; else n=$((n + 1)); fi`,
      `echo $n >"$state/failures"`,
      `d=1; i=1; while [ $i -lt $n ] && [ $d -lt 30 ]; do d=$((d * 2)); i=$((i + 1)); done`,
      `[ $n -gt 1 ] && sleep $d`,
      "exit 0",
      "",
    ].join("\n");
    const logDir = sh(this.logDir(spec.name));
    const svlogd = `${sh(findTool("svlogd"))} -tt ${logDir}`;
    // stdout and stderr to the package's own rotated log (GetPackageLogs), and to syslog tagged with the package.
    const logRun = [
      "#!/bin/sh",
      `[ -S /dev/log ] || exec ${svlogd}`,
      `{ tee /proc/self/fd/2 | ${svlogd}; } 2>&1 >/dev/null | exec logger -t ${sh(`package/${spec.name}`)}`,
      "",
    ].join("\n");
    writeScript(path.join(dir, "finish"), finish);
    writeScript(path.join(dir, "log", "run"), logRun);
    writeScript(path.join(dir, "run"), run);
    mkdirSync(this.scanDir, { recursive: true, mode: 0o755 });
    const link = path.join(this.scanDir, spec.name);
    if (!existsSync(link)) symlinkSync(dir, link);
  }

  status(name: string): ServiceStatus {
    const dir = this.serviceDir(name);
    const lastExit = readTextOrEmpty(path.join(dir, "last-exit"));
    const failures = Number(readTextOrEmpty(path.join(dir, "failures")) || 0);
    let raw: Buffer;
    try {
      raw = readFileSync(path.join(dir, "supervise", "status"));
    } catch {
      return { state: "missing", pid: 0, seconds: 0, lastExit, failures };
    }
    if (raw.length < 20 || !this.supervised(name)) return { state: "missing", pid: 0, seconds: 0, lastExit, failures };
    const since = Number(raw.readBigUInt64BE(0) - TAI_OFFSET);
    const pid = raw.readUInt32LE(12);
    const want = String.fromCharCode(raw[17]!);
    const running = raw[19] === 1;
    const seconds = Math.max(0, Math.floor(Date.now() / 1000) - since);
    return { state: running && pid ? "running" : want === "d" ? "down" : "failing", pid: running ? pid : 0, seconds, lastExit, failures };
  }

  private supervised(name: string): boolean {
    return runsvHolds(this.serviceDir(name));
  }

  /** Waits until runsv has taken the service up (runsvdir scans every 5 s). */
  async waitSupervised(name: string, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (existsSync(path.join(this.serviceDir(name), "supervise", "ok")) && this.supervised(name)) return true;
      await sleep(200);
    }
    return false;
  }

  /**
   * Waits until the process (other than `notPid`, the one an upgrade replaced) has stayed up `settleSeconds`
   * under one pid, or gives up after `timeoutMs`
   * or it exited quickly GIVE_UP_FAILURES times in a row.
   */
  async waitStable(name: string, settleSeconds: number, timeoutMs: number, notPid = 0): Promise<ServiceStatus> {
    const deadline = Date.now() + timeoutMs;
    let s = this.status(name);
    while (Date.now() < deadline) {
      s = this.status(name);
      if (s.state === "running" && s.seconds >= settleSeconds && s.pid !== notPid) return s;
      if (s.failures >= GIVE_UP_FAILURES) return s;
      await sleep(250);
    }
    return s;
  }

  /** Restarts the process (an upgrade's new run script takes effect). */
  restart(name: string): void {
    rmSync(path.join(this.serviceDir(name), "failures"), { force: true });
    spawnSync(findTool("sv"), ["-w", "7", "restart", this.serviceDir(name)], { stdio: "ignore" });
  }

  /** Stops the process and keeps it down (runsv stays, and so does the service) until up(). */
  down(name: string): void {
    spawnSync(findTool("sv"), ["-w", "7", "down", this.serviceDir(name)], { stdio: "ignore" });
  }

  /** Starts a service that down() stopped. */
  up(name: string): void {
    rmSync(path.join(this.serviceDir(name), "failures"), { force: true });
    spawnSync(findTool("sv"), ["up", this.serviceDir(name)], { stdio: "ignore" });
  }

  /** Stops the process and its runsv and unlinks the service: nothing of it runs afterwards. */
  async remove(name: string): Promise<void> {
    const dir = this.serviceDir(name);
    rmSync(path.join(this.scanDir, name), { force: true });
    if (existsSync(path.join(dir, "supervise"))) {
      for (const d of [dir, path.join(dir, "log")]) spawnSync(findTool("sv"), ["-w", "7", "force-shutdown", d], { stdio: "ignore" });
      const deadline = Date.now() + 8000;
      while (Date.now() < deadline && (runsvHolds(dir) || runsvHolds(path.join(dir, "log")))) await sleep(100);
    }
  }

}

/** Whether a runsv supervises the service directory (sv reaches it). */
function runsvHolds(dir: string): boolean {
  const r = spawnSync(findTool("sv"), ["status", dir], { encoding: "utf8" });
  return r.status === 0 && !/runsv not running|unable to|fail/.test(r.stdout + r.stderr);
}

function writeScript(file: string, text: string): void {
  const tmp = `${file}.tmp`;
  writeFileSync(tmp, text, { mode: 0o755 });
  renameSync(tmp, file);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Pids of the processes that run as `uid` (a package's leftovers). */
export function processesOfUid(uid: number): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (statSync(`/proc/${entry}`).uid === uid) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}
