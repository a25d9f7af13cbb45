// The QEMU A/B update scenario (x86_64-update.test.ts, aarch64-update.test.ts; docs/update.md): one VM under TCG booted through UEFI
// firmware and systemd-boot from a copy of the board's image (version N, slot A), a second virtio disk holding the bundles this file
// builds with image/build-bundle.sh. In order: bundles refused (another signer, a tampered payload, another board, plain) with the slots
// unchanged; a power cut (QEMU killed) in the middle of an install, after which the box boots slot A again, its bytes untouched, and a
// new install works; the good update (N+1 in slot B, trial boot, blessed by the guard once orbitald is healthy, the configuration
// intact, A still good); then bundles that fail their trial in each way docs/update.md lists, each installed into A from B, after which
// the box is back on B by itself with A marked bad and the reason recorded: an orbitald that never answers (the guard's deadline), a
// kernel panic (an initramfs the kernel cannot unpack), a root file system that does not mount, a hard hang (the watchdog).
//
// The test build takes fewer tries and shorter timeouts through /data/etc/update.conf, the same code path as the release defaults
// of /etc/orbital/update.conf. Installs and status go through orbctl (`update install`, `update status -o json`: orbitald driving
// RAUC) on root's console; RAUC's own status is read beside it for what the API does not show (the boot entries' states).
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { guest, repoRoot, SerialConsole } from "../../qemu/serial-console.mjs";
import { run, vmLock } from "./boot-scenario.js";

const BOOT_MS = 600_000; // TCG on a busy 2-core machine
const ADDRESS = "192.0.2.1/24"; // TEST-NET-1 on eth1 (an isolated QEMU network)
// The test build's settings (release defaults: 3 tries, 300 s, 30 s): one try, and a deadline that a healthy TCG boot meets with room.
const TEST_SETTINGS = "BOOT_TRIES=1\nTRIAL_DEADLINE=240\nHEALTHY_FOR=10\nWATCHDOG_TIMEOUT=30\n";
// What the trial guard's note says when the trial died before the guard ran, and when the box reset under it.
const BEFORE_THE_GUARD = /used up its boot tries without reaching the guard/;
const RESET_DURING_TRIAL = /the box reset during the trial before the guard decided/;

interface RaucSlot {
  class: string;
  bootname?: string;
  state: string;
  boot_status?: string;
  slot_status?: { bundle?: { version?: string } };
}
interface ApiSlot {
  name: string;
  bootName: string;
  version?: string;
  health?: string;
  booted?: boolean;
  primary?: boolean;
  badReason?: string;
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
  /** What must not move when a bundle is refused: RAUC's view of the slots, the boot entries, the bytes of both slots. */
  const slotsNow = async () => {
    const s = await raucStatus();
    return {
      booted: s.booted,
      primary: s.boot_primary,
      states: s.slots.map((x) => JSON.stringify(Object.entries(x).map(([k, v]) => [k, v.boot_status]))),
      entries: await root("ls -1 /boot/loader/entries"),
      bytes: await root("find /boot/a /boot/b -type f | sort | xargs sha256sum; sha256sum /dev/disk/by-partlabel/rootfs-a /dev/disk/by-partlabel/rootfs-b"),
    };
  };

  /** Installs a bundle from the bundle disk through orbctl (orbitald drives RAUC): { out, status } of the install. */
  async function install(file: string, timeoutMs = 600_000): Promise<{ out: string; status: number }> {
    return con.sh(`orbctl update install /run/bundles/${file} 2>&1`, { timeoutMs });
  }

  /** The update service's view of a slot (orbctl update status -o json). */
  async function apiSlot(bootName: string): Promise<ApiSlot> {
    const out = await root("orbctl update status -o json");
    const status = JSON.parse(out.slice(out.indexOf("{"))) as { slots: ApiSlot[] };
    const found = status.slots.find((x) => x.bootName.toLowerCase() === bootName);
    if (!found) throw new Error(`no slot ${bootName} in ${out}`);
    return found;
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
    // A plain bundle (no verity hash tree), signed by the trusted key: the image's system.conf takes verity bundles only.
    const keys = await mustRun("bash", [path.join(repoRoot, "image", "update-keys.sh")]);
    const compatible = /^UPDATE_COMPATIBLE=(.*)$/m.exec(readFileSync(path.join(repoRoot, "board", board.name, "meta"), "utf8"))![1]!;
    const plainDir = path.join(work, "plain");
    mkdirSync(plainDir);
    writeFileSync(path.join(plainDir, "rootfs.img"), randomBytes(1 << 20));
    writeFileSync(path.join(plainDir, "manifest.raucm"), `[update]\ncompatible=${compatible}\nversion=${next}\n\n[bundle]\nformat=plain\n\n[image.rootfs]\nfilename=rootfs.img\n`);
    await mustRun("rauc", ["bundle", "--cert", `${keys}/signer.cert.pem`, "--key", `${keys}/signer.key.pem`, plainDir, path.join(bundles, "plain.raucb")]);
    rmSync(plainDir, { recursive: true, force: true });
    // A tampered payload: one byte of the root file system image changed after signing (the verity hash tree no longer matches).
    copyFileSync(path.join(bundles, "good.raucb"), path.join(bundles, "tampered.raucb"));
    execFileSync("sh", ["-c", `printf '\\377' | dd of=${path.join(bundles, "tampered.raucb")} bs=1 seek=${8 << 20} conv=notrunc status=none`]);
    // Bundles that fail their trial, each an image directory of N+1's boot files with one thing broken, at version N+2.
    const brokenImage = async (name: string, rootfs: (dir: string) => Promise<unknown>, initrd?: Buffer) => {
      const dir = path.join(work, name);
      mkdirSync(dir, { recursive: true });
      await rootfs(dir);
      for (const f of ["vmlinuz", "initrd.img", "cmdline.txt"]) copyFileSync(path.join(nextImage, f), path.join(dir, f));
      if (initrd) writeFileSync(path.join(dir, "initrd.img"), initrd);
      await bundle(`${name}.raucb`, ["--board", board.name, "--image", dir]);
      rmSync(dir, { recursive: true, force: true });
    };
    const brokenRoot = path.join(work, "broken-root");
    await mustRun("unsquashfs", ["-q", "-n", "-d", brokenRoot, path.join(nextImage, "rootfs.squashfs")]);
    const osRelease = path.join(brokenRoot, "etc", "os-release");
    writeFileSync(osRelease, readFileSync(osRelease, "utf8").replace(/^VERSION_ID=.*$/m, `VERSION_ID=${broken}`));
    const squash = (dir: string, comp = "gzip") => mustRun("mksquashfs", [brokenRoot, path.join(dir, "rootfs.squashfs"), "-noappend", "-all-root", "-comp", comp, "-quiet", "-no-progress"]);
    const orbital = (script: string) => writeFileSync(path.join(brokenRoot, "usr", "bin", "orbital"), `#!/bin/sh\n${script}`, { mode: 0o755 });
    // orbitald never answers: an orbital executable that exits at once.
    orbital('echo "orbital: deliberately broken test build" >&2\nexit 1\n');
    await brokenImage("broken", (dir) => squash(dir));
    // A hard hang: once the guard's watchdog runs, every process is stopped (nothing feeds it, nothing reboots).
    orbital('until pidof watchdog >/dev/null; do sleep 1; done\necho "orbital: deliberately hanging: every process stopped" >/dev/console\nkill -STOP -1\nexec sleep 100000\n');
    await brokenImage("hang", (dir) => squash(dir));
    // A root file system that does not mount: squashfs in lzma, which mksquashfs makes and no kernel reads.
    await brokenImage("unmountable", (dir) => squash(dir, "lzma"));
    rmSync(brokenRoot, { recursive: true, force: true });
    // A kernel panic: an initramfs the kernel cannot unpack; it then cannot mount the root itself and panics.
    await brokenImage("panic", async (dir) => copyFileSync(path.join(nextImage, "rootfs.squashfs"), path.join(dir, "rootfs.squashfs")), randomBytes(256 << 10));
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
      // sync: the power cut below comes less than 30 s later, when ext4 may not have written a new file's data yet
      // (delayed allocation), and the box would go on with the release defaults.
      await root(`printf '${TEST_SETTINGS.replace(/\n/g, "\\n")}' >/data/etc/update.conf && sync`);
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

    it("refuses a bundle of another signer, a tampered one, another board's and a plain one, and the slots stay as they were", async () => {
      const before = await slotsNow();
      const signer = await install("other-signer.raucb");
      expect(signer.status).toBe(6);
      expect(signer.out).toMatch(/\[SIGNATURE_INVALID\]/);
      const board2 = await install("other-board.raucb");
      expect(board2.status).toBe(6);
      expect(board2.out).toMatch(/\[BUNDLE_INCOMPATIBLE\]/);
      // Found by orbitald's check of the verity payload before RAUC writes (RAUC's dm-verity would find it during the copy).
      const tampered = await install("tampered.raucb");
      expect(tampered.status).toBe(6);
      expect(tampered.out).toMatch(/does not match the root hash in the signed manifest \[BUNDLE_INVALID\]/);
      const plain = await install("plain.raucb");
      expect(plain.status).toBe(6);
      expect(plain.out).toMatch(/Bundle format 'plain' not allowed \[BUNDLE_INVALID\]/);
      expect(await slotsNow()).toEqual(before);
    }, 1_200_000);

    it("after a power cut in the middle of an install, boots slot A again, its bytes untouched, and a new install works", async () => {
      const slotA = "sha256sum /dev/disk/by-partlabel/rootfs-a /boot/a/* /boot/loader/entries/a.conf";
      const slotABefore = await root(slotA);
      const from = con.mark();
      con.sendLine("orbctl update install /run/bundles/good.raucb");
      await con.seen(/Copying image to rootfs\.1|Updating slot rootfs\.1/, { from, timeoutMs: 300_000, what: "the install copying into rootfs.1" });
      await con.kill();
      start();
      await bootedAsRoot("boot after the power cut", 0, 0);
      expect(await root("cat /proc/cmdline")).toMatch(/\brauc\.slot=a\b/);
      const s = await raucStatus();
      expect(s.booted).toBe("a");
      expect(s.boot_primary).toBe("rootfs.0");
      expect(slot(s, "rootfs.1").boot_status).toBe("bad");
      expect(await root(slotA)).toBe(slotABefore);
      expect(await root("cat /data/etc/update.conf")).toBe(TEST_SETTINGS.trim()); // the test build's settings still apply
      const again = await install("good.raucb");
      expect(again.status, again.out).toBe(0);
      // The progress (a bar on the console, a terminal), RAUC's steps in it, then the summary.
      expect(again.out).toMatch(/\d+% Verifying signature[\s\S]*\d+% Copying image to rootfs\.1[\s\S]*100% Installing done/);
      expect(again.out).toMatch(new RegExp(`installed ${next.replace(/\./g, "\\.")} into rootfs\\.1 in [\\d.]+ s; it boots at the next reboot`));
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
      expect(await apiSlot("b")).toMatchObject({ name: "rootfs.1", version: next, health: "SLOT_HEALTH_GOOD", booted: true, primary: true });
      expect(await apiSlot("a")).toMatchObject({ name: "rootfs.0", health: "SLOT_HEALTH_GOOD" });
    }, BOOT_MS);

    /**
     * Installs a bundle that fails its trial into A (from B) and reboots: `failed` shows on the console, then the box is back on B by
     * itself, A bad with `reason` recorded, the configuration intact.
     */
    async function rollsBack(label: string, file: string, failed: RegExp, reason: RegExp): Promise<void> {
      const inst = await install(file);
      expect(inst.status, inst.out).toBe(0);
      expect(await root("ls -1 /boot/loader/entries")).toBe("a+1.conf\nb.conf");
      const from = con.mark();
      const t0 = con.now();
      con.sendLine("reboot");
      const at = await con.seen(failed, { from, timeoutMs: BOOT_MS, what: `${label}: ${failed}` });
      times[`${label}: reboot to the failure`] = at - t0;
      await bootedAsRoot(`${label}: back on slot B`, con.mark(), t0);
      expect(await root("cat /proc/cmdline")).toMatch(/\brauc\.slot=b\b/);
      expect(await root("cat /proc/cmdline")).not.toMatch(/orbital\.trial/);
      expect(await root("sed -n 's/^VERSION_ID=//p' /etc/os-release")).toBe(next);
      expect(await root("ls -1 /boot/loader/entries")).toMatch(/^a\+0-1\.conf\nb\.conf$/);
      expect(await root("cat /data/rauc/trial-failure.a")).toMatch(reason);
      const s = await raucStatus();
      expect(s.booted).toBe("b");
      expect(s.boot_primary).toBe("rootfs.1");
      expect(slot(s, "rootfs.0").boot_status).toBe("bad");
      expect(slot(s, "rootfs.1").boot_status).toBe("good");
      expect(await apiSlot("a")).toMatchObject({ name: "rootfs.0", health: "SLOT_HEALTH_BAD", badReason: expect.stringMatching(reason) });
      expect(await apiSlot("b")).toMatchObject({ health: "SLOT_HEALTH_GOOD", booted: true, primary: true });
      expect(await root("ip -4 -o addr show dev eth1")).toContain(`inet ${ADDRESS}`);
    }

    it("rolls back by itself from a bundle whose orbitald never answers (the guard's deadline): back on B, A marked bad and why", async () => {
      await rollsBack("orbitald never answers", "broken.raucb", /orbital-update: trial of slot a failed: .*; rebooting/, /orbitald was not API-ready and healthy/);
    }, 1_200_000);

    it("rolls back from a kernel panic on the trial boot (an initramfs the kernel cannot unpack)", async () => {
      await rollsBack("kernel panic", "panic.raucb", /Kernel panic - not syncing/, BEFORE_THE_GUARD);
    }, 1_200_000);

    it("rolls back from a root file system that does not mount, without a rescue shell", async () => {
      await rollsBack("root does not mount", "unmountable.raucb", /initramfs: cannot mount/, BEFORE_THE_GUARD);
    }, 1_200_000);

    it("rolls back from a hard hang on the trial boot: the hardware watchdog resets the box", async () => {
      await rollsBack("hard hang", "hang.raucb", /orbital: deliberately hanging/, RESET_DURING_TRIAL);
    }, 1_200_000);
  });
}
