// Opens a package file for installing: verifies its signature against the trusted keys, parses its
// manifest and checks every archive entry (no absolute paths, no "..", no links out of the tree, no devices
// or fifos, no setuid/setgid). Throws the API's errors; touches no disk.
import type { KeyObject } from "node:crypto";
import path from "node:path";
import { ErrorReason } from "../../gen/orbital/api/v1/error_reason_pb.js";
import { OrbitalError } from "../../common/errors.js";
import { FILES_DIR, MANIFEST_ENTRY, PackageFileError, splitPackageFile } from "../../common/package-format/package-file.js";
import { isInsidePath, ManifestError, parseManifest, type PackageManifest } from "../../common/package-format/package-manifest.js";
import { SignatureError, verifyContent } from "../../common/package-format/package-signature.js";
import { readTar, TarFormatError, type TarEntry } from "../../common/package-format/ustar.js";

export interface PackageFileEntry {
  /** Path relative to the package's files/. */
  path: string;
  type: "file" | "directory" | "symlink";
  /** Permission bits, at most 0o755 (no setuid, setgid, sticky or group/other write). */
  mode: number;
  linkTarget: string;
  data: Buffer;
}

export interface OpenedPackage {
  manifest: PackageManifest;
  keyId: string;
  entries: PackageFileEntry[];
  /** Bytes the files take unpacked. */
  unpackedBytes: number;
}

export function invalidPackage(message: string, metadata: Record<string, string> = {}): OrbitalError {
  return new OrbitalError({ reason: ErrorReason.PACKAGE_INVALID, message, metadata });
}

function untrusted(message: string): OrbitalError {
  return new OrbitalError({ reason: ErrorReason.SIGNATURE_INVALID, message, metadata: { artifact: "package" } });
}

function checkEntry(e: TarEntry): PackageFileEntry {
  const rel = e.name.slice(FILES_DIR.length + 1).replace(/\/$/, "");
  const meta = { entry: e.name };
  if (e.name.startsWith("/")) throw invalidPackage(`entry ${e.name} is an absolute path`, meta);
  if (!isInsidePath(rel)) throw invalidPackage(`entry ${e.name} escapes the package tree`, meta);
  if (e.mode & 0o7000) throw invalidPackage(`entry ${e.name} has setuid, setgid or sticky bits`, meta);
  if (e.type === "device" || e.type === "fifo" || e.type === "other") throw invalidPackage(`entry ${e.name} is a ${e.type}, not a file, directory or symlink`, meta);
  if (e.type === "hardlink") throw invalidPackage(`entry ${e.name} is a hard link`, meta);
  if (e.type === "symlink") {
    // Resolved lexically from the link's own directory, the target must stay inside files/.
    const resolved = path.posix.normalize(path.posix.join(path.posix.dirname(rel), e.linkName));
    if (e.linkName.startsWith("/") || resolved === ".." || resolved.startsWith("../")) throw invalidPackage(`symlink ${e.name} points out of the package tree (${e.linkName})`, meta);
  }
  return { path: rel, type: e.type, mode: e.mode & 0o755, linkTarget: e.linkName, data: e.data };
}

/** Verifies and parses a package file. */
export function openPackage(file: Buffer, trusted: ReadonlyMap<string, KeyObject>): OpenedPackage {
  let parts;
  try {
    parts = splitPackageFile(file);
  } catch (err) {
    if (err instanceof TarFormatError || err instanceof PackageFileError) throw invalidPackage(`not a package file: ${err.message}`);
    throw err;
  }
  if (parts.signatureJson === undefined) throw untrusted("the package is not signed");
  let keyId;
  try {
    keyId = verifyContent(parts.content, parts.signatureJson, trusted);
  } catch (err) {
    if (err instanceof SignatureError) throw untrusted(err.message);
    throw err;
  }
  let tarEntries;
  try {
    tarEntries = readTar(parts.content);
  } catch (err) {
    if (err instanceof TarFormatError) throw invalidPackage(`content.tar: ${err.message}`);
    throw err;
  }
  const manifestEntry = tarEntries.find((e) => e.name === MANIFEST_ENTRY && e.type === "file");
  if (!manifestEntry) throw invalidPackage("the package has no manifest.json");
  let manifest;
  try {
    manifest = parseManifest(manifestEntry.data.toString("utf8"));
  } catch (err) {
    if (err instanceof ManifestError) throw invalidPackage(err.message, { field: err.field });
    throw err;
  }
  const entries: PackageFileEntry[] = [];
  const seen = new Set<string>();
  for (const e of tarEntries) {
    if (e === manifestEntry) continue;
    if (e.name === FILES_DIR || e.name === `${FILES_DIR}/`) continue;
    if (!e.name.startsWith(`${FILES_DIR}/`)) throw invalidPackage(`entry ${e.name} is outside files/`, { entry: e.name });
    const entry = checkEntry(e);
    if (seen.has(entry.path)) throw invalidPackage(`entry ${e.name} appears twice`, { entry: e.name });
    seen.add(entry.path);
    entries.push(entry);
  }
  const program = entries.find((e) => e.path === manifest.entry[0]);
  if (!program || program.type !== "file") throw invalidPackage(`the entry program ${manifest.entry[0]} is not a file of the package`, { field: "entry" });
  // Every entry's parent directories must not be symlinks (a file written through a link would land outside).
  const links = new Set(entries.filter((e) => e.type === "symlink").map((e) => e.path));
  for (const e of entries) {
    const parts = e.path.split("/");
    for (let i = 1; i < parts.length; i++) {
      if (links.has(parts.slice(0, i).join("/"))) throw invalidPackage(`entry files/${e.path} lies under a symlink`, { entry: `files/${e.path}` });
    }
  }
  const unpackedBytes = entries.reduce((n, e) => n + e.data.length, 0);
  return { manifest, keyId, entries, unpackedBytes };
}
