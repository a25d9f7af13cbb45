// Proves: the offline x86_64 image build is reproducible: a second build from scratch (another work folder, another time) gives the
// same sha256 for the squashfs root, the initramfs, the kernel, the command line and the whole disk image (image/check-reproducible.sh).
// Topology: none; two runs of image/build-image.sh on this machine from the same Debian packages and binaries.
import { spawnSync } from "node:child_process";
import path from "node:path";
import { expect, it } from "vitest";
import { repoRoot } from "../../qemu/serial-console.mjs";

it("two builds of the x86_64 image are byte for byte the same", () => {
  const r = spawnSync("bash", [path.join(repoRoot, "image", "check-reproducible.sh"), "--board", "x86_64"], { cwd: repoRoot, encoding: "utf8" });
  expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
  expect(r.stdout).toMatch(/rootfs\.squashfs/);
  expect(r.stdout).toContain("the two builds are byte for byte the same");
}, 1_800_000);
