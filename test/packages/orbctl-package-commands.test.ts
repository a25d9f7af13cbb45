// Proves: orbctl's package commands over a real daemon and runit: install shows each stage with its
// percentage, list and show report the package (state, uid, capabilities, key id), logs prints what it wrote,
// the policy commands show the default, trust a key (then a package it signed installs), allow a narrower
// list (then a package asking for more is refused, exit status 4), untrust; delete removes it. Audited.
// Topology: one daemon on the simulated data plane; orbctl as root in child processes.
import { generateKeyPairSync } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDaemon, type RunningDaemon } from "../support/daemon.js";
import { orbctl, orbctlHome } from "../support/orbctl.js";
import { packageFile, scriptManifest, sleeperScript, stopPackageSupervisor, testSigner, writePackage } from "../support/packages.js";

const signer = testSigner();
const home = orbctlHome();
let d: RunningDaemon;
const run = (...args: string[]) => orbctl(d.socketPath, args, { env: home.env });

beforeAll(async () => {
  d = await startDaemon({ env: { ORBITAL_PACKAGE_KEYS_DIR: signer.keysDir } });
});
afterAll(async () => {
  if (d) await stopPackageSupervisor(path.join(d.dir, "packages"));
  await d?.cleanup();
  home.remove();
});

describe("orbctl package", () => {
  it("install shows the stages, list/show/logs report the package, delete removes it", async () => {
    const bundle = writePackage(d.dir, "hello.opkg", packageFile(signer, { manifest: scriptManifest({ name: "hello", summary: "says hello" }), files: [sleeperScript('echo "hello from $ORBITAL_PACKAGE"; exec sleep 100000')] }));
    const installed = await run("package", "install", bundle);
    expect(installed.code, installed.stderr).toBe(0);
    expect(installed.stdout).toMatch(/^\s*5%\s+verifying\s/m);
    expect(installed.stdout).toMatch(/^\s*30%\s+unpacking\s/m);
    expect(installed.stdout).toMatch(/^\s*70%\s+starting\s/m);
    expect(installed.stdout).toMatch(/^100%\s+done\s+hello 1\.0\.0 runs as uid 61\d{3}$/m);

    expect((await run("package", "list")).stdout).toMatch(/^hello\s+1\.0\.0\s+running\s+61\d{3}\s+says hello$/m);
    const shown = (await run("package", "show", "hello")).stdout;
    expect(shown).toMatch(/^state:\s+running$/m);
    expect(shown).toMatch(/^capabilities:\s+system\.read$/m);
    expect(shown).toMatch(/^signing key:\s+[0-9a-f]{16}$/m);
    const logs = await run("package", "logs", "hello", "--lines", "5");
    expect(logs.stdout).toMatch(/hello from hello$/m);

    const deleted = await run("package", "delete", "hello");
    expect(deleted.stdout).toBe("package hello removed\n");
    const gone = await run("package", "show", "hello");
    expect(gone.code).toBe(5);
  });

  it("policy: show the default, trust a key, allow less, untrust", async () => {
    const shown = (await run("package", "policy", "show")).stdout;
    expect(shown).toMatch(/^policy:\s+default/m);
    expect(shown).toMatch(/firewall\.write/);
    expect(shown).not.toMatch(/user\.write|package\.write|update\.write/);

    // A package signed by another key is refused until that key is trusted.
    const { privateKey, publicKey } = generateKeyPairSync("ed25519");
    const pem = path.join(d.dir, "vendor.pem");
    writeFileSync(pem, publicKey.export({ type: "spki", format: "pem" }));
    const vendorBundle = writePackage(d.dir, "vendor.opkg", packageFile(signer, { manifest: scriptManifest({ name: "vendor" }), signer: privateKey }));
    const refused = await run("package", "install", vendorBundle);
    expect(refused.stderr).toMatch(/\[SIGNATURE_INVALID/);
    const trusted = await run("package", "policy", "trust", "vendor-a", pem);
    expect(trusted.stdout, trusted.stderr).toMatch(/^package policy changed: revision \d+$/m);
    expect((await run("package", "policy", "show")).stdout).toMatch(/^trusted keys:\s+vendor-a \([0-9a-f]{16}\)$/m);
    expect((await run("package", "install", vendorBundle)).code).toBe(0);
    expect((await run("package", "delete", "vendor")).code).toBe(0);

    expect((await run("package", "policy", "allow", "firewall.read")).code).toBe(0);
    const narrow = await run("package", "install", writePackage(d.dir, "wants.opkg", packageFile(signer, { manifest: scriptManifest({ name: "wants", capabilities: ["firewall.write"] }) })));
    expect(narrow.code).toBe(4);
    expect(narrow.stderr).toMatch(/firewall\.write \[PACKAGE_CAPABILITY_NOT_ALLOWED/);

    expect((await run("package", "policy", "untrust", "vendor-a")).code).toBe(0);
    expect((await run("package", "policy", "show")).stdout).toMatch(/^trusted keys:\s+-$/m);
    const audit = readFileSync(path.join(d.dataDir, "audit.jsonl"), "utf8");
    expect(audit.match(/UpdatePackagePolicy/g)?.length).toBe(3);
  });
});
