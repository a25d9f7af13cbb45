// Proves: every kind of bad package file is refused with a structured error and leaves nothing on disk (no
// files, no service, no principal), and the daemon keeps serving: unsigned, tampered, unknown key,
// capabilities outside the default and a configured policy, another architecture, an invalid name or
// version, path traversal, absolute paths, symlinks out of the tree, device files, setuid bits, a package
// bigger than the data partition, a second install of the same name while one runs, bad bundle paths, and an
// installer whose role lacks a capability the package asks for (installing must not grant more than that).
// Topology: daemons on the simulated data plane (no network needed); the too-big case gives its daemon a
// 4 MiB tmpfs as packages dir. Packages run under the real runit supervisor.
import { execFileSync } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InstallStage, PackageService } from "../../src/gen/orbital/package/v1/package_pb.js";
import { SystemService } from "../../src/gen/orbital/system/v1/system_pb.js";
import { UserService } from "../../src/gen/orbital/user/v1/user_pb.js";
import { OrbitalError } from "../../src/common/errors.js";
import { callAs, startDaemon, type RunningDaemon } from "../support/daemon.js";
import { packageFile, scriptManifest, sleeperScript, stopPackageSupervisor, testSigner, writePackage } from "../support/packages.js";

const signer = testSigner();
let d: RunningDaemon;
let packagesDir: string;

beforeAll(async () => {
  d = await startDaemon({ env: { ORBITAL_PACKAGE_KEYS_DIR: signer.keysDir } });
  packagesDir = path.join(d.dir, "packages");
});
afterAll(async () => {
  await stopPackageSupervisor(packagesDir);
  await d?.cleanup();
});

async function install(bundlePath: string): Promise<{ stages: InstallStage[]; error?: OrbitalError }> {
  const stages: InstallStage[] = [];
  try {
    for await (const p of d.client(PackageService, 60_000).installPackage({ bundlePath })) stages.push(p.stage);
  } catch (err) {
    if (err instanceof OrbitalError) return { stages, error: err };
    throw err;
  }
  return { stages };
}

/** Nothing but the empty registry (and the supervisor's bookkeeping) in the packages dir. */
function expectNothingInstalled(): void {
  const left = readdirSync(packagesDir).filter((n) => ![".services", ".runsvdir.pid", "installed.json", ".installed.json.tmp"].includes(n));
  expect(left).toEqual([]);
  const registry = path.join(packagesDir, "installed.json");
  expect(existsSync(registry) ? JSON.parse(readFileSync(registry, "utf8")) : []).toEqual([]);
  const services = path.join(packagesDir, ".services");
  expect(existsSync(services) ? readdirSync(services) : []).toEqual([]);
}

const other = generateKeyPairSync("ed25519").privateKey;
const file = (name: string, mode = 0o644, data = "x") => ({ name, type: "file" as const, mode, data: Buffer.from(data) });

const cases: { label: string; bytes: () => Buffer; reason: string; metadata?: Record<string, string> }[] = [
  { label: "an unsigned package", bytes: () => packageFile(signer, { signer: "none" }), reason: "SIGNATURE_INVALID" },
  {
    label: "a tampered package",
    bytes: () => {
      const good = packageFile(signer);
      const at = good.indexOf("exec sleep");
      good.write("exec sleeq", at); // a byte of the script inside content.tar, after signing
      return good;
    },
    reason: "SIGNATURE_INVALID",
  },
  { label: "a package signed by an unknown key", bytes: () => packageFile(signer, { signer: other }), reason: "SIGNATURE_INVALID" },
  { label: "capabilities outside the default policy (user.write)", bytes: () => packageFile(signer, { manifest: scriptManifest({ capabilities: ["firewall.read", "user.write"] }) }), reason: "PACKAGE_CAPABILITY_NOT_ALLOWED", metadata: { capabilities: "user.write" } },
  { label: "package.write, withheld by default", bytes: () => packageFile(signer, { manifest: scriptManifest({ capabilities: ["package.write"] }) }), reason: "PACKAGE_CAPABILITY_NOT_ALLOWED" },
  { label: "another architecture", bytes: () => packageFile(signer, { manifest: scriptManifest({ architecture: process.arch === "x64" ? "aarch64" : "x86_64" }) }), reason: "PACKAGE_ARCHITECTURE_MISMATCH" },
  { label: "an invalid name", bytes: () => packageFile(signer, { manifest: scriptManifest({ name: "Bad_Name" }) }), reason: "PACKAGE_INVALID", metadata: { field: "name" } },
  { label: "an invalid version", bytes: () => packageFile(signer, { manifest: scriptManifest({ version: "1.2" }) }), reason: "PACKAGE_INVALID", metadata: { field: "version" } },
  { label: "an unknown capability", bytes: () => packageFile(signer, { manifest: scriptManifest({ capabilities: ["firewall.everything"] }) }), reason: "PACKAGE_INVALID", metadata: { field: "capabilities" } },
  { label: "path traversal", bytes: () => packageFile(signer, { rawEntries: [file("files/../../escaped")] }), reason: "PACKAGE_INVALID" },
  { label: "an absolute path", bytes: () => packageFile(signer, { rawEntries: [file("/etc/orbital-escaped")] }), reason: "PACKAGE_INVALID" },
  { label: "a symlink out of the tree", bytes: () => packageFile(signer, { files: [sleeperScript(), { name: "etc", type: "symlink", mode: 0o777, linkName: "../../../../etc" }] }), reason: "PACKAGE_INVALID" },
  { label: "an absolute symlink", bytes: () => packageFile(signer, { files: [sleeperScript(), { name: "passwd", type: "symlink", mode: 0o777, linkName: "/etc/passwd" }] }), reason: "PACKAGE_INVALID" },
  { label: "a device file", bytes: () => packageFile(signer, { files: [sleeperScript(), { name: "disk", type: "device", mode: 0o600 }] }), reason: "PACKAGE_INVALID" },
  { label: "a setuid file", bytes: () => packageFile(signer, { files: [sleeperScript(), file("su", 0o4755)] }), reason: "PACKAGE_INVALID" },
  { label: "an entry program that is not in the package", bytes: () => packageFile(signer, { manifest: scriptManifest({ entry: ["missing.sh"] }) }), reason: "PACKAGE_INVALID", metadata: { field: "entry" } },
  { label: "a javascript package with less memory than Node needs", bytes: () => packageFile(signer, { manifest: scriptManifest({ runtime: "javascript", limits: { memoryBytes: 256 << 20 } }) }), reason: "PACKAGE_INVALID", metadata: { field: "limits.memoryBytes" } },
  { label: "not a package at all", bytes: () => Buffer.from("hello, I am not a tar archive\n".repeat(40)), reason: "PACKAGE_INVALID" },
];

describe("a bad package file is refused and leaves nothing behind", () => {
  it.each(cases)("$label: $reason", async ({ label, bytes, reason, metadata }) => {
    const r = await install(writePackage(d.dir, `${label.replace(/\W+/g, "-")}.opkg`, bytes()));
    expect(r.error?.reason, r.error?.message).toBe(reason);
    if (metadata) expect(r.error!.metadata).toMatchObject(metadata);
    expect(r.stages).not.toContain(InstallStage.UNPACKING);
    expectNothingInstalled();
  });

  it("a package asking for more than a configured policy allows is refused", async () => {
    await d.api(PackageService).updatePackagePolicy({ policy: { allowedCapabilities: ["firewall.read"] } });
    try {
      const r = await install(writePackage(d.dir, "policy.opkg", packageFile(signer, { manifest: scriptManifest({ capabilities: ["firewall.read", "firewall.write"] }) })));
      expect(r.error?.reason).toBe("PACKAGE_CAPABILITY_NOT_ALLOWED");
      expect(r.error!.metadata.capabilities).toBe("firewall.write");
      expectNothingInstalled();
    } finally {
      const { policy } = await d.api(PackageService).getPackagePolicy({});
      expect(policy!.allowedCapabilities).toEqual(["firewall.read"]);
      // back to the default: a policy allowing everything but the withheld families, as before
      const all = (await d.api(PackageService).getPackagePolicy({})).policy!;
      await d.api(PackageService).updatePackagePolicy({ policy: { ...all, allowedCapabilities: ["firewall.read", "firewall.write", "system.read"] } });
    }
  });

  it("an installer may not grant what it lacks: package.write without firewall.write cannot install a firewall.write package", async () => {
    const users = d.api(UserService);
    await users.createRole({ role: { name: "package-installer", capabilities: ["package.read", "package.write", "firewall.read"] } });
    await users.createUser({ user: { name: "installer", uid: 6201, role: "package-installer" } });
    const bundlePath = writePackage(d.dir, "escalate.opkg", packageFile(signer, { manifest: scriptManifest({ name: "escalate", capabilities: ["firewall.read", "firewall.write"] }) }));
    const r = await callAs(d.socketPath, 6201, "orbital.package.v1.PackageService/InstallPackage", { bundlePath });
    expect(r.error).toMatchObject({ reason: "CAPABILITY_MISSING", metadata: { capability: "firewall.write", principal: "installer", role: "package-installer" } });
    expectNothingInstalled();
    await users.deleteUser({ name: "installer" });
    await users.deleteRole({ name: "package-installer" });
  });

  it("a package whose program exits at once is refused as PACKAGE_START_FAILED, and removed", async () => {
    const r = await install(writePackage(d.dir, "crash.opkg", packageFile(signer, { manifest: scriptManifest({ name: "crasher" }), files: [sleeperScript("exit 3")] })));
    expect(r.error?.reason).toBe("PACKAGE_START_FAILED");
    expect(r.error!.metadata.lastExit).toBe("exit 3");
    expect(r.stages).toContain(InstallStage.STARTING);
    expectNothingInstalled();
  });

  it("a second install of the same name while one runs is refused with OPERATION_IN_PROGRESS", async () => {
    const bundle = writePackage(d.dir, "sleeper.opkg", packageFile(signer));
    const first = install(bundle);
    await new Promise((r) => setTimeout(r, 300)); // the first is starting (runsvdir scans every 5 s)
    const second = await install(bundle);
    expect(second.error?.reason).toBe("OPERATION_IN_PROGRESS");
    const done = await first;
    expect(done.error, done.error?.message).toBeUndefined();
    expect(done.stages).toEqual([InstallStage.VERIFYING, InstallStage.VERIFYING, InstallStage.UNPACKING, InstallStage.STARTING, InstallStage.DONE]);
    // the same version again, now that it is installed: ALREADY_EXISTS
    expect((await install(bundle)).error?.reason).toBe("ALREADY_EXISTS");
    await d.api(PackageService).deletePackage({ name: "sleeper" });
    expectNothingInstalled();
  });

  it.each([
    ["a relative path", "incoming/sleeper.opkg"],
    ["a path with ..", "/tmp/../etc/passwd"],
    ["a path outside the data partition", "/etc/passwd"],
  ])("a bundle path that is %s is INVALID_FIELD", async (_label, bundlePath) => {
    const r = await install(bundlePath);
    expect(r.error?.reason).toBe("INVALID_FIELD");
    expect(r.error!.metadata.field).toBe("bundle_path");
  });

  it("UpdatePackagePolicy changes only the fields its update_mask names, and refuses other paths", async () => {
    const api = d.api(PackageService);
    const { publicKey } = generateKeyPairSync("ed25519");
    const pem = publicKey.export({ type: "spki", format: "pem" }).toString();
    const before = (await api.getPackagePolicy({})).policy!;
    await api.updatePackagePolicy({ policy: { trustedKeys: [{ name: "extra", publicKeyPem: pem }] }, updateMask: { paths: ["trusted_keys"] } });
    const after = (await api.getPackagePolicy({})).policy!;
    expect(after.allowedCapabilities).toEqual(before.allowedCapabilities);
    expect(after.trustedKeys.map((k) => k.name)).toEqual(["extra"]);
    await expect(api.updatePackagePolicy({ policy: {}, updateMask: { paths: ["key_id"] } })).rejects.toMatchObject({ reason: "INVALID_FIELD_MASK" });
    await api.updatePackagePolicy({ policy: { trustedKeys: [] }, updateMask: { paths: ["trusted_keys"] } });
    expect((await api.getPackagePolicy({})).policy!).toMatchObject({ allowedCapabilities: before.allowedCapabilities, trustedKeys: [] });
  });

  it("the daemon still serves, with its configuration intact", async () => {
    const { policy } = await d.api(PackageService).getPackagePolicy({});
    expect(policy!.allowedCapabilities).toEqual(["firewall.read", "firewall.write", "system.read"]);
    expect((await d.api(SystemService).getHealth({})).status).toBeDefined();
  });
});

describe("a box without runit", () => {
  let bare: RunningDaemon;
  beforeAll(async () => {
    bare = await startDaemon({ env: { ORBITAL_PACKAGE_KEYS_DIR: signer.keysDir, PATH: "/nonexistent" } });
  });
  afterAll(() => bare?.cleanup());

  it("refuses an install with UNSUPPORTED and leaves nothing", async () => {
    let error: OrbitalError | undefined;
    try {
      for await (const _ of bare.client(PackageService, 60_000).installPackage({ bundlePath: writePackage(bare.dir, "sleeper.opkg", packageFile(signer)) })) void _;
    } catch (err) {
      error = err as OrbitalError;
    }
    expect(error?.reason).toBe("UNSUPPORTED");
    expect(error!.metadata.feature).toMatch(/^packages \(/);
    expect(readdirSync(path.join(bare.dir, "packages")).filter((n) => n !== "installed.json" && n !== ".services")).toEqual([]);
    expect((await bare.client(PackageService).listPackages({})).packages).toEqual([]);
  });
});

describe("a package bigger than the data partition", () => {
  let small: RunningDaemon;
  let mount: string;
  beforeAll(async () => {
    mount = path.join(d.dir, "small-packages");
    mkdirSync(mount);
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=4m", "tmpfs", mount]);
    small = await startDaemon({ env: { ORBITAL_PACKAGE_KEYS_DIR: signer.keysDir }, args: ["--packages-dir", mount] });
  });
  afterAll(async () => {
    await small?.cleanup();
    execFileSync("umount", [mount]);
  });

  it("is refused with PACKAGE_TOO_LARGE and leaves nothing", async () => {
    const big = packageFile(signer, { files: [sleeperScript(), { name: "blob", type: "file", mode: 0o644, data: Buffer.alloc(6 << 20, 7) }] });
    const stages: InstallStage[] = [];
    let error: OrbitalError | undefined;
    try {
      for await (const p of small.client(PackageService, 60_000).installPackage({ bundlePath: writePackage(small.dir, "big.opkg", big) })) stages.push(p.stage);
    } catch (err) {
      error = err as OrbitalError;
    }
    expect(error?.reason).toBe("PACKAGE_TOO_LARGE");
    expect(Number(error!.metadata.bytes)).toBeGreaterThan(Number(error!.metadata.available));
    expect(readdirSync(mount).filter((n) => n !== "installed.json")).toEqual([]);
  });
});
