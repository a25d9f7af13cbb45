#!/usr/bin/env node
// Unary call latency of orbitald against the floor of the machine it runs on. Every figure is measured in this
// run, on this machine, between two separate processes over a Unix socket:
//   raw UDS      a client process sends a small length-prefixed frame, a server process echoes it back
//   node:http2   gRPC's wire shape served and called with node:http2 alone (no gRPC library)
//   grpc-js      a minimal grpc-js server (connection injector, identity serializers, no pipeline) and a
//                plain grpc-js client: the cost of grpc-js + node:http2 alone
//   orbitald     the real daemon (dist/orbitald.mjs), called through the SDK (dist/client.mjs) from a separate
//                client process over one persistent connection, over the fast path (the SDK's default,
//                docs/fast-path.md) and over gRPC: SystemService.GetVersion, UserService.WhoAmI
// Mixed pairs (node:http2 client → grpc-js server or orbitald; bare grpc-js client → orbitald) separate the
// cost of each side. Sequential runs (one call in flight) give p50/p99 latency and calls/s; concurrent runs
// (16 in flight) give throughput. The main scenarios also run pinned: client on CPU 0, server (every thread) on
// CPU 1, so that the two never compete for a core. Scenarios are interleaved over several rounds, and each figure is the median over the rounds, so
// that a noisy neighbour hits every scenario alike. Besides wall time, each client reports the CPU µs per call
// of itself and of the server (from /proc), which noise disturbs far less than latency.
//
// It prints figures and ratios; it asserts nothing. `--profile` adds a profiling phase (node --cpu-prof on the
// daemon, the SDK client, the grpc-js floor server and its client) and prints where the CPU time of one call
// goes (see bench/profile-breakdown.mjs).
//
// Usage: node bench/unary-latency.mjs [--rounds 3] [--iterations 5000] [--warmup 1500] [--concurrency 16]
//          [--concurrent-iterations 8000] [--quiet-cores 0.25] [--retries 1] [--profile] [--profile-only]
//          [--profile-dir DIR] [--json FILE]
// A sample during which other processes kept more than --quiet-cores cores busy is taken again, up to
// --retries times; the "other load" column shows the noise of the samples kept.
// Environment: ORBITAL_BENCH_DIST=<dir> benchmarks the bundles of another build (default: dist/).
import { mkdirSync, readdirSync } from "node:fs";
import { loadavg } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { analyzeProfile, formatBreakdown } from "./profile-breakdown.mjs";
import {
  appendResults,
  benchDir,
  clientBundle,
  distDir,
  allCpus,
  ensureBuild,
  fmtRate,
  fmtRatio,
  fmtUs,
  median,
  pinProcess,
  runJsonChild,
  startDaemon,
  startServer,
  table,
  tempDir,
} from "./support/common.mjs";

const { values: args } = parseArgs({
  options: {
    rounds: { type: "string", default: "3" },
    iterations: { type: "string", default: "5000" },
    warmup: { type: "string", default: "1500" },
    concurrency: { type: "string", default: "16" },
    "concurrent-iterations": { type: "string", default: "8000" },
    profile: { type: "boolean", default: false },
    "profile-only": { type: "boolean", default: false },
    "profile-dir": { type: "string" },
    "profile-iterations": { type: "string", default: "5000" },
    json: { type: "string" },
    "quiet-cores": { type: "string", default: "0.25" },
    retries: { type: "string", default: "1" },
  },
  strict: false, // `npm run bench -- …` hands the same arguments to every benchmark
});
const ROUNDS = Number(args.rounds);
const ITER = Number(args.iterations);
const WARMUP = Number(args.warmup);
const CONC = Number(args.concurrency);
const CONC_ITER = Number(args["concurrent-iterations"]);
const QUIET = Number(args["quiet-cores"]);
const RETRIES = Number(args.retries);

const RAW_CLIENT = path.join(benchDir, "support", "raw-client.mjs");
const RAW_SERVER = path.join(benchDir, "support", "raw-server.mjs");
const GRPC_CLIENT = path.join(benchDir, "support", "grpc-client.mjs");
const FLOOR_SERVER = path.join(benchDir, "support", "grpc-floor-server.mjs");
const H2_SERVER = path.join(benchDir, "support", "http2-floor-server.mjs");
const GET_VERSION = "orbital.system.v1.SystemService/GetVersion";
const WHO_AM_I = "orbital.user.v1.UserService/WhoAmI";
const FLOOR_PATH = "/bench.Floor/Echo";
const PAYLOAD = 64; // bytes of the raw frame and of the floor's echoed message

ensureBuild();
const tmp = tempDir("orbital-bench-");
const started = [];
const stopAll = async () => {
  for (const s of started.splice(0).reverse()) await s.stop().catch(() => {});
};
process.on("SIGINT", () => void stopAll().finally(() => process.exit(130)));

const log = (...a) => console.error(...a);

try {
  console.log(`unary-latency: node ${process.version}, ${distDir}, load average ${loadavg().map((l) => l.toFixed(2)).join(" ")}`);
  if (!args["profile-only"]) await measure();
  if (args.profile || args["profile-only"]) await profile();
} finally {
  await stopAll();
  tmp.remove();
}

// ---------------------------------------------------------------------------------------------------------

async function measure() {
  const raw = await startServer(process.execPath, [RAW_SERVER, path.join(tmp.dir, "raw.sock")]);
  started.push(raw);
  const h2 = await startServer(process.execPath, [H2_SERVER, path.join(tmp.dir, "h2.sock")]);
  started.push(h2);
  const floor = await startServer(process.execPath, [FLOOR_SERVER, path.join(tmp.dir, "floor.sock")]);
  started.push(floor);
  const daemon = await startDaemon(path.join(tmp.dir, "orbitald"));
  started.push(daemon);

  const seq = { warmup: WARMUP, iterations: ITER, concurrency: 1 };
  const conc = { warmup: WARMUP, iterations: CONC_ITER, concurrency: CONC };
  const echo = { path: FLOOR_PATH, request: "61".repeat(PAYLOAD) };
  const rawOpts = { socket: path.join(tmp.dir, "raw.sock"), bytes: PAYLOAD, serverPid: raw.pid };
  const h2Opts = { mode: "http2", socket: path.join(tmp.dir, "h2.sock"), ...echo, serverPid: h2.pid };
  const floorOpts = { mode: "bare", socket: path.join(tmp.dir, "floor.sock"), ...echo, serverPid: floor.pid };
  const h2FloorOpts = { mode: "http2", socket: path.join(tmp.dir, "floor.sock"), ...echo, serverPid: floor.pid };
  const sdk = (method, protocol = "fast") => ({ mode: "sdk", protocol, socket: daemon.socketPath, clientBundle, method, serverPid: daemon.pid });
  const lean = (mode, method) => ({ mode, socket: daemon.socketPath, path: `/${method}`, request: "", serverPid: daemon.pid });

  /** Scenarios in the order each round runs them; `pinned` ones run client and server on separate CPUs. */
  const base = [
    { id: "raw", label: "raw UDS ping-pong", script: RAW_CLIENT, opts: { ...rawOpts, ...seq }, pin: true },
    { id: "h2", label: "node:http2 floor (no gRPC library)", script: GRPC_CLIENT, opts: { ...h2Opts, ...seq } },
    { id: "floor", label: "grpc-js floor (bare client, minimal server)", script: GRPC_CLIENT, opts: { ...floorOpts, ...seq }, pin: true },
    { id: "floorH2", label: "grpc-js minimal server, node:http2 client", script: GRPC_CLIENT, opts: { ...h2FloorOpts, ...seq } },
    { id: "getVersion", label: "orbitald GetVersion (SDK, fast path)", script: GRPC_CLIENT, opts: { ...sdk(GET_VERSION), ...seq }, pin: true },
    { id: "getVersionGrpc", label: "orbitald GetVersion (SDK, gRPC)", script: GRPC_CLIENT, opts: { ...sdk(GET_VERSION, "grpc"), ...seq }, pin: true },
    { id: "whoAmI", label: "orbitald WhoAmI (SDK, fast path)", script: GRPC_CLIENT, opts: { ...sdk(WHO_AM_I), ...seq } },
    { id: "whoAmIGrpc", label: "orbitald WhoAmI (SDK, gRPC)", script: GRPC_CLIENT, opts: { ...sdk(WHO_AM_I, "grpc"), ...seq } },
    { id: "whoAmIBare", label: "orbitald WhoAmI, bare grpc-js client", script: GRPC_CLIENT, opts: { ...lean("bare", WHO_AM_I), ...seq } },
    { id: "whoAmIH2", label: "orbitald WhoAmI, node:http2 client", script: GRPC_CLIENT, opts: { ...lean("http2", WHO_AM_I), ...seq } },
    { id: "rawConc", label: `raw UDS, ${CONC} in flight`, script: RAW_CLIENT, opts: { ...rawOpts, ...conc }, pin: true },
    { id: "floorConc", label: `grpc-js floor, ${CONC} in flight`, script: GRPC_CLIENT, opts: { ...floorOpts, ...conc } },
    { id: "getVersionConc", label: `orbitald GetVersion (SDK, fast path), ${CONC} in flight`, script: GRPC_CLIENT, opts: { ...sdk(GET_VERSION), ...conc }, pin: true },
    { id: "getVersionGrpcConc", label: `orbitald GetVersion (SDK, gRPC), ${CONC} in flight`, script: GRPC_CLIENT, opts: { ...sdk(GET_VERSION, "grpc"), ...conc }, pin: true },
  ];
  const scenarios = [...base, ...base.filter((s) => s.pin).map((s) => ({ ...s, id: `${s.id}Pinned`, label: `${s.label}, pinned`, pinned: true }))];
  const results = Object.fromEntries(scenarios.map((s) => [s.id, []]));
  for (let round = 1; round <= ROUNDS; round++) {
    for (const s of scenarios) {
      // A sample taken while other processes kept the machine busy is taken again (up to RETRIES times,
      // after a pause); the quietest one is kept. The noise of each kept sample is shown in the table.
      let best;
      for (let attempt = 0; attempt <= RETRIES; attempt++) {
        if (attempt > 0) await new Promise((r) => setTimeout(r, 1000));
        // Pinned: the server's every thread on CPU 1, the client on CPU 0; otherwise both anywhere.
        pinProcess(s.opts.serverPid, s.pinned ? "1" : allCpus());
        const r = await runJsonChild(s.script, [JSON.stringify(s.opts)], s.pinned ? { cpus: "0" } : {});
        log(`round ${round}/${ROUNDS}: ${s.label}: p50 ${fmtUs(r.p50)}, other load ${r.otherCores.toFixed(2)} cores`);
        if (!best || r.otherCores < best.otherCores) best = r;
        if (r.otherCores <= QUIET) break;
      }
      results[s.id].push(best);
    }
  }

  // Each figure: the median over the rounds. Ratios: per round (same minute, same noise), then the median.
  const med = (id, key) => median(results[id].map((r) => r[key]));
  const ratio = (a, b, key) => median(results[a].map((r, i) => r[key] / results[b][i][key]));
  const range = (id, key) => {
    const xs = results[id].map((r) => r[key]);
    return `${fmtUs(Math.min(...xs))}–${fmtUs(Math.max(...xs))}`;
  };

  const rows = scenarios.map((s) => [
    s.label,
    fmtUs(med(s.id, "p50")),
    fmtUs(med(s.id, "p99")),
    fmtRate(med(s.id, "perSec")),
    med(s.id, "clientCpuUsPerCall").toFixed(1),
    med(s.id, "serverCpuUsPerCall").toFixed(1),
    ROUNDS > 1 ? range(s.id, "p50") : "",
    Math.max(...results[s.id].map((r) => r.otherCores)).toFixed(2),
  ]);
  console.log(`\n${ROUNDS} round(s); sequential: ${ITER} calls after ${WARMUP} warm-up; concurrent: ${CONC_ITER} calls, ${CONC} in flight. Medians over the rounds.`);
  console.log(table(["scenario", "p50", "p99", "calls/s", "client CPU µs/call", "server CPU µs/call", "p50 range over rounds", "other load (cores)"], rows, "lrrrrrrr"));
  const noisy = Math.max(...Object.values(results).flat().map((r) => r.otherCores));
  if (noisy > QUIET) console.log(`note: other processes kept up to ${noisy.toFixed(2)} cores busy during some samples; treat those figures with care.`);

  const ratios = [
    ["fast path: orbitald GetVersion p50 / raw p50", ratio("getVersion", "raw", "p50")],
    ["fast path: orbitald GetVersion p50 / raw p50, pinned", ratio("getVersionPinned", "rawPinned", "p50")],
    ["fast path: orbitald GetVersion p99 / raw p99", ratio("getVersion", "raw", "p99")],
    ["fast path: orbitald WhoAmI p50 / raw p50", ratio("whoAmI", "raw", "p50")],
    ["gRPC: orbitald GetVersion p50 / raw p50", ratio("getVersionGrpc", "raw", "p50")],
    ["gRPC: orbitald GetVersion p50 / raw p50, pinned", ratio("getVersionGrpcPinned", "rawPinned", "p50")],
    ["gRPC: orbitald WhoAmI p50 / raw p50", ratio("whoAmIGrpc", "raw", "p50")],
    ["gRPC p50 / fast path p50, GetVersion", ratio("getVersionGrpc", "getVersion", "p50")],
    [`fast path / gRPC calls/s, ${CONC} in flight`, ratio("getVersionConc", "getVersionGrpcConc", "perSec")],
    [`fast path / gRPC calls/s, ${CONC} in flight, pinned`, ratio("getVersionConcPinned", "getVersionGrpcConcPinned", "perSec")],
    ["daemon CPU per call: fast path / gRPC (GetVersion, pinned)", ratio("getVersionPinned", "getVersionGrpcPinned", "serverCpuUsPerCall")],
    ["node:http2 floor p50 / raw p50", ratio("h2", "raw", "p50")],
    ["grpc-js floor p50 / raw p50", ratio("floor", "raw", "p50")],
    ["grpc-js floor p99 / raw p99", ratio("floor", "raw", "p99")],
    ["grpc-js floor p50 / node:http2 floor p50", ratio("floor", "h2", "p50")],
    ["orbitald WhoAmI (SDK, gRPC) p50 / grpc-js floor p50", ratio("whoAmIGrpc", "floor", "p50")],
    ["orbitald WhoAmI (node:http2 client) p50 / grpc-js server (node:http2 client) p50", ratio("whoAmIH2", "floorH2", "p50")],
    ["orbitald WhoAmI p50: SDK over gRPC / bare grpc-js client", ratio("whoAmIGrpc", "whoAmIBare", "p50")],
    ["orbitald GetVersion calls/s / raw round trips/s, sequential", ratio("getVersion", "raw", "perSec")],
    [`orbitald GetVersion calls/s / raw round trips/s, ${CONC} in flight`, ratio("getVersionConc", "rawConc", "perSec")],
    [`orbitald GetVersion calls/s / grpc-js floor calls/s, ${CONC} in flight`, ratio("getVersionConc", "floorConc", "perSec")],
  ];
  console.log(`\n${table(["ratio (per round, median over rounds)", "value"], ratios.map(([k, v]) => [k, fmtRatio(v)]), "lr")}`);
  console.log(
    `\ntargets: fast-path unary p50 <= 1.5x raw: measured ${fmtRatio(ratio("getVersion", "raw", "p50"))} (GetVersion), ${fmtRatio(ratio("getVersionPinned", "rawPinned", "p50"))} pinned, ` +
      `${fmtRatio(ratio("whoAmI", "raw", "p50"))} (WhoAmI); ${CONC}-in-flight throughput >= 5x orbitald over gRPC: ${fmtRatio(ratio("getVersionConc", "getVersionGrpcConc", "perSec"))}, ` +
      `${fmtRatio(ratio("getVersionConcPinned", "getVersionGrpcConcPinned", "perSec"))} pinned; daemon CPU per call halved: ${fmtRatio(ratio("getVersionPinned", "getVersionGrpcPinned", "serverCpuUsPerCall"))} of gRPC's. ` +
      `(node:http2 alone is ${fmtRatio(ratio("h2", "raw", "p50"))} of raw, grpc-js alone ${fmtRatio(ratio("floor", "raw", "p50"))}.)`,
  );

  // CPU per call of each side (medians): the differences isolate the layers.
  const cpu = (id) => `${med(id, "clientCpuUsPerCall").toFixed(0)} + ${med(id, "serverCpuUsPerCall").toFixed(0)}`;
  console.log("\nCPU µs per call, client + server:");
  for (const s of scenarios.filter((x) => !x.id.includes("Conc"))) console.log(`  ${s.label.padEnd(56)} ${cpu(s.id)}`);

  appendResults(
    args.json,
    scenarios.map((s) => ({
      bench: "unary-latency",
      scenario: s.label,
      p50Us: med(s.id, "p50"),
      p99Us: med(s.id, "p99"),
      perSec: med(s.id, "perSec"),
      ratio: ratio(s.id, `${s.id.includes("Conc") ? "rawConc" : "raw"}${s.pinned ? "Pinned" : ""}`, s.id.includes("Conc") ? "perSec" : "p50"),
      ratioOf: `${s.id.includes("Conc") ? "calls/s" : "p50"} vs raw${s.pinned ? " (pinned)" : ""}`,
    })),
    { rounds: results, ratios: Object.fromEntries(ratios) },
  );

  await stopAll();
}

// ---------------------------------------------------------------------------------------------------------

/**
 * Runs the daemon and the SDK client (GetVersion), then the grpc-js floor server and its bare client, each
 * under node --cpu-prof, and prints the CPU time of one call by group for each process, cut to the measured
 * window (no start-up, warm-up or shutdown).
 */
async function profile() {
  const dir = args["profile-dir"] ? path.resolve(args["profile-dir"]) : path.join(tmp.dir, "profiles");
  const iterations = Number(args["profile-iterations"]);
  const prof = (name) => {
    mkdirSync(path.join(dir, name), { recursive: true });
    return ["--cpu-prof", "--cpu-prof-dir", path.join(dir, name), "--cpu-prof-interval", "100"];
  };
  const newest = (name) => path.join(dir, name, readdirSync(path.join(dir, name)).filter((f) => f.endsWith(".cpuprofile")).sort().pop());
  const opts = { warmup: WARMUP, iterations, concurrency: 1 };

  log("profile: orbitald + SDK client (GetVersion)");
  const daemon = await startDaemon(path.join(tmp.dir, "orbitald-prof"), { nodeArgs: prof("orbitald") });
  started.push(daemon);
  const d = await runJsonChild(GRPC_CLIENT, [JSON.stringify({ mode: "sdk", socket: daemon.socketPath, clientBundle, method: GET_VERSION, serverPid: daemon.pid, ...opts })], { nodeArgs: prof("sdk-client") });
  await daemon.stop(); // SIGTERM: orbitald drains and exits, and node writes the profile
  started.splice(started.indexOf(daemon), 1);

  log("profile: grpc-js floor server + bare client");
  const floorSock = path.join(tmp.dir, "floor-prof.sock");
  const floor = await startServer(process.execPath, [...prof("floor-server"), FLOOR_SERVER, floorSock]);
  started.push(floor);
  const f = await runJsonChild(GRPC_CLIENT, [JSON.stringify({ mode: "bare", socket: floorSock, path: FLOOR_PATH, request: "61".repeat(PAYLOAD), serverPid: floor.pid, ...opts })], { nodeArgs: prof("floor-client") });
  await floor.stop();
  started.splice(started.indexOf(floor), 1);

  console.log(`\nprofiles (node --cpu-prof, 100 µs sampling; ${iterations} sequential calls, window = measured phase) in ${dir}`);
  console.log(`under the profiler: orbitald GetVersion p50 ${fmtUs(d.p50)}, grpc-js floor p50 ${fmtUs(f.p50)} (profiling slows calls down; use the shares, not the absolute figures)\n`);
  const summary = [];
  const processes = [["orbitald", d], ["sdk-client", d], ["floor-server", f], ["floor-client", f]];
  for (const [name, r] of processes) {
    const a = analyzeProfile(newest(name), { window: r.window });
    console.log(`== ${name}\n${formatBreakdown(a, { calls: iterations, top: 14 })}\n`);
    summary.push({ process: name, busyUsPerCall: a.busyUs / iterations, busyUs: a.busyUs, self: a.self.group.map((g) => ({ group: g.name, usPerCall: g.us / iterations })), owner: a.owner.group.map((g) => ({ group: g.name, us: g.us, usPerCall: g.us / iterations })) });
  }
  // Side by side: each group's share of each process's busy CPU (owner view).
  const groups = [...new Set(summary.flatMap((p) => p.owner.map((g) => g.group)))];
  const share = (p, g) => {
    const hit = p.owner.find((x) => x.group === g);
    return hit ? `${((100 * hit.us) / p.busyUs).toFixed(1)}%` : "";
  };
  const byOrbitald = (g) => -(summary[0].owner.find((x) => x.group === g)?.us ?? 0) - (summary[1].owner.find((x) => x.group === g)?.us ?? 0) / 10;
  groups.sort((a, b) => byOrbitald(a) - byOrbitald(b));
  console.log("owner view, share of each process's busy CPU:");
  console.log(table(["group", ...summary.map((p) => p.process)], [...groups.map((g) => [g, ...summary.map((p) => share(p, g))]), ["µs CPU per call (under the profiler)", ...summary.map((p) => p.busyUsPerCall.toFixed(0))]], "lrrrr"));
  for (const [name, r] of processes.filter((_, i) => i % 2 === 0)) {
    console.log(`more detail: node bench/profile-breakdown.mjs ${path.join(dir, name, "*.cpuprofile")} --by function --window ${r.window.join(",")} --calls ${iterations}`);
  }
  if (!args["profile-dir"]) console.log("(pass --profile-dir DIR to keep the profiles; these are removed at exit)");
  appendResults(args.json, [], { profile: summary });
}

