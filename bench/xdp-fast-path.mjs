#!/usr/bin/env node
// The XDP fast path against the same drop done by nftables, and the time to load a million prefixes, each
// against a baseline measured in the same run. Needs root, clang, cc, libbpf-dev, bpftool, nft; it creates two
// network namespaces joined by a veth and a bpffs of its own, and deletes them at the end.
//
//   gen netns: g0 ──veth──> r0 :brcv netns      traffic: BPF_PROG_RUN live frames (bench/support/
//                                               xdp-trafficgen.c): 64-byte UDP frames from 198.51.100.7,
//                                               XDP_TX out of g0, at the kernel's own speed
//
// 1. Drop rate and CPU per packet, --packets frames per case and round (cases alternate their order):
//      bare drop  r0 runs a one-instruction XDP_DROP program: what generating and delivering costs
//      xdp        r0 runs orbitald's fast path with a drop list of 10,001 prefixes (attached by the
//                 XdpFastPath backend itself, in brcv)
//      nftables   r0 runs an XDP_PASS program (veth needs one to take XDP_TX frames) and a netdev ingress
//                 chain `ip saddr @set drop` of the same 10,001 prefixes
//    The generator is pinned to one CPU, and the receiver runs there too (veth's XDP_TX schedules the peer's
//    NAPI on the sending CPU, in softirq): CPU is that CPU's kernel time (system + irq + softirq, /proc/stat)
//    over the run per frame, and the receiver's share is the case's figure minus the bare drop's (what
//    generating and delivering costs). Ratios: nftables over xdp, of that receiver share and (more
//    conservative) of the totals. Other work on that CPU in user space does not count; in the kernel it does.
// 2. Loading 1,000,000 prefixes: through the API (orbitald in brcv with the Linux data plane: a
//    BulkUpdatePrefixSetEntries stream of 100 batches of 10,000 into a set attached as a fast-path list on r0,
//    until the commit answers: transfer, validation, commit, revision on disk, the trie built and swapped in)
//    against `bpftool batch` of 1,000,000 `map update` lines into an LPM trie of the same shape.
//
// Usage: node bench/xdp-fast-path.mjs [--packets 3000000] [--rounds 3] [--prefixes 1000000]
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { appendResults, daemonBundle, ensureBuild, fmtRatio, median, nativeDir, repoRoot, table } from "./support/common.mjs";

const { values: args } = parseArgs({
  options: { packets: { type: "string", default: "3000000" }, rounds: { type: "string", default: "3" }, prefixes: { type: "string", default: "1000000" } },
  strict: false,
});
const PACKETS = Number(args.packets);
const ROUNDS = Number(args.rounds);
const PREFIXES = Number(args.prefixes);

const need = ["ip", "nft", "bpftool", "clang", "cc"];
if (process.getuid?.() !== 0 || need.some((t) => spawnSync("sh", ["-c", `command -v ${t}`]).status !== 0)) {
  console.log(`xdp-fast-path: needs root and ${need.join(", ")} (and libbpf-dev); skipped`);
  process.exit(0);
}
ensureBuild();

const SOURCE = "198.51.100.7";
const RECEIVER = "10.98.0.1";
const out = path.join(repoRoot, "build", "bench");
mkdirSync(out, { recursive: true });
const gen = path.join(out, "xdp-trafficgen");
const genObject = path.join(out, "xdp-trafficgen.bpf.o");
const multiarch = spawnSync("gcc", ["-print-multiarch"], { encoding: "utf8" }).stdout.trim() || "x86_64-linux-gnu";
execFileSync("cc", ["-O2", "-Wall", "-o", gen, path.join(repoRoot, "bench", "support", "xdp-trafficgen.c"), "-lbpf"]);
execFileSync("clang", ["-O2", "-g", "-target", "bpf", `-I/usr/include/${multiarch}`, "-c", path.join(repoRoot, "bench", "support", "xdp-trafficgen.bpf.c"), "-o", genObject]);

const run = (cmd, ...argv) => execFileSync(cmd, argv, { encoding: "utf8", maxBuffer: 1 << 30 });
const tag = `${process.pid}`;
const genNs = `xdpb-gen-${tag}`;
const rcvNs = `xdpb-rcv-${tag}`;
const work = mkdtempSync(path.join(os.tmpdir(), "orbital-xdp-bench-"));
const bpffs = path.join(work, "bpffs");
mkdirSync(bpffs);
let daemon;

function cleanup() {
  daemon?.kill("SIGKILL");
  spawnSync("ip", ["netns", "del", genNs]);
  spawnSync("ip", ["netns", "del", rcvNs]);
  spawnSync("umount", [bpffs]);
  rmSync(work, { recursive: true, force: true });
}
process.on("exit", cleanup);
for (const s of ["SIGINT", "SIGTERM"]) process.on(s, () => process.exit(1));

run("mount", "-t", "bpf", "bpf", bpffs);
run("ip", "netns", "add", genNs);
run("ip", "netns", "add", rcvNs);
run("ip", "link", "add", "g0", "netns", genNs, "type", "veth", "peer", "name", "r0", "netns", rcvNs);
run("ip", "-n", genNs, "link", "set", "g0", "up");
run("ip", "-n", rcvNs, "link", "set", "r0", "up");
run("ip", "-n", rcvNs, "addr", "add", `${RECEIVER}/24`, "dev", "r0");
const linkOf = (ns, dev) => JSON.parse(run("ip", "-n", ns, "-j", "link", "show", dev))[0];
const genIfindex = linkOf(genNs, "g0").ifindex;
const rcvMac = linkOf(rcvNs, "r0").address;
const inRcv = (cmd, ...argv) => run("ip", "netns", "exec", rcvNs, cmd, ...argv);

// 10,001 prefixes: 10,000 /24s of 10.0.0.0/8 and the source's /24.
const set = [...Array(10_000).keys()].map((i) => `10.${(i >> 8) & 255}.${i & 255}.0/24`).concat(["198.51.100.0/24"]);

// ---- the receiver's configurations --------------------------------------------------------------------------
const baselinePins = path.join(bpffs, "baseline");
run("bpftool", "prog", "loadall", genObject, baselinePins);
const fastPathPins = path.join(bpffs, "orbital");

function detachAll() {
  spawnSync("ip", ["netns", "exec", rcvNs, "ip", "link", "set", "dev", "r0", "xdp", "off"]);
  spawnSync("ip", ["netns", "exec", rcvNs, "nft", "delete", "table", "netdev", "bench"]);
  // orbitald's fast path: apply a configuration without lists (it detaches and unpins)
  fastPath([]);
}

/** Runs src/daemon/dataplane/xdp/xdp-fast-path.ts inside brcv to make r0's fast path match `drop`. */
function fastPath(drop) {
  const script = `
    const { tsImport } = await import("tsx/esm/api");
    const { create } = await import("@bufbuild/protobuf");
    const { ConfigurationSchema } = await tsImport("./src/gen/orbital/config/v1/configuration_pb.ts", import.meta.url);
    const { XdpFastPath } = await tsImport("./src/daemon/dataplane/xdp/xdp-fast-path.ts", import.meta.url);
    const drop = JSON.parse((await import("node:fs")).readFileSync(process.env.DROP, "utf8"));
    const config = create(ConfigurationSchema, drop.length ? {
      prefixSets: [{ name: "bench", family: 1, prefixes: drop.map((cidr) => ({ cidr })) }],
      fastPathLists: [{ prefixSet: "bench", action: 1, interfaces: ["r0"] }],
    } : {});
    const log = { info() {}, warn() {}, debug() {}, error() {} };
    const fp = new XdpFastPath({ pinRoot: process.env.PINS, log, addonDirs: [process.env.NATIVE] });
    const links = new Map([["r0", { name: "r0", ifindex: Number(process.env.IFINDEX) }]]);
    const failures = await fp.apply(config, async () => links);
    if (failures.length) throw new Error(failures.map((f) => f.message).join("; "));
    fp.close();`;
  const dropFile = path.join(work, "drop.json");
  writeFileSync(dropFile, JSON.stringify(drop));
  const r = spawnSync("ip", ["netns", "exec", rcvNs, process.execPath, "--input-type=module", "-e", script], {
    cwd: repoRoot,
    encoding: "utf8",
    env: { ...process.env, DROP: dropFile, PINS: fastPathPins, NATIVE: nativeDir, IFINDEX: String(linkOf(rcvNs, "r0").ifindex) },
  });
  if (r.status !== 0) throw new Error(`fast path apply failed (${r.status ?? r.error?.message}): ${r.stderr}`);
}

const cases = {
  "bare drop": () => inRcv("bpftool", "net", "attach", "xdpdrv", "pinned", path.join(baselinePins, "xdp_drop"), "dev", "r0"),
  xdp: () => fastPath(set),
  nftables: () => {
    inRcv("bpftool", "net", "attach", "xdpdrv", "pinned", path.join(baselinePins, "xdp_pass"), "dev", "r0");
    const file = path.join(work, "nft.txt");
    writeFileSync(
      file,
      `table netdev bench {\n set s { type ipv4_addr; flags interval; elements = { ${set.join(", ")} } }\n` +
        ` chain in { type filter hook ingress device r0 priority 0; ip saddr @s counter drop; }\n}\n`,
    );
    inRcv("nft", "-f", file);
  },
};

/** Drops the case counted, read independently of the code under test. */
function droppedBy(name) {
  if (name === "nftables") return Number(/counter packets (\d+)/.exec(inRcv("nft", "list", "chain", "netdev", "bench", "in"))?.[1] ?? 0);
  if (name === "xdp") {
    const dir = run("sh", "-c", `ls -d ${fastPathPins}/program-*`).trim();
    const dump = JSON.parse(run("bpftool", "-j", "map", "dump", "pinned", path.join(dir, "counters")));
    return dump.reduce((n, e) => n + e.formatted.values.reduce((m, v) => m + v.value.dropped_packets, 0), 0);
  }
  return PACKETS; // the bare drop drops everything and counts nothing
}

const CPU = os.cpus().length - 1;
const clkTck = Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout.trim()) || 100;
/** Kernel time (system + irq + softirq) CPU `n` has spent so far, µs. */
function cpuKernelUs(n) {
  const line = readFileSync("/proc/stat", "utf8").split("\n").find((l) => l.startsWith(`cpu${n} `));
  const [, , system, , , irq, softirq] = line.trim().split(/\s+/).slice(1).map(Number);
  return ((system + irq + softirq) * 1e6) / clkTck;
}

function measure(name) {
  detachAll();
  cases[name]();
  const m0 = cpuKernelUs(CPU);
  const r = JSON.parse(run("ip", "netns", "exec", genNs, "taskset", "-c", String(CPU), gen, genObject, String(genIfindex), String(PACKETS), SOURCE, RECEIVER, rcvMac));
  const m1 = cpuKernelUs(CPU);
  const dropped = droppedBy(name);
  if (dropped < PACKETS * 0.99) throw new Error(`${name}: only ${dropped} of ${PACKETS} frames dropped`);
  return { mpps: r.sent / (r.ns / 1000), nsPerPacket: ((m1 - m0) * 1000) / r.sent };
}

const samples = { "bare drop": [], xdp: [], nftables: [] };
const order = Object.keys(samples);
for (let round = 0; round < ROUNDS; round++) {
  const names = round % 2 === 0 ? order : [...order].reverse();
  for (const name of names) samples[name].push(measure(name));
}
detachAll();
const fig = Object.fromEntries(order.map((n) => [n, { mpps: median(samples[n].map((s) => s.mpps)), ns: median(samples[n].map((s) => s.nsPerPacket)) }]));
const receiver = (n) => Math.max(1, fig[n].ns - fig["bare drop"].ns);
console.log(`\n${PACKETS} frames per case, ${ROUNDS} rounds, medians; 10,001-prefix drop list; source in it`);
console.log(
  table(
    ["case", "Mpps", "CPU ns/frame (generator's CPU)", "receiver ns/frame (minus bare drop)"],
    order.map((n) => [n, fig[n].mpps.toFixed(2), fig[n].ns.toFixed(0), n === "bare drop" ? "-" : receiver(n).toFixed(0)]),
    "lrrr",
  ),
);
const cpuRatio = receiver("nftables") / receiver("xdp");
const totalRatio = fig.nftables.ns / fig.xdp.ns;
console.log(`\nxdp vs nftables: ${fmtRatio(fig.xdp.mpps / fig.nftables.mpps)} the drop rate; ${fmtRatio(cpuRatio)} fewer receiver CPU ns per dropped frame (${fmtRatio(totalRatio)} of the totals); target: 3x`);

// ---- 2. a million prefixes ------------------------------------------------------------------------------------
const prefixes = [...Array(PREFIXES).keys()].map((i) => `${10 + (i >> 24)}.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}/32`);

let apiRound = 0;
async function throughApi() {
  detachAll();
  const data = path.join(work, `data-${++apiRound}`);
  const socket = path.join(work, "api.sock");
  daemon = spawn("ip", ["netns", "exec", rcvNs, process.execPath, daemonBundle, "--socket", socket, "--data-dir", data, "--dataplane", "linux", "--log-level", "warn"], {
    env: { ...process.env, ORBITAL_NATIVE_DIR: nativeDir, ORBITAL_BPF_DIR: path.join(bpffs, "api") },
    stdio: ["ignore", "ignore", "inherit"],
  });
  const { tsImport } = await import("tsx/esm/api");
  const { createClient } = await tsImport("../src/client/client.ts", import.meta.url);
  const { createTransport } = await tsImport("../src/client/transport.ts", import.meta.url);
  const { FirewallService } = await tsImport("../src/gen/orbital/firewall/v1/firewall_pb.ts", import.meta.url);
  const transport = createTransport({ socketPath: socket, deadlineMs: 900_000 });
  const fw = createClient(FirewallService, transport);
  for (let i = 0; ; i++) {
    try {
      await fw.listPrefixSets({});
      break;
    } catch (err) {
      if (i > 300) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  await fw.createPrefixSet({ prefixSet: { name: "huge", family: 1 } });
  await fw.attachFastPathList({ fastPathList: { prefixSet: "huge", action: 1, interfaces: ["r0"] } });
  async function* batches() {
    for (let start = 0; start < PREFIXES; start += 10_000) yield { prefixSet: "huge", adds: prefixes.slice(start, start + 10_000).map((cidr) => ({ cidr })) };
  }
  const t0 = process.hrtime.bigint();
  const res = await fw.bulkUpdatePrefixSetEntries(batches());
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  if (res.added !== BigInt(PREFIXES)) throw new Error(`the API added ${res.added}`);
  const status = await fw.getFastPathStatus({});
  if (status.interfaces[0]?.ipv4Entries !== BigInt(PREFIXES)) throw new Error("the list is not in the kernel");
  transport.close();
  daemon.kill("SIGKILL");
  daemon = undefined;
  // What it pinned goes (unpinning its link detaches the program): the next case starts bare.
  rmSync(path.join(bpffs, "api"), { recursive: true, force: true });
  return seconds;
}

function throughBpftool() {
  const map = path.join(bpffs, "bpftool_trie");
  rmSync(map, { force: true });
  run("bpftool", "map", "create", map, "type", "lpm_trie", "key", "8", "value", "1", "entries", String(PREFIXES), "name", "bpftool_trie", "flags", "1");
  const lines = prefixes.map((p) => `map update pinned ${map} key 32 0 0 0 ${p.slice(0, -3).split(".").join(" ")} value 1`);
  const file = path.join(work, "bpftool-batch.txt");
  writeFileSync(file, `${lines.join("\n")}\n`);
  const t0 = process.hrtime.bigint();
  run("bpftool", "batch", "file", file);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  rmSync(map, { force: true });
  return seconds;
}

const api = [];
const tool = [];
const loadRounds = Math.min(ROUNDS, 2);
for (let round = 0; round < loadRounds; round++) {
  if (round % 2 === 0) {
    api.push(await throughApi());
    tool.push(throughBpftool());
  } else {
    tool.push(throughBpftool());
    api.push(await throughApi());
  }
}
const apiS = median(api);
const toolS = median(tool);
console.log(`\n${PREFIXES} prefixes, ${loadRounds} round(s), medians:`);
console.log(table(["way", "seconds"], [["API (bulk stream -> commit -> trie swapped in)", apiS.toFixed(2)], ["bpftool batch (one map update per line)", toolS.toFixed(2)]], "lr"));
console.log(`\nAPI / bpftool batch: ${fmtRatio(apiS / toolS)} (target: within 1.5x)`);

appendResults(undefined, [
  { bench: "xdp-fast-path", scenario: "drop, xdp (10,001 prefixes)", p50Us: fig.xdp.ns / 1000, p99Us: fig.xdp.ns / 1000, perSec: fig.xdp.mpps * 1e6, ratio: cpuRatio, ratioOf: "nftables receiver ns/frame / xdp's" },
  { bench: "xdp-fast-path", scenario: "drop, nftables (10,001 prefixes)", p50Us: fig.nftables.ns / 1000, p99Us: fig.nftables.ns / 1000, perSec: fig.nftables.mpps * 1e6, ratio: 1, ratioOf: "itself" },
  { bench: "xdp-fast-path", scenario: `load ${PREFIXES} prefixes via the API`, p50Us: apiS * 1e6, p99Us: Math.max(...api) * 1e6, perSec: PREFIXES / apiS, ratio: apiS / toolS, ratioOf: "API time / bpftool batch time" },
]);
