// The RAUC adapter's contract on RAUC 1.8's own output (recorded from Debian's rauc 1.8 on the host and on
// the image's layout): status parsing, and the failure kinds, through a stand-in `rauc` script that prints
// what RAUC printed. test/update runs the real RAUC.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parseBundleFormat, parseStatus, RaucCli, RaucFailure, type RaucProgress } from "./rauc-cli.js";

const STATUS = JSON.stringify({
  compatible: "orbital-x86_64",
  variant: "",
  booted: "a",
  boot_primary: "rootfs.1",
  slots: [
    { "boot.1": { class: "boot", device: "/boot/b", type: "raw", bootname: null, state: "inactive", parent: "rootfs.1", mountpoint: null, boot_status: null, slot_status: { bundle: { compatible: null } } } },
    {
      "rootfs.1": {
        class: "rootfs",
        device: "/dev/disk/by-partlabel/rootfs-b",
        type: "raw",
        bootname: "b",
        state: "inactive",
        parent: null,
        mountpoint: null,
        boot_status: "good",
        slot_status: { bundle: { compatible: "orbital-x86_64", version: "0.2.0" }, installed: { timestamp: "2026-12-03T15:45:26Z", count: 1 }, status: "ok" },
      },
    },
    { "rootfs.0": { class: "rootfs", device: "/dev/disk/by-partlabel/rootfs-a", type: "raw", bootname: "a", state: "booted", parent: null, mountpoint: null, boot_status: "good", slot_status: { bundle: { compatible: null } } } },
  ],
});

// `rauc info` of a verity bundle (text: 1.8's JSON has no format or verity lines).
const INFO_VERITY = `Compatible: \t'x'
Version:    \t'1.0.0'
Description:\t'(null)'
Build:      \t'(null)'
Hooks:      \t''
Bundle Format: \tverity
  Verity Salt: \t'69b3bb0eb3af022ed9b7654894657b3e9546b82261a3a63f7081b9ffff5c8fa9'
  Verity Hash: \t'54a7a18314f4de98183d9cb786648396404a6bf19cbfa69b9d84f0e1d19bd82c'
  Verity Size: \t28672

1 Image:
`;

describe("parseBundleFormat", () => {
  it("reads a verity bundle's salt, root hash and hash tree size", () => {
    expect(parseBundleFormat(INFO_VERITY)).toEqual({
      format: "verity",
      verity: { salt: "69b3bb0eb3af022ed9b7654894657b3e9546b82261a3a63f7081b9ffff5c8fa9", rootHash: "54a7a18314f4de98183d9cb786648396404a6bf19cbfa69b9d84f0e1d19bd82c", hashTreeBytes: 28672 },
    });
  });

  it("a plain bundle has none; a verity one without them is not a bundle", () => {
    expect(parseBundleFormat(INFO_VERITY.replace("verity\n", "plain\n"))).toEqual({ format: "plain" });
    expect(() => parseBundleFormat(INFO_VERITY.replace(/ {2}Verity Hash.*\n/, ""))).toThrow(RaucFailure);
  });
});

describe("parseStatus", () => {
  it("reads the system, each slot's record, and children as children", () => {
    const s = parseStatus(STATUS);
    expect(s).toMatchObject({ compatible: "orbital-x86_64", booted: "a", bootPrimary: "rootfs.1" });
    expect(s.slots.map((x) => x.name)).toEqual(["boot.1", "rootfs.0", "rootfs.1"]);
    expect(s.slots[0]).toMatchObject({ class: "boot", parent: "rootfs.1" });
    expect(s.slots[1]).toEqual({ name: "rootfs.0", bootname: "a", class: "rootfs", device: "/dev/disk/by-partlabel/rootfs-a", state: "booted", bootStatus: "good" });
    expect(s.slots[2]).toMatchObject({ bundleVersion: "0.2.0", bundleCompatible: "orbital-x86_64", installedAt: "2026-12-03T15:45:26Z", installCount: 1 });
  });

  it("refuses what is not JSON as RAUC unavailable", () => {
    expect(() => parseStatus("=== System Info ===")).toThrow(RaucFailure);
  });
});

describe("RaucCli on RAUC's recorded answers", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "rauc-cli-spec-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** A stand-in rauc that prints `stdout` and `stderr` and exits with `code`. */
  function fake(stdout: string, stderr: string, code: number): RaucCli {
    const bin = path.join(dir, `rauc-${Math.random().toString(36).slice(2)}`);
    writeFileSync(path.join(`${bin}.out`), stdout);
    writeFileSync(path.join(`${bin}.err`), stderr);
    writeFileSync(bin, `#!/bin/sh\ncat ${bin}.out\ncat ${bin}.err >&2\nexit ${code}\n`);
    chmodSync(bin, 0o755);
    return new RaucCli({ command: bin });
  }

  const failureOf = async (p: Promise<unknown>) => {
    const e = await p.then(() => undefined, (x: unknown) => x);
    expect(e).toBeInstanceOf(RaucFailure);
    return e as RaucFailure;
  };

  const CENTRAL = "rauc-Message: 15:46:03.827: Using central status file /data/rauc/status.raucs\n";

  it.each([
    ["untrusted", `${CENTRAL}rauc-Message: 15:46:03.830: Verifying bundle signature... \nsignature verification failed: Verify error: unable to get local issuer certificate\n`],
    ["tampered", "808FB833F17F0000:error:1700006D:CMS routines:CMS_verify:content verify error:../crypto/cms/cms_smime.c:455:\nsignature verification failed: error:1700009E:CMS routines::verification failure\n"],
    ["not-a-bundle", `${CENTRAL}Invalid bundle format: Signature size (9425204676457222759) exceeds bundle size\n`],
    ["format-refused", `${CENTRAL}rauc-Message: 14:28:09.199: Verified detached signature by 'CN = t'\nBundle format 'plain' not allowed\n`],
    ["not-found", "No such file: /data/missing.raucb\n"],
    ["unavailable", "Error retrieving slot status via D-Bus: error creating proxy: Could not connect: No such file or directory\n"],
  ])("info: %s", async (kind, stderr) => {
    const f = await failureOf(fake("", stderr, 1).info("/data/b.raucb"));
    expect(f.kind).toBe(kind);
    expect(f.detail).not.toMatch(/rauc-Message|^[0-9A-F]+:error:/);
  });

  it("info: the manifest", async () => {
    const info = await fake('{"compatible":"orbital-x86_64","version":"0.2.0","description":null,"build":null,"hooks":[],"images":[]}', CENTRAL, 0).info("/data/b.raucb");
    expect(info).toEqual({ compatible: "orbital-x86_64", version: "0.2.0", format: "plain" });
  });

  it("install: every progress line, and LastError as the failure", async () => {
    const out = "installing\n  0% Installing\n 20% Checking bundle\n 40% Verifying signature done.\n100% Installing failed.\nLastError: Failed mounting bundle: Failed to open /dev/mapper/control: No such file or directory\n";
    const seen: RaucProgress[] = [];
    const f = await failureOf(fake(out, "Installing `/data/b.raucb` failed", 1).install("/data/b.raucb", (p) => seen.push(p)));
    expect(seen).toEqual([
      { percent: 0, message: "Installing" },
      { percent: 20, message: "Checking bundle" },
      { percent: 40, message: "Verifying signature done." },
      { percent: 100, message: "Installing failed." },
    ]);
    expect(f).toMatchObject({ kind: "failed", detail: "Failed mounting bundle: Failed to open /dev/mapper/control: No such file or directory" });
  });

  it("install: RAUC unreachable is unavailable, not a failed install", async () => {
    const f = await failureOf(fake("", "Error creating proxy: Could not connect: No such file or directory\nD-Bus error while installing `/data/b.raucb`\n", 1).install("/data/b.raucb", () => {}));
    expect(f.kind).toBe("unavailable");
  });

  it("mark: RAUC's message, and an unknown slot", async () => {
    expect(await fake("rauc status: marked slot rootfs.1 as good\n", CENTRAL, 0).mark("rootfs.1", "good")).toBe("marked slot rootfs.1 as good");
    expect((await failureOf(fake("", "rauc mark: No slot with class rootfs and name rootfs.9 found\n", 1).mark("rootfs.9", "bad"))).kind).toBe("no-slot");
  });

  it("status while RAUC installs: busy, not unavailable", async () => {
    const stderr = 'Error retrieving slot status via D-Bus: error calling D-Bus method "GetSlotStatus": already processing a different method\n';
    expect((await failureOf(fake("", stderr, 1).status())).kind).toBe("busy");
  });

  it("a rauc that cannot be run is unavailable", async () => {
    const f = await failureOf(new RaucCli({ command: path.join(dir, "none") }).status());
    expect(f.kind).toBe("unavailable");
  });
});
