// Installs, upgrades, removes and describes packages: a verified package file becomes read-only files under
// <packages>/<name>/<version>/, a writable data dir, a uid of its own, a principal with exactly the
// capabilities its manifest declares, and a runit service. A failed install leaves nothing behind; a failed
// upgrade restores the previous version. Authorization of the caller is the call pipeline's.
import type { KeyObject } from "node:crypto";
import { chownSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statfsSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { machine } from "node:os";
import path from "node:path";
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { ErrorReason } from "../../gen/orbital/api/v1/error_reason_pb.js";
import { InstallStage, PackageSchema, PackageState, type InstallPackageResponse, type Package } from "../../gen/orbital/package/v1/package_pb.js";
import type { Configuration } from "../../gen/orbital/config/v1/configuration_pb.js";
import { invalidField, OrbitalError } from "../../common/errors.js";
import type { Logger } from "../../common/logger.js";
import type { Principal } from "../auth/principal.js";
import { notFound, alreadyExists } from "../services/resource-errors.js";
import { openPackage, type OpenedPackage } from "./package-contents.js";
import { capabilitiesOutside, effectivePolicy } from "./package-policy.js";
import { PackageRegistry, type InstalledPackage } from "./package-registry.js";
import { processesOfUid, RunitSupervisor, type ServiceSpec } from "./runit-supervisor.js";
import { trustedKeys } from "./trust-store.js";
import { readTextOrEmpty } from "../store/atomic-file.js";

/** Largest package file read. */
export const MAX_PACKAGE_FILE_BYTES = 256 << 20;
/** Room kept free on the data partition beyond the package's own size. */
const SPARE_BYTES = 8 << 20;
/** A start counts as good once the process stayed up this long under one pid. */
const SETTLE_SECONDS = 2;
/** How often each package's data dir is measured against its manifest's dataQuotaBytes. */
const QUOTA_CHECK_MS = 5_000;

export interface PackageManagerDeps {
  packagesDir: string;
  /** Where bundle paths must lie (the data partition). */
  bundleRoot: string;
  socketPath: string;
  /** The running configuration (policy, users' uids). */
  config: () => Configuration;
  imageKeys: ReadonlyMap<string, KeyObject>;
  /** Command that runs a bundled JavaScript package: the multi-call executable's package host. */
  javascriptHost: string[];
  log: Logger;
}

export interface PackagePrincipal {
  user: string;
  role: string;
  capabilities: ReadonlySet<string>;
}

type Progress = Pick<InstallPackageResponse, "stage" | "percent" | "message"> & { package?: Package };

export class PackageManager {
  readonly registry: PackageRegistry;
  readonly supervisor: RunitSupervisor;
  private readonly busy = new Set<string>();

  constructor(private readonly deps: PackageManagerDeps) {
    mkdirSync(deps.packagesDir, { recursive: true, mode: 0o755 });
    this.registry = new PackageRegistry(deps.packagesDir);
    this.supervisor = new RunitSupervisor(deps.packagesDir, deps.log);
  }

  /**
   * Clears what an interrupted install left, and makes sure the supervisor runs when packages exist. Never
   * throws: without runit the daemon serves on, and says why its packages do not run.
   */
  start(): string | undefined {
    setInterval(() => this.enforceDataQuotas(), QUOTA_CHECK_MS).unref();
    for (const n of readdirSync(this.deps.packagesDir)) if (n.startsWith(".staging-")) rmSync(path.join(this.deps.packagesDir, n), { recursive: true, force: true });
    if (this.registry.list().length === 0) return undefined;
    try {
      this.supervisor.ensureRunning();
      return undefined;
    } catch (err) {
      this.deps.log.error({ err }, "package supervisor not started: installed packages do not run");
      return `installed packages do not run: ${(err as Error).message}`;
    }
  }

  /** The principal of a package's uid: its grants, cut to what the policy allows now. */
  principalOf(uid: number): PackagePrincipal | undefined {
    const p = this.registry.byUid(uid);
    if (!p) return undefined;
    const { policy } = effectivePolicy(this.deps.config());
    const allowed = new Set(policy.allowedCapabilities);
    const name = `package:${p.manifest.name}`;
    return { user: name, role: name, capabilities: new Set(p.manifest.capabilities.filter((c) => allowed.has(c))) };
  }

  /** `installer` must hold every capability the package asks for: installing it must not grant more than that. */
  async *install(bundlePath: string, installer: Principal): AsyncGenerator<Progress> {
    yield { stage: InstallStage.VERIFYING, percent: 5, message: `verifying ${bundlePath}` };
    const opened = this.verify(this.readBundle(bundlePath));
    const { manifest } = opened;
    const lacking = manifest.capabilities.find((c) => !installer.capabilities.has(c));
    if (lacking !== undefined) {
      throw new OrbitalError({
        reason: ErrorReason.CAPABILITY_MISSING,
        message: `package ${manifest.name} asks for ${lacking}; role "${installer.role}" of ${installer.user} lacks it, so it may not grant it`,
        metadata: { capability: lacking, principal: installer.user, role: installer.role },
      });
    }
    if (this.busy.has(manifest.name)) {
      throw new OrbitalError({ reason: ErrorReason.OPERATION_IN_PROGRESS, message: `package ${manifest.name} is being installed or removed already`, metadata: { operationId: manifest.name } });
    }
    this.busy.add(manifest.name);
    try {
      const previous = this.registry.get(manifest.name);
      if (previous?.manifest.version === manifest.version) throw alreadyExists("package", `${manifest.name} ${manifest.version}`);
      this.checkSpace(opened);
      yield { stage: InstallStage.VERIFYING, percent: 20, message: `signed by key ${opened.keyId}; ${opened.entries.length} entries, capabilities: ${manifest.capabilities.join(", ") || "none"}` };
      yield { stage: InstallStage.UNPACKING, percent: 30, message: `unpacking into ${this.versionDir(manifest.name, manifest.version)}` };
      this.unpack(opened, previous);
      yield { stage: InstallStage.STARTING, percent: 70, message: previous ? `upgrading from ${previous.manifest.version}` : "starting under runit" };
      const installed = previous ? await this.upgrade(opened, previous) : await this.startNew(opened);
      yield { stage: InstallStage.DONE, percent: 100, message: `${manifest.name} ${manifest.version} runs as uid ${installed.uid}`, package: this.view(installed) };
    } finally {
      this.busy.delete(manifest.name);
    }
  }

  /**
   * A package whose data dir holds more than its manifest's dataQuotaBytes is stopped (FAILED, the reason as
   * its last exit) until the dir is back under the quota, then started again. The mark lives in the service
   * dir, so it holds across orbitald restarts (runsv keeps the service down meanwhile).
   */
  enforceDataQuotas(): void {
    for (const p of this.registry.list()) {
      const { name, dataQuotaBytes: quota } = p.manifest;
      if (!quota || this.busy.has(name)) continue;
      try {
        const used = treeBytes(this.dataDir(name));
        const mark = this.overQuotaMark(name);
        const marked = existsSync(mark);
        if (used > quota && !marked) {
          writeFileSync(mark, `data quota exceeded: ${used} bytes in its data dir, its manifest allows ${quota}`);
          this.supervisor.down(name);
          this.deps.log.warn({ package: name, used, quota }, "package stopped: its data dir outgrew its quota");
        } else if (used <= quota && marked) {
          rmSync(mark, { force: true });
          this.supervisor.up(name);
          this.deps.log.info({ package: name, used, quota }, "package started again: its data dir is back under its quota");
        }
      } catch (err) {
        this.deps.log.error({ err, package: name }, "data quota check failed");
      }
    }
  }

  private overQuotaMark(name: string): string {
    return path.join(this.supervisor.serviceDir(name), "over-quota");
  }

  async delete(name: string): Promise<void> {
    const p = this.registry.get(name);
    if (!p) throw notFound("package", name);
    if (this.busy.has(name)) throw new OrbitalError({ reason: ErrorReason.OPERATION_IN_PROGRESS, message: `package ${name} is being installed or removed already`, metadata: { operationId: name } });
    this.busy.add(name);
    try {
      await this.removeAll(p);
    } finally {
      this.busy.delete(name);
    }
  }

  get(name: string): Package {
    const p = this.registry.get(name);
    if (!p) throw notFound("package", name);
    return this.view(p);
  }

  list(): Package[] {
    return this.registry.list().map((p) => this.view(p));
  }

  /** The last `lines` lines the package wrote (svlogd's current file). */
  logs(name: string, lines: number): string[] {
    if (!this.registry.get(name)) throw notFound("package", name);
    let text = "";
    try {
      text = readFileSync(path.join(this.supervisor.logDir(name), "current"), "utf8");
    } catch {
      return [];
    }
    return text.split("\n").filter((l) => l !== "").slice(-lines);
  }

  private readBundle(bundlePath: string): Buffer {
    const root = this.deps.bundleRoot;
    if (!path.isAbsolute(bundlePath) || bundlePath.split("/").includes("..") || !(bundlePath.startsWith(`${root}/`) || root === "/")) {
      throw invalidField("bundle_path", `must be an absolute path under ${root} without ".."`);
    }
    let size;
    try {
      const st = statSync(bundlePath);
      if (!st.isFile()) throw invalidField("bundle_path", "is not a regular file");
      size = st.size;
    } catch (err) {
      if (err instanceof OrbitalError) throw err;
      throw invalidField("bundle_path", `cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    if (size > MAX_PACKAGE_FILE_BYTES) throw tooLarge(size, MAX_PACKAGE_FILE_BYTES);
    return readFileSync(bundlePath);
  }

  private verify(file: Buffer): OpenedPackage {
    const config = this.deps.config();
    const { policy } = effectivePolicy(config);
    const opened = openPackage(file, trustedKeys(this.deps.imageKeys, policy));
    const { manifest } = opened;
    if (manifest.architecture !== "any" && manifest.architecture !== machineArchitecture()) {
      throw new OrbitalError({
        reason: ErrorReason.PACKAGE_ARCHITECTURE_MISMATCH,
        message: `package ${manifest.name} is built for ${manifest.architecture}, this box is ${machineArchitecture()}`,
        metadata: { architecture: manifest.architecture, machine: machineArchitecture() },
      });
    }
    const outside = capabilitiesOutside(policy, manifest.capabilities);
    if (outside.length) {
      throw new OrbitalError({
        reason: ErrorReason.PACKAGE_CAPABILITY_NOT_ALLOWED,
        message: `package ${manifest.name} requests capabilities the package policy does not allow: ${outside.join(", ")}`,
        metadata: { capabilities: outside.join(",") },
      });
    }
    return opened;
  }

  private checkSpace(opened: OpenedPackage): void {
    const fs = statfsSync(this.deps.packagesDir);
    const available = Number(fs.bavail) * Number(fs.bsize);
    // Each entry takes at least one block, and the old version stays until the new one runs.
    const need = opened.unpackedBytes + opened.entries.length * Number(fs.bsize) + SPARE_BYTES;
    if (need > available) throw tooLarge(need, available);
  }

  private packageDir(name: string): string {
    return path.join(this.deps.packagesDir, name);
  }

  private versionDir(name: string, version: string): string {
    return path.join(this.packageDir(name), version);
  }

  private dataDir(name: string): string {
    return path.join(this.packageDir(name), "data");
  }

  /** Writes the files into a staging dir, then renames it to <name>/<version> (read-only, owned by root). */
  private unpack(opened: OpenedPackage, previous: InstalledPackage | undefined): void {
    const { name, version } = opened.manifest;
    const staging = path.join(this.deps.packagesDir, `.staging-${name}-${randomBytes(4).toString("hex")}`);
    try {
      mkdirSync(staging, { mode: 0o755 });
      for (const e of opened.entries) {
        const target = path.join(staging, e.path);
        mkdirSync(path.dirname(target), { recursive: true, mode: 0o755 });
        if (e.type === "directory") mkdirSync(target, { recursive: true, mode: 0o755 });
        else if (e.type === "symlink") symlinkSync(e.linkTarget, target);
        else writeFileSync(target, e.data, { mode: e.mode & 0o755, flag: "wx" });
      }
      if (!previous) mkdirSync(this.packageDir(name), { mode: 0o755 });
      renameSync(staging, this.versionDir(name, version));
    } catch (err) {
      rmSync(staging, { recursive: true, force: true });
      if (!previous) rmSync(this.packageDir(name), { recursive: true, force: true });
      throw storageError(err);
    }
  }

  private spec(p: InstalledPackage): ServiceSpec {
    const m = p.manifest;
    const root = this.versionDir(m.name, m.version);
    const program = path.join(root, m.entry[0]!);
    return {
      name: m.name,
      version: m.version,
      uid: p.uid,
      gid: p.gid,
      socketGid: socketGroup(this.deps.socketPath),
      socketPath: this.deps.socketPath,
      root,
      dataDir: this.dataDir(m.name),
      command: m.runtime === "javascript" ? [...this.deps.javascriptHost, program, ...m.entry.slice(1)] : [program, ...m.entry.slice(1)],
      limits: { ...m.limits, fileSizeBytes: m.dataQuotaBytes },
    };
  }

  private async startNew(opened: OpenedPackage): Promise<InstalledPackage> {
    const taken = new Set(this.deps.config().users.map((u) => u.uid).filter((u): u is number => u !== undefined));
    const uid = this.registry.freeUid(taken);
    const { name } = opened.manifest;
    if (uid === undefined) {
      rmSync(this.packageDir(name), { recursive: true, force: true });
      throw new OrbitalError({ reason: ErrorReason.PACKAGE_TOO_LARGE, message: "no free package uid is left", metadata: { bytes: 0, available: 0 } });
    }
    const installed: InstalledPackage = { manifest: opened.manifest, uid, gid: uid, keyId: opened.keyId, installTimeMs: Date.now(), sizeBytes: opened.unpackedBytes };
    try {
      mkdirSync(this.dataDir(name), { mode: 0o700 });
      chownSync(this.dataDir(name), uid, uid);
      this.registry.put(installed);
      this.supervisor.writeService(this.spec(installed));
      this.supervisor.ensureRunning();
      const supervised = await this.supervisor.waitSupervised(name, 12_000);
      const status = supervised ? await this.supervisor.waitStable(name, SETTLE_SECONDS, 15_000) : undefined;
      if (!status || status.state !== "running" || status.seconds < SETTLE_SECONDS) {
        throw new OrbitalError({
          reason: ErrorReason.PACKAGE_START_FAILED,
          message: `package ${name} did not stay running (${status?.lastExit || (supervised ? "no exit recorded" : "the supervisor did not take it up")}); it was removed`,
          metadata: { name, lastExit: status?.lastExit ?? "" },
        });
      }
      return installed;
    } catch (err) {
      await this.removeAll(installed);
      throw storageError(err);
    }
  }

  private async upgrade(opened: OpenedPackage, previous: InstalledPackage): Promise<InstalledPackage> {
    const next: InstalledPackage = { ...previous, manifest: opened.manifest, keyId: opened.keyId, installTimeMs: Date.now(), sizeBytes: opened.unpackedBytes };
    const { name } = opened.manifest;
    const oldPid = this.supervisor.status(name).pid;
    this.supervisor.writeService(this.spec(next));
    this.supervisor.restart(name);
    const status = await this.supervisor.waitStable(name, SETTLE_SECONDS, 15_000, oldPid);
    if (status.state === "running" && status.seconds >= SETTLE_SECONDS && status.pid !== oldPid) {
      this.registry.put(next);
      rmSync(this.versionDir(name, previous.manifest.version), { recursive: true, force: true });
      return next;
    }
    this.deps.log.warn({ package: name, version: opened.manifest.version, lastExit: status.lastExit }, "package upgrade failed to start: restoring the previous version");
    this.supervisor.writeService(this.spec(previous));
    this.supervisor.restart(name);
    rmSync(this.versionDir(name, opened.manifest.version), { recursive: true, force: true });
    throw new OrbitalError({
      reason: ErrorReason.PACKAGE_START_FAILED,
      message: `package ${name} ${opened.manifest.version} did not stay running (${status.lastExit || "no exit recorded"}); ${previous.manifest.version} was restored`,
      metadata: { name, lastExit: status.lastExit },
    });
  }

  /** Stops the service, kills what still runs as the uid, removes the files and the principal. */
  private async removeAll(p: InstalledPackage): Promise<void> {
    const { name } = p.manifest;
    await this.supervisor.remove(name);
    for (const pid of processesOfUid(p.uid)) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // gone meanwhile
      }
    }
    rmSync(this.packageDir(name), { recursive: true, force: true });
    this.registry.remove(name);
    this.deps.log.info({ package: name, uid: p.uid }, "package removed");
  }

  private view(p: InstalledPackage): Package {
    const s = this.supervisor.status(p.manifest.name);
    const overQuota = readTextOrEmpty(this.overQuotaMark(p.manifest.name));
    return create(PackageSchema, {
      name: p.manifest.name,
      version: p.manifest.version,
      summary: p.manifest.summary,
      state: overQuota ? PackageState.FAILED : s.state === "running" ? PackageState.RUNNING : s.state === "down" ? PackageState.STOPPED : PackageState.FAILED,
      uid: p.uid,
      sizeBytes: BigInt(treeBytes(this.packageDir(p.manifest.name))),
      installTime: timestampFromMs(p.installTimeMs),
      capabilities: p.manifest.capabilities,
      lastExit: overQuota || s.lastExit,
      pid: s.pid,
      architecture: p.manifest.architecture,
      signingKeyId: p.keyId,
    });
  }
}

function tooLarge(bytes: number, available: number): OrbitalError {
  return new OrbitalError({ reason: ErrorReason.PACKAGE_TOO_LARGE, message: `the package needs ${bytes} bytes, ${available} are available`, metadata: { bytes, available } });
}

/** Disk errors while unpacking are the partition's, not the daemon's. */
function storageError(err: unknown): unknown {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === "ENOSPC" || code === "EDQUOT") return tooLarge(0, 0);
  return err;
}

/** "x86_64" or "aarch64", as manifests name them. */
export function machineArchitecture(): string {
  const m = machine();
  return m === "arm64" ? "aarch64" : m;
}

function socketGroup(socketPath: string): number {
  try {
    return statSync(socketPath).gid;
  } catch {
    return 0;
  }
}

function treeBytes(dir: string): number {
  let total = 0;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return 0;
  }
  for (const n of names) {
    const p = path.join(dir, n);
    let st;
    try {
      st = lstatSync(p);
    } catch {
      continue; // removed while we counted (a running package's own files)
    }
    total += st.isDirectory() ? treeBytes(p) : st.size;
  }
  return total;
}

