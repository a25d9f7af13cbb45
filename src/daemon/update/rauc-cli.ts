// The adapter to RAUC 1.8, the update engine, through its command line: `rauc status --detailed
// --output-format=json`, `rauc info --output-format=json BUNDLE`, `rauc install BUNDLE` (its progress lines)
// and `rauc status mark-good|mark-bad|mark-active SLOT`. It turns RAUC's output into typed results and its
// failures into RaucFailure kinds; what those mean to the API (reasons, refusals) is the update service's.
import { runCommand, type CommandResult } from "../run-command.js";
import type { VerityParams } from "./verity-payload.js";

export interface RaucSlotStatus {
  /** "rootfs.0" */
  name: string;
  /** Boot loader name ("a" on the image) */
  bootname: string;
  /** Slot class ("rootfs", "boot"). */
  class: string;
  /** The parent slot of a child slot (boot.0 of rootfs.0); undefined for a top-level slot. */
  parent?: string;
  device: string;
  /** RAUC's slot state: "booted", "active" or "inactive". */
  state: string;
  /** The boot loader's verdict: "good", "bad", or RAUC's words for an unreadable one. */
  bootStatus: string;
  /** Version and compatible of the bundle RAUC last wrote to the slot; undefined for a factory slot. */
  bundleVersion?: string;
  bundleCompatible?: string;
  /** ISO time and count of RAUC's writes of the slot. */
  installedAt?: string;
  installCount?: number;
}

export interface RaucStatus {
  /** The system's compatible string (system.conf). */
  compatible: string;
  /** Boot name of the booted slot ("A"), as RAUC found it on the kernel command line. */
  booted: string;
  /** Name of the slot the boot loader boots next ("rootfs.1"). */
  bootPrimary: string;
  slots: RaucSlotStatus[];
}

export interface RaucBundleInfo {
  compatible: string;
  version: string;
  /** "plain" or "verity". */
  format: string;
  /** A verity bundle's payload parameters, from its signed manifest. */
  verity?: VerityParams;
}

/** One progress line of `rauc install`: "  40% Checking bundle done." */
export interface RaucProgress {
  percent: number;
  message: string;
}

export type RaucMark = "good" | "bad" | "active";

/**
 * Why RAUC could not do what was asked: "unavailable" (rauc cannot be run, its D-Bus service does not
 * answer), "busy" (RAUC's service is running another method, e.g. an install), "not-found" (no such bundle file), "not-a-bundle", "untrusted" (signer not in the keyring),
 * "tampered" (content does not match the signature), "no-slot" (mark: no such slot), "failed" (RAUC
 * accepted the request and failed it, e.g. the install's mount or write).
 */
export type RaucFailureKind = "unavailable" | "busy" | "not-found" | "not-a-bundle" | "format-refused" | "untrusted" | "tampered" | "no-slot" | "failed";

export class RaucFailure extends Error {
  constructor(
    readonly kind: RaucFailureKind,
    /** RAUC's own words. */
    readonly detail: string,
  ) {
    super(detail);
    this.name = "RaucFailure";
  }
}

export interface RaucCliOptions {
  /** The rauc executable; default "rauc" from PATH. */
  command?: string;
  /** How long status, info and mark may take; default 30 s. */
  queryTimeoutMs?: number;
  /** How long an install may take; default 30 min. */
  installTimeoutMs?: number;
}

/** RAUC's diagnostic lines ("rauc-Message: ...: Using central status file ...") that say nothing of a failure. */
const CHATTER = /^(rauc-Message|\(rauc:\d+\): rauc-WARNING)|^\s*$/;

const PROGRESS_LINE = /^\s*(\d{1,3})% (.*)$/;
const LAST_ERROR_LINE = /^LastError: (.*)$/m;

/** The lines of RAUC's stderr that explain a failure, joined. */
function failureText(r: CommandResult): string {
  const lines = `${r.stderr}\n${r.stdout}`.split("\n").filter((l) => !CHATTER.test(l) && !/^[0-9A-F]+:error:/.test(l));
  return lines.join("; ").trim() || `rauc exited with ${r.code}`;
}

/** Classifies a failed rauc run by what RAUC said. */
function classify(r: CommandResult): RaucFailure {
  const text = failureText(r);
  const all = `${r.stderr}\n${r.stdout}`;
  if (r.code === null) return new RaucFailure("unavailable", text);
  // RAUC's service runs one method at a time: an install (by anyone) holds off status, marks and installs.
  if (/already processing a different method/.test(all)) return new RaucFailure("busy", text);
  if (/D-Bus|error creating proxy|Could not connect|GDBus/i.test(all)) return new RaucFailure("unavailable", text);
  if (/^No such file: /m.test(all)) return new RaucFailure("not-found", text);
  // A certificate problem is the signer; a CMS content verification failure is the content.
  if (/signature verification failed/i.test(all)) {
    // "Verify error: unable to get local issuer certificate" (openssl's own "content verify error" is not one).
    return new RaucFailure(/signature verification failed: Verify error: /.test(all) ? "untrusted" : "tampered", text);
  }
  // system.conf's bundle-formats (the image's: verity only) refuses it in `rauc info` already.
  if (/Bundle format '[^']*' not allowed/.test(all)) return new RaucFailure("format-refused", text);
  if (/Invalid bundle format|not a valid bundle|Signature size|bundle is too small|squashfs|magic/i.test(all)) return new RaucFailure("not-a-bundle", text);
  if (/No slot with class|no slot/i.test(all)) return new RaucFailure("no-slot", text);
  return new RaucFailure("failed", text);
}

export class RaucCli {
  private readonly command: string;
  private readonly queryTimeoutMs: number;
  private readonly installTimeoutMs: number;

  constructor(options: RaucCliOptions = {}) {
    this.command = options.command ?? "rauc";
    this.queryTimeoutMs = options.queryTimeoutMs ?? 30_000;
    this.installTimeoutMs = options.installTimeoutMs ?? 30 * 60_000;
  }

  async status(): Promise<RaucStatus> {
    const r = await this.run(["status", "--detailed", "--output-format=json"], this.queryTimeoutMs);
    if (r.code !== 0) throw classify(r);
    return parseStatus(r.stdout);
  }

  /**
   * The bundle's manifest, after RAUC verified its signature against the keyring. Its format and verity
   * parameters are only in the text output (1.8's JSON leaves them out): a second run.
   */
  async info(bundlePath: string): Promise<RaucBundleInfo> {
    const r = await this.run(["info", "--output-format=json", bundlePath], this.queryTimeoutMs);
    if (r.code !== 0) throw classify(r);
    const json = parseJson(r.stdout, "rauc info") as { compatible?: unknown; version?: unknown };
    const text = await this.run(["info", bundlePath], this.queryTimeoutMs);
    if (text.code !== 0) throw classify(text);
    return { compatible: stringOr(json.compatible), version: stringOr(json.version), ...parseBundleFormat(text.stdout) };
  }

  /** Installs a bundle, reporting each progress line RAUC prints; resolves when RAUC says it succeeded. */
  async install(bundlePath: string, onProgress: (p: RaucProgress) => void): Promise<void> {
    const r = await this.run(["install", bundlePath], this.installTimeoutMs, (line) => {
      const m = PROGRESS_LINE.exec(line);
      if (m) onProgress({ percent: Math.min(100, Number(m[1])), message: m[2]!.trim() });
    });
    if (r.code === 0) return;
    const lastError = LAST_ERROR_LINE.exec(r.stdout)?.[1];
    if (lastError) {
      // RAUC's own verdict on an install it ran; a refused bundle still says what was wrong with it.
      const f = classify({ ...r, stderr: lastError, stdout: "" });
      throw f.kind === "unavailable" || f.kind === "not-found" || f.kind === "busy" ? new RaucFailure("failed", lastError) : new RaucFailure(f.kind, lastError);
    }
    throw classify(r);
  }

  /** Marks a slot ("rootfs.1", "booted", "other"); returns RAUC's message ("marked slot rootfs.1 as good"). */
  async mark(slot: string, mark: RaucMark): Promise<string> {
    const r = await this.run(["status", `mark-${mark}`, slot], this.queryTimeoutMs);
    if (r.code !== 0) throw classify(r);
    return r.stdout.trim().replace(/^rauc status: /, "");
  }

  /** Runs rauc; `onLine` sees each stdout line as it comes. A spawn failure or a timeout is code null. */
  private run(args: string[], timeoutMs: number, onLine?: (line: string) => void): Promise<CommandResult> {
    return runCommand(this.command, args, { timeoutMs, name: `rauc ${args[0]}`, ...(onLine ? { onStdoutLine: onLine } : {}) });
  }
}

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new RaucFailure("unavailable", `${what} printed what is not JSON: ${JSON.stringify(text.slice(0, 80))}`);
  }
}

const stringOr = (v: unknown, otherwise = ""): string => (typeof v === "string" ? v : otherwise);

/** The format lines of `rauc info`: "Bundle Format: \tverity", then "  Verity Salt: \t'<hex>'", Hash, Size. */
export function parseBundleFormat(text: string): { format: string; verity?: VerityParams } {
  const format = /^Bundle Format:\s*(\S+)/m.exec(text)?.[1] ?? "plain";
  if (format !== "verity") return { format };
  const salt = /^\s*Verity Salt:\s*'([0-9a-fA-F]+)'/m.exec(text)?.[1];
  const rootHash = /^\s*Verity Hash:\s*'([0-9a-fA-F]+)'/m.exec(text)?.[1];
  const size = /^\s*Verity Size:\s*(\d+)/m.exec(text)?.[1];
  if (!salt || !rootHash || !size) throw new RaucFailure("not-a-bundle", "rauc info names a verity bundle without its salt, root hash and hash tree size");
  return { format, verity: { salt, rootHash, hashTreeBytes: Number(size) } };
}

/** `rauc status --detailed --output-format=json`: slots come as a list of one-key objects. */
export function parseStatus(text: string): RaucStatus {
  const json = parseJson(text, "rauc status") as { compatible?: unknown; booted?: unknown; boot_primary?: unknown; slots?: unknown };
  const slots: RaucSlotStatus[] = [];
  for (const entry of Array.isArray(json.slots) ? (json.slots as Record<string, unknown>[]) : []) {
    for (const [name, raw] of Object.entries(entry)) {
      const s = raw as {
        device?: unknown;
        bootname?: unknown;
        class?: unknown;
        parent?: unknown;
        state?: unknown;
        boot_status?: unknown;
        slot_status?: { bundle?: { version?: unknown; compatible?: unknown }; installed?: { timestamp?: unknown; count?: unknown } };
      };
      const installed = s.slot_status?.installed;
      slots.push({
        name,
        bootname: stringOr(s.bootname),
        class: stringOr(s.class),
        ...(typeof s.parent === "string" && s.parent !== "" ? { parent: s.parent } : {}),
        device: stringOr(s.device),
        state: stringOr(s.state),
        bootStatus: stringOr(s.boot_status),
        ...(typeof s.slot_status?.bundle?.version === "string" ? { bundleVersion: s.slot_status.bundle.version } : {}),
        ...(typeof s.slot_status?.bundle?.compatible === "string" ? { bundleCompatible: s.slot_status.bundle.compatible } : {}),
        ...(typeof installed?.timestamp === "string" ? { installedAt: installed.timestamp } : {}),
        ...(typeof installed?.count === "number" ? { installCount: installed.count } : {}),
      });
    }
  }
  slots.sort((a, b) => a.name.localeCompare(b.name));
  return { compatible: stringOr(json.compatible), booted: stringOr(json.booted), bootPrimary: stringOr(json.boot_primary), slots };
}
