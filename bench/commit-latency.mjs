#!/usr/bin/env node
// The cost of a one-change commit against the size of the configuration it changes. For each size (0, 10k,
// 100k, 1M configured routes by default), a daemon of its own (dist/orbitald.mjs, sim data plane) gets that
// many blackhole routes through BulkUpdateRoutes; with all of them running, a client in this process times
// one-change commits through the SDK: CreateRoute of a new route, then DeleteRoute of it, alternately; then
// as many one-change commits of another section (CreateRole, DeleteRole) in the same configurations. The
// commits are interleaved: one to each daemon in turn, so that the load of a busy machine weighs on every
// size alike. The figure is the median per call; the ratio is the median at each size over the median at
// the first size (0 routes) of the same run (the target is within 2x at 1M). At every size it also reports the revision storage's disk growth per one-change commit:
// the bytes of the revision files after 40 commits minus before, over 40 (fewer commits than the 50 revisions
// kept, so that nothing is pruned in between; snapshots written meanwhile are counted), next to the size of
// one full revision (the newest <n>.binpb), which is what every commit wrote before revision deltas.
//
// With --kernel (needs root and iproute2) each daemon runs the Linux data plane instead, in a fresh network
// namespace of its own (prefix "sc"), so that every commit really installs or deletes its route; the
// configured routes really are in that namespace's FIB.
//
// It prints figures; it asserts nothing.
// Usage: node bench/commit-latency.mjs [--sizes 0,10000,100000,1000000] [--commits 200] [--kernel]
// (the first size is the baseline)
import { spawnSync } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { appendResults, clientBundle, daemonBundle, ensureBuild, fmtRatio, fmtUs, median, nativeDir, startServer, table, tempDir } from "./support/common.mjs";

const { values: args } = parseArgs({
  options: {
    sizes: { type: "string", default: "0,10000,100000,1000000" },
    commits: { type: "string", default: "200" },
    kernel: { type: "boolean", default: false },
    json: { type: "string" },
  },
  strict: false, // `npm run bench -- …` hands the same arguments to every benchmark
});
const SIZES = args.sizes.split(",").map(Number);
const COMMITS = Number(args.commits);
if (SIZES.some((n) => !Number.isInteger(n) || n < 0 || n > 4_000_000) || !Number.isInteger(COMMITS) || COMMITS < 2) {
  console.error("usage: node bench/commit-latency.mjs [--sizes 0,10000,...] [--commits N>=2] [--kernel]");
  process.exit(2);
}
const KERNEL = args.kernel;
if (KERNEL && (process.getuid?.() !== 0 || spawnSync("ip", ["-V"]).status !== 0)) {
  console.log("commit-latency --kernel: needs root and iproute2 (it creates network namespaces); skipped");
  process.exit(0);
}
const BATCH = 10_000; // the API's largest batch
const SETUP_CHUNK = 200_000;
/** The n-th configured route: a distinct /32 blackhole route of 10.0.0.0/8 and up. */
const destinationOf = (n) => `${10 + (n >> 24)}.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}/32`;

ensureBuild();
const sdk = await import(clientBundle);
const services = Object.fromEntries(sdk.apiServices.map((s) => [s.name, s]));
const BLACKHOLE = 2; // orbital.routing.v1.RouteType.BLACKHOLE

/** Bytes of the revision files (not temporaries), and the size of the newest full one. */
function revisionFiles(dataDir) {
  const dir = path.join(dataDir, "config", "revisions");
  const names = readdirSync(dir).filter((f) => !f.startsWith(".")).sort();
  const size = (f) => statSync(path.join(dir, f)).size;
  const full = names.filter((f) => f.endsWith(".binpb")).at(-1);
  return { bytes: names.reduce((sum, f) => sum + size(f), 0), fullBytes: full ? size(full) : 0 };
}
const GROWTH_COMMITS = 40;

function ip(...argv) {
  const r = spawnSync("ip", argv, { encoding: "utf8", maxBuffer: 1 << 30 });
  if (r.status !== 0) throw new Error(`ip ${argv.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

/** A daemon holding `size` configured routes (in its own network namespace with --kernel). */
async function configured(size, index) {
  const tmp = tempDir("orbital-bench-commit-");
  const ns = `sc-bench-${process.pid}-${index}`;
  const socketPath = path.join(tmp.dir, "api.sock");
  const dataDir = path.join(tmp.dir, "data");
  const daemonArgs = [daemonBundle, "--socket", socketPath, "--data-dir", dataDir, "--dataplane", KERNEL ? "linux" : "sim", "--log-level", "warn", "--drain-ms", "1000"];
  if (KERNEL) {
    ip("netns", "add", ns);
    ip("-n", ns, "link", "set", "lo", "up");
  }
  const cmd = KERNEL ? "ip" : process.execPath;
  const argv = KERNEL ? ["netns", "exec", ns, process.execPath, ...daemonArgs] : daemonArgs;
  let daemon;
  let transport;
  const stop = async () => {
    transport?.close();
    await daemon?.stop();
    if (KERNEL) spawnSync("ip", ["netns", "del", ns]);
    tmp.remove();
  };
  try {
    daemon = await startServer(cmd, argv, { env: { ORBITAL_NATIVE_DIR: nativeDir }, socketPath, timeoutMs: 60_000 });
    transport = sdk.createTransport({ socketPath });
    const routing = sdk.createClient(services.RoutingService, transport);
    const users = sdk.createClient(services.UserService, transport);
    if (size > 0) {
      async function* batches(from, to) {
        for (let first = from; first < to; first += BATCH) {
          yield { adds: Array.from({ length: Math.min(BATCH, to - first) }, (_, i) => ({ destination: { cidr: destinationOf(first + i) }, type: BLACKHOLE })) };
        }
      }
      const t = Date.now();
      // In commits of at most SETUP_CHUNK routes: each stays within the daemon's handler deadline.
      for (let from = 0; from < size; from += SETUP_CHUNK) {
        const r = await routing.bulkUpdateRoutes(batches(from, Math.min(size, from + SETUP_CHUNK)), { deadlineMs: 1_800_000 });
        if (r.failures.length) throw new Error(`bulk setup failed: ${r.failures[0].description}`);
      }
      console.log(`  ${size.toLocaleString("en")} routes configured in ${((Date.now() - t) / 1000).toFixed(1)} s`);
      if (KERNEL) {
        const inFib = ip("-n", ns, "route", "show", "proto", "77").split("\n").filter(Boolean).length;
        if (inFib < size) throw new Error(`only ${inFib} of ${size} routes reached the FIB`);
      }
    }
    const probe = { destination: { cidr: "192.0.2.1/32" }, type: BLACKHOLE };
    const routeCommit = (i) => (i % 2 === 0 ? routing.createRoute({ route: probe }) : routing.deleteRoute({ destination: probe.destination }));
    // A one-change commit of another section (roles) in the same large configuration.
    const roleCommit = (i) => (i % 2 === 0 ? users.createRole({ role: { name: "bench", capabilities: [] } }) : users.deleteRole({ name: "bench" }));
    // Disk growth first (fewer commits than are kept, so nothing is pruned); they warm up JIT as well.
    const before = revisionFiles(dataDir);
    for (let i = 0; i < GROWTH_COMMITS; i++) await routeCommit(i);
    const after = revisionFiles(dataDir);
    return { size, routeCommit, roleCommit, growth: (after.bytes - before.bytes) / GROWTH_COMMITS, fullBytes: after.fullBytes, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Times COMMITS commits of each daemon, interleaved (one of each in turn), so that load hits all alike. */
async function timedInterleaved(daemons, which) {
  const us = daemons.map(() => []);
  for (let i = 0; i < COMMITS; i++) {
    for (const [n, d] of daemons.entries()) {
      const t = process.hrtime.bigint();
      await d[which](i);
      us[n].push(Number(process.hrtime.bigint() - t) / 1000);
    }
  }
  return us.map((xs) => ({ p50: median(xs), p99: [...xs].sort((a, b) => a - b)[Math.floor(xs.length * 0.99)] }));
}

const plane = KERNEL ? "kernel (netns)" : "sim";
console.log(`one-change commit latency, ${plane} data plane, ${COMMITS} commits per size, interleaved across the sizes`);
const daemons = [];
let results;
try {
  for (const [i, size] of SIZES.entries()) daemons.push(await configured(size, i));
  const routes = await timedInterleaved(daemons, "routeCommit");
  const roles = await timedInterleaved(daemons, "roleCommit");
  results = daemons.map((d, n) => ({ size: d.size, ...routes[n], role: roles[n], growth: d.growth, fullBytes: d.fullBytes }));
} finally {
  for (const d of daemons) await d.stop();
}
const base = results[0];
console.log(
  table(
    ["configured routes", "route p50", "p99", "ratio p50", "of", "role p50", "ratio", "disk growth per commit", "one full revision"],
    results.map((r) => [
      r.size.toLocaleString("en"),
      fmtUs(r.p50),
      fmtUs(r.p99),
      fmtRatio(r.p50 / base.p50),
      `${base.size} routes`,
      fmtUs(r.role.p50),
      fmtRatio(r.role.p50 / base.role.p50),
      `${Math.round(r.growth).toLocaleString("en")} B`,
      `${r.fullBytes.toLocaleString("en")} B`,
    ]),
    "rrrrlrrrr",
  ),
);
appendResults(
  args.json,
  results.flatMap((r) => [
    { bench: "commit-latency", scenario: `Create/DeleteRoute commit, ${r.size.toLocaleString("en")} routes, ${plane}`, p50Us: r.p50, p99Us: r.p99, perSec: 1e6 / r.p50, ratio: r.p50 / base.p50, ratioOf: `${base.size} routes` },
    { bench: "commit-latency", scenario: `Create/DeleteRole commit, ${r.size.toLocaleString("en")} routes, ${plane}`, p50Us: r.role.p50, p99Us: r.role.p99, perSec: 1e6 / r.role.p50, ratio: r.role.p50 / base.role.p50, ratioOf: `${base.size} routes` },
  ]),
);
