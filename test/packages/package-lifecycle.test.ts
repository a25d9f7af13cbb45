// Proves, with the real daemon on the Linux data plane in a fresh network namespace, real uids and the real
// runit supervisor: the example package blocklist-sync (built and signed by `npm run build`) installs with
// its stages streamed, runs as its own uid with no new privileges and its resource limits, keeps the firewall
// prefix set (in nftables) in sync with the file in its data dir and logs the prefixes refused; its
// CreateRoute is refused with CAPABILITY_MISSING and audited; kill -9 of the package: runit brings it back;
// kill -9 of orbitald: the package keeps running and, once a new daemon serves, syncs again; an upgrade that
// fails to start restores the old version, one that starts replaces it; delete removes the process, uid,
// principal, files and service.
// Topology: one namespace (prefix pk), no links; the daemon and runsvdir run inside it, the packages talk to
// the daemon over its Unix socket.
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FirewallService } from "../../src/gen/orbital/firewall/v1/firewall_pb.js";
import { InstallStage, PackageService, PackageState, type Package } from "../../src/gen/orbital/package/v1/package_pb.js";
import { PACKAGE_UID_FIRST, PACKAGE_UID_LAST } from "../../src/daemon/packages/package-registry.js";
import { processesOfUid } from "../../src/daemon/packages/runit-supervisor.js";
import { callAs, startDaemon, type RunningDaemon } from "../support/daemon.js";
import { canUseNetns, Netns } from "../support/netns.js";
import { DEV_KEYS_DIR, EXAMPLE_PACKAGE, stopPackageSupervisor } from "../support/packages.js";
import { makeContent, makePackageFile } from "../../src/common/package-format/package-file.js";
import { createPrivateKey } from "node:crypto";

const NAME = "blocklist-sync";
let ns: Netns;
let first: RunningDaemon;
let d: RunningDaemon;
let packagesDir: string;

const waitFor = async <T>(what: string, probe: () => T | undefined | Promise<T | undefined>, timeoutMs = 20_000): Promise<T> => {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
};

const pkg = async (): Promise<Package> => (await d.client(PackageService).getPackage({ name: NAME })).package!;
const dataFile = () => path.join(packagesDir, NAME, "data", "prefixes.txt");
function kernelSet(): string[] {
  const out = JSON.parse(ns.run("nft", "-j", "list", "set", "inet", "orbital", "blocklist")) as { nftables: { set?: { elem?: unknown[] } }[] };
  const elems = out.nftables.find((x) => x.set)?.set?.elem ?? [];
  return elems.map((e) => (typeof e === "string" ? `${e}/32` : `${(e as { prefix: { addr: string; len: number } }).prefix.addr}/${(e as { prefix: { len: number } }).prefix.len}`)).sort();
}
async function apiSet(): Promise<string[] | undefined> {
  try {
    return (await d.client(FirewallService).getPrefixSet({ name: "blocklist" })).prefixSet!.prefixes.map((p) => p.cidr).sort();
  } catch {
    return undefined;
  }
}
const procStatus = (pid: number, field: string) => new RegExp(`^${field}:\\s+(.*)$`, "m").exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];

describe.skipIf(!canUseNetns)("the example package blocklist-sync", () => {
  beforeAll(async () => {
    ns = Netns.create("pk");
    first = d = await startDaemon({ netns: ns.name, env: { ORBITAL_PACKAGE_KEYS_DIR: DEV_KEYS_DIR } });
    packagesDir = path.join(d.dir, "packages");
  });
  afterAll(async () => {
    if (packagesDir) await stopPackageSupervisor(packagesDir);
    await d?.cleanup();
    if (first !== d) await first?.cleanup();
    ns?.dispose();
  });

  let uid = 0;
  it("installs, streaming VERIFYING, UNPACKING, STARTING, DONE", async () => {
    const bundle = path.join(d.dir, "blocklist-sync.opkg");
    copyFileSync(EXAMPLE_PACKAGE, bundle);
    const progress = [];
    for await (const p of d.client(PackageService, 60_000).installPackage({ bundlePath: bundle })) progress.push(p);
    expect([...new Set(progress.map((p) => p.stage))]).toEqual([InstallStage.VERIFYING, InstallStage.UNPACKING, InstallStage.STARTING, InstallStage.DONE]);
    const done = progress.at(-1)!.package!;
    expect(done).toMatchObject({ name: NAME, version: "1.0.0", state: PackageState.RUNNING, capabilities: ["firewall.read", "firewall.write"] });
    uid = done.uid;
    expect(uid).toBeGreaterThanOrEqual(PACKAGE_UID_FIRST);
    expect(uid).toBeLessThanOrEqual(PACKAGE_UID_LAST);
    expect((await d.client(PackageService).listPackages({})).packages.map((p) => p.name)).toEqual([NAME]);
  });

  it("runs as its own uid and gid, with no new privileges and its limits, files read-only", async () => {
    const p = await pkg();
    expect(p.pid).toBeGreaterThan(0);
    expect(procStatus(p.pid, "Uid")!.split(/\s+/)).toEqual([String(uid), String(uid), String(uid), String(uid)]);
    expect(procStatus(p.pid, "Gid")!.split(/\s+/)[0]).toBe(String(uid));
    expect(procStatus(p.pid, "NoNewPrivs")).toBe("1");
    const limits = readFileSync(`/proc/${p.pid}/limits`, "utf8");
    expect(limits).toMatch(/^Max open files\s+128\s+128/m);
    expect(limits).toMatch(/^Max processes\s+32\s+32/m);
    expect(limits).toMatch(/^Max data size\s+1073741824\s+1073741824/m);
    expect(limits).toMatch(/^Max file size\s+16777216\s+16777216/m); // dataQuotaBytes
    // The version dir is root's; the package's uid may write only its data dir.
    const files = path.join(packagesDir, NAME, "1.0.0");
    expect(readdirSync(files)).toEqual(["main.js"]);
    const touch = (dir: string) => spawnSync("touch", [path.join(dir, "probe")], { uid, gid: uid }).status;
    expect(touch(files)).not.toBe(0);
    expect(touch(path.join(packagesDir, NAME, "data"))).toBe(0);
  });

  it("its call outside its capabilities (CreateRoute) was refused with CAPABILITY_MISSING and audited", async () => {
    const audit = () => readFileSync(path.join(d.dataDir, "audit.jsonl"), "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l) as Record<string, string>);
    const record = await waitFor("the audit record", () => audit().find((r) => r.method === "/orbital.routing.v1.RoutingService/CreateRoute" && r.principal === `package:${NAME}`));
    expect(record).toMatchObject({ code: "PERMISSION_DENIED", reason: "CAPABILITY_MISSING" });
    const logs = (await d.client(PackageService).getPackageLogs({ name: NAME })).lines.join("\n");
    expect(logs).toContain('"msg":"CreateRoute refused","reason":"CAPABILITY_MISSING"');
  });

  it("keeps the prefix set in sync with prefixes.txt, in the kernel too, logging refused prefixes", async () => {
    writeFileSync(dataFile(), "# blocked\n192.0.2.0/24\n198.51.100.7/32\nnot-a-prefix\n");
    expect(await waitFor("the set", async () => ((await apiSet())?.length === 2 ? apiSet() : undefined))).toEqual(["192.0.2.0/24", "198.51.100.7/32"]);
    expect(kernelSet()).toEqual(["192.0.2.0/24", "198.51.100.7/32"]);
    writeFileSync(dataFile(), "198.51.100.7/32\n203.0.113.0/24\n");
    await waitFor("the second sync", async () => ((await apiSet())?.includes("203.0.113.0/24") ? true : undefined));
    expect(await apiSet()).toEqual(["198.51.100.7/32", "203.0.113.0/24"]);
    expect(kernelSet()).toEqual(["198.51.100.7/32", "203.0.113.0/24"]);
    const logs = (await d.client(PackageService).getPackageLogs({ name: NAME })).lines.join("\n");
    expect(logs).toMatch(/"msg":"prefix refused","index":\d+,"cidr":"not-a-prefix","reason":"INVALID_PREFIX"/);
  });

  it("kill -9 of the package: runit starts it again", async () => {
    const before = (await pkg()).pid;
    process.kill(before, "SIGKILL");
    const after = await waitFor("a new process", async () => {
      const p = await pkg();
      return p.state === PackageState.RUNNING && p.pid !== before && p.pid > 0 ? p : undefined;
    });
    expect(after.lastExit).toBe("signal 9");
    expect(procStatus(after.pid, "Uid")!.split(/\s+/)[0]).toBe(String(uid));
  });

  it("kill -9 of orbitald: the package keeps running, and syncs again with the next daemon", async () => {
    const pid = (await pkg()).pid;
    await d.stop("SIGKILL");
    await new Promise((r) => setTimeout(r, 1000));
    expect(existsSync(`/proc/${pid}`)).toBe(true);
    writeFileSync(dataFile(), "198.51.100.7/32\n203.0.113.0/24\n192.0.2.128/25\n");
    d = await startDaemon({ netns: ns.name, dataDir: first.dataDir, socketPath: first.socketPath, env: { ORBITAL_PACKAGE_KEYS_DIR: DEV_KEYS_DIR } });
    await waitFor("the sync after the restart", async () => ((await apiSet())?.includes("192.0.2.128/25") ? true : undefined), 30_000);
    expect(kernelSet()).toEqual(["192.0.2.128/25", "198.51.100.7/32", "203.0.113.0/24"]);
    expect((await pkg()).pid).toBe(pid); // the same process: never restarted, it reconnected
  });

  it("a data dir over the manifest's quota stops the package (FAILED, why), and it starts again once back under", async () => {
    const quota = (JSON.parse(readFileSync(path.join(import.meta.dirname, "../../examples/blocklist-sync/manifest.json"), "utf8")) as { dataQuotaBytes: number }).dataQuotaBytes;
    const before = (await pkg()).pid;
    // Files of root's in its data dir (the package itself cannot write a file that large: RLIMIT_FSIZE).
    const filler = path.join(packagesDir, NAME, "data", "filler");
    writeFileSync(filler, Buffer.alloc(quota / 2 + 1));
    writeFileSync(`${filler}2`, Buffer.alloc(quota / 2 + 1));
    const stopped = await waitFor("the package stopped for its quota", async () => {
      const p = await pkg();
      return p.state === PackageState.FAILED && p.pid === 0 ? p : undefined;
    });
    expect(stopped.lastExit).toMatch(new RegExp(`^data quota exceeded: \\d+ bytes in its data dir, its manifest allows ${quota}$`));
    expect(existsSync(`/proc/${before}`)).toBe(false);
    rmSync(`${filler}2`);
    rmSync(filler);
    const again = await waitFor("the package running again", async () => {
      const p = await pkg();
      return p.state === PackageState.RUNNING && p.pid > 0 ? p : undefined;
    });
    expect(procStatus(again.pid, "Uid")!.split(/\s+/)[0]).toBe(String(uid));
  });

  it("an upgrade that does not start restores the old version; one that starts replaces it", async () => {
    const key = createPrivateKey(readFileSync(path.join(DEV_KEYS_DIR, "dev.key.pem")));
    const manifest = JSON.parse(readFileSync(path.join(import.meta.dirname, "../../examples/blocklist-sync/manifest.json"), "utf8")) as Record<string, unknown>;
    const code = readFileSync(path.join(packagesDir, NAME, "1.0.0", "main.js"));
    const make = (version: string, main: Buffer) => {
      const file = path.join(first.dir, `${version}.opkg`);
      writeFileSync(file, makePackageFile(makeContent(JSON.stringify({ ...manifest, version }), [{ name: "main.js", type: "file", mode: 0o644, data: main }]), key));
      return file;
    };
    const install = async (file: string) => {
      try {
        for await (const _ of d.client(PackageService, 60_000).installPackage({ bundlePath: file })) void _;
        return undefined;
      } catch (err) {
        return err as { reason: string; message: string };
      }
    };
    const oldPid = (await pkg()).pid;
    const failed = await install(make("1.1.0", Buffer.from('process.exit(4);\n')));
    expect(failed?.reason).toBe("PACKAGE_START_FAILED");
    expect(failed?.message).toContain("1.0.0 was restored");
    const restored = await waitFor("the old version running", async () => {
      const p = await pkg();
      return p.state === PackageState.RUNNING && p.pid !== oldPid ? p : undefined;
    });
    expect(restored.version).toBe("1.0.0");
    expect(readdirSync(path.join(packagesDir, NAME)).sort()).toEqual(["1.0.0", "data", "log", "service"]);

    expect(await install(make("1.2.0", code))).toBeUndefined();
    const upgraded = await pkg();
    expect(upgraded).toMatchObject({ version: "1.2.0", state: PackageState.RUNNING, uid });
    expect(readdirSync(path.join(packagesDir, NAME)).sort()).toEqual(["1.2.0", "data", "log", "service"]);
  });

  it("delete removes the process, uid, principal, files and service", async () => {
    await d.client(PackageService).deletePackage({ name: NAME });
    expect(processesOfUid(uid)).toEqual([]);
    expect(existsSync(path.join(packagesDir, NAME))).toBe(false);
    expect(readdirSync(path.join(packagesDir, ".services"))).toEqual([]);
    expect(JSON.parse(readFileSync(path.join(packagesDir, "installed.json"), "utf8"))).toEqual([]);
    // The uid is nobody now: a call from it is UNKNOWN_PEER.
    const r = await callAs(d.socketPath, uid, "orbital.firewall.v1.FirewallService/ListPrefixSets");
    expect(r.error?.reason).toBe("UNKNOWN_PEER");
    await expect(d.client(PackageService).getPackage({ name: NAME })).rejects.toMatchObject({ reason: "NOT_FOUND" });
  });
});
