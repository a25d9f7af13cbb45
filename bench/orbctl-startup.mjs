#!/usr/bin/env node
// orbctl start-up and shell latency, against the real daemon (dist/orbitald.mjs) on this machine:
//   start-up     wall time of `node dist/orbctl.mjs system version` (a new process per run, as a user types it)
//                against bare `node -e 0` of the same Node binary; with the per-user V8 code cache orbctl keeps
//                (every run after the first) and without it (ORBCTL_CODE_CACHE=0: the first run after an
//                install); `orbctl help` shows the CLI's own share without the SDK and the daemon.
//                Scenarios are interleaved round by round so that machine noise hits them alike; the figures
//                are medians (and minimums) over the rounds. Target: system version <= 1.5x node -e 0.
//   shell        round trip of one command inside `orbctl shell` over its persistent connection: write
//                "whoami" to its stdin, wait for the whole JSON answer on its stdout (p50 over many runs;
//                target < 1 ms), next to the same call made directly with the SDK (dist/client.mjs) in this
//                process, the floor the shell adds its parsing and printing to.
// Besides wall time it reports each run's CPU time (from the waited-for children's times in /proc/self/stat),
// which a busy machine disturbs far less. It prints figures and ratios; it asserts nothing.
//
// Usage: node bench/orbctl-startup.mjs [--rounds 15] [--shell-iterations 2000] [--warmup 200] [--json FILE]
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { appendResults, clientBundle, distDir, ensureBuild, fmtRatio, fmtUs, repoRoot, startDaemon, summarize, table, tempDir } from "./support/common.mjs";

const { values: args } = parseArgs({
  options: {
    rounds: { type: "string", default: "15" },
    "shell-iterations": { type: "string", default: "2000" },
    warmup: { type: "string", default: "200" },
    json: { type: "string" },
  },
  strict: false,
});
const ROUNDS = Number(args.rounds);
const SHELL_ITER = Number(args["shell-iterations"]);
const WARMUP = Number(args.warmup);
const ORBCTL = path.join(distDir, "orbctl.mjs");

ensureBuild();
if (!existsSync(ORBCTL)) {
  console.error("bench: dist/orbctl.mjs is missing, running `npm run build`");
  if (spawnSync("npm", ["run", "build"], { cwd: repoRoot, stdio: "inherit" }).status !== 0) process.exit(1);
}

const tmp = tempDir("orbctl-bench-");
const daemon = await startDaemon(tmp.dir);
const env = {
  ...process.env,
  ORBITAL_SOCKET: daemon.socketPath,
  XDG_CACHE_HOME: path.join(tmp.dir, "cache"),
  XDG_RUNTIME_DIR: path.join(tmp.dir, "run"),
  XDG_STATE_HOME: path.join(tmp.dir, "state"),
  TERM: "dumb",
};

const clkTck = Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout.trim()) || 100;
/** CPU ms used so far by this process's children that were waited for (cutime + cstime, 1/CLK_TCK steps). */
function childrenCpuMs() {
  const stat = readFileSync("/proc/self/stat", "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" "); // fields from 3 (state) on
  return ((Number(f[13]) + Number(f[14])) * 1000) / clkTck; // cutime (16) + cstime (17)
}

/** Wall time and CPU time of one process run, ms; throws when it fails. */
function timed(argv, extraEnv = {}) {
  const c0 = childrenCpuMs();
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, argv, { env: { ...env, ...extraEnv }, stdio: ["ignore", "ignore", "pipe"], encoding: "utf8" });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${argv.join(" ")} exited with ${r.status}: ${r.stderr}`);
  return { ms, cpuMs: childrenCpuMs() - c0 };
}

const scenarios = [
  { name: "node -e 0", argv: ["-e", "0"] },
  { name: "orbctl system version (code cache)", argv: [ORBCTL, "system", "version"] },
  { name: "orbctl system version (no code cache)", argv: [ORBCTL, "system", "version"], env: { ORBCTL_CODE_CACHE: "0" } },
  { name: "orbctl help (no daemon)", argv: [ORBCTL, "help"] },
];

const rows = [];
try {
  // The first run writes the code cache; it and one run of each scenario are warm-up (file cache, cache).
  for (const s of scenarios) timed(s.argv, s.env);
  const samples = new Map(scenarios.map((s) => [s.name, []]));
  for (let r = 0; r < ROUNDS; r++) for (const s of scenarios) samples.get(s.name).push(timed(s.argv, s.env));

  const stat = (name) => {
    const runs = samples.get(name);
    const xs = runs.map((x) => x.ms).sort((a, b) => a - b);
    const cpu = runs.reduce((a, x) => a + x.cpuMs, 0) / runs.length;
    return { median: xs[Math.floor(xs.length / 2)], min: xs[0], p90: xs[Math.min(xs.length - 1, Math.ceil(xs.length * 0.9) - 1)], cpu };
  };
  const base = stat("node -e 0");
  console.log(`\nstart-up, ${ROUNDS} rounds of a new process each (wall time; CPU = user+system of the process, mean;`);
  console.log("ratios to node -e 0; target 1.5x for system version)");
  console.log(
    table(
      ["scenario", "median", "min", "p90", "ratio", "ratio (min)", "CPU", "ratio (CPU)"],
      scenarios.map((s) => {
        const st = stat(s.name);
        return [s.name, `${st.median.toFixed(1)} ms`, `${st.min.toFixed(1)} ms`, `${st.p90.toFixed(1)} ms`, fmtRatio(st.median / base.median), fmtRatio(st.min / base.min), `${st.cpu.toFixed(0)} ms`, fmtRatio(st.cpu / base.cpu)];
      }),
      "lrrrrrrr",
    ),
  );
  for (const s of scenarios) {
    const st = stat(s.name);
    rows.push({ bench: "orbctl-startup", scenario: s.name, p50Us: st.median * 1000, p99Us: st.p90 * 1000, perSec: 1000 / st.median, ratio: st.median / base.median, ratioOf: "node -e 0" });
  }

  // ---- the shell: one persistent connection, a command per line ----
  const shell = spawn(process.execPath, [ORBCTL, "shell", "-o", "json"], { env, stdio: ["pipe", "pipe", "inherit"] });
  let buffer = "";
  let waiting;
  shell.stdout.setEncoding("utf8").on("data", (d) => {
    buffer += d;
    // A pretty-printed JSON document ends with "}" alone on a line.
    if (waiting && buffer.endsWith("\n}\n")) {
      const done = waiting;
      waiting = undefined;
      buffer = "";
      done();
    }
  });
  const roundTrip = (line) =>
    new Promise((resolve) => {
      waiting = resolve;
      shell.stdin.write(`${line}\n`);
    });
  for (let i = 0; i < WARMUP; i++) await roundTrip("whoami");
  const shellUs = [];
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < SHELL_ITER; i++) {
    const s = process.hrtime.bigint();
    await roundTrip("whoami");
    shellUs.push(Number(process.hrtime.bigint() - s) / 1000);
  }
  const shellStats = summarize(shellUs, Number(process.hrtime.bigint() - t0) / 1e6);
  shell.stdin.end();
  await new Promise((r) => shell.once("exit", r));

  // The floor: the same call through the SDK in this process.
  const sdk = await import(clientBundle);
  const { UserService } = sdk.apiServices.reduce((m, s) => ({ ...m, [s.name]: s }), {});
  const transport = sdk.createTransport({ socketPath: daemon.socketPath });
  const users = sdk.createClient(UserService, transport);
  for (let i = 0; i < WARMUP; i++) await users.whoAmI({});
  const sdkUs = [];
  const t1 = process.hrtime.bigint();
  for (let i = 0; i < SHELL_ITER; i++) {
    const s = process.hrtime.bigint();
    await users.whoAmI({});
    sdkUs.push(Number(process.hrtime.bigint() - s) / 1000);
  }
  const sdkStats = summarize(sdkUs, Number(process.hrtime.bigint() - t1) / 1e6);
  transport.close();

  console.log(`\nshell round trip, ${SHELL_ITER} runs of "whoami" after ${WARMUP} warm-up (target p50 < 1 ms)`);
  console.log(
    table(
      ["scenario", "p50", "p90", "p99", "ratio p50", "of"],
      [
        ["orbctl shell: line in, JSON out", fmtUs(shellStats.p50), fmtUs(shellStats.p90), fmtUs(shellStats.p99), fmtRatio(shellStats.p50 / 1000), "1 ms target"],
        ["SDK call in-process (floor)", fmtUs(sdkStats.p50), fmtUs(sdkStats.p90), fmtUs(sdkStats.p99), fmtRatio(shellStats.p50 / sdkStats.p50), "shell / SDK"],
      ],
      "lrrrrl",
    ),
  );
  rows.push({ bench: "orbctl-startup", scenario: "shell round trip (whoami)", p50Us: shellStats.p50, p99Us: shellStats.p99, perSec: shellStats.perSec, ratio: shellStats.p50 / sdkStats.p50, ratioOf: "SDK call" });
  rows.push({ bench: "orbctl-startup", scenario: "SDK whoAmI in-process", p50Us: sdkStats.p50, p99Us: sdkStats.p99, perSec: sdkStats.perSec, ratio: 1, ratioOf: "SDK call" });
} finally {
  await daemon.stop();
  tmp.remove();
}

appendResults(args.json, rows);
