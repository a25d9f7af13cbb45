// Update service: the A/B slots as RAUC reports them, installing a bundle into the other slot with RAUC's
// progress streamed, and marking slots. Every refusal is decided before RAUC writes anything (path, file,
// signature, compatible, version, one install at a time); RAUC itself is reached only through rauc-cli.ts.
import { statSync } from "node:fs";
import path from "node:path";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { ErrorReason } from "../../gen/orbital/api/v1/error_reason_pb.js";
import {
  InstallStage,
  SlotHealth,
  SlotMark,
  type InstallUpdateResponseSchema,
  type SlotSchema,
  type UpdateService,
} from "../../gen/orbital/update/v1/update_pb.js";
import { invalidField, OrbitalError, toOrbitalError } from "../../common/errors.js";
import type { Logger } from "../../common/logger.js";
import type { ServiceImpl } from "../rpc/service-impl.js";
import { RaucFailure, type RaucCli, type RaucMark, type RaucProgress, type RaucSlotStatus, type RaucStatus } from "../update/rauc-cli.js";
import { LastInstallError } from "../update/last-install-error.js";
import { runningReleaseVersion } from "../update/running-release.js";
import { compareVersions } from "../update/version-order.js";
import { checkVerityPayload } from "../update/verity-payload.js";
import { notFound } from "./resource-errors.js";
import { readTextOrEmpty } from "../store/atomic-file.js";

export interface UpdateServiceDeps {
  rauc: RaucCli;
  dataDir: string;
  /** os-release of the running root, whose VERSION_ID is the booted version when RAUC has none for the slot. */
  osReleasePath: string;
  /** Where the trial guard notes why a slot's trial failed: trial-failure.<boot name>. */
  trialFailureDir: string;
  log: Logger;
}

type SlotInit = MessageInitShape<typeof SlotSchema>;
type Progress = MessageInitShape<typeof InstallUpdateResponseSchema>;

const MARKS: Record<number, RaucMark> = { [SlotMark.GOOD]: "good", [SlotMark.BAD]: "bad", [SlotMark.ACTIVE]: "active" };

/** RAUC's progress lines from which on the target slot is being written. */
const WRITING = /^(Updating slots|Checking slot|Copying image|Updating slot)/;

/** The API error for a RAUC failure about `subject` (the bundle path, or the slot for marks and writes). */
function raucError(f: RaucFailure, subject: string): OrbitalError {
  switch (f.kind) {
    case "unavailable":
      return new OrbitalError({ reason: ErrorReason.UPDATE_ENGINE_UNAVAILABLE, message: `the update engine (RAUC) is unavailable: ${f.detail}`, metadata: { detail: f.detail } });
    case "busy":
      return new OrbitalError({
        reason: ErrorReason.OPERATION_IN_PROGRESS,
        message: `RAUC is busy with another operation (an install started outside orbitald?): ${f.detail}`,
        metadata: { operationId: "rauc" },
      });
    case "not-found":
      return notFound("bundle", subject);
    case "no-slot":
      return notFound("slot", subject);
    case "untrusted":
      return new OrbitalError({ reason: ErrorReason.SIGNATURE_INVALID, message: `${subject} is not signed by a trusted key: ${f.detail}`, metadata: { artifact: subject } });
    case "not-a-bundle":
    case "tampered":
      return new OrbitalError({
        reason: ErrorReason.BUNDLE_INVALID,
        message: `${subject} is ${f.kind === "tampered" ? "damaged or tampered with (its content does not match its signature)" : "not a RAUC bundle"}: ${f.detail}`,
        metadata: { path: subject, detail: f.detail },
      });
    case "format-refused":
      return new OrbitalError({
        reason: ErrorReason.BUNDLE_INVALID,
        message: `${subject} is in a bundle format this box does not install (it takes the formats of its system.conf: verity on the image): ${f.detail}`,
        metadata: { path: subject, detail: f.detail },
      });
    case "failed":
      return new OrbitalError({ reason: ErrorReason.UPDATE_INSTALL_FAILED, message: `RAUC failed: ${f.detail}`, metadata: { slot: subject, detail: f.detail } });
  }
}

/** Runs a RAUC call, turning its failure into the API's error. */
async function viaRauc<T>(subject: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (e) {
    throw e instanceof RaucFailure ? raucError(e, subject) : e;
  }
}

function health(bootStatus: string): SlotHealth {
  return bootStatus === "good" ? SlotHealth.GOOD : bootStatus === "bad" ? SlotHealth.BAD : SlotHealth.UNSPECIFIED;
}

const isBooted = (status: RaucStatus, s: RaucSlotStatus) => s.state === "booted" || (status.booted !== "" && s.bootname === status.booted);

/** The trial guard's note of why a slot's trial failed, if there is one. */
function badReason(trialFailureDir: string, bootname: string): string {
  if (!/^[A-Za-z0-9_-]+$/.test(bootname)) return "";
  return readTextOrEmpty(path.join(trialFailureDir, `trial-failure.${bootname}`));
}

/** The slots the API shows: RAUC's top-level ones (not children such as the boot files' slots). */
const topLevel = (status: RaucStatus) => status.slots.filter((s) => s.parent === undefined);

/** The API's view of one slot; the booted slot's version falls back to the running release's. */
function slotOf(status: RaucStatus, s: RaucSlotStatus, runningVersion: string | undefined, trialFailureDir: string): SlotInit {
  const booted = isBooted(status, s);
  const installed = s.installedAt ? new Date(s.installedAt) : undefined;
  const slotHealth = health(s.bootStatus);
  return {
    name: s.name,
    bootName: s.bootname,
    version: s.bundleVersion ?? (booted ? (runningVersion ?? "") : ""),
    health: slotHealth,
    booted,
    primary: s.name === status.bootPrimary,
    ...(installed && !Number.isNaN(installed.getTime()) ? { installedTime: timestampFromDate(installed) } : {}),
    installCount: s.installCount ?? 0,
    device: s.device,
    // (while a trial runs, its note says only what a reset would mean: not a reason until the slot is bad)
    badReason: slotHealth === SlotHealth.BAD ? badReason(trialFailureDir, s.bootname) : "",
  };
}

/** The request's bundle path, if it is absolute and has no ".." component. */
function checkBundlePath(p: string): string {
  if (p === "") throw invalidField("bundle_path", "is required");
  if (!path.isAbsolute(p)) throw invalidField("bundle_path", "must be an absolute path");
  if (p.split("/").includes("..")) throw invalidField("bundle_path", 'must not contain ".."');
  if (p.includes("\0")) throw invalidField("bundle_path", "must not contain a NUL character");
  return p;
}

/** The progress messages between RAUC's callback and the response stream (a few dozen per install: unbounded). */
class ProgressQueue {
  private items: Progress[] = [];
  private wake: (() => void) | undefined;

  push(p: Progress): void {
    this.items.push(p);
    this.wake?.();
  }

  /** Waits until an item is queued or `until` settles. */
  async next(until: Promise<unknown>): Promise<Progress | undefined> {
    while (this.items.length === 0) {
      const settled = await Promise.race([until.then(() => true, () => true), new Promise<false>((r) => (this.wake = () => r(false)))]);
      this.wake = undefined;
      if (settled && this.items.length === 0) return undefined;
    }
    return this.items.shift();
  }
}

export function updateService(deps: UpdateServiceDeps): ServiceImpl<typeof UpdateService> {
  const { rauc, log } = deps;
  const lastError = new LastInstallError(deps.dataDir, log);
  /**
   * The install running, if any: one at a time, whether or not its caller still listens. RAUC answers no
   * status while it installs, so `status` is what it said just before: GetUpdateStatus serves that meanwhile.
   */
  let running: { id: string; path: string; status?: RaucStatus } | undefined;
  let installs = 0;

  const inProgress = () =>
    new OrbitalError({
      reason: ErrorReason.OPERATION_IN_PROGRESS,
      message: `an install is running (${running!.path}); wait for it to finish`,
      metadata: { operationId: running!.id },
    });

  /**
   * The bundle is a regular file. Checked synchronously (one stat) before the first progress message, so that
   * REST answers a missing file with its HTTP status rather than an error line after a 200.
   */
  function checkFile(bundlePath: string): void {
    let st;
    try {
      st = statSync(bundlePath);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === "ENOENT" || code === "ENOTDIR") throw notFound("bundle", bundlePath);
      // ENAMETOOLONG, ELOOP, EACCES: the caller's path, not the daemon, is at fault.
      throw invalidField("bundle_path", `cannot be read: ${code ?? (e as Error).message}`);
    }
    if (!st.isFile()) {
      throw new OrbitalError({ reason: ErrorReason.BUNDLE_INVALID, message: `${bundlePath} is not a regular file`, metadata: { path: bundlePath, detail: "not a regular file" } });
    }
  }

  /** RAUC's checks that refuse a bundle before it writes anything; returns the target slot, the bundle's version and RAUC's status. */
  async function admit(bundlePath: string, forceDowngrade: boolean): Promise<{ slot: string; version: string; status: RaucStatus }> {
    const status = await viaRauc(bundlePath, () => rauc.status());
    if (running) running.status = status;
    const info = await viaRauc(bundlePath, () => rauc.info(bundlePath));
    if (info.compatible !== status.compatible) {
      throw new OrbitalError({
        reason: ErrorReason.BUNDLE_INCOMPATIBLE,
        message: `the bundle is for "${info.compatible}", this board is "${status.compatible}"`,
        metadata: { compatible: info.compatible, expected: status.compatible },
      });
    }
    const booted = topLevel(status).find((s) => isBooted(status, s));
    const bootedVersion = booted?.bundleVersion ?? runningReleaseVersion(deps.osReleasePath);
    if (bootedVersion && !forceDowngrade && compareVersions(info.version, bootedVersion) < 0) {
      throw new OrbitalError({
        reason: ErrorReason.BUNDLE_DOWNGRADE,
        message: `the bundle's version ${info.version} is older than the booted ${bootedVersion}; set force_downgrade to install it`,
        metadata: { version: info.version, bootedVersion },
      });
    }
    // RAUC checks a verity payload only as it writes it: a damaged one would cost the other slot's release.
    if (info.verity) await viaRauc(bundlePath, () => checkVerityPayload(bundlePath, info.verity!));
    // RAUC writes the other slot of the booted one's class.
    const target = topLevel(status).find((s) => s !== booted && s.class === booted?.class && s.state !== "booted");
    return { slot: target?.name ?? "", version: info.version, status };
  }

  /** The whole install: admission, then RAUC with its progress pushed to `queue`. The last error follows its outcome. */
  async function install(bundlePath: string, forceDowngrade: boolean, queue: ProgressQueue): Promise<void> {
    try {
      checkFile(bundlePath);
      queue.push({ percent: 0, message: `Checking ${bundlePath}`, stage: InstallStage.CHECKING });
      const { slot, version, status } = await admit(bundlePath, forceDowngrade);
      let stage = InstallStage.CHECKING;
      let written = slot;
      await viaRauc(slot, () =>
        rauc.install(bundlePath, (p: RaucProgress) => {
          if (WRITING.test(p.message)) stage = InstallStage.WRITING;
          // The slot the API names is the top-level one: a child (boot.1, the boot files) stands for its parent (rootfs.1).
          const copied = /^Copying image to (\S+)/.exec(p.message)?.[1];
          if (copied) written = status.slots.find((s) => s.name === copied)?.parent ?? copied;
          queue.push({ percent: p.percent, message: p.message, stage, slot: written, version });
        }),
      );
      lastError.set(undefined);
      log.info({ bundle: bundlePath, slot: written, version }, "update installed");
      queue.push({ percent: 100, message: `Installed ${version} into ${written}; it boots next`, done: true, slot: written, stage: InstallStage.DONE, version });
    } catch (err) {
      const e = toOrbitalError(err);
      lastError.set({ reason: e.reason, message: e.message, time: new Date().toISOString() });
      log.warn({ bundle: bundlePath, reason: e.reason, err: e.message }, "update refused or failed");
      throw e;
    }
  }

  return {
    async getUpdateStatus() {
      const status = running?.status ?? (await viaRauc("status", () => rauc.status()));
      const runningVersion = runningReleaseVersion(deps.osReleasePath);
      const last = lastError.get();
      return {
        slots: topLevel(status).map((s) => slotOf(status, s, runningVersion, deps.trialFailureDir)),
        lastError: last?.message ?? "",
        lastErrorReason: last?.reason ?? "",
        compatible: status.compatible,
        installRunning: running !== undefined,
      };
    },

    async *installUpdate(req) {
      const bundlePath = checkBundlePath(req.bundlePath);
      if (running) throw inProgress();
      running = { id: `install-${++installs}`, path: bundlePath };
      const queue = new ProgressQueue();
      // The install goes on when the caller goes away: RAUC is not stopped halfway through a slot.
      const work = install(bundlePath, req.forceDowngrade, queue).finally(() => (running = undefined));
      work.catch(() => {});
      for (let p = await queue.next(work); p; p = await queue.next(work)) yield p;
      await work;
    },

    async markSlot(req) {
      const mark = MARKS[req.mark];
      if (!mark) throw invalidField("mark", "must be SLOT_MARK_GOOD, SLOT_MARK_BAD or SLOT_MARK_ACTIVE");
      if (req.slot === "") throw invalidField("slot", 'is required: a slot name ("rootfs.1"), its boot name ("B"), "booted" or "other"');
      if (running) throw inProgress();
      const before = await viaRauc(req.slot, () => rauc.status());
      const slots = topLevel(before);
      const booted = slots.find((s) => isBooted(before, s));
      const chosen =
        req.slot === "booted"
          ? booted
          : req.slot === "other"
            ? slots.find((s) => s !== booted && s.class === booted?.class)
            : slots.find((s) => s.name === req.slot || s.bootname.toLowerCase() === req.slot.toLowerCase());
      if (!chosen) throw notFound("slot", req.slot);
      const said = await viaRauc(chosen.name, () => rauc.mark(chosen.name, mark));
      log.info({ slot: chosen.name, mark, rauc: said }, "slot marked");
      const after = await viaRauc(chosen.name, () => rauc.status());
      const slot = topLevel(after).find((s) => s.name === chosen.name);
      if (!slot) throw notFound("slot", chosen.name);
      return { slot: slotOf(after, slot, runningReleaseVersion(deps.osReleasePath), deps.trialFailureDir) };
    },
  };
}
