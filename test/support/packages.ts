// Test helpers for packages: a signing key trusted by a test daemon (its public half in a keys dir handed
// over as ORBITAL_PACKAGE_KEYS_DIR), package files made from a manifest and entries (signed, unsigned or
// tampered), and the supervisor's cleanup. Uses the same format code as scripts/build-package.ts.
import { generateKeyPairSync, type KeyObject } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { makeContent, makePackageFile, CONTENT_ENTRY } from "../../src/common/package-format/package-file.js";
import { readTar, writeTar, type NewTarEntry } from "../../src/common/package-format/ustar.js";
import { machineArchitecture } from "../../src/daemon/packages/package-manager.js";
import { repoRoot } from "../../scripts/proto-image.js";

export interface TestSigner {
  privateKey: KeyObject;
  /** Directory with the public key, for ORBITAL_PACKAGE_KEYS_DIR. */
  keysDir: string;
}

export function testSigner(): TestSigner {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  const keysDir = mkdtempSync(path.join(tmpdir(), "orbital-pkg-keys-"));
  writeFileSync(path.join(keysDir, "test.pem"), publicKey.export({ type: "spki", format: "pem" }));
  return { privateKey, keysDir };
}

/** A small shell-script package that sleeps (or exits with `exitCode` after a moment, to fail its start). */
export function scriptManifest(over: Record<string, unknown> = {}): Record<string, unknown> {
  return { name: "sleeper", version: "1.0.0", summary: "sleeps", architecture: machineArchitecture(), entry: ["run.sh"], capabilities: ["system.read"], ...over };
}

export const sleeperScript = (body = "exec sleep 100000"): NewTarEntry => ({ name: "run.sh", type: "file", mode: 0o755, data: Buffer.from(`#!/bin/sh\n${body}\n`) });

export interface PackageFileOptions {
  manifest?: Record<string, unknown>;
  files?: NewTarEntry[];
  /** Extra raw entries of content.tar, names as given (to escape files/). */
  rawEntries?: NewTarEntry[];
  signer?: KeyObject | "none";
}

/** A package file's bytes. */
export function packageFile(signer: TestSigner, opts: PackageFileOptions = {}): Buffer {
  const files = opts.files ?? [sleeperScript()];
  let content = makeContent(JSON.stringify(opts.manifest ?? scriptManifest()), files);
  if (opts.rawEntries) content = writeTar([...readTar(content).map((e) => ({ ...e })), ...opts.rawEntries]);
  if (opts.signer === "none") return writeTar([{ name: CONTENT_ENTRY, type: "file", mode: 0o644, data: content }]);
  return makePackageFile(content, opts.signer ?? signer.privateKey);
}

/** Writes a package file under `dir` (the daemon's bundle root) and returns its path. */
export function writePackage(dir: string, name: string, bytes: Buffer): string {
  const file = path.join(dir, "incoming", name);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, bytes);
  return file;
}

/** The example package as `npm run build` makes it. */
export const EXAMPLE_PACKAGE = path.join(repoRoot, "dist", "packages", "blocklist-sync-1.0.0.opkg");
/** The development key's public half that signed it. */
export const DEV_KEYS_DIR = path.join(repoRoot, "build", "package-keys");

/** Stops the runsvdir a daemon started for `packagesDir` (and with it every runsv and package process). */
export async function stopPackageSupervisor(packagesDir: string): Promise<void> {
  const pidFile = path.join(packagesDir, ".runsvdir.pid");
  if (!existsSync(pidFile)) return;
  const pid = Number(readFileSync(pidFile, "utf8").trim());
  try {
    // HUP: runsvdir sends TERM to each runsv (which stops its service) and exits.
    process.kill(pid, "SIGHUP");
  } catch {
    return;
  }
  for (let i = 0; i < 50 && existsSync(`/proc/${pid}`); i++) await new Promise((r) => setTimeout(r, 100));
}
