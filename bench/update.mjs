#!/usr/bin/env node
// A/B updates of a board's image under QEMU TCG (docs/update.md), one update per board:
//   bundle     bytes of the signed verity bundle of version N+1 (image/build-bundle.sh --version), next to the
//              image's root squashfs and the disk image it updates
//   install    `rauc install` of that bundle from a second virtio disk, from the command to its end, next to the
//              same box's boot to API ready (the baseline measured in the same run)
//   reboot     from `reboot` to "API ready" of the new slot's trial boot, and to the guard's bless, next to the
//              image's own first boot to API ready (QEMU start to API ready)
// It prints figures and ratios; it asserts nothing (test/qemu/x86_64-update.test.ts proves the behaviour).
//
// Usage: node bench/update.mjs [--boards x86_64]
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { guest, repoRoot, SerialConsole } from "../qemu/serial-console.mjs";
import { appendResults, table } from "./support/common.mjs";

const { values: args } = parseArgs({ options: { boards: { type: "string", default: "x86_64" }, json: { type: "string" } }, strict: false });
const MB = 1e6;
const mb = (n) => `${(n / MB).toFixed(1)} MB`;
const s = (ms) => `${(ms / 1000).toFixed(1)} s`;
const version = JSON.parse(readFileSync(path.join(repoRoot, "package.json"), "utf8")).version;
const next = version.replace(/\d+$/, (n) => String(Number(n) + 1));
const rows = [];

function must(cmd, cmdArgs) {
  const r = spawnSync(cmd, cmdArgs, { cwd: repoRoot, encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
  if (r.status !== 0) throw new Error(`${cmd} ${cmdArgs.join(" ")} failed (${r.status})`);
  return r.stdout.trim();
}

for (const board of args.boards.split(",").filter(Boolean)) {
  const imageDir = path.join(repoRoot, "build", "images", board);
  must("bash", ["image/build-image.sh", "--board", board]);
  const work = mkdtempSync(path.join(tmpdir(), `orbital-bench-update-${board}-`));
  try {
    mkdirSync(path.join(work, "bundles"));
    const bundle = must("bash", ["image/build-bundle.sh", "--board", board, "--version", next, "--out", path.join(work, "bundles", "next.raucb")]);
    must("mke2fs", ["-q", "-t", "ext4", "-d", path.join(work, "bundles"), path.join(work, "bundles.img"), "256M"]);
    const disk = path.join(work, "disk.img");
    copyFileSync(path.join(imageDir, `orbital-${board}.img`), disk);
    const con = SerialConsole.start({
      board,
      args: ["--image", imageDir, "--disk", disk, "--rest-port", "0", "--accel", "tcg", "--", "-drive", `file=${path.join(work, "bundles.img")},format=raw,if=none,id=b,readonly=on`, "-device", "virtio-blk-pci,drive=b"],
    });
    try {
      const bootApi = await con.seen(guest.apiReady, { timeoutMs: 600_000, what: "API ready" });
      await con.seen(guest.loginPrompt, { timeoutMs: 600_000, what: "the login prompt" });
      await con.login("root", guest.initialPassword, guest.rootPrompt);
      await con.sh("mkdir -p /run/bundles && mount -o ro /dev/vdb /run/bundles", { timeoutMs: 60_000 });
      const t0 = con.now();
      const inst = await con.sh("rauc install /run/bundles/next.raucb >/dev/null", { timeoutMs: 900_000 });
      const installMs = con.now() - t0;
      if (inst.status !== 0) throw new Error(`rauc install failed:\n${inst.out}`);
      const from = con.mark();
      const t1 = con.now();
      con.sendLine("reboot");
      const newApi = (await con.seen(guest.apiReady, { from, timeoutMs: 600_000, what: "API ready of the new slot" })) - t1;
      const blessed = (await con.seen(/orbital-update: slot b is good: blessed/, { from, timeoutMs: 600_000, what: "the bless" })) - t1;
      const sizes = { bundle: statSync(bundle).size, squashfs: statSync(path.join(imageDir, "rootfs.squashfs")).size, disk: statSync(path.join(imageDir, `orbital-${board}.img`)).size };
      console.log(`\n${board}: update ${version} -> ${next} under QEMU TCG`);
      console.log(
        table(
          ["what", "value", "ratio", "ratio of"],
          [
            ["bundle (verity, signed)", mb(sizes.bundle), `${(sizes.bundle / sizes.squashfs).toFixed(2)}x`, "the image's root squashfs"],
            ["image's first boot to API ready", s(bootApi), "1.00x", "baseline"],
            ["rauc install", s(installMs), `${(installMs / bootApi).toFixed(2)}x`, "first boot to API ready"],
            ["reboot to API ready (new slot, trial)", s(newApi), `${(newApi / bootApi).toFixed(2)}x`, "first boot to API ready"],
            ["reboot to blessed", s(blessed), `${(blessed / bootApi).toFixed(2)}x`, "first boot to API ready"],
          ],
          "lrrl",
        ),
      );
      rows.push(
        { bench: "update", scenario: `${board}: rauc install of N+1 (QEMU TCG)`, p50Us: installMs * 1000, p99Us: installMs * 1000, perSec: 1000 / installMs, ratio: installMs / bootApi, ratioOf: `${board} first boot to API ready` },
        { bench: "update", scenario: `${board}: reboot to the new slot's API ready`, p50Us: newApi * 1000, p99Us: newApi * 1000, perSec: 1000 / newApi, ratio: newApi / bootApi, ratioOf: `${board} first boot to API ready` },
      );
    } finally {
      await con.kill();
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
appendResults(args.json, rows);
