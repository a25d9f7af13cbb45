// Proves: Buildroot's BusyBox, as buildroot-external/board/busybox.fragment configures it, has every applet, ash built-in and option
// that overlay/'s scripts use (scripts/check-busybox-usage.py): the two images run one overlay on two BusyBox builds, and this is the
// difference no boot test of the offline image sees. The check can fail: copies of the tree that mount by LABEL= (as rcS did before
// it found the data partition through /sys), lack a fragment line, use an applet or an option the check does not know, or a bash
// extension of ash, are rejected, naming the symbol and the script line.
// Topology: none; python3.
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { repoRoot } from "../../qemu/serial-console.mjs";
import { EditedCopies, runCheck } from "../support/edited-copies.js";

const script = path.join(repoRoot, "scripts", "check-busybox-usage.py");
const copies = new EditedCopies("busybox-usage-");
afterAll(() => copies.remove());

const check = (repo: string) => runCheck(script, repo);
/** A copy of what the check reads (overlay/, buildroot-external/) with one file edited: the repository's layout. */
const broken = (name: string, file: string, edit: (text: string) => string) =>
  copies.make(name, { overlay: path.join(repoRoot, "overlay"), "buildroot-external": path.join(repoRoot, "buildroot-external") }, file, edit);

const RCS = "overlay/etc/init.d/rcS";
const FRAGMENT = "buildroot-external/board/busybox.fragment";

describe("busybox.fragment against overlay/", () => {
  it("passes on the tree", () => {
    const r = check(repoRoot);
    expect(r.out).toMatch(/^ok: busybox\.fragment turns on all \d+ BusyBox symbols that overlay\/ needs$/m);
    expect(r.status, r.out).toBe(0);
  });

  it("fails on a data partition mounted by LABEL=, which Buildroot's BusyBox cannot resolve without FEATURE_MOUNT_LABEL", () => {
    const dir = broken("label", RCS, (t) => t.replace(/mount -t ext4 -o noatime,nosuid,nodev "\$data_dev" \/data/, "mount -t ext4 -o noatime,nosuid,nodev LABEL=orbital-data /data"));
    const r = check(dir);
    expect(r.status).toBe(1);
    expect(r.out).toMatch(/^error: busybox\.fragment: CONFIG_FEATURE_MOUNT_LABEL=y is missing, needed by mount LABEL=\.\.\. \(etc\/init\.d\/rcS:\d+\)$/m);
  });

  it("fails when the fragment lacks an applet a script runs, also one run through exec and one that runs another (getty: login)", () => {
    const dir = broken("applets", FRAGMENT, (t) => t.replace("CONFIG_MKFIFO=y\n", "").replace("CONFIG_LOGIN=y\n", ""));
    const r = check(dir);
    expect(r.status).toBe(1);
    expect(r.out).toMatch(/^error: busybox\.fragment: CONFIG_MKFIFO=y is missing, needed by mkfifo \(etc\/init\.d\/orbitald:\d+\)$/m);
    expect(r.out).toMatch(/^error: busybox\.fragment: CONFIG_LOGIN=y is missing, needed by login \(usr\/lib\/orbital\/serial-getty:\d+, run by getty\)$/m);
  });

  it("fails on a command or an option it does not know, instead of letting it through", () => {
    const dir = broken("unknown", RCS, (t) => t.replace("hostname -F /etc/hostname", "hostname -F /etc/hostname\nawk 1 /etc/hostname\nmkdir -v /data/new"));
    const r = check(dir);
    expect(r.status).toBe(1);
    expect(r.out).toMatch(/^error: etc\/init\.d\/rcS:\d+: awk is neither a BusyBox applet or ash built-in known to this check nor a program of a selected package/m);
    expect(r.out).toMatch(/^error: etc\/init\.d\/rcS:\d+: mkdir -v: an option this check does not know/m);
  });

  it("fails on a mount -o word BusyBox interprets only with an option the fragment lacks", () => {
    const dir = broken("flags", FRAGMENT, (t) => t.replace("CONFIG_FEATURE_MOUNT_FLAGS=y\n", ""));
    const r = check(dir);
    expect(r.status).toBe(1);
    expect(r.out).toMatch(/^error: busybox\.fragment: CONFIG_FEATURE_MOUNT_FLAGS=y is missing, needed by mount -o noatime \(etc\/init\.d\/rcS:\d+\)/m);
  });

  it("fails on a bash extension of ash without the option that provides it", () => {
    const dir = broken("bashism", "overlay/usr/lib/orbital/serial-getty", (t) => t.replace("tty=${spec%%,*}", "tty=${spec//,*/}"));
    const r = check(dir);
    expect(r.status).toBe(1);
    expect(r.out).toMatch(/^error: busybox\.fragment: CONFIG_ASH_BASH_COMPAT=y is missing, needed by bash's \$\{var\/pattern\/text\} \(usr\/lib\/orbital\/serial-getty:\d+\)$/m);
  });
});
