// The package file: a ustar archive of two entries, content.tar (manifest.json and files/...) and
// signature.json (package-signature.ts). Makes one from a manifest and files, and splits one apart.
import type { KeyObject } from "node:crypto";
import { readTar, writeTar, type NewTarEntry } from "./ustar.js";
import { signContent } from "./package-signature.js";

export const CONTENT_ENTRY = "content.tar";
export const SIGNATURE_ENTRY = "signature.json";
export const MANIFEST_ENTRY = "manifest.json";
export const FILES_DIR = "files";

export class PackageFileError extends Error {}

/** content.tar from the manifest's text and the entries under files/ (names relative to files/). */
export function makeContent(manifestJson: string, files: readonly NewTarEntry[]): Buffer {
  return writeTar([
    { name: MANIFEST_ENTRY, type: "file", mode: 0o644, data: Buffer.from(manifestJson, "utf8") },
    ...files.map((f) => ({ ...f, name: `${FILES_DIR}/${f.name}` })),
  ]);
}

export function makePackageFile(content: Buffer, privateKey: KeyObject): Buffer {
  const signature = Buffer.from(`${JSON.stringify(signContent(content, privateKey), null, 2)}\n`, "utf8");
  return writeTar([
    { name: CONTENT_ENTRY, type: "file", mode: 0o644, data: content },
    { name: SIGNATURE_ENTRY, type: "file", mode: 0o644, data: signature },
  ]);
}

/** The two parts of a package file; a missing signature is reported as such (an unsigned package). */
export function splitPackageFile(file: Buffer): { content: Buffer; signatureJson: string | undefined } {
  const entries = readTar(file);
  const content = entries.find((e) => e.name === CONTENT_ENTRY && e.type === "file");
  if (!content) throw new PackageFileError(`no ${CONTENT_ENTRY} in the package file`);
  const extra = entries.filter((e) => e.name !== CONTENT_ENTRY && e.name !== SIGNATURE_ENTRY);
  if (extra.length) throw new PackageFileError(`unexpected entry ${extra[0]!.name} in the package file`);
  const sig = entries.find((e) => e.name === SIGNATURE_ENTRY && e.type === "file");
  return { content: content.data, signatureJson: sig?.data.toString("utf8") };
}
