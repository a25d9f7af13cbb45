// Proves: the offline image build is reproducible for both boards: a second build from scratch (another work folder, another time)
// gives the same sha256 for the squashfs root, the initramfs, the kernel, the command line and the whole disk image
// (image/check-reproducible.sh). aarch64 is the cross build: arm64 packages through multiarch, cross-built addons and supervisor.
// Topology: none; two runs of image/build-image.sh per board on this machine from the same Debian packages and binaries.
import path from "node:path";
import { expect, it } from "vitest";
import { repoRoot } from "../../qemu/serial-console.mjs";
import { run } from "../qemu/boot-scenario.js";

it.each(["x86_64", "aarch64"])("two builds of the %s image are byte for byte the same", async (board) => {
  const r = await run("bash", [path.join(repoRoot, "image", "check-reproducible.sh"), "--board", board]);
  expect(r.status, r.out).toBe(0);
  expect(r.out).toMatch(/rootfs\.squashfs/);
  expect(r.out).toContain("the two builds are byte for byte the same");
}, 1_800_000);
