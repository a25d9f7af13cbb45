#!/usr/bin/env node
// The single executable (dist/sea/<host arch>/bin/orbital, `npm run build:sea`) against the plain Node binary
// it is made from (the pinned Node 24 in build/sea-cache/):
//   size        bytes of the executable, of that node binary, and the ratio (what the embedded program adds)
//   start-up    wall time of `orbctl --help` through the executable (a new process per run) against
//               `node -e 0` of the same Node binary; also `node dist/orbctl.mjs --help` on that Node (the
//               bundle layout, with orbctl's per-user code cache) when dist/ is built. Scenarios are
//               interleaved round by round; figures are wall-time medians and minimums and the mean CPU time
//               (user+system of the child, far less disturbed by a busy machine). It asserts nothing.
// Builds the executable first when it is missing. Standalone; `npm run bench` also runs it.
//
// Usage: node bench/sea-size.mjs [--rounds 20] [--json FILE]
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { NODE_VERSION, repoRoot, seaDir, strippedNode } from "../scripts/build-sea.mjs";
import { appendResults } from "./support/common.mjs";

const { values: args } = parseArgs({ options: { rounds: { type: "string", default: "20" }, json: { type: "string" } }, strict: false });
const ROUNDS = Number(args.rounds);
const arch = os.machine();
const exe = path.join(seaDir(arch), "bin", "orbital");
const orbctl = path.join(seaDir(arch), "bin", "orbctl");

if (!existsSync(exe)) {
  console.error("bench: the single executable is missing, running `node scripts/build-sea.mjs`");
  if (spawnSync(process.execPath, [path.join(repoRoot, "scripts", "build-sea.mjs"), "--if-stale"], { cwd: repoRoot, stdio: "inherit" }).status !== 0) process.exit(1);
}
// The baseline is the Node binary the executable is made from: the pinned one, stripped.
const node = strippedNode(arch);

// ---- size ----
const mib = (n) => `${(n / 2 ** 20).toFixed(1)} MiB`;
const seaBytes = statSync(exe).size;
const nodeBytes = statSync(node).size;
console.log(`size (${arch}, Node ${NODE_VERSION})`);
console.log(`  single executable  ${mib(seaBytes).padStart(10)}  ${seaBytes} bytes  ${path.relative(repoRoot, exe)}`);
console.log(`  plain node         ${mib(nodeBytes).padStart(10)}  ${nodeBytes} bytes  ${path.relative(repoRoot, node)}`);
console.log(`  ratio              ${(seaBytes / nodeBytes).toFixed(3)}x  (+${mib(seaBytes - nodeBytes)} embedded program and code cache)`);

// ---- start-up ----
const tmp = mkdtempSync(path.join(os.tmpdir(), "sea-bench-"));
const env = { PATH: process.env.PATH, HOME: tmp, XDG_CACHE_HOME: path.join(tmp, "cache"), XDG_STATE_HOME: path.join(tmp, "state"), XDG_RUNTIME_DIR: path.join(tmp, "run"), TERM: "dumb" };
const bundle = path.join(repoRoot, "dist", "orbctl.mjs");
const scenarios = [
  { name: `node -e 0 (Node ${NODE_VERSION})`, cmd: node, argv: ["-e", "0"] },
  { name: "orbctl --help (single executable)", cmd: orbctl, argv: ["--help"] },
  ...(existsSync(bundle) ? [{ name: `node dist/orbctl.mjs --help (Node ${NODE_VERSION})`, cmd: node, argv: [bundle, "--help"] }] : []),
];
const clkTck = Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout.trim()) || 100;
/** CPU ms used so far by this process's waited-for children (cutime + cstime): far less disturbed by load. */
function childrenCpuMs() {
  const stat = readFileSync("/proc/self/stat", "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return ((Number(f[13]) + Number(f[14])) * 1000) / clkTck;
}
function timed(s) {
  const c0 = childrenCpuMs();
  const t0 = process.hrtime.bigint();
  const r = spawnSync(s.cmd, s.argv, { env, cwd: tmp, stdio: ["ignore", "ignore", "pipe"], encoding: "utf8" });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${s.name} exited with ${r.status}: ${r.stderr}`);
  if (r.stderr.includes("Code cache data rejected")) throw new Error(`${s.name}: the executable's code cache was rejected`);
  return { ms, cpuMs: childrenCpuMs() - c0 };
}
const rows = [];
try {
  for (const s of scenarios) timed(s), timed(s); // warm-up: file cache, orbctl's own code cache
  const samples = scenarios.map(() => []);
  for (let r = 0; r < ROUNDS; r++) scenarios.forEach((s, i) => samples[i].push(timed(s)));
  const stat = (runs) => {
    const xs = runs.map((x) => x.ms).sort((a, b) => a - b);
    const cpu = runs.reduce((a, x) => a + x.cpuMs, 0) / runs.length;
    return { median: xs[Math.floor(xs.length / 2)], min: xs[0], p90: xs[Math.min(xs.length - 1, Math.ceil(xs.length * 0.9) - 1)], cpu };
  };
  const stats = samples.map(stat);
  const base = stats[0];
  console.log(`\nstart-up, ${ROUNDS} rounds of a new process each (wall time; CPU = user+system, mean; ratios to node -e 0 of the same binary)`);
  const w = Math.max(...scenarios.map((s) => s.name.length));
  const x = (v) => `${v.toFixed(2)}x`;
  console.log(`  ${"scenario".padEnd(w)}  ${"median".padStart(9)}  ${"min".padStart(9)}  ${"p90".padStart(9)}  ${"ratio".padStart(6)}  ${"ratio (min)".padStart(11)}  ${"CPU".padStart(9)}  ${"ratio (CPU)".padStart(11)}`);
  scenarios.forEach((s, i) => {
    const st = stats[i];
    const ms = (v) => `${v.toFixed(1)} ms`.padStart(9);
    console.log(`  ${s.name.padEnd(w)}  ${ms(st.median)}  ${ms(st.min)}  ${ms(st.p90)}  ${x(st.median / base.median).padStart(6)}  ${x(st.min / base.min).padStart(11)}  ${ms(st.cpu)}  ${x(st.cpu / base.cpu).padStart(11)}`);
    rows.push({ bench: "sea-size", scenario: s.name, p50Us: st.median * 1000, p99Us: st.p90 * 1000, perSec: 1000 / st.median, ratio: st.median / base.median, ratioOf: "node -e 0" });
  });
} finally {
  rmSync(tmp, { recursive: true, force: true });
}

appendResults(args.json, rows, { sea: { arch, nodeVersion: NODE_VERSION, seaBytes, nodeBytes } });
