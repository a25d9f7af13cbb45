// The QEMU A/B update scenario (x86_64-update.test.ts; docs/update.md): one VM under TCG booted through UEFI firmware and systemd-boot
// from a copy of the board's image (version N, slot A), a second virtio disk holding the bundles this file builds with
// image/build-bundle.sh. In order: bundles refused (another signer, a tampered payload, another board) with the slots unchanged; a power
// cut (QEMU killed) in the middle of an install, after which the box boots slot A again and a new install works; the good update (N+1 in
// slot B, trial boot, blessed by the guard once orbitald is healthy, the configuration intact, A still good); the bad update (a
// deliberately broken bundle whose orbitald exits at once, installed into A from B) that the guard gives up on, after which the box is
// back on B by itself with A marked bad and the reason recorded.
//
// The test build takes fewer tries and a shorter deadline through /data/etc/update.conf, the same code path as the release defaults
// of /etc/orbital/update.conf. Installs go through `rauc install` on root's console; `install()` is the one place that changes when
// `orbctl update install` drives it instead.
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { guest, repoRoot, SerialConsole } from "../../qemu/serial-console.mjs";
import { run, vmLock } from "./boot-scenario.js";

const BOOT_MS = 600_000; // TCG on a busy 2-core machine
const ADDRESS = "192.0.2.1/24"; // TEST-NET-1 on eth1 (an isolated QEMU network)
// The test build's settings (release defaults: 3 tries, 300 s, 30 s): one try, and a deadline that a healthy TCG boot meets with room.
const TEST_SETTINGS = "BOOT_TRIES=1\nTRIAL_DEADLINE=240\nHEALTHY_FOR=10\n";

interface RaucSlot {
  class: string;
  bootname?: string;
  state: string;
  boot_status?: string;
  slot_status?: { bundle?: { version?: string } };
}
interface RaucStatus {
  booted: string;
  boot_primary: string;
  slots: Record<string, RaucSlot>[];
}

export interface UpdateBoard {
  name: string;
}

/** The next patch version of a dotted version ("0.1.0" -> "0.1.1"). */
function nextPatch(version: string): string {
  const parts = version.split(".");
  parts[parts.length - 1] = String(Number(parts[parts.length - 1]) + 1);
  return parts.join(".");
}

async function mustRun(cmd: string, args: string[]): Promise<string> {
  const r = await run(cmd, args);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed:\n${r.out}`);
  return r.out.trim();
}

export function updateScenario(board: UpdateBoard): void {
  const imageDir = path.join(repoRoot, "build", "images", board.name);
  const work = mkdtempSync(path.join(tmpdir(), `orbital-update-${board.name}-`));
  const disk = path.join(work, `orbital-${board.name}.img`);
  const bundleDisk = path.join(work, "bundles.img");
  const bundles = path.join(work, "bundles");
  const transcript = path.join(work, "console.log");
  const version = JSON.parse(readFileSync(path.join(repoRoot, "package.json"), "utf8")).version as string;
  const next = nextPatch(version);
  const broken = nextPatch(next);
  let con: SerialConsole;
  let unlock: (() => void) | undefined;
  const times: Record<string, number> = {};

  function start(): void {
    con = SerialConsole.start({
      board: board.name,
      args: ["--image", imageDir, "--disk", disk, "--rest-port", "0", "--accel", "tcg", "--", "-drive", `file=${bundleDisk},format=raw,if=none,id=bundles,readonly=on`, "-device", "virtio-blk-pci,drive=bundles"],
      transcript,
    });
  }

  /** Waits for "API ready" after text offset `from` and logs in as root. */
  async function bootedAsRoot(label: string, from: number, t0: number): Promise<void> {
    const api = await con.seen(guest.apiReady, { from, timeoutMs: BOOT_MS, what: `orbital: API ready (${label})` });
    times[`${label}: boot to API ready`] = api - t0;
    await con.seen(guest.loginPrompt, { from, timeoutMs: BOOT_MS, what: `the login prompt (${label})` });
    await con.login("root", guest.initialPassword, guest.rootPrompt);
    await root("mkdir -p /run/bundles && (grep -q ' /run/bundles ' /proc/mounts || mount -o ro /dev/vdb /run/bundles)");
  }

  async function root(line: string, timeoutMs = 180_000): Promise<string> {
    const { out, status } = await con.sh(line, { timeoutMs });
    expect(status, `${line}\n${out}`).toBe(0);
    return out;
  }

  async function raucStatus(): Promise<RaucStatus> {
    const out = await root("rauc status --detailed --output-format=json 2>/dev/null");
    return JSON.parse(out.split("\n").find((l) => l.startsWith("{")) ?? out) as RaucStatus;
  }
  const slot = (s: RaucStatus, name: string): RaucSlot => {
    const found = s.slots.find((x) => name in x)?.[name];
    if (!found) throw new Error(`no slot ${name} in ${JSON.stringify(s)}`);
    return found;
  };
  /** What must not move when a bundle is refused: RAUC's view of the slots and the boot entries. */
  const slotsNow = async () => {
    const s = await raucStatus();
    return { booted: s.booted, primary: s.boot_primary, states: s.slots.map((x) => JSON.stringify(Object.entries(x).map(([k, v]) => [k, v.boot_status]))), entries: await root("ls -1 /boot/loader/entries") };
  };

  /** Installs a bundle from the bundle disk: { out, status } of the install. The one line that becomes `orbctl update install`. */
  async function install(file: string, timeoutMs = 600_000): Promise<{ out: string; status: number }> {
    return con.sh(`rauc install /run/bundles/${file}`, { timeoutMs });
  }

  async function reboot(label: string): Promise<void> {
    const from = con.mark();
    const t0 = con.now();
    con.sendLine("reboot");
    await bootedAsRoot(label, from, t0);
  }

  beforeAll(async () => {
    await mustRun("bash", [path.join(repoRoot, "image", "build-image.sh"), "--board", board.name]);
    mkdirSync(bundles, { recursive: true });
    const bundle = (name: string, args: string[]) =>
      mustRun("bash", [path.join(repoRoot, "image", "build-bundle.sh"), "--out", path.join(bundles, name), ...args]);
    // N+1: the image built again at version N+1, bundled.
    await bundle("good.raucb", ["--board", board.name, "--version", next]);
    const nextImage = path.join(repoRoot, "build", "images", `${board.name}-${next}`);
    // Another signer: a CA the image does not trust.
    const otherKeys = await mustRun("bash", [path.join(repoRoot, "image", "update-keys.sh"), path.join(work, "other-keys")]);
    await bundle("other-signer.raucb", ["--board", board.name, "--image", nextImage, "--key", `${otherKeys}/signer.key.pem`, "--cert", `${otherKeys}/signer.cert.pem`, "--keyring", `${otherKeys}/ca.cert.pem`]);
    // Another board: the same files under the other board's compatible string.
    await bundle("other-board.raucb", ["--board", board.name === "x86_64" ? "aarch64" : "x86_64", "--image", nextImage]);
    // A tampered payload: one byte of the root file system image changed after signing (the verity hash tree no longer matches).
    copyFileSync(path.join(bundles, "good.raucb"), path.join(bundles, "tampered.raucb"));
    execFileSync("sh", ["-c", `printf '\\377' | dd of=${path.join(bundles, "tampered.raucb")} bs=1 seek=${8 << 20} conv=notrunc status=none`]);
    // The broken bundle: N+1's root file system with an orbital executable that exits at once (orbitald never answers), version N+2.
    const brokenDir = path.join(work, "broken");
    mkdirSync(brokenDir, { recursive: true });
    await mustRun("unsquashfs", ["-q", "-n", "-d", path.join(brokenDir, "root"), path.join(nextImage, "rootfs.squashfs")]);
    writeFileSync(path.join(brokenDir, "root", "usr", "bin", "orbital"), '#!/bin/sh\necho "orbital: deliberately broken test build" >&2\nexit 1\n', { mode: 0o755 });
    const osRelease = path.join(brokenDir, "root", "etc", "os-release");
    writeFileSync(osRelease, readFileSync(osRelease, "utf8").replace(/^VERSION_ID=.*$/m, `VERSION_ID=${broken}`));
    await mustRun("mksquashfs", [path.join(brokenDir, "root"), path.join(brokenDir, "rootfs.squashfs"), "-noappend", "-all-root", "-comp", "gzip", "-quiet", "-no-progress"]);
    for (const f of ["vmlinuz", "initrd.img", "cmdline.txt"]) copyFileSync(path.join(nextImage, f), path.join(brokenDir, f));
    await bundle("broken.raucb", ["--board", board.name, "--image", brokenDir]);
    rmSync(path.join(brokenDir, "root"), { recursive: true, force: true });
    // The bundle disk (ext4, read-only in the guest) and the VM's own disk and firmware variables.
    await mustRun("mke2fs", ["-q", "-t", "ext4", "-d", bundles, bundleDisk, "768M"]);
    await mustRun("cp", ["--sparse=always", path.join(imageDir, `orbital-${board.name}.img`), disk]);
    unlock = await vmLock();
    console.log(`${board.name} update console transcript: ${transcript}`);
    start();
  }, 3_600_000);

  afterAll(async () => {
    await con?.kill();
    unlock?.();
    rmSync(work, { recursive: true, force: true });
    if (Object.keys(times).length) {
      console.log(Object.entries(times).map(([k, v]) => `${board.name} update ${k}: ${(v / 1000).toFixed(1)} s`).join("\n"));
    }
  });

  describe(`${board.name} A/B updates under QEMU`, () => {
    it(`boots slot A at version ${version}, RAUC sees both slots`, async () => {
      await bootedAsRoot("first boot", 0, 0);
      await root(`printf '${TEST_SETTINGS.replace(/\n/g, "\\n")}' >/data/etc/update.conf`);
      await root(`orbctl interface set eth1 --up --address ${ADDRESS}`);
      expect(await root("sed -n 's/^VERSION_ID=//p' /etc/os-release")).toBe(version);
      const s = await raucStatus();
      expect(s.booted).toBe("a");
      expect(s.boot_primary).toBe("rootfs.0");
      expect(slot(s, "rootfs.0").state).toBe("booted");
      expect(slot(s, "rootfs.0").boot_status).toBe("good");
      expect(slot(s, "rootfs.1").boot_status).toBe("bad");
      expect(await root("ls -1 /boot/loader/entries")).toBe("a.conf");
      // RAUC's bus is root's alone
      expect((await con.sh("su -s /bin/sh admin -c 'DBUS_STARTER_BUS_TYPE=session /usr/lib/rauc/rauc status' 2>&1")).status).not.toBe(0);
    }, BOOT_MS);

    it("refuses a bundle of another signer, a tampered one and another board's, and the slots stay as they were", async () => {
      const before = await slotsNow();
      const signer = await install("other-signer.raucb");
      expect(signer.status).not.toBe(0);
      expect(signer.out).toMatch(/signature|certificate|issuer/i);
      const board2 = await install("other-board.raucb");
      expect(board2.status).not.toBe(0);
      expect(board2.out).toMatch(/compatible/i);
      const tampered = await install("tampered.raucb");
      expect(tampered.status).not.toBe(0);
      expect(await slotsNow()).toEqual(before);
    }, 1_200_000);

    it("after a power cut in the middle of an install, boots slot A again, and a new install works", async () => {
      const from = con.mark();
      con.sendLine("rauc install /run/bundles/good.raucb");
      await con.seen(/Copying image to rootfs\.1|Updating slot rootfs\.1/, { from, timeoutMs: 300_000, what: "the install copying into rootfs.1" });
      await con.kill();
      start();
      await bootedAsRoot("boot after the power cut", 0, 0);
      expect(await root("cat /proc/cmdline")).toMatch(/\brauc\.slot=a\b/);
      const s = await raucStatus();
      expect(s.booted).toBe("a");
      expect(s.boot_primary).toBe("rootfs.0");
      expect(slot(s, "rootfs.1").boot_status).toBe("bad");
      const again = await install("good.raucb");
      expect(again.status, again.out).toBe(0);
      expect(again.out).toMatch(/succeeded|Installing done/);
      expect(await root("ls -1 /boot/loader/entries")).toBe("a.conf\nb+1.conf");
      const after = await raucStatus();
      expect(after.boot_primary).toBe("rootfs.1");
    }, 1_800_000);

    it(`boots slot B at ${next} on trial, blesses it once orbitald is healthy, with the configuration intact and A still good`, async () => {
      await reboot("reboot into the update");
      expect(await root("cat /proc/cmdline")).toMatch(/\brauc\.slot=b\b.*\borbital\.trial\b/);
      expect(await root("sed -n 's/^VERSION_ID=//p' /etc/os-release")).toBe(next);
      expect(await root("ip -4 -o addr show dev eth1")).toContain(`inet ${ADDRESS}`);
      await con.seen(/orbital-update: slot b is good: blessed/, { timeoutMs: 300_000, what: "the guard blessing slot b" });
      expect(await root("ls -1 /boot/loader/entries")).toBe("a.conf\nb.conf");
      const s = await raucStatus();
      expect(s.booted).toBe("b");
      expect(s.boot_primary).toBe("rootfs.1");
      expect(slot(s, "rootfs.1").boot_status).toBe("good");
      expect(slot(s, "rootfs.1").slot_status?.bundle?.version).toBe(next);
      expect(slot(s, "rootfs.0").boot_status).toBe("good");
    }, BOOT_MS);

    it("rolls back by itself from a bundle whose orbitald never answers: back on B, A marked bad and why", async () => {
      const inst = await install("broken.raucb");
      expect(inst.status, inst.out).toBe(0);
      expect(await root("ls -1 /boot/loader/entries")).toBe("a+1.conf\nb.conf");
      const from = con.mark();
      const t0 = con.now();
      con.sendLine("reboot");
      await con.seen(/orbital-update: trial boot of slot a/, { from, timeoutMs: BOOT_MS, what: "the trial boot of slot a" });
      const failed = await con.seen(/orbital-update: trial of slot a failed: .*; rebooting/, { from, timeoutMs: BOOT_MS, what: "the guard giving up on slot a" });
      times["broken trial: reboot to the guard's reboot"] = failed - t0;
      await bootedAsRoot("back on slot B", con.mark(), t0);
      expect(await root("cat /proc/cmdline")).toMatch(/\brauc\.slot=b\b/);
      expect(await root("cat /proc/cmdline")).not.toMatch(/orbital\.trial/);
      expect(await root("sed -n 's/^VERSION_ID=//p' /etc/os-release")).toBe(next);
      expect(await root("ls -1 /boot/loader/entries")).toMatch(/^a\+0-1\.conf\nb\.conf$/);
      expect(await root("cat /data/rauc/trial-failure.a")).toMatch(/orbitald was not API-ready and healthy/);
      const s = await raucStatus();
      expect(s.booted).toBe("b");
      expect(s.boot_primary).toBe("rootfs.1");
      expect(slot(s, "rootfs.0").boot_status).toBe("bad");
      expect(slot(s, "rootfs.1").boot_status).toBe("good");
      expect(await root("ip -4 -o addr show dev eth1")).toContain(`inet ${ADDRESS}`);
    }, 1_200_000);
  });
}
