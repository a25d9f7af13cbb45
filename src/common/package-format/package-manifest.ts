// The manifest of a package (manifest.json in its content): what it is, what runs, what it may call. Parses
// and checks one; knows nothing of the admin's policy or of this box (the installer checks those).
import { isCapabilityName } from "../capabilities.js";

export const PACKAGE_NAME = /^[a-z][a-z0-9-]{0,63}$/;
/** Semantic version without build metadata: 1.2.3 or 1.2.3-rc.1. */
export const PACKAGE_VERSION = /^(0|[1-9]\d{0,8})\.(0|[1-9]\d{0,8})\.(0|[1-9]\d{0,8})(-[0-9A-Za-z.-]{1,32})?$/;
export const ARCHITECTURES = ["x86_64", "aarch64", "any"] as const;
export type Architecture = (typeof ARCHITECTURES)[number];
/** exec: entry[0] is an executable of the package; javascript: entry[0] is a bundled script run by the host. */
export const RUNTIMES = ["exec", "javascript"] as const;
export type Runtime = (typeof RUNTIMES)[number];

export interface ResourceLimits {
  /** RLIMIT_DATA, bytes. */
  memoryBytes: number;
  /** RLIMIT_NPROC: processes (threads count) of the package's uid. */
  processes: number;
  /** RLIMIT_NOFILE. */
  openFiles: number;
}

/**
 * RLIMIT_DATA counts the address space V8 reserves for its heap: Node 24 (the executable's runtime) does not
 * start under 512 MiB of it (measured: SIGTRAP in NewIsolate), so a JavaScript package needs at least 1 GiB.
 * Its JavaScript heap is bounded by the executable's own --max-old-space-size.
 */
export const MIN_JAVASCRIPT_MEMORY_BYTES = 1024 * 1024 * 1024;
export const DEFAULT_LIMITS: ResourceLimits = { memoryBytes: 256 << 20, processes: 64, openFiles: 256 };
const MAX_LIMITS: ResourceLimits = { memoryBytes: 4 * 1024 * 1024 * 1024, processes: 512, openFiles: 4096 };

export interface PackageManifest {
  name: string;
  version: string;
  summary: string;
  architecture: Architecture;
  runtime: Runtime;
  /** Path of the program (relative to the package's files/) and its arguments. */
  entry: string[];
  /** Capability names of the catalogue, sorted, no repeats. */
  capabilities: string[];
  /**
   * Most bytes its data dir may hold: no file may grow past it (RLIMIT_FSIZE), and orbitald stops the package
   * while the dir holds more (checked every few seconds); 0: no limit of its own.
   */
  dataQuotaBytes: number;
  limits: ResourceLimits;
}

export class ManifestError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`manifest ${field}: ${message}`);
  }
}

type Loose = Record<string, unknown>;

function str(m: Loose, key: string, test: (s: string) => boolean, rule: string, fallback?: string): string {
  const v = m[key] ?? fallback;
  if (typeof v !== "string" || !test(v)) throw new ManifestError(key, rule);
  return v;
}

function wholeNumber(v: unknown, field: string, max: number, fallback: number): number {
  if (v === undefined) return fallback;
  if (typeof v !== "number" || !Number.isInteger(v) || v < 0 || v > max) throw new ManifestError(field, `must be a whole number 0..${max}`);
  return v;
}

/** A relative path inside the package's files: no "..", no empty or "." segment, not absolute. */
export function isInsidePath(p: string): boolean {
  return p !== "" && !p.startsWith("/") && p.split("/").every((s) => s !== "" && s !== "." && s !== "..") && !p.includes("\0");
}

export function parseManifest(text: string): PackageManifest {
  let m: unknown;
  try {
    m = JSON.parse(text);
  } catch (err) {
    throw new ManifestError("(json)", (err as Error).message);
  }
  if (typeof m !== "object" || m === null || Array.isArray(m)) throw new ManifestError("(json)", "must be a JSON object");
  const o = m as Loose;
  const name = str(o, "name", (s) => PACKAGE_NAME.test(s), "1..64 characters matching ^[a-z][a-z0-9-]*$");
  const version = str(o, "version", (s) => PACKAGE_VERSION.test(s), "a semantic version such as 1.2.3");
  const summary = str(o, "summary", (s) => s.length <= 200 && !/[\x00-\x1f]/.test(s), "one line of at most 200 characters", "");
  const architecture = str(o, "architecture", (s) => (ARCHITECTURES as readonly string[]).includes(s), `one of ${ARCHITECTURES.join(", ")}`) as Architecture;
  const runtime = str(o, "runtime", (s) => (RUNTIMES as readonly string[]).includes(s), `one of ${RUNTIMES.join(", ")}`, "exec") as Runtime;
  const entry = o.entry;
  if (!Array.isArray(entry) || entry.length === 0 || entry.length > 32 || !entry.every((a) => typeof a === "string" && a.length <= 4096 && !a.includes("\0"))) {
    throw new ManifestError("entry", "must be a list of 1..32 strings: the program, then its arguments");
  }
  if (!isInsidePath(entry[0] as string)) throw new ManifestError("entry", "the program must be a relative path inside the package's files");
  const caps = o.capabilities ?? [];
  if (!Array.isArray(caps) || !caps.every((c) => typeof c === "string")) throw new ManifestError("capabilities", "must be a list of capability names");
  const unknown = (caps as string[]).filter((c) => !isCapabilityName(c));
  if (unknown.length) throw new ManifestError("capabilities", `not capabilities of the catalogue: ${unknown.join(", ")}`);
  if (new Set(caps).size !== caps.length) throw new ManifestError("capabilities", "must not repeat a capability");
  const limitsIn = (o.limits ?? {}) as Loose;
  if (typeof limitsIn !== "object" || Array.isArray(limitsIn)) throw new ManifestError("limits", "must be an object");
  const minMemory = runtime === "javascript" ? MIN_JAVASCRIPT_MEMORY_BYTES : 0;
  const limits: ResourceLimits = {
    memoryBytes: wholeNumber(limitsIn.memoryBytes, "limits.memoryBytes", MAX_LIMITS.memoryBytes, Math.max(DEFAULT_LIMITS.memoryBytes, minMemory)),
    processes: wholeNumber(limitsIn.processes, "limits.processes", MAX_LIMITS.processes, DEFAULT_LIMITS.processes),
    openFiles: wholeNumber(limitsIn.openFiles, "limits.openFiles", MAX_LIMITS.openFiles, DEFAULT_LIMITS.openFiles),
  };
  if (limits.memoryBytes < minMemory) throw new ManifestError("limits.memoryBytes", `a javascript package needs at least ${minMemory} (Node reserves that much for its heap)`);
  return {
    name,
    version,
    summary,
    architecture,
    runtime,
    entry: entry as string[],
    capabilities: [...(caps as string[])].sort(),
    dataQuotaBytes: wholeNumber(o.dataQuotaBytes, "dataQuotaBytes", 2 ** 40, 0),
    limits,
  };
}
