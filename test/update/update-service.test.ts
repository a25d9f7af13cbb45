// Proves: orbital.update.v1.UpdateService against a real RAUC 1.8 (test/support/rauc.ts: private D-Bus, `rauc
// service`, two loop-device slots, a custom boot loader backend, a development CA): status of both slots;
// every bad bundle (missing, not a bundle, plain where verity only, another signer, tampered, another board, older than the booted
// one, a second install while one runs) refused with its structured reason and nothing written to any slot
// (slot bytes, boot loader state and RAUC's status file compared before and after); a good install streams
// RAUC's stages and percent and writes the other slot; force_downgrade; marks; update.write enforced
// (operator refused); every mutation in the audit log; the same over REST; RAUC unreachable is
// UPDATE_ENGINE_UNAVAILABLE.
// Host note: this kernel has no device-mapper, so RAUC cannot mount verity bundles here; the install path is
// tested with plain bundles (the image uses verity), and the verity case checks which of the two it met.
// Topology: no network; one RaucRig and one daemon (sim data plane) for the file, run in order.
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { UserService } from "../../src/gen/orbital/user/v1/user_pb.js";
import { InstallStage, SlotHealth, SlotMark, UpdateService, type InstallUpdateResponse } from "../../src/gen/orbital/update/v1/update_pb.js";
import { OrbitalError } from "../../src/common/errors.js";
import { callAs, startDaemon, type RunningDaemon } from "../support/daemon.js";
import { enableRest, mintToken, rest, statusParts } from "../support/rest.js";
import { canRunRauc, RaucRig, TEST_COMPATIBLE, type Bundle } from "../support/rauc.js";

const OPERATOR_UID = 3301;
const VIEWER_UID = 3302;

let rig: RaucRig;
let d: RunningDaemon;
/** Temp dirs of daemons replaced by a restart. */
const leftovers: string[] = [];

async function failure(p: Promise<unknown>): Promise<OrbitalError> {
  const r = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(r, "the call succeeded").toBeInstanceOf(OrbitalError);
  return r as OrbitalError;
}

async function install(bundlePath: string, forceDowngrade = false): Promise<InstallUpdateResponse[]> {
  const out: InstallUpdateResponse[] = [];
  for await (const p of d.api(UpdateService).installUpdate({ bundlePath, forceDowngrade })) out.push(p);
  return out;
}

/** The install is refused with `reason`, nothing of the slots changed, and GetUpdateStatus reports it. */
async function expectRefused(bundlePath: string, reason: string, metadata?: Record<string, unknown>): Promise<OrbitalError> {
  const before = rig.snapshot();
  const e = await failure(install(bundlePath));
  expect(e.reason, e.message).toBe(reason);
  if (metadata) expect(e.metadata).toMatchObject(metadata);
  expect(e.traceId).toMatch(/^[0-9a-f]{32}$/);
  expect(rig.snapshot()).toEqual(before);
  const status = await d.api(UpdateService).getUpdateStatus({});
  expect(status.lastErrorReason).toBe(reason);
  expect(status.lastError).toBe(e.message);
  expect(status.installRunning).toBe(false);
  return e;
}

const byName = async () => Object.fromEntries((await d.api(UpdateService).getUpdateStatus({})).slots.map((s) => [s.name, s]));

describe.skipIf(!canRunRauc)("update service against a real RAUC", () => {
  let good: Bundle;

  beforeAll(async () => {
    rig = await RaucRig.start("1.2.0");
    d = await startDaemon({ args: rig.daemonArgs, env: rig.env });
    const users = d.client(UserService);
    await users.createUser({ user: { name: "upd-operator", uid: OPERATOR_UID, role: "operator" } });
    await users.createUser({ user: { name: "upd-viewer", uid: VIEWER_UID, role: "viewer" } });
    // Like the image's bundles: the root file system and the boot files (written into B's child slot after it).
    good = rig.bundle({ version: "1.3.0", boot: Buffer.alloc(64 << 10, 0x6b) });
  }, 60_000);
  afterAll(async () => {
    await d?.cleanup();
    for (const dir of leftovers) rmSync(dir, { recursive: true, force: true });
    await rig?.stop();
  });

  it("reports both slots: A booted, primary and good at the running release, B empty", async () => {
    const status = await d.api(UpdateService).getUpdateStatus({});
    expect(status.compatible).toBe(TEST_COMPATIBLE);
    expect(status.lastError).toBe("");
    // Only the top-level slots: boot.0 and boot.1 are their children.
    expect(status.slots.map((s) => ({ name: s.name, bootName: s.bootName, version: s.version, health: s.health, booted: s.booted, primary: s.primary }))).toEqual([
      { name: "rootfs.0", bootName: "A", version: "1.2.0", health: SlotHealth.GOOD, booted: true, primary: true },
      { name: "rootfs.1", bootName: "B", version: "", health: SlotHealth.GOOD, booted: false, primary: false },
    ]);
    expect(status.slots[1]!.installCount).toBe(0);
  });

  describe("refuses bad input before anything is written", () => {
    it("a relative path, one with .. or NUL, or one the kernel refuses: INVALID_FIELD bundle_path", async () => {
      for (const p of ["bundle.raucb", "/data/../etc/passwd", "", "/data/a\0b.raucb", `/${"x".repeat(5000)}.raucb`, `/${"x/".repeat(2100)}a.raucb`]) {
        const e = await failure(install(p));
        expect(e.reason).toBe("INVALID_FIELD");
        expect(e.violations[0]?.field).toBe("bundle_path");
      }
    });

    it("a missing file: NOT_FOUND", async () => {
      await expectRefused(path.join(rig.dir, "no-such.raucb"), "NOT_FOUND", { resourceType: "bundle" });
    });

    it("a file that is not a bundle: BUNDLE_INVALID", async () => {
      await expectRefused(rig.junk(), "BUNDLE_INVALID");
    });

    it("a bundle signed by a CA the keyring does not hold: SIGNATURE_INVALID", async () => {
      const other = rig.bundle({ version: "1.3.0", signer: "untrusted" });
      const e = await expectRefused(other.path, "SIGNATURE_INVALID", { artifact: other.path });
      expect(e.message).toMatch(/issuer|certificate/);
    });

    it("a bundle whose payload was changed after signing: BUNDLE_INVALID", async () => {
      const e = await expectRefused(rig.tampered(good), "BUNDLE_INVALID");
      expect(e.message).toMatch(/tampered/);
    });

    it("a verity bundle whose payload or hash tree was changed after signing: BUNDLE_INVALID, found before RAUC writes", async () => {
      // RAUC itself would find it only part-way through writing the other slot (dm-verity, as it reads).
      const verity = rig.bundle({ version: "1.3.0", format: "verity", payload: randomBytes(3 << 20) });
      for (const where of ["payload", "hash-tree"] as const) {
        const e = await expectRefused(rig.tampered(verity, where), "BUNDLE_INVALID", { detail: expect.stringMatching(where === "payload" ? /root hash/ : /hash tree/) });
        expect(e.message).toMatch(/tampered/);
      }
    });

    it("a plain bundle where system.conf takes verity only (the image's): BUNDLE_INVALID", async () => {
      const verityOnly = await startDaemon({ args: [...rig.daemonArgs, "--rauc", rig.verityOnlyCommand()], env: rig.env });
      try {
        const plain = rig.bundle({ version: "1.3.0" });
        const before = rig.snapshot();
        const e = await failure((async () => {
          for await (const _ of verityOnly.api(UpdateService).installUpdate({ bundlePath: plain.path })) void _;
        })());
        expect(e.reason, e.message).toBe("BUNDLE_INVALID");
        expect(e.metadata.detail).toMatch(/Bundle format 'plain' not allowed/);
        expect(rig.snapshot()).toEqual(before);
      } finally {
        await verityOnly.cleanup();
      }
    });

    it("another board's bundle: BUNDLE_INCOMPATIBLE", async () => {
      const other = rig.bundle({ version: "1.3.0", compatible: "orbital-other-board" });
      await expectRefused(other.path, "BUNDLE_INCOMPATIBLE", { compatible: "orbital-other-board", expected: TEST_COMPATIBLE });
    });

    it("a bundle older than the booted slot: BUNDLE_DOWNGRADE", async () => {
      const old = rig.bundle({ version: "1.1.9" });
      await expectRefused(old.path, "BUNDLE_DOWNGRADE", { version: "1.1.9", bootedVersion: "1.2.0" });
    });

    it("an operator (no update.write) is refused; a viewer may read the status", async () => {
      const before = rig.snapshot();
      const r = await callAs(d.socketPath, OPERATOR_UID, "orbital.update.v1.UpdateService/InstallUpdate", { bundlePath: good.path });
      expect(r.error).toMatchObject({ code: 7, reason: "CAPABILITY_MISSING", metadata: { capability: "update.write", principal: "upd-operator" } });
      const m = await callAs(d.socketPath, OPERATOR_UID, "orbital.update.v1.UpdateService/MarkSlot", { slot: "rootfs.1", mark: "SLOT_MARK_BAD" });
      expect(m.error).toMatchObject({ code: 7, reason: "CAPABILITY_MISSING" });
      expect(rig.snapshot()).toEqual(before);
      const s = await callAs(d.socketPath, VIEWER_UID, "orbital.update.v1.UpdateService/GetUpdateStatus", {});
      expect(s.ok, JSON.stringify(s.error)).toBe(true);
      expect((s.responses![0] as { slots: unknown[] }).slots).toHaveLength(2);
    });
  });

  it("installs a good bundle into B, streaming RAUC's stages and percent", async () => {
    const progress = await install(good.path);
    const percents = progress.map((p) => p.percent);
    expect(percents).toEqual([...percents].sort((a, b) => a - b));
    expect(progress[0]).toMatchObject({ stage: InstallStage.CHECKING, percent: 0 });
    // RAUC's own words come through, in its order.
    const messages = progress.map((p) => p.message);
    const at = (m: RegExp) => messages.findIndex((x) => m.test(x));
    expect(at(/^Verifying signature/)).toBeGreaterThan(0);
    expect(at(/^Copying image to rootfs\.1/)).toBeGreaterThan(at(/^Verifying signature/));
    expect(at(/^Copying image to boot\.1/)).toBeGreaterThan(at(/^Copying image to rootfs\.1/));
    expect(progress.find((p) => /^Copying image/.test(p.message))?.stage).toBe(InstallStage.WRITING);
    expect(progress.filter((p) => p.done)).toHaveLength(1);
    expect(progress.at(-1)).toMatchObject({ done: true, percent: 100, slot: "rootfs.1", version: "1.3.0", stage: InstallStage.DONE });
    // The slot holds the bundle's image, A is untouched, B boots next.
    expect(rig.slotBytes(1, good.payload.length).equals(good.payload)).toBe(true);
    expect(rig.bootSlotBytes(1, 64 << 10).every((b) => b === 0x6b)).toBe(true);
    expect(rig.slotBytes(0, 4096).every((b) => b === 0x5a)).toBe(true);
    expect(rig.bootSlotBytes(0, 4096).every((b) => b === 0x5a)).toBe(true);
    expect(rig.bootState()).toMatchObject({ primary: "B", "state.B": "good", "state.A": "good" });
    const slots = await byName();
    expect(slots["rootfs.1"]).toMatchObject({ version: "1.3.0", primary: true, booted: false, health: SlotHealth.GOOD, installCount: 1 });
    expect(slots["rootfs.1"]!.installedTime).toBeDefined();
    expect(slots["rootfs.0"]).toMatchObject({ version: "1.2.0", primary: false, booted: true });
    const status = await d.api(UpdateService).getUpdateStatus({});
    expect(status.lastError).toBe("");
    expect(status.lastErrorReason).toBe("");
  });

  it("refuses a second install while one runs (OPERATION_IN_PROGRESS); the first completes", async () => {
    // A large image makes RAUC's copy take a while; the second call comes once the first has started.
    const big = rig.bundle({ version: "1.4.0", payload: Buffer.alloc(14 << 20, 0x11) });
    const api = d.api(UpdateService);
    const first = api.installUpdate({ bundlePath: big.path })[Symbol.asyncIterator]();
    const firstMessage = await first.next();
    expect(firstMessage.value).toMatchObject({ stage: InstallStage.CHECKING });
    const e = await failure(install(good.path));
    expect(e.reason).toBe("OPERATION_IN_PROGRESS");
    expect(e.metadata.operationId).toMatch(/^install-\d+$/);
    // RAUC answers no status while it installs: the daemon serves what it said just before, flagged.
    const during = await api.getUpdateStatus({});
    expect(during.installRunning).toBe(true);
    expect(during.slots).toHaveLength(2);
    let last: InstallUpdateResponse | undefined;
    for (let r = await first.next(); !r.done; r = await first.next()) last = r.value;
    expect(last).toMatchObject({ done: true, version: "1.4.0", slot: "rootfs.1" });
    expect(rig.slotBytes(1, 1 << 20).every((b) => b === 0x11)).toBe(true);
    // The refused call is not the last install's error: the install that ran succeeded.
    expect((await api.getUpdateStatus({})).lastError).toBe("");
  });

  it("finishes an install whose caller went away, and holds off others until then", async () => {
    const big = rig.bundle({ version: "1.4.1", payload: Buffer.alloc(14 << 20, 0x22) });
    const api = d.api(UpdateService);
    const stream = api.installUpdate({ bundlePath: big.path })[Symbol.asyncIterator]();
    expect((await stream.next()).value).toMatchObject({ stage: InstallStage.CHECKING });
    await stream.return?.(undefined);
    expect((await failure(install(good.path))).reason).toBe("OPERATION_IN_PROGRESS");
    // Status stays answerable during the install (RAUC itself refuses it then).
    const deadline = Date.now() + 60_000;
    while ((await api.getUpdateStatus({})).installRunning && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const slots = await byName();
    expect(slots["rootfs.1"]).toMatchObject({ version: "1.4.1", primary: true });
    expect(rig.slotBytes(1, 1 << 20).every((b) => b === 0x22)).toBe(true);
  });

  it("installs an older bundle only with force_downgrade", async () => {
    const old = rig.bundle({ version: "1.1.0" });
    await expectRefused(old.path, "BUNDLE_DOWNGRADE", { version: "1.1.0" });
    const progress = await install(old.path, true);
    expect(progress.at(-1)).toMatchObject({ done: true, version: "1.1.0", slot: "rootfs.1" });
    expect(rig.slotBytes(1, old.payload.length).equals(old.payload)).toBe(true);
    expect((await byName())["rootfs.1"]).toMatchObject({ version: "1.1.0", installCount: 4 });
  });

  it("marks slots bad, good and active, by name, boot name, booted and other", async () => {
    const api = d.api(UpdateService);
    let r = await api.markSlot({ slot: "rootfs.1", mark: SlotMark.BAD });
    expect(r.slot).toMatchObject({ name: "rootfs.1", health: SlotHealth.BAD });
    expect(rig.bootState()["state.B"]).toBe("bad");
    r = await api.markSlot({ slot: "other", mark: SlotMark.GOOD });
    expect(r.slot).toMatchObject({ name: "rootfs.1", health: SlotHealth.GOOD });
    expect(rig.bootState()["state.B"]).toBe("good");
    r = await api.markSlot({ slot: "a", mark: SlotMark.ACTIVE });
    expect(r.slot).toMatchObject({ name: "rootfs.0", primary: true, booted: true });
    expect(rig.bootState().primary).toBe("A");
    r = await api.markSlot({ slot: "booted", mark: SlotMark.GOOD });
    expect(r.slot).toMatchObject({ name: "rootfs.0", health: SlotHealth.GOOD });
    const slots = await byName();
    expect(slots["rootfs.0"]).toMatchObject({ primary: true, health: SlotHealth.GOOD });
    expect(slots["rootfs.1"]).toMatchObject({ primary: false, health: SlotHealth.GOOD });
  });

  it("says why a slot is bad when the trial guard noted it (trial-failure.<boot name>)", async () => {
    const api = d.api(UpdateService);
    await api.markSlot({ slot: "rootfs.1", mark: SlotMark.BAD });
    writeFileSync(path.join(rig.trialFailureDir, "trial-failure.B"), "slot B was not healthy 240 s after the kernel started\n");
    try {
      const slots = await byName();
      expect(slots["rootfs.1"]).toMatchObject({ health: SlotHealth.BAD, badReason: "slot B was not healthy 240 s after the kernel started" });
      expect(slots["rootfs.0"]!.badReason).toBe("");
      // A note of a slot that is not bad (the guard's note while a trial runs) is no reason.
      writeFileSync(path.join(rig.trialFailureDir, "trial-failure.A"), "the box reset during the trial before the guard decided\n");
      expect((await byName())["rootfs.0"]!.badReason).toBe("");
    } finally {
      rmSync(path.join(rig.trialFailureDir, "trial-failure.A"), { force: true });
      rmSync(path.join(rig.trialFailureDir, "trial-failure.B"));
      await api.markSlot({ slot: "rootfs.1", mark: SlotMark.GOOD });
    }
  });

  it("refuses marks of unknown slots or without a mark, changing nothing", async () => {
    const api = d.api(UpdateService);
    const before = rig.snapshot();
    const unknown = await failure(api.markSlot({ slot: "rootfs.7", mark: SlotMark.GOOD }));
    expect(unknown).toMatchObject({ reason: "NOT_FOUND", metadata: { resourceType: "slot", name: "rootfs.7" } });
    const noMark = await failure(api.markSlot({ slot: "rootfs.1", mark: SlotMark.UNSPECIFIED }));
    expect(noMark.reason).toBe("INVALID_FIELD");
    expect(rig.snapshot()).toEqual(before);
  });

  it("installs a verity bundle where the kernel has device-mapper, and refuses it cleanly where not (this host)", async () => {
    const verity = rig.bundle({ version: "1.5.0", format: "verity" });
    if (existsSync("/dev/mapper/control")) {
      const progress = await install(verity.path);
      expect(progress.at(-1)).toMatchObject({ done: true, version: "1.5.0" });
      return;
    }
    const e = await expectRefused(verity.path, "UPDATE_INSTALL_FAILED");
    expect(e.metadata.detail).toMatch(/mapper/);
  });

  it("audits every mutation, allowed or refused, with its reason", () => {
    const records = readFileSync(path.join(d.dataDir, "audit.jsonl"), "utf8")
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { principal: string; method: string; code: string; reason?: string })
      .filter((r) => r.method.startsWith("/orbital.update.v1."));
    const installs = records.filter((r) => r.method.endsWith("/InstallUpdate"));
    const verityInstalled = existsSync("/dev/mapper/control");
    for (const reason of ["NOT_FOUND", "BUNDLE_INVALID", "SIGNATURE_INVALID", "BUNDLE_INCOMPATIBLE", "BUNDLE_DOWNGRADE", "OPERATION_IN_PROGRESS", ...(verityInstalled ? [] : ["UPDATE_INSTALL_FAILED"])]) {
      expect(installs.some((r) => r.reason === reason), reason).toBe(true);
    }
    // good, the big one, the one whose caller went away (it ran to its end), the forced downgrade.
    expect(installs.filter((r) => r.code === "OK").length).toBe(verityInstalled ? 5 : 4);
    expect(installs).toContainEqual(expect.objectContaining({ principal: "upd-operator", code: "PERMISSION_DENIED", reason: "CAPABILITY_MISSING" }));
    expect(records.filter((r) => r.method.endsWith("/MarkSlot") && r.code === "OK")).toHaveLength(6);
    // Reads are not audited.
    expect(records.some((r) => r.method.endsWith("/GetUpdateStatus"))).toBe(false);
  });

  it("keeps the last install error across a daemon restart", async () => {
    const reason = (await d.api(UpdateService).getUpdateStatus({})).lastErrorReason;
    expect(reason).not.toBe("");
    const first = d;
    await first.stop();
    d = await startDaemon({ dataDir: first.dataDir, args: rig.daemonArgs, env: rig.env });
    // The first daemon's dir holds the data dir the second one uses: removed at the end.
    leftovers.push(first.dir);
    expect((await d.api(UpdateService).getUpdateStatus({})).lastErrorReason).toBe(reason);
  });

  it("serves the same over REST: status, an install as NDJSON progress, refusals as google.rpc.Status", async () => {
    const { base } = await enableRest(d);
    const token = (await mintToken(d, "upd-admin", "admin")).secret;
    const status = await rest(base, { method: "GET", path: "/v1/update/status", token });
    expect(status.status).toBe(200);
    expect((status.json as { slots: unknown[] }).slots).toHaveLength(2);
    // Refused before the first progress message: an HTTP status.
    const missing = await rest(base, { method: "POST", path: "/v1/update:install", token, body: JSON.stringify({ bundlePath: path.join(rig.dir, "gone.raucb") }) });
    expect(missing.status).toBe(404);
    expect(statusParts(missing.json)).toMatchObject({ reason: "NOT_FOUND", metadata: { resourceType: "bundle" } });
    const b = rig.bundle({ version: "1.7.0" });
    const ok = await rest(base, { method: "POST", path: "/v1/update:install", token, body: JSON.stringify({ bundlePath: b.path }) });
    expect(ok.status).toBe(200);
    const lines = ok.text.trim().split("\n").map((l) => JSON.parse(l) as { result?: Record<string, unknown>; error?: unknown });
    expect(lines.at(-1)?.result).toMatchObject({ done: true, slot: "rootfs.1", version: "1.7.0", stage: "INSTALL_STAGE_DONE" });
    // Refused after it (RAUC's checks): a last {"error"} line.
    const old = rig.bundle({ version: "0.9.0" });
    const before = rig.snapshot();
    const refused = await rest(base, { method: "POST", path: "/v1/update:install", token, body: JSON.stringify({ bundlePath: old.path }) });
    const last = JSON.parse(refused.text.trim().split("\n").at(-1)!) as { error?: unknown };
    expect(statusParts(last.error)).toMatchObject({ reason: "BUNDLE_DOWNGRADE", metadata: { version: "0.9.0" } });
    expect(rig.snapshot()).toEqual(before);
  });

  it("answers UPDATE_ENGINE_UNAVAILABLE when RAUC cannot be reached, and keeps serving", async () => {
    const lone = await startDaemon({ args: ["--rauc", rig.raucCommand], env: { DBUS_SESSION_BUS_ADDRESS: `unix:path=${rig.dir}/no-bus.sock`, DBUS_STARTER_BUS_TYPE: "session" } });
    const missing = await startDaemon({ args: ["--rauc", path.join(rig.dir, "no-rauc-here")] });
    try {
      for (const daemon of [lone, missing]) {
        const e = await failure(daemon.api(UpdateService).getUpdateStatus({}));
        expect(e.reason).toBe("UPDATE_ENGINE_UNAVAILABLE");
        const before = rig.snapshot();
        const i = await failure((async () => {
          for await (const _ of daemon.api(UpdateService).installUpdate({ bundlePath: good.path })) void _;
        })());
        expect(i.reason).toBe("UPDATE_ENGINE_UNAVAILABLE");
        expect(rig.snapshot()).toEqual(before);
        expect(daemon.proc.exitCode).toBeNull();
      }
    } finally {
      await lone.cleanup();
      await missing.cleanup();
    }
  });
});
