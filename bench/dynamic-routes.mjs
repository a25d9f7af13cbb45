#!/usr/bin/env node
// Dynamic routes at full-table scale, in the same run: N IPv4 routes (1,000,000 by default: /32s via a
// gateway on a veth) two ways, each into a fresh network namespace:
//   SyncRouteSet  the real orbitald (dist/orbitald.mjs, Linux data plane, with the executable's Node.js options)
//                 in the namespace, fed by the SDK's RouteSetSession (batches of 10,000, 4 in flight) from this
//                 process, timed from the first batch to the last acknowledgement
//   ip -batch     `ip -n <ns> -batch FILE` of the same N `route add` lines, from spawn to exit
// Both installs are checked (`ip route show proto P` counts N). Then the daemon's resting RSS with the routes,
// against its resting RSS before, gives the bytes per route it costs. The ratio is ip -batch's time over the
// API's (target: >= 2x). It prints figures; it asserts nothing. Needs root (namespaces it makes and deletes).
//
// Usage: node bench/dynamic-routes.mjs [--routes 1000000]
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { ensureBuild, fmtRatio, table, tempDir } from "./support/common.mjs";

const { values: args } = parseArgs({ options: { routes: { type: "string", default: "1000000" } }, strict: false });
const N = Number(args.routes);
if (!Number.isInteger(N) || N < 1 || N > 2_000_000) {
  console.error("usage: node bench/dynamic-routes.mjs [--routes 1..2000000]");
  process.exit(2);
}
if (process.getuid?.() !== 0 || spawnSync("ip", ["-V"]).status !== 0) {
  console.log("dynamic-routes: needs root and iproute2 (it creates network namespaces); skipped");
  process.exit(0);
}
ensureBuild();
const { tsImport } = await import("tsx/esm/api");
const { startDaemon } = await tsImport("../test/support/daemon.ts", import.meta.url);
const { RouteSetSession } = await tsImport("../src/client/route-set-session.ts", import.meta.url);
const { RoutingService } = await tsImport("../src/gen/orbital/routing/v1/routing_pb.ts", import.meta.url);

const PROTOCOL = 186;
const cidr = (i) => `10.${i >>> 16}.${(i >>> 8) & 255}.${i & 255}/32`;

function ip(...argv) {
  const r = spawnSync("ip", argv, { encoding: "utf8", maxBuffer: 1 << 30 });
  if (r.status !== 0) throw new Error(`ip ${argv.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

/** A fresh namespace with veth v0 (192.0.2.1/24) <-> v1, the gateway 192.0.2.2 on v0's subnet. */
function namespace() {
  const ns = `srbench-${process.pid}-${randomBytes(3).toString("hex")}`;
  ip("netns", "add", ns);
  ip("-n", ns, "link", "add", "v0", "type", "veth", "peer", "name", "v1");
  ip("-n", ns, "link", "set", "v0", "up");
  ip("-n", ns, "link", "set", "v1", "up");
  ip("-n", ns, "addr", "add", "192.0.2.1/24", "dev", "v0");
  return ns;
}

const counted = (ns) => Number(spawnSync("sh", ["-c", `ip -n ${ns} -4 route show proto ${PROTOCOL} | wc -l`], { encoding: "utf8" }).stdout.trim());

function viaIpBatch(dir) {
  const ns = namespace();
  try {
    const file = path.join(dir, "batch.txt");
    const lines = new Array(N);
    for (let i = 0; i < N; i++) lines[i] = `route add ${cidr(i)} via 192.0.2.2 proto ${PROTOCOL} metric 20`;
    writeFileSync(file, `${lines.join("\n")}\n`);
    const t0 = process.hrtime.bigint();
    const r = spawnSync("ip", ["-n", ns, "-batch", file], { encoding: "utf8" });
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (r.status !== 0) throw new Error(`ip -batch: ${r.stderr}`);
    if (counted(ns) !== N) throw new Error(`ip -batch installed ${counted(ns)} routes, not ${N}`);
    return ms;
  } finally {
    spawnSync("ip", ["netns", "delete", ns]);
  }
}

async function viaApi() {
  const ns = namespace();
  const d = await startDaemon({ netns: ns });
  try {
    const idleKiB = await d.restingRssKiB();
    const session = await RouteSetSession.open(d.client(RoutingService, 120_000), { name: "bench", protocol: PROTOCOL, distance: 20, gracePeriodMs: 0 });
    function* routes() {
      for (let i = 0; i < N; i++) yield { destination: { cidr: cidr(i) }, gateway: { address: "192.0.2.2" } };
    }
    const t0 = process.hrtime.bigint();
    const { added, failures } = await session.install(routes());
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (added !== N || failures.length > 0) throw new Error(`SyncRouteSet added ${added} of ${N}, ${failures.length} failures`);
    if (counted(ns) !== N) throw new Error(`the FIB holds ${counted(ns)} routes, not ${N}`);
    const restingKiB = await d.restingRssKiB();
    const peakKiB = d.peakRssKiB();
    await session.close();
    return { ms, idleKiB, restingKiB, peakKiB };
  } finally {
    await d.cleanup();
    spawnSync("ip", ["netns", "delete", ns]);
  }
}

const tmp = tempDir("orbital-bench-dynamic-");
let ipMs;
let api;
try {
  ipMs = viaIpBatch(tmp.dir);
  console.log(`ip -batch: ${N} routes in ${ipMs.toFixed(0)} ms`);
  api = await viaApi();
  console.log(`SyncRouteSet: ${N} routes in ${api.ms.toFixed(0)} ms`);
} finally {
  tmp.remove();
}

const bytesPerRoute = ((api.restingKiB - api.idleKiB) * 1024) / N;
const rows = [
  { scenario: `SyncRouteSet through orbitald, ${N} routes`, ms: api.ms, ratio: ipMs / api.ms },
  { scenario: `ip -batch, ${N} route add`, ms: ipMs, ratio: 1 },
];
console.log(`\ndynamic routes, ${N} IPv4 routes into the FIB of a fresh namespace`);
console.log(table(["way", "time", "routes/s", "vs ip -batch"], rows.map((r) => [r.scenario, `${r.ms.toFixed(0)} ms`, `${Math.round((N / r.ms) * 1000)}`, fmtRatio(r.ratio)]), "lrrr"));
console.log(`\nSyncRouteSet: ${fmtRatio(ipMs / api.ms)} of ip -batch's speed (target: 2x)`);
console.log(`daemon RSS at rest: idle ${api.idleKiB} KiB, with ${N} routes ${api.restingKiB} KiB (peak ${api.peakKiB} KiB): ${bytesPerRoute.toFixed(1)} bytes per route (target: under 200)`);

if (process.env.BENCH_RESULT_FILE) {
  writeFileSync(
    process.env.BENCH_RESULT_FILE,
    JSON.stringify({
      rows: rows.map((r) => ({ bench: "dynamic-routes", scenario: r.scenario, p50Us: r.ms * 1000, p99Us: r.ms * 1000, perSec: (N / r.ms) * 1000, ratio: r.ratio, ratioOf: "ip -batch time / this time" })),
    }),
  );
}
