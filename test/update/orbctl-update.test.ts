// Proves: `orbctl update status | install FILE | mark SLOT MARK` against the real daemon and a real RAUC
// (test/support/rauc.ts): the slot table; an install with RAUC's progress as plain lines when stderr is not a
// terminal and as a progress bar redrawn in place on a terminal (a pseudo-terminal from util-linux `script`),
// both ending in a summary; a relative FILE taken from the current directory; -o json as one document per
// progress message; a downgrade refused with its reason and exit status 6 unless --force-downgrade; marks.
// Topology: no network; one RaucRig, one daemon (sim data plane), orbctl as child processes.
import { spawnSync } from "node:child_process";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDaemon, type RunningDaemon } from "../support/daemon.js";
import { ORBCTL, orbctl, orbctlHome, requireOrbctl } from "../support/orbctl.js";
import { canRunRauc, RaucRig } from "../support/rauc.js";

let rig: RaucRig;
let d: RunningDaemon;
let home: ReturnType<typeof orbctlHome>;

const run = (...args: string[]) => orbctl(d.socketPath, args, { env: home.env });
/** The slot rows of `update status` (the lines after the table are notes). */
const rows = (table: string) => table.split("\n").filter((l) => l.startsWith("rootfs.")).map((l) => l.trim().split(/\s+/));

describe.skipIf(!canRunRauc)("orbctl update against a real RAUC", () => {
  beforeAll(async () => {
    requireOrbctl();
    home = orbctlHome();
    rig = await RaucRig.start("1.2.0");
    d = await startDaemon({ args: rig.daemonArgs, env: rig.env });
  }, 60_000);
  afterAll(async () => {
    await d?.cleanup();
    await rig?.stop();
    home?.remove();
  });

  it("update status: one row per slot", async () => {
    const r = await run("update", "status");
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(rows(r.stdout)).toEqual([
      ["rootfs.0", "A", "1.2.0", "good", "yes", "yes", "-"],
      ["rootfs.1", "B", "-", "good", "no", "no", "-"],
    ]);
  });

  it("update install FILE off a terminal: RAUC's progress lines, then a summary; FILE may be relative", async () => {
    const b = rig.bundle({ version: "1.3.0" });
    // orbctl runs in /: the relative path is resolved from there.
    const r = await run("update", "install", path.relative("/", b.path));
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split("\n");
    expect(lines[0]).toBe(`  0%  Checking ${b.path}`);
    expect(lines).toContain(" 20%  Verifying signature");
    expect(lines).toContain(" 90%  Copying image to rootfs.1");
    expect(lines.at(-1)).toMatch(/^installed 1\.3\.0 into rootfs\.1 in \d+\.\d s; it boots at the next reboot/);
    expect(r.stdout).not.toMatch(/\r|\x1b/);
    const status = rows((await run("update", "status")).stdout);
    expect(status[1]!.slice(0, 6)).toEqual(["rootfs.1", "B", "1.3.0", "good", "no", "yes"]);
  });

  it("update install on a terminal: a progress bar redrawn in place, then the summary", () => {
    const b = rig.bundle({ version: "1.4.0" });
    const { NO_COLOR: _noColor, ...inherited } = process.env;
    const env = { ...inherited, ...home.env, ORBITAL_SOCKET: d.socketPath, TERM: "xterm" };
    const r = spawnSync("script", ["-qec", `${process.execPath} ${ORBCTL} update install ${b.path}`, "/dev/null"], { encoding: "utf8", env, cwd: "/" });
    expect(r.status, r.stdout).toBe(0);
    // The bar: "\r[####....] 40% Checking bundle done.\x1b[K", cleared before the summary.
    expect(r.stdout).toMatch(/\r\[#*\.*\] +\d+% /);
    expect(r.stdout).toContain("\x1b[K");
    expect(r.stdout).not.toMatch(/^ {1,2}\d+% {2}/m);
    expect(r.stdout).toMatch(/installed 1\.4\.0 into rootfs\.1 in \d+\.\d s/);
  });

  it("update install -o json: one JSON document per progress message, the last one done", async () => {
    const b = rig.bundle({ version: "1.5.0" });
    const r = await run("update", "install", b.path, "-o", "json");
    expect(r.code, r.stderr).toBe(0);
    const docs = r.stdout.trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(docs.length).toBeGreaterThan(5);
    expect(docs.at(-1)).toMatchObject({ done: true, percent: 100, slot: "rootfs.1", version: "1.5.0", stage: "INSTALL_STAGE_DONE" });
  });

  it("a downgrade is refused with its reason (exit 6), and installed with --force-downgrade", async () => {
    const b = rig.bundle({ version: "1.0.0" });
    const refused = await run("update", "install", b.path);
    expect(refused.code).toBe(6);
    expect(refused.stderr).toMatch(/^error: the bundle's version 1\.0\.0 is older than the booted 1\.2\.0; set force_downgrade to install it \[BUNDLE_DOWNGRADE\] trace=[0-9a-f]{32}\n$/);
    const status = await run("update", "status");
    expect(status.stdout).toMatch(/^last error: the bundle's version 1\.0\.0 [^[]*\[BUNDLE_DOWNGRADE\]$/m);
    const forced = await run("update", "install", "--force-downgrade", b.path);
    expect(forced.code, forced.stderr).toBe(0);
    expect(forced.stdout).toMatch(/installed 1\.0\.0 into rootfs\.1/);
  });

  it("update mark SLOT good|bad|active", async () => {
    let r = await run("update", "mark", "other", "bad");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe("slot rootfs.1 marked bad: bad, boots next\n");
    expect(rig.bootState()["state.B"]).toBe("bad");
    r = await run("update", "mark", "a", "active");
    expect(r.stdout).toBe("slot rootfs.0 marked active: good, boots next\n");
    expect(rows((await run("update", "status")).stdout).map((row) => row.slice(0, 6))).toEqual([
      ["rootfs.0", "A", "1.2.0", "good", "yes", "yes"],
      ["rootfs.1", "B", "1.0.0", "bad", "no", "no"],
    ]);
    const bad = await run("update", "mark", "rootfs.1", "sideways");
    expect(bad.code).toBe(2);
  });
});
