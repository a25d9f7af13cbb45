// The XDP fast path on the real kernel, driven through the daemon's API: prefix sets attached as drop and
// allow lists on a veth of the daemon's namespace, traffic from a sender namespace, and what the kernel
// shows (XDP counters, the nftables rule counters behind XDP, `ip -d link`, bpftool, the pins under a bpffs
// of the test's own). Proves: drop at XDP (the nftables counter stays at 0) while allowed and other sources
// pass; native on veth, generic on lo; 1,000,000 prefixes through the bulk stream; list replacements under
// traffic with no blocked packet through; kill -9 (drops go on, the restart adopts: one program, one link);
// an upgrade of the program without a gap; an interface that appears later; detach leaves nothing pinned;
// refusals as structured errors with the previous state kept (ENOMEM, EBUSY from another program, no bpffs).
// Needs root, ip, nft, bpftool and a kernel with BPF.
//
// Topology (one per test):
//
//   sender netns                                 router netns (orbitald, ORBITAL_BPF_DIR=<test bpffs>/orbital)
//   out 10.99.0.2/24                 veth        wan 10.99.0.1/24   <- the fast-path lists are attached here
//       + 198.51.100.7/32  BLOCKED   -------->   nft input rules with counters, one per source:
//       + 198.51.100.9/32  ALLOWED                  seen-blocked, seen-allowed, seen-other
//       + 203.0.113.5/32   OTHER
//
// The drop list holds 198.51.100.0/24 and the allow list 198.51.100.9/32: BLOCKED is dropped in XDP (the
// XDP dropped counter moves, seen-blocked does not), ALLOWED and OTHER reach nftables.
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { AddressFamily } from "../../src/gen/orbital/api/v1/ip_pb.js";
import { Action, Chain, FastPathAction, FastPathMode, FirewallService } from "../../src/gen/orbital/firewall/v1/firewall_pb.js";
import { ConfigService } from "../../src/gen/orbital/config/v1/config_pb.js";
import { HealthStatus, SystemService } from "../../src/gen/orbital/system/v1/system_pb.js";
import { InterfaceService } from "../../src/gen/orbital/interface/v1/interface_pb.js";
import { NATIVE_DIR, startDaemon, type RunningDaemon } from "../support/daemon.js";
import { canUseNetns, Netns, vethPair } from "../support/netns.js";
import { repoRoot } from "../../scripts/proto-image.js";

const available = canUseNetns && spawnSync("bpftool", ["version"], { stdio: "ignore" }).status === 0 && spawnSync("nft", ["--version"], { stdio: "ignore" }).status === 0;

const BLOCKED = "198.51.100.7";
const ALLOWED = "198.51.100.9";
const OTHER = "203.0.113.5";
const ROUTER = "10.99.0.1";
const SENDER = path.join(repoRoot, "test", "support", "udp-sender.mjs");

let bpffs = "";
const cleanups: (() => void | Promise<void>)[] = [];

beforeAll(() => {
  if (!available) return;
  bpffs = mkdtempSync(path.join(tmpdir(), "orbital-bpffs-"));
  execFileSync("mount", ["-t", "bpf", "bpf", bpffs]);
});

afterAll(() => {
  if (!bpffs) return;
  spawnSync("umount", [bpffs]);
  rmSync(bpffs, { recursive: true, force: true });
});

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface Topology {
  router: Netns;
  sender: Netns;
  pinRoot: string;
  daemon: RunningDaemon;
  env: NodeJS.ProcessEnv;
}

let serial = 0;

async function topology(env: NodeJS.ProcessEnv = {}): Promise<Topology> {
  const router = Netns.create("orbxdp-r");
  cleanups.push(() => router.dispose());
  const sender = Netns.create("orbxdp-s");
  cleanups.push(() => sender.dispose());
  vethPair(router, "wan", sender, "out", `${ROUTER}/24`, "10.99.0.2/24");
  for (const a of [BLOCKED, ALLOWED, OTHER]) sender.ip("addr", "add", `${a}/32`, "dev", "out");
  // Sources outside wan's subnet must still reach nftables' input hook (no reverse-path filter).
  for (const k of ["net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.wan.rp_filter=0", "net.ipv4.conf.default.rp_filter=0"]) router.run("sysctl", "-qw", k);
  const pinRoot = path.join(bpffs, `t${process.pid}-${++serial}`, "orbital");
  mkdirSync(path.dirname(pinRoot), { recursive: true });
  const fullEnv = { ORBITAL_BPF_DIR: pinRoot, ...env };
  const daemon = await startDaemon({ netns: router.name, env: fullEnv });
  cleanups.push(() => daemon.cleanup());
  const fw = daemon.api(FirewallService);
  for (const [name, source, sequence] of [["seen-blocked", BLOCKED, 1], ["seen-allowed", ALLOWED, 2], ["seen-other", OTHER, 3]] as const) {
    await fw.createRule({ rule: { name, chain: Chain.INPUT, sequence, action: Action.ACCEPT, counter: true, match: { source: { match: { case: "prefix", value: { cidr: `${source}/32` } } } } } });
  }
  return { router, sender, pinRoot, daemon, env: fullEnv };
}

async function blocklists(t: Topology, drop = ["198.51.100.0/24"]): Promise<void> {
  const fw = t.daemon.api(FirewallService);
  await fw.createPrefixSet({ prefixSet: { name: "blocked", family: AddressFamily.IPV4, prefixes: drop.map((cidr) => ({ cidr })) } });
  await fw.createPrefixSet({ prefixSet: { name: "partners", family: AddressFamily.IPV4, prefixes: [{ cidr: `${ALLOWED}/32` }] } });
  const tx = await t.daemon.api(ConfigService).begin({});
  await fw.attachFastPathList({ fastPathList: { prefixSet: "blocked", action: FastPathAction.DROP, interfaces: ["wan"] }, transactionId: tx.transaction!.id });
  await fw.attachFastPathList({ fastPathList: { prefixSet: "partners", action: FastPathAction.ALLOW, interfaces: ["wan"] }, transactionId: tx.transaction!.id });
  await t.daemon.api(ConfigService).commit({ transactionId: tx.transaction!.id });
}

/** Sends `count` datagrams from `source` to the router at about `pps`, from the sender namespace; resolves when done. */
function send(t: Topology, source: string, pps: number, ms: number): { done: Promise<number>; stop: () => void } {
  const child = spawn("ip", ["netns", "exec", t.sender.name, process.execPath, SENDER, source, ROUTER, "9", String(pps), String(ms)], { stdio: ["ignore", "pipe", "inherit"] });
  let out = "";
  child.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
  const done = new Promise<number>((resolve, reject) => {
    child.once("close", (code) => (code === 0 ? resolve((JSON.parse(out) as { sent: number }).sent) : reject(new Error(`udp-sender exited ${code}`))));
  });
  cleanups.push(() => void child.kill("SIGKILL"));
  return { done, stop: () => child.kill("SIGTERM") };
}

/** nft rule counters of the router namespace, read with nft itself (the independent view). */
function nftCounters(t: Topology): Record<string, number> {
  const listing = JSON.parse(t.router.run("nft", "-j", "list", "table", "inet", "orbital")) as { nftables: { rule?: { comment?: string; expr: { counter?: { packets: number } }[] } }[] };
  const out: Record<string, number> = {};
  for (const o of listing.nftables) {
    const c = o.rule?.expr.find((e) => e.counter)?.counter;
    if (o.rule?.comment && c) out[o.rule.comment] = c.packets;
  }
  return out;
}

async function xdpStatus(t: Topology) {
  return (await t.daemon.api(FirewallService).getFastPathStatus({})).interfaces.find((i) => i.name === "wan");
}

/** Our program's pinned directory and what is in it (the pins are the record of what orbitald owns). */
function pins(t: Topology): string[] {
  if (!existsSync(t.pinRoot)) return [];
  const walk = (dir: string): string[] => readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? [`${e.name}/`, ...walk(path.join(dir, e.name)).map((n) => `${e.name}/${n}`)] : [e.name]));
  return walk(t.pinRoot);
}

/** The XDP program id the kernel has on wan (`ip -d link`), or undefined. */
function xdpProgOnWan(t: Topology): number | undefined {
  const [link] = t.router.ipJson<{ xdp?: { prog?: { id: number }; attached?: { prog: { id: number } }[] } }[]>("-d", "link", "show", "wan");
  return link?.xdp?.prog?.id ?? link?.xdp?.attached?.[0]?.prog.id;
}

/** Dropped packets in the pinned counters map, read with bpftool while orbitald may be down. */
function pinnedDropped(t: Topology): number {
  const dir = readdirSync(t.pinRoot).find((n) => n.startsWith("program-"))!;
  const dump = JSON.parse(execFileSync("bpftool", ["-j", "map", "dump", "pinned", path.join(t.pinRoot, dir, "counters")], { encoding: "utf8" })) as { formatted?: { values: { value: { dropped_packets: number } }[] } }[];
  return dump.reduce((n, e) => n + (e.formatted?.values ?? []).reduce((m, v) => m + v.value.dropped_packets, 0), 0);
}

/** The structured error a call is refused with; undefined when it succeeds. */
const refusal = (call: Promise<unknown>) =>
  call.then(
    () => undefined,
    (e: { reason?: string; metadata?: Record<string, string> }) => e,
  );

const until = async (what: string, ok: () => Promise<boolean> | boolean, ms = 20_000) => {
  const deadline = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
};

describe.skipIf(!available)("XDP fast path on the real kernel", () => {
  it("drops a source in the drop list at XDP (nftables never sees it); the allow list and other sources pass", async () => {
    const t = await topology();
    await blocklists(t);
    const wan = await xdpStatus(t);
    expect(wan?.mode).toBe(FastPathMode.NATIVE); // veth has native XDP
    expect(wan?.prefixSets).toEqual(["blocked", "partners"]);
    expect(xdpProgOnWan(t)).toBeGreaterThan(0);

    for (const source of [BLOCKED, ALLOWED, OTHER]) await send(t, source, 2000, 500).done;
    await until("the counters", async () => nftCounters(t)["seen-other"]! > 0 && (await xdpStatus(t))!.counters!.droppedPackets > 0n);
    const nft = nftCounters(t);
    const c = (await xdpStatus(t))!.counters!;
    expect(nft["seen-blocked"]).toBe(0);
    expect(nft["seen-allowed"]).toBeGreaterThan(0);
    expect(nft["seen-other"]).toBeGreaterThan(0);
    expect(c.droppedPackets).toBeGreaterThan(100n);
    expect(c.allowedPackets).toBeGreaterThan(100n);
    expect(c.passedPackets).toBeGreaterThanOrEqual(c.allowedPackets);
    // The same figures in the metrics.
    const metrics = (await t.daemon.api(SystemService).getMetrics({})).text;
    expect(Number(/orbital_xdp_packets_total\{interface="wan",verdict="dropped"\} (\d+)/.exec(metrics)?.[1])).toBeGreaterThanOrEqual(Number(c.droppedPackets));
  }, 120_000);

  it("falls back to generic XDP where the driver has no native XDP (lo), and says so", async () => {
    const t = await topology();
    const fw = t.daemon.api(FirewallService);
    await fw.createPrefixSet({ prefixSet: { name: "blocked", family: AddressFamily.IPV4, prefixes: [{ cidr: "198.51.100.0/24" }] } });
    await fw.attachFastPathList({ fastPathList: { prefixSet: "blocked", action: FastPathAction.DROP, interfaces: ["lo", "wan"] } });
    const status = (await fw.getFastPathStatus({})).interfaces;
    expect(status.find((i) => i.name === "lo")?.mode).toBe(FastPathMode.GENERIC);
    expect(status.find((i) => i.name === "wan")?.mode).toBe(FastPathMode.NATIVE);
    expect(t.router.ip("-d", "link", "show", "lo")).toMatch(/xdpgeneric/);
    // The same in each interface's own status (InterfaceService); an interface without a list says nothing.
    const ifs = (await t.daemon.api(InterfaceService).listInterfaces({})).interfaces;
    expect(Object.fromEntries(ifs.map((i) => [i.name, i.fastPathMode]))).toEqual({ lo: FastPathMode.GENERIC, wan: FastPathMode.NATIVE });
    await fw.attachFastPathList({ fastPathList: { prefixSet: "blocked", action: FastPathAction.DROP, interfaces: ["wan"] } });
    expect((await t.daemon.api(InterfaceService).getInterface({ name: "lo" })).interface?.fastPathMode).toBe(FastPathMode.UNSPECIFIED);
    expect(t.router.ip("-d", "link", "show", "lo")).not.toMatch(/xdp/);
  }, 60_000);

  it("is configuration like the rest: diffed, rolled back, and a confirmed commit not confirmed in time brings the list back", async () => {
    const t = await topology();
    await blocklists(t);
    const config = t.daemon.api(ConfigService);
    const fw = t.daemon.api(FirewallService);
    const attachedAt = (await config.listRevisions({})).revisions[0]!.revision;
    const tx = await config.begin({});
    await fw.detachFastPathList({ prefixSet: "blocked", transactionId: tx.transaction!.id });
    const diff = await config.diff({ transactionId: tx.transaction!.id });
    expect(diff.changes.map((c) => c.path)).toEqual(["fast_path_lists[blocked]"]);
    await config.commit({ transactionId: tx.transaction!.id, confirmTimeout: { seconds: 10n } });
    expect((await xdpStatus(t))?.prefixSets).toEqual(["partners"]);
    // Not confirmed: the automatic rollback puts the drop list back into the kernel.
    await until("the automatic rollback", async () => (await xdpStatus(t))?.prefixSets.length === 2, 40_000);
    const dropped = (await xdpStatus(t))!.counters!.droppedPackets;
    await send(t, BLOCKED, 2000, 300).done;
    await until("drops", async () => (await xdpStatus(t))!.counters!.droppedPackets > dropped + 100n);
    expect(nftCounters(t)["seen-blocked"]).toBe(0);
    // An explicit detach, then a rollback to the revision that had the list: attached again.
    await fw.detachFastPathList({ prefixSet: "blocked" });
    await fw.detachFastPathList({ prefixSet: "partners" });
    expect(xdpProgOnWan(t)).toBeUndefined();
    await config.rollback({ revision: attachedAt });
    expect((await xdpStatus(t))?.mode).toBe(FastPathMode.NATIVE);
    expect((await xdpStatus(t))?.prefixSets).toEqual(["blocked", "partners"]);
  }, 120_000);

  it("loads 1,000,000 prefixes through the bulk stream, and they take effect", async () => {
    const t = await topology();
    const fw = t.daemon.api(FirewallService);
    await fw.createPrefixSet({ prefixSet: { name: "huge", family: AddressFamily.IPV4 } });
    await fw.attachFastPathList({ fastPathList: { prefixSet: "huge", action: FastPathAction.DROP, interfaces: ["wan"] } });
    const total = 1_000_000;
    async function* batches() {
      for (let start = 0; start < total; start += 10_000) {
        const adds = [];
        for (let i = start; i < start + 10_000; i++) adds.push({ cidr: i === total - 1 ? `${BLOCKED}/32` : `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}/32` });
        yield { prefixSet: "huge", adds };
      }
    }
    const started = Date.now();
    const res = await t.daemon.client(FirewallService, 600_000).bulkUpdatePrefixSetEntries(batches());
    console.log(`1,000,000 prefixes committed through the API into the XDP list in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    expect(res.added).toBe(BigInt(total));
    expect(res.failures).toEqual([]);
    expect((await xdpStatus(t))?.ipv4Entries).toBe(BigInt(total));
    await send(t, BLOCKED, 2000, 500).done;
    await send(t, OTHER, 2000, 300).done;
    await until("the other source through", () => nftCounters(t)["seen-other"]! > 0);
    expect(nftCounters(t)["seen-blocked"]).toBe(0);
    expect((await xdpStatus(t))!.counters!.droppedPackets).toBeGreaterThan(100n);
  }, 600_000);

  it("a commit that replaces the list never lets a blocked source through, while a sender runs", async () => {
    const t = await topology();
    await blocklists(t);
    const fw = t.daemon.api(FirewallService);
    const sender = send(t, BLOCKED, 5000, 60_000);
    await until("drops", async () => (await xdpStatus(t))!.counters!.droppedPackets > 0n);
    // Replace the list five times with a large, different one that still holds the blocked source.
    for (let round = 0; round < 5; round++) {
      const prefixes = [{ cidr: `${BLOCKED}/32` }];
      for (let i = 0; i < 50_000; i++) prefixes.push({ cidr: `10.${round}.${(i >> 8) & 255}.${i & 255}/32` });
      await fw.updatePrefixSet({ prefixSet: { name: "blocked", prefixes }, updateMask: { paths: ["prefixes"] } });
    }
    sender.stop();
    const sent = await sender.done;
    expect(sent).toBeGreaterThan(1000);
    expect(nftCounters(t)["seen-blocked"]).toBe(0);
    // And every frame sent reached XDP and was dropped there, through every replacement.
    await until("every frame counted", async () => (await xdpStatus(t))!.counters!.droppedPackets >= BigInt(sent), 5_000);
    expect((await xdpStatus(t))!.ipv4Entries).toBe(50_002n); // the list plus partners' allow entry
  }, 300_000);

  it("kill -9 of orbitald: drops go on while it is down and after its restart, with no second program attached", async () => {
    const t = await topology();
    await blocklists(t);
    const progBefore = xdpProgOnWan(t)!;
    expect(progBefore).toBeGreaterThan(0);
    const sender = send(t, BLOCKED, 3000, 60_000);
    await until("drops", () => pinnedDropped(t) > 0);
    t.daemon.proc.kill("SIGKILL");
    await t.daemon.exited;
    const whileDown = pinnedDropped(t);
    await new Promise((r) => setTimeout(r, 1000));
    expect(pinnedDropped(t)).toBeGreaterThan(whileDown + 500); // nobody serving, the kernel still drops
    expect(xdpProgOnWan(t)).toBe(progBefore);

    const again = await startDaemon({ netns: t.router.name, dataDir: t.daemon.dataDir, env: t.env });
    cleanups.push(() => again.cleanup());
    const adopted = await again.waitForLog((l) => l.msg === "XDP fast path adopted from its pins");
    expect(adopted.progId).toBe(progBefore);
    // Still dropping after the restart, with the counters of before (the same pinned map).
    const afterRestart = pinnedDropped(t);
    expect(afterRestart).toBeGreaterThan(whileDown);
    await until("drops after the restart", () => pinnedDropped(t) > afterRestart + 300);
    sender.stop();
    await sender.done;
    // One program, one link: the same as before the crash.
    expect(xdpProgOnWan(t)).toBe(progBefore);
    const links = JSON.parse(execFileSync("bpftool", ["-j", "link", "show"], { encoding: "utf8" })) as { type: string; prog_id: number }[];
    expect(links.filter((l) => l.prog_id === progBefore)).toHaveLength(1);
    expect(pins(t).filter((p) => p.includes("links/") && !p.endsWith("/"))).toHaveLength(1);
    expect(nftCounters(t)["seen-blocked"]).toBe(0);
    expect(again.logs().some((l) => l.msg === "XDP fast path attached")).toBe(false);
  }, 180_000);

  it("a newer program (another object) takes over the links of the pinned one without a gap, and the old one is unpinned", async () => {
    const t = await topology();
    await blocklists(t);
    const progBefore = xdpProgOnWan(t)!;
    t.daemon.proc.kill("SIGKILL");
    await t.daemon.exited;
    // What an upgrade finds: the pins of a build whose BPF object hashed differently.
    const ours = readdirSync(t.pinRoot).find((n) => n.startsWith("program-"))!;
    execFileSync("mv", [path.join(t.pinRoot, ours), path.join(t.pinRoot, "program-0000000000000000")]);
    const sender = send(t, BLOCKED, 3000, 60_000);
    await until("drops by the old program", () => pinnedDropped(t) > 0);
    const again = await startDaemon({ netns: t.router.name, dataDir: t.daemon.dataDir, env: t.env });
    cleanups.push(() => again.cleanup());
    await again.waitForLog((l) => l.msg === "XDP links moved onto the new program; the old one is unpinned");
    // The sender goes on until the new program (its own counters, the only pins left) has dropped too.
    await until("drops by the new program", () => readdirSync(t.pinRoot).length === 1 && pinnedDropped(t) > 100);
    sender.stop();
    expect(await sender.done).toBeGreaterThan(500);
    const progAfter = xdpProgOnWan(t)!;
    expect(progAfter).toBeGreaterThan(0);
    expect(progAfter).not.toBe(progBefore);
    expect(readdirSync(t.pinRoot)).toEqual([ours]);
    expect(nftCounters(t)["seen-blocked"]).toBe(0); // dropped throughout, by the old program and then the new one
    expect(again.logs().some((l) => l.msg === "XDP fast path attached")).toBe(false);
  }, 120_000);

  it("a list on an interface that is not there yet is attached when the interface appears", async () => {
    const t = await topology();
    const fw = t.daemon.api(FirewallService);
    await fw.createPrefixSet({ prefixSet: { name: "blocked", family: AddressFamily.IPV4, prefixes: [{ cidr: "198.51.100.0/24" }] } });
    await fw.attachFastPathList({ fastPathList: { prefixSet: "blocked", action: FastPathAction.DROP, interfaces: ["late0"] } });
    const before = (await fw.getFastPathStatus({})).interfaces.find((i) => i.name === "late0");
    expect(before?.mode).toBe(FastPathMode.NOT_ATTACHED);
    expect(before?.notAttachedReason).toMatch(/late0 is not in the kernel/);
    t.router.ip("link", "add", "late0", "type", "veth", "peer", "name", "late1");
    await until("late0 attached", async () => (await fw.getFastPathStatus({})).interfaces.find((i) => i.name === "late0")?.mode === FastPathMode.NATIVE);
  }, 60_000);

  it("detaching the last list removes the program from the interface and leaves nothing pinned", async () => {
    const t = await topology();
    await blocklists(t);
    expect(pins(t).length).toBeGreaterThan(0);
    const fw = t.daemon.api(FirewallService);
    await fw.detachFastPathList({ prefixSet: "partners" });
    expect(xdpProgOnWan(t)).toBeGreaterThan(0);
    await fw.detachFastPathList({ prefixSet: "blocked" });
    expect(xdpProgOnWan(t)).toBeUndefined();
    expect(existsSync(t.pinRoot)).toBe(false);
    expect(readdirSync(path.dirname(t.pinRoot))).toEqual([]);
    // Traffic from the blocked source now reaches nftables.
    await send(t, BLOCKED, 2000, 300).done;
    await until("the blocked source through", () => nftCounters(t)["seen-blocked"]! > 0);
  }, 120_000);

  it("a list the kernel refuses (a map too large: ENOMEM) is a structured error naming it; the previous list stays in force", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "orbital-faults-"));
    const faultFile = path.join(dir, "faults");
    execFileSync("sh", ["-c", `: > ${faultFile}`]);
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const t = await topology({ ORBITAL_FAULT_FILE: faultFile });
    await blocklists(t);
    execFileSync("sh", ["-c", `echo xdp=ENOMEM > ${faultFile}`]);
    const fw = t.daemon.api(FirewallService);
    const err = await refusal(fw.updatePrefixSet({ prefixSet: { name: "blocked", prefixes: [{ cidr: `${OTHER}/32` }] }, updateMask: { paths: ["prefixes"] } }));
    expect(err?.reason).toBe("DATAPLANE_REJECTED");
    expect(err?.metadata).toMatchObject({ item: "fast_path_lists[blocked]", errno: "ENOMEM" });
    // Nothing changed: the set, the nftables set and the XDP list are as before.
    expect((await fw.getPrefixSet({ name: "blocked" })).prefixSet?.prefixes.map((p) => p.cidr)).toEqual(["198.51.100.0/24"]);
    await send(t, BLOCKED, 2000, 300).done;
    await send(t, OTHER, 2000, 300).done;
    await until("the other source through", () => nftCounters(t)["seen-other"]! > 0);
    expect(nftCounters(t)["seen-blocked"]).toBe(0);
    execFileSync("sh", ["-c", `: > ${faultFile}`]);
  }, 120_000);

  it("an interface held by another XDP program is refused (EBUSY, naming the list) and that program stays", async () => {
    const t = await topology();
    const foreign = path.join(path.dirname(t.pinRoot), "foreign");
    execFileSync("bpftool", ["prog", "load", path.join(NATIVE_DIR, "orbital_xdp.bpf.o"), foreign]);
    cleanups.push(() => rmSync(foreign, { force: true }));
    t.router.run("bpftool", "net", "attach", "xdp", "pinned", foreign, "dev", "wan");
    const theirs = xdpProgOnWan(t);
    const fw = t.daemon.api(FirewallService);
    await fw.createPrefixSet({ prefixSet: { name: "blocked", family: AddressFamily.IPV4, prefixes: [{ cidr: "198.51.100.0/24" }] } });
    const err = await refusal(fw.attachFastPathList({ fastPathList: { prefixSet: "blocked", action: FastPathAction.DROP, interfaces: ["wan"] } }));
    expect(err?.reason).toBe("DATAPLANE_REJECTED");
    expect(err?.metadata).toMatchObject({ item: "fast_path_lists[blocked]", errno: "EBUSY" });
    expect(xdpProgOnWan(t)).toBe(theirs);
    expect((await fw.listFastPathLists({})).fastPathLists).toEqual([]);
    // What the refused commit built is gone again: nothing of ours is attached or pinned for wan.
    expect(pins(t).filter((p) => p.includes("links/") && !p.endsWith("/"))).toEqual([]);
    t.router.run("ip", "link", "set", "dev", "wan", "xdp", "off");
  }, 60_000);

  it("pins it cannot read (something foreign under its links/) are a backend fault naming them; the drops in force go on, and it recovers once they are gone", async () => {
    const t = await topology({ ORBITAL_RECONCILE_RETRY_MS: "500" });
    await blocklists(t);
    const progBefore = xdpProgOnWan(t)!;
    const ours = readdirSync(t.pinRoot).find((n) => n.startsWith("program-"))!;
    const foreign = path.join(t.pinRoot, ours, "links", "4242");
    mkdirSync(foreign); // a directory is no BPF object: opening it as a pin is refused (EACCES)
    const fw = t.daemon.api(FirewallService);
    const err = await refusal(fw.updatePrefixSet({ prefixSet: { name: "blocked", prefixes: [{ cidr: `${OTHER}/32` }] }, updateMask: { paths: ["prefixes"] } }));
    expect(err?.reason).toBe("DATAPLANE_UNAVAILABLE");
    expect(err?.metadata).toMatchObject({ backend: "xdp" });
    expect(err?.metadata?.cause).toContain(foreign);
    const health = await t.daemon.api(SystemService).getHealth({});
    expect(health.backends.find((b) => b.name === "xdp")).toMatchObject({ status: HealthStatus.NOT_SERVING });
    expect(health.backends.find((b) => b.name === "xdp")?.detail).toContain(foreign);
    // The kernel keeps what was in force: the same program, still dropping the blocked source.
    expect(xdpProgOnWan(t)).toBe(progBefore);
    const dropped = pinnedDropped(t);
    await send(t, BLOCKED, 2000, 300).done;
    await until("drops", () => pinnedDropped(t) > dropped + 100);
    expect(nftCounters(t)["seen-blocked"]).toBe(0);
    // Once the foreign pin is gone, the reconciler puts the backend back in service.
    rmdirSync(foreign);
    await until("xdp healthy again", async () => (await t.daemon.api(SystemService).getHealth({})).backends.find((b) => b.name === "xdp")?.status === HealthStatus.SERVING, 20_000);
    expect(xdpProgOnWan(t)).toBe(progBefore);
  }, 60_000);

  it("without a BPF file system the fast path is a backend fault (DATAPLANE_UNAVAILABLE xdp), and the rest serves", async () => {
    const plain = mkdtempSync(path.join(tmpdir(), "orbital-no-bpffs-"));
    cleanups.push(() => rmSync(plain, { recursive: true, force: true }));
    const t = await topology({ ORBITAL_BPF_DIR: path.join(plain, "orbital") });
    const fw = t.daemon.api(FirewallService);
    await fw.createPrefixSet({ prefixSet: { name: "blocked", family: AddressFamily.IPV4, prefixes: [{ cidr: "198.51.100.0/24" }] } });
    const err = await refusal(fw.attachFastPathList({ fastPathList: { prefixSet: "blocked", action: FastPathAction.DROP, interfaces: ["wan"] } }));
    expect(err?.reason).toBe("DATAPLANE_UNAVAILABLE");
    expect(err?.metadata).toMatchObject({ backend: "xdp" });
    expect(err?.metadata?.cause).toMatch(/not on a BPF file system/);
    expect((await fw.listFastPathLists({})).fastPathLists).toEqual([]);
    const health = await t.daemon.api(SystemService).getHealth({});
    expect(health.backends.find((b) => b.name === "xdp")?.detail).toMatch(/not on a BPF file system/);
    expect((await fw.listRules({})).rules).toHaveLength(3); // the nftables firewall still answers
  }, 60_000);
});
