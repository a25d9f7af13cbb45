// Signing and verifying a package's content: a detached Ed25519 signature (node:crypto) over the SHA-256
// digest of content.tar, with a domain-separating prefix. Key ids name public keys. No key storage here.
import { createHash, createPublicKey, sign, verify, type KeyObject } from "node:crypto";

export interface PackageSignature {
  format: 1;
  algorithm: "ed25519";
  keyId: string;
  /** "sha256:<hex>" of content.tar. */
  digest: string;
  /** Base64 Ed25519 signature of signedText(digest). */
  signature: string;
}

export class SignatureError extends Error {}

const signedText = (digest: string) => Buffer.from(`orbital-package-v1 ${digest}`, "utf8");

export const contentDigest = (content: Buffer): string => `sha256:${createHash("sha256").update(content).digest("hex")}`;

/** First 16 hex digits of the SHA-256 of the key's SPKI DER form. */
export function keyIdOf(publicKey: KeyObject): string {
  return createHash("sha256").update(publicKey.export({ type: "spki", format: "der" })).digest("hex").slice(0, 16);
}

/** An Ed25519 public key from PEM; throws SignatureError for anything else. */
export function ed25519PublicKey(pem: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch (err) {
    throw new SignatureError(`not a public key in PEM form: ${(err as Error).message}`);
  }
  if (key.asymmetricKeyType !== "ed25519") throw new SignatureError(`an Ed25519 key is needed, not ${key.asymmetricKeyType}`);
  return key;
}

export function signContent(content: Buffer, privateKey: KeyObject): PackageSignature {
  const digest = contentDigest(content);
  return { format: 1, algorithm: "ed25519", keyId: keyIdOf(createPublicKey(privateKey)), digest, signature: sign(null, signedText(digest), privateKey).toString("base64") };
}

/** Checks the signature of `content` against trusted keys (by key id); returns the key id that signed it. */
export function verifyContent(content: Buffer, signatureJson: string, trusted: ReadonlyMap<string, KeyObject>): string {
  let s: Partial<PackageSignature>;
  try {
    s = JSON.parse(signatureJson) as Partial<PackageSignature>;
  } catch {
    throw new SignatureError("signature.json is not JSON");
  }
  if (s.format !== 1 || s.algorithm !== "ed25519" || typeof s.keyId !== "string" || typeof s.signature !== "string" || typeof s.digest !== "string") {
    throw new SignatureError("signature.json is not an Ed25519 package signature");
  }
  const key = trusted.get(s.keyId);
  if (!key) throw new SignatureError(`signed by key ${s.keyId}, which is not trusted`);
  const digest = contentDigest(content);
  if (digest !== s.digest) throw new SignatureError("the content does not match the signed digest (tampered)");
  if (!verify(null, signedText(digest), key, Buffer.from(s.signature, "base64"))) throw new SignatureError("the signature does not verify");
  return s.keyId;
}
