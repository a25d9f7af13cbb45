#!/usr/bin/env node
// The images of every board (image/build-image.sh --board NAME; built first when missing or stale), booted
// under QEMU TCG, one board after the other:
//   size       bytes of each board's disk image as shipped compressed (xz -9 and zstd -19 --long of the
//              whole disk; target <= 40 MB), with what is in it: root squashfs, kernel, initramfs
//   boot       from QEMU's start to the login prompt on the serial console (the shell is ready) and to the
//              console line "orbital: API ready" (orbitald answered a call), median over --rounds boots, and
//              their ratio within the same boots (target <= 1.5x)
//   memory     orbitald's resident set (VmRSS, from /proc/<pid>/status in the guest) once idle, --idle-s after
//              API ready (target <= 60 MB), and its peak (VmHWM)
// It prints figures and ratios; it asserts nothing. TCG timings depend on the machine's load: compare the
// ratio, measured within the same boots, more than the seconds (aarch64 is emulated on an x86 host: its
// seconds are not comparable with x86_64's, its ratio is).
//
// Usage: node bench/image.mjs [--boards x86_64,aarch64] [--rounds 2] [--idle-s 10] [--no-size]
import { spawnSync } from "node:child_process";
import { statSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { guest, repoRoot, SerialConsole } from "../qemu/serial-console.mjs";
import { appendResults, median, table } from "./support/common.mjs";

const { values: args } = parseArgs({
  options: {
    boards: { type: "string", default: "x86_64,aarch64" },
    rounds: { type: "string", default: "2" },
    "idle-s": { type: "string", default: "10" },
    "no-size": { type: "boolean" },
    json: { type: "string" },
  },
  strict: false,
});
const BOARDS = args.boards.split(",").filter(Boolean);
const ROUNDS = Number(args.rounds);
const IDLE_S = Number(args["idle-s"]);
const MB = 1e6;
const mb = (n) => `${(n / MB).toFixed(1)} MB`;
const s = (ms) => `${(ms / 1000).toFixed(1)} s`;
const verdict = (ok) => (ok ? "meets the target" : "ABOVE the target");
const result = { rows: [], boards: {} };

for (const board of BOARDS) {
  const build = spawnSync("bash", [path.join(repoRoot, "image", "build-image.sh"), "--board", board], { cwd: repoRoot, stdio: ["ignore", "inherit", "inherit"] });
  if (build.status !== 0) process.exit(1);
}

// ---- size ----
if (!args["no-size"]) {
  for (const board of BOARDS) {
    const imageDir = path.join(repoRoot, "build", "images", board);
    const image = path.join(imageDir, `orbital-${board}.img`);
    /** Bytes of `cmd args… < image`, by streaming its stdout through wc. */
    const compressed = (cmd) => Number(spawnSync("bash", ["-c", `${cmd} <"$1" | wc -c`, "bash", image], { encoding: "utf8" }).stdout.trim());
    const xz = compressed("xz -9 -T2 -c");
    const zstd = compressed("zstd -19 -T2 --long=27 -q -c");
    const part = (f) => statSync(path.join(imageDir, f)).size;
    console.log(`\nsize of the ${board} image`);
    console.log(
      table(
        ["what", "bytes", ""],
        [
          ["disk image (raw, sparse)", mb(statSync(image).size), ""],
          ["  root file system (squashfs)", mb(part("rootfs.squashfs")), ""],
          ["  kernel (vmlinuz)", mb(part("vmlinuz")), ""],
          ["  initramfs", mb(part("initrd.img")), ""],
          ["disk image, xz -9", mb(xz), `${(xz / (40 * MB)).toFixed(2)}x of 40 MB: ${verdict(xz <= 40 * MB)}`],
          ["disk image, zstd -19 --long", mb(zstd), `${(zstd / (40 * MB)).toFixed(2)}x of 40 MB: ${verdict(zstd <= 40 * MB)}`],
        ],
        "lrl",
      ),
    );
    result.boards[board] = { size: { image: statSync(image).size, xz, zstd, squashfs: part("rootfs.squashfs"), kernel: part("vmlinuz"), initramfs: part("initrd.img") } };
  }
}

// ---- boots ----
const summary = [];
for (const board of BOARDS) {
  const imageDir = path.join(repoRoot, "build", "images", board);
  const boots = [];
  for (let round = 1; round <= ROUNDS; round++) {
    const con = SerialConsole.start({ board, args: ["--snapshot", "--rest-port", "0", "--image", imageDir, "--accel", "tcg"] });
    try {
      const [loginMs, apiMs] = await Promise.all([
        con.seen(guest.loginPrompt, { timeoutMs: 600_000, what: "the login prompt" }),
        con.seen(guest.apiReady, { timeoutMs: 600_000, what: "API ready" }),
      ]);
      await new Promise((r) => setTimeout(r, IDLE_S * 1000));
      await con.login("root", guest.initialPassword, guest.rootPrompt);
      const { out } = await con.sh("grep -E '^(VmRSS|VmHWM|RssAnon|RssFile):' /proc/$(pidof orbitald)/status", { timeoutMs: 120_000 });
      const kb = (k) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, "m").exec(out)?.[1] ?? NaN) * 1024;
      boots.push({ loginMs, apiMs, rss: kb("VmRSS"), hwm: kb("VmHWM"), anon: kb("RssAnon"), file: kb("RssFile") });
      con.sendLine("poweroff");
      await con.waitExit(120_000);
      console.log(`${board} boot ${round}/${ROUNDS}: login prompt ${s(loginMs)}, API ready ${s(apiMs)}, orbitald RSS ${mb(kb("VmRSS"))}`);
    } finally {
      await con.kill();
    }
  }
  const loginMs = median(boots.map((b) => b.loginMs));
  const apiMs = median(boots.map((b) => b.apiMs));
  const rss = median(boots.map((b) => b.rss));
  console.log(`\n${board}: boot under QEMU TCG (median of ${ROUNDS}), and orbitald's memory ${IDLE_S} s after API ready`);
  console.log(
    table(
      ["what", "value", "ratio", ""],
      [
        ["boot to login prompt (shell ready)", s(loginMs), "1.00x", "baseline"],
        ["boot to API ready", s(apiMs), `${(apiMs / loginMs).toFixed(2)}x`, `of boot to shell, target 1.5x: ${verdict(apiMs / loginMs <= 1.5)}`],
        ["orbitald VmRSS (idle)", mb(rss), `${(rss / (60 * MB)).toFixed(2)}x`, `of 60 MB: ${verdict(rss <= 60 * MB)}`],
        ["  of which anonymous / file-backed", `${mb(median(boots.map((b) => b.anon)))} / ${mb(median(boots.map((b) => b.file)))}`, "", ""],
        ["orbitald VmHWM (peak)", mb(median(boots.map((b) => b.hwm))), "", ""],
      ],
      "lrrl",
    ),
  );
  summary.push([board, mb(result.boards[board]?.size?.xz ?? NaN), s(loginMs), s(apiMs), `${(apiMs / loginMs).toFixed(2)}x`, mb(rss)]);
  result.boards[board] = { ...result.boards[board], boots };
  result.rows.push(
    { bench: "image", scenario: `${board}: boot to login prompt (QEMU TCG)`, p50Us: loginMs * 1000, p99Us: Math.max(...boots.map((b) => b.loginMs)) * 1000, perSec: 1000 / loginMs, ratio: 1, ratioOf: `${board} boot to login prompt` },
    { bench: "image", scenario: `${board}: boot to API ready (QEMU TCG)`, p50Us: apiMs * 1000, p99Us: Math.max(...boots.map((b) => b.apiMs)) * 1000, perSec: 1000 / apiMs, ratio: apiMs / loginMs, ratioOf: `${board} boot to login prompt` },
  );
}
if (summary.length > 1) {
  console.log("\nper architecture");
  console.log(table(["board", "image, xz -9", "boot to shell", "boot to API ready", "ratio", "orbitald RSS"], summary, "lrrrrr"));
}

appendResults(args.json, result.rows, { image: result });
