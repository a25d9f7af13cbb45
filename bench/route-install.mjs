#!/usr/bin/env node
// Route installation into the kernel: N IPv4 routes (100,000 by default: /32 host routes out of a veth, proto
// 77) into a fresh table of a fresh network namespace, two ways, in the same run:
//   rtnetlink   one execute() of the rtnetlink addon through its wrapper (src/daemon/dataplane/netlink/
//               rtnetlink.ts): validation and serialization on the event loop, then many requests per sendmsg
//               on the addon's worker thread, one ack each
//   ip -batch   `ip -n <ns> -batch FILE` of the same N `route add` lines (iproute2: one request and one ack
//               per line), from spawn to exit
// Each round uses a new namespace and new tables, and alternates which way goes first; every install is checked
// (`ip route show table T` must count N lines). Figures are medians over the rounds: wall time, and CPU time
// (the addon: every thread of this process during execute(); ip: the child's user + system time), which a
// busy machine disturbs far less. The ratios are ip -batch's figure over the addon's. It prints figures; it
// asserts nothing. Needs root (it creates and deletes the
// namespaces it uses; nothing outside them is touched).
//
// Usage: node bench/route-install.mjs [--routes 100000] [--rounds 3]
// Environment: ORBITAL_BENCH_DIST=<dir> benchmarks the addon of another build (default: dist/, else
// native/build/<arch>).
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { fmtRatio, median, nativeDir, repoRoot, table, tempDir } from "./support/common.mjs";

const { values: args } = parseArgs({
  options: { routes: { type: "string", default: "100000" }, rounds: { type: "string", default: "3" } },
  strict: false, // `npm run bench` passes every benchmark the same arguments
});
const N = Number(args.routes);
const ROUNDS = Number(args.rounds);
if (!Number.isInteger(N) || N < 1 || N > 16_000_000 || !Number.isInteger(ROUNDS) || ROUNDS < 1) {
  console.error("usage: node bench/route-install.mjs [--routes 1..16000000] [--rounds N]");
  process.exit(2);
}

if (process.getuid?.() !== 0 || spawnSync("ip", ["-V"]).status !== 0) {
  console.log("route-install: needs root and iproute2 (it creates network namespaces); skipped");
  process.exit(0);
}

const addonDirs = [nativeDir, path.join(repoRoot, "native", "build", os.machine?.() ?? process.arch)];
if (!addonDirs.some((d) => existsSync(path.join(d, "rtnetlink.node")))) {
  if (process.env.ORBITAL_BENCH_DIST) throw new Error(`${nativeDir} has no rtnetlink.node`);
  console.error("bench: rtnetlink.node is missing, running `npm run build`");
  const r = spawnSync("npm", ["run", "build"], { cwd: repoRoot, stdio: "inherit" });
  if (r.status !== 0) throw new Error("npm run build failed");
}
const { tsImport } = await import("tsx/esm/api");
const { loadRtnetlinkAddon, openRtnetlink } = await tsImport("../src/daemon/dataplane/netlink/rtnetlink.ts", import.meta.url);
loadRtnetlinkAddon(addonDirs);

const dest = (i) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}/32`;

function ip(...argv) {
  const r = spawnSync("ip", argv, { encoding: "utf8", maxBuffer: 1 << 30 });
  if (r.status !== 0) throw new Error(`ip ${argv.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

const countRoutes = (ns, tableId) => ip("-n", ns, "-4", "route", "show", "table", String(tableId)).split("\n").filter((l) => l !== "").length;

let clkTck;
/** CPU time (user + system) of this process's waited-for children so far, ms (/proc, 1/CLK_TCK steps). */
function childrenCpuMs() {
  clkTck ??= Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout.trim()) || 100;
  const stat = readFileSync("/proc/self/stat", "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" "); // fields from 3 (state) on
  return ((Number(f[13]) + Number(f[14])) * 1000) / clkTck; // cutime (16) + cstime (17)
}

const selfCpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

/** Wall and CPU time of one install through the addon (CPU: every thread of this process). */
async function viaAddon(ns, oif, tableId) {
  const ops = new Array(N);
  for (let i = 0; i < N; i++) {
    ops[i] = { op: "routeReplace", route: { family: 4, table: tableId, destination: dest(i), oif, priority: 0, protocol: 77, type: 1 } };
  }
  const sock = openRtnetlink({ netnsPath: `/var/run/netns/${ns}` });
  try {
    const c0 = selfCpuMs();
    const t0 = process.hrtime.bigint();
    const results = await sock.execute(ops);
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    const cpuMs = selfCpuMs() - c0;
    const failed = results.filter((r) => r.errno !== 0);
    if (failed.length > 0) throw new Error(`${failed.length} routes failed, e.g. ${failed[0].message}`);
    return { ms, cpuMs };
  } finally {
    sock.close();
  }
}

function viaIpBatch(ns, tableId, dir) {
  const file = path.join(dir, `batch-${tableId}.txt`);
  const lines = new Array(N);
  for (let i = 0; i < N; i++) lines[i] = `route add ${dest(i)} dev v0 table ${tableId} proto 77`;
  writeFileSync(file, `${lines.join("\n")}\n`);
  const c0 = childrenCpuMs();
  const t0 = process.hrtime.bigint();
  const r = spawnSync("ip", ["-n", ns, "-batch", file], { encoding: "utf8" });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  const cpuMs = childrenCpuMs() - c0;
  if (r.status !== 0) throw new Error(`ip -batch: ${r.stderr}`);
  return { ms, cpuMs };
}

const tmp = tempDir("orbital-bench-routes-");
const addonMs = [];
const ipMs = [];
try {
  for (let round = 0; round < ROUNDS; round++) {
    const ns = `orbbench-${process.pid}-${randomBytes(3).toString("hex")}`;
    ip("netns", "add", ns);
    try {
      ip("-n", ns, "link", "add", "v0", "type", "veth", "peer", "name", "v1");
      ip("-n", ns, "link", "set", "v0", "up");
      const oif = Number(JSON.parse(ip("-n", ns, "-j", "link", "show", "dev", "v0"))[0].ifindex);
      const addonTable = 1000 + round;
      const ipTable = 2000 + round;
      const runs = [
        async () => addonMs.push(await viaAddon(ns, oif, addonTable)),
        async () => ipMs.push(viaIpBatch(ns, ipTable, tmp.dir)),
      ];
      if (round % 2 === 1) runs.reverse();
      for (const run of runs) await run();
      for (const t of [addonTable, ipTable]) {
        const n = countRoutes(ns, t);
        if (n !== N) throw new Error(`table ${t} holds ${n} routes, not ${N}`);
      }
      const [x, y] = [addonMs.at(-1), ipMs.at(-1)];
      console.log(
        `round ${round + 1}/${ROUNDS}: rtnetlink ${x.ms.toFixed(0)} ms (cpu ${x.cpuMs.toFixed(0)} ms), ` +
          `ip -batch ${y.ms.toFixed(0)} ms (cpu ${y.cpuMs.toFixed(0)} ms)`,
      );
    } finally {
      spawnSync("ip", ["netns", "delete", ns]);
    }
  }
} finally {
  tmp.remove();
}

const wall = (xs) => median(xs.map((x) => x.ms));
const cpu = (xs) => median(xs.map((x) => x.cpuMs));
const [a, b] = [wall(addonMs), wall(ipMs)];
const rows = [
  { scenario: `rtnetlink execute(), ${N} routes`, ms: a, max: Math.max(...addonMs.map((x) => x.ms)), cpuMs: cpu(addonMs), ratio: b / a },
  { scenario: `ip -batch, ${N} route add`, ms: b, max: Math.max(...ipMs.map((x) => x.ms)), cpuMs: cpu(ipMs), ratio: 1 },
];
console.log(`\nroute install, ${N} IPv4 routes into a fresh table, median of ${ROUNDS} round(s)`);
console.log(
  table(
    ["way", "time", "max", "cpu", "routes/s", "vs ip -batch (time)", "vs ip -batch (cpu)"],
    rows.map((r) => [
      r.scenario,
      `${r.ms.toFixed(0)} ms`,
      `${r.max.toFixed(0)} ms`,
      `${r.cpuMs.toFixed(0)} ms`,
      `${Math.round((N / r.ms) * 1000)}`,
      fmtRatio(b / r.ms),
      fmtRatio(rows[1].cpuMs / r.cpuMs),
    ]),
    "lrrrrrr",
  ),
);
console.log(`\nrtnetlink: ${fmtRatio(b / a)} faster than ip -batch in time, ${fmtRatio(rows[1].cpuMs / rows[0].cpuMs)} less CPU (target: 2x)`);

if (process.env.BENCH_RESULT_FILE) {
  // bench/run.mjs summary rows: p50 = median time of one whole install, p99 = the slowest round.
  writeFileSync(
    process.env.BENCH_RESULT_FILE,
    JSON.stringify({
      rows: rows.map((r) => ({
        bench: "route-install",
        scenario: r.scenario,
        p50Us: r.ms * 1000,
        p99Us: r.max * 1000,
        perSec: (N / r.ms) * 1000,
        ratio: r.ratio,
        ratioOf: "ip -batch time / this time",
      })),
    }),
  );
}
