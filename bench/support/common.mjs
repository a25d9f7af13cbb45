// Shared pieces of the benchmarks: latency statistics, table formatting, child processes that report one JSON
// line, temp dirs, and where the built bundles are. Plain ESM, no compile step, no dependencies.
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { availableParallelism, tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const benchDir = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
export const repoRoot = path.dirname(benchDir);

/** The build under test: $ORBITAL_BENCH_DIST (a dist/ dir of some other checkout, for A/B runs) or dist/. */
export const distDir = path.resolve(process.env.ORBITAL_BENCH_DIST ?? path.join(repoRoot, "dist"));
export const daemonBundle = path.join(distDir, "orbitald.mjs");
export const clientBundle = path.join(distDir, "client.mjs");
export const nativeDir = path.join(distDir, "native");

/** Builds dist/ when the bundles are missing (only for the repository's own dist/). */
export function ensureBuild() {
  if (existsSync(daemonBundle) && existsSync(clientBundle)) return;
  if (process.env.ORBITAL_BENCH_DIST) throw new Error(`${distDir} has no orbitald.mjs/client.mjs`);
  console.error("bench: dist/ is missing, running `npm run build`");
  const r = spawnSync("npm", ["run", "build"], { cwd: repoRoot, stdio: "inherit" });
  if (r.status !== 0) throw new Error("npm run build failed");
}

export function tempDir(prefix) {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Summary of a set of latencies in microseconds (the array is sorted in place). */
export function summarize(samples, elapsedMs) {
  const latUs = Float64Array.from(samples).sort();
  const q = (p) => latUs[Math.min(latUs.length - 1, Math.max(0, Math.ceil(p * latUs.length) - 1))];
  let sum = 0;
  for (const v of latUs) sum += v;
  return {
    n: latUs.length,
    p50: q(0.5),
    p90: q(0.9),
    p99: q(0.99),
    p999: q(0.999),
    min: latUs[0],
    max: latUs[latUs.length - 1],
    mean: sum / latUs.length,
    perSec: (latUs.length / elapsedMs) * 1000,
  };
}

export const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/**
 * Runs `node script args…`, resolves with the JSON of the last stdout line; rejects on a non-zero exit. With
 * `cpus` ("0"), the child runs on those CPUs only (taskset).
 */
export function runJsonChild(script, args = [], { nodeArgs = [], env = {}, cwd, cpus } = {}) {
  return new Promise((resolve, reject) => {
    const argv = [...nodeArgs, script, ...args];
    const child = spawn(cpus ? "taskset" : process.execPath, cpus ? ["-c", cpus, process.execPath, ...argv] : argv, {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, ...env },
      ...(cwd ? { cwd } : {}),
    });
    let out = "";
    let err = "";
    child.stdout.setEncoding("utf8").on("data", (d) => (out += d));
    child.stderr.setEncoding("utf8").on("data", (d) => (err += d));
    child.once("error", reject);
    child.once("exit", (code, signal) => {
      const last = out.trim().split("\n").pop() ?? "";
      if (code !== 0) return reject(new Error(`${path.basename(script)} exited with ${code ?? signal}:\n${err}${out}`));
      try {
        resolve(JSON.parse(last));
      } catch {
        reject(new Error(`${path.basename(script)} printed no JSON result:\n${err}${out}`));
      }
    });
  });
}

/**
 * A long-running server child. Resolves once it is ready: when it prints "ready" on stdout, or, with
 * `socketPath`, once that socket accepts connections. stop() sends SIGTERM to its pid and waits for the exit.
 */
export async function startServer(cmd, args, { env = {}, socketPath, readyLine = "ready", timeoutMs = 20_000 } = {}) {
  const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } });
  let out = "";
  let err = "";
  child.stdout.setEncoding("utf8").on("data", (d) => (out += d));
  child.stderr.setEncoding("utf8").on("data", (d) => (err += d));
  const exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve(code ?? signal)));
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${args[args.length - 1]} exited early:\n${err}${out}`);
    if (socketPath ? existsSync(socketPath) && (await accepts(socketPath)) : out.split("\n").includes(readyLine)) break;
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`server did not become ready:\n${err}${out}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  return {
    pid: child.pid,
    stderr: () => err,
    async stop(signal = "SIGTERM", graceMs = 10_000) {
      if (child.exitCode === null && child.signalCode === null) process.kill(child.pid, signal);
      const t = setTimeout(() => child.exitCode === null && child.signalCode === null && process.kill(child.pid, "SIGKILL"), graceMs);
      const code = await exited;
      clearTimeout(t);
      return code;
    },
  };
}

/** Moves every thread of process `pid` onto `cpus` ("1", or "0-1" for all of them again). */
export function pinProcess(pid, cpus) {
  execFileSync("taskset", ["-a", "-p", "-c", cpus, String(pid)], { stdio: "ignore" });
}

/** Every CPU of this machine, as taskset names them. */
export const allCpus = () => `0-${availableParallelism() - 1}`;

function accepts(socketPath) {
  return new Promise((resolve) => {
    const s = net.connect(socketPath);
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

/** Starts the real daemon from the bundle under test, on a socket and data dir under `dir`. */
export function startDaemon(dir, { nodeArgs = [], env = {} } = {}) {
  const socketPath = path.join(dir, "api.sock");
  return startServer(
    process.execPath,
    [...nodeArgs, daemonBundle, "--socket", socketPath, "--data-dir", path.join(dir, "data"), "--dataplane", "sim", "--log-level", "warn", "--drain-ms", "1000"],
    { env: { ORBITAL_NATIVE_DIR: nativeDir, ...env }, socketPath },
  ).then((s) => Object.assign(s, { socketPath }));
}

// ---- formatting ----

export const fmtUs = (v) => (v >= 1000 ? `${(v / 1000).toFixed(2)} ms` : `${v.toFixed(1)} µs`);
export const fmtRate = (v) => (v >= 10_000 ? `${Math.round(v / 1000)}k/s` : `${Math.round(v)}/s`);
export const fmtRatio = (v) => `${v.toFixed(2)}x`;

/** A plain-text table; `align` is a string of l/r per column. */
export function table(header, rows, align = "") {
  const cells = [header, ...rows].map((r) => r.map(String));
  const widths = header.map((_, i) => Math.max(...cells.map((r) => r[i].length)));
  const line = (r) => r.map((c, i) => (align[i] === "r" ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join("  ").trimEnd();
  return [line(cells[0]), widths.map((w) => "-".repeat(w)).join("  "), ...cells.slice(1).map(line)].join("\n");
}

// ---- CPU accounting ----

let clkTck;
/**
 * CPU time that process `pid` has used so far, all threads, µs: from the schedulers' run-time accounting
 * (/proc/PID/task/TID/schedstat, ns), or from /proc/PID/stat (1/CLK_TCK steps) where schedstat is missing.
 */
export function procCpuUs(pid) {
  try {
    let ns = 0;
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ")[0]);
      } catch {
        // thread gone meanwhile
      }
    }
    return ns / 1000;
  } catch {
    clkTck ??= Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout.trim()) || 100;
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" "); // fields from 3 (state) on
    return ((Number(fields[11]) + Number(fields[12])) * 1e6) / clkTck; // utime (14) + stime (15)
  }
}

/** CPU time the whole machine has been busy so far (all cores, /proc/stat), µs. */
export function machineBusyUs() {
  clkTck ??= Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout.trim()) || 100;
  const cpu = readFileSync("/proc/stat", "utf8").split("\n", 1)[0].trim().split(/\s+/).slice(1).map(Number);
  const [user, nice, system, , , irq, softirq, steal] = cpu;
  return ((user + nice + system + irq + softirq + steal) * 1e6) / clkTck;
}

/** CPU time this process has used so far, µs. */
export function selfCpuUs() {
  const u = process.cpuUsage();
  return u.user + u.system;
}

/** CLOCK_MONOTONIC in µs: the clock of .cpuprofile timestamps, so windows can be cut out of a profile. */
export const monoUs = () => Number(process.hrtime.bigint() / 1000n);

/**
 * Runs `measure` (an async function doing `calls` calls) and returns what it cost: wall time and, per call, the
 * CPU µs of this process and of the server process `serverPid` (when given), the monotonic window, and
 * `otherCores`: how many cores everything else on the machine kept busy meanwhile (the noise of the sample).
 */
export async function measured(calls, serverPid, measure) {
  const m0 = machineBusyUs();
  const s0 = serverPid ? procCpuUs(serverPid) : 0;
  const c0 = selfCpuUs();
  const w0 = monoUs();
  const t0 = process.hrtime.bigint();
  await measure();
  const elapsedMs = Number(process.hrtime.bigint() - t0) / 1e6;
  const w1 = monoUs();
  const c1 = selfCpuUs();
  const s1 = serverPid ? procCpuUs(serverPid) : 0;
  const m1 = machineBusyUs();
  const otherUs = m1 - m0 - (c1 - c0) - (s1 - s0);
  return {
    elapsedMs,
    otherCores: Math.max(0, otherUs / (elapsedMs * 1000)),
    window: [w0, w1],
    clientCpuUsPerCall: (c1 - c0) / calls,
    ...(serverPid ? { serverCpuUsPerCall: (s1 - s0) / calls } : {}),
  };
}

/**
 * Adds a benchmark's summary rows (and any other top-level fields) to the result file bench/run.mjs collects:
 * `file` (--json), else $BENCH_RESULT_FILE; nothing when neither is set.
 */
export function appendResults(file, rows, extra = {}) {
  file ??= process.env.BENCH_RESULT_FILE;
  if (!file) return;
  let prev = { rows: [] };
  try {
    prev = JSON.parse(readFileSync(file, "utf8"));
  } catch {
    // first write
  }
  writeFileSync(file, JSON.stringify({ ...prev, ...extra, rows: [...(prev.rows ?? []), ...rows] }, null, 1));
}
