// Proves: the Buildroot tree buildroot-external/ is consistent without Buildroot's source: its Config.in files parse
// (kconfiglib, Buildroot's own symbols stubbed), every ORBITAL symbol its defconfigs set is defined by the tree and its
// value sticks, and orbital.mk's make variables are named after the package (scripts/check-br-external.py). The check
// can fail: copies of the tree with a misspelt symbol, an unmet dependency or a misnamed variable are rejected, naming it.
// Topology: none; python3 with Debian's python3-kconfiglib on this machine.
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { repoRoot } from "../../qemu/serial-console.mjs";
import { EditedCopies, runCheck } from "../support/edited-copies.js";

const script = path.join(repoRoot, "scripts", "check-br-external.py");
const tree = path.join(repoRoot, "buildroot-external");
const copies = new EditedCopies("br-external-");
afterAll(() => copies.remove());

const check = (dir: string) => runCheck(script, dir);
/** A copy of the tree with one file edited. */
const broken = (name: string, file: string, edit: (text: string) => string) => copies.make(name, { ".": tree }, file, edit);

describe("buildroot-external", () => {
  it("passes the static check", () => {
    const r = check(tree);
    expect(r.out).toMatch(/^ok: ORBITAL: .* 2 defconfig\(s\), 1 package\(s\)/m);
    expect(r.status, r.out).toBe(0);
  });

  it("fails when a defconfig sets an ORBITAL symbol the tree does not define", () => {
    const dir = broken("typo", "configs/orbital_x86_64_defconfig", (t) => t.replace("BR2_PACKAGE_ORBITAL=y", "BR2_PACKAGE_ORBITALL=y"));
    const r = check(dir);
    expect(r.status).toBe(1);
    expect(r.out).toContain("configs/orbital_x86_64_defconfig: BR2_PACKAGE_ORBITALL is set but the tree does not define it");
  });

  it("fails when the package symbol is renamed in its Config.in", () => {
    const dir = broken("renamed", "package/orbital/Config.in", (t) => t.replace(/^config BR2_PACKAGE_ORBITAL$/m, "config BR2_PACKAGE_ORBITAL_CORE"));
    const r = check(dir);
    expect(r.status).toBe(1);
    expect(r.out).toContain("package/orbital: BR2_PACKAGE_ORBITAL is not defined");
    expect(r.out).toContain("configs/orbital_aarch64_defconfig: BR2_PACKAGE_ORBITAL is set but the tree does not define it");
  });

  it("fails when a defconfig's value cannot stick (a dependency the board does not meet)", () => {
    const dir = broken("deps", "package/orbital/Config.in", (t) => t.replace("depends on BR2_x86_64 || BR2_aarch64", "depends on BR2_aarch64"));
    const r = check(dir);
    expect(r.status).toBe(1);
    expect(r.out).toContain("configs/orbital_x86_64_defconfig: BR2_PACKAGE_ORBITAL=y does not stick");
    expect(r.out).not.toContain("orbital_aarch64_defconfig: BR2_PACKAGE_ORBITAL=y does not stick");
  });

  it("fails when a make variable of orbital.mk is not named after the package", () => {
    const dir = broken("mkvar", "package/orbital/orbital.mk", (t) => t.replace("ORBITAL_SITE_METHOD = local", "ORBITL_SITE_METHOD = local"));
    const r = check(dir);
    expect(r.status).toBe(1);
    expect(r.out).toMatch(/package\/orbital\/orbital\.mk:\d+: variable ORBITL_SITE_METHOD is not named after the package \(ORBITAL_\*\)/);
  });

  it("fails when a Config.in does not parse", () => {
    const dir = broken("syntax", "package/orbital/Config.in", (t) => t.replace("\tbool \"orbital\"", "\tbool \"orbital\"\n\tdepends on (BR2_x86_64"));
    const r = check(dir);
    expect(r.status).toBe(1);
    expect(r.out).toMatch(/error: Config\.in does not parse/);
  });
});
