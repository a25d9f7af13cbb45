// The package file's contract: what makePackageFile writes, splitPackageFile and verifyContent read back; a
// changed byte of the content, another key or a missing signature is refused; the archive is deterministic.
import { generateKeyPairSync } from "node:crypto";
import { describe, expect, it } from "vitest";
import { makeContent, makePackageFile, splitPackageFile } from "./package-file.js";
import { keyIdOf, SignatureError, verifyContent } from "./package-signature.js";
import { readTar, writeTar } from "./ustar.js";

const { privateKey, publicKey } = generateKeyPairSync("ed25519");
const trusted = new Map([[keyIdOf(publicKey), publicKey]]);
const files = [
  { name: "bin", type: "directory" as const, mode: 0o755 },
  { name: "bin/run", type: "file" as const, mode: 0o755, data: Buffer.from("#!/bin/sh\n") },
  { name: "link", type: "symlink" as const, mode: 0o777, linkName: "bin/run" },
  { name: `${"d".repeat(90)}/${"f".repeat(60)}`, type: "file" as const, mode: 0o644, data: Buffer.alloc(1000, 1) },
];

describe("package file", () => {
  it("round-trips: the signature verifies with the trusted key, the entries come back as written", () => {
    const content = makeContent('{"name":"x"}', files);
    const { content: back, signatureJson } = splitPackageFile(makePackageFile(content, privateKey));
    expect(verifyContent(back, signatureJson!, trusted)).toBe(keyIdOf(publicKey));
    const entries = readTar(back);
    expect(entries.map((e) => [e.name, e.type, e.mode, e.linkName])).toEqual([
      ["manifest.json", "file", 0o644, ""],
      ["files/bin", "directory", 0o755, ""],
      ["files/bin/run", "file", 0o755, ""],
      ["files/link", "symlink", 0o777, "bin/run"],
      [`files/${"d".repeat(90)}/${"f".repeat(60)}`, "file", 0o644, ""],
    ]);
    expect(entries[4]!.data.equals(Buffer.alloc(1000, 1))).toBe(true);
  });

  it("is deterministic: the same input gives the same bytes", () => {
    const a = makePackageFile(makeContent("{}", files), privateKey);
    const b = makePackageFile(makeContent("{}", files), privateKey);
    expect(a.equals(b)).toBe(true);
  });

  it("refuses a changed byte, an unknown key and a malformed signature", () => {
    const content = makeContent("{}", files);
    const { signatureJson } = splitPackageFile(makePackageFile(content, privateKey));
    const tampered = Buffer.from(content);
    const at = tampered.length - 2048;
    tampered[at] = tampered[at]! ^ 1;
    expect(() => verifyContent(tampered, signatureJson!, trusted)).toThrow(/tampered/);
    expect(() => verifyContent(content, signatureJson!, new Map())).toThrow(/not trusted/);
    expect(() => verifyContent(content, "{}", trusted)).toThrow(SignatureError);
    expect(splitPackageFile(writeTar([{ name: "content.tar", type: "file", mode: 0o644, data: content }])).signatureJson).toBeUndefined();
  });

  it("refuses a truncated archive and a bad header checksum", () => {
    const tar = writeTar(files);
    expect(() => readTar(tar.subarray(0, 700))).toThrow(/truncated|end-of-archive/);
    const bad = Buffer.from(tar);
    bad[10] = bad[10]! ^ 0xff;
    expect(() => readTar(bad)).toThrow(/checksum/);
  });
});
