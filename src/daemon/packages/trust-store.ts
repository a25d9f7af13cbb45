// The package signing keys the daemon trusts: the image's (PEM files in a read-only directory, default
// /etc/orbital/package-keys, env ORBITAL_PACKAGE_KEYS_DIR) and those the admin added to the package policy.
import type { KeyObject } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import type { Logger } from "../../common/logger.js";
import { ed25519PublicKey, keyIdOf } from "../../common/package-format/package-signature.js";
import type { PackagePolicy } from "../../gen/orbital/package/v1/package_pb.js";

export const DEFAULT_IMAGE_KEYS_DIR = "/etc/orbital/package-keys";

/** Keys of the image by key id; unreadable or non-Ed25519 files are logged and skipped. */
export function loadImageKeys(dir: string, log: Logger): Map<string, KeyObject> {
  const keys = new Map<string, KeyObject>();
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => n.endsWith(".pem")).sort();
  } catch {
    return keys; // no directory: no image keys
  }
  for (const name of names) {
    try {
      const key = ed25519PublicKey(readFileSync(path.join(dir, name), "utf8"));
      keys.set(keyIdOf(key), key);
    } catch (err) {
      log.warn({ file: path.join(dir, name), err: (err as Error).message }, "package signing key skipped");
    }
  }
  return keys;
}

/** Every trusted key: the image's, then the policy's. */
export function trustedKeys(imageKeys: ReadonlyMap<string, KeyObject>, policy: PackagePolicy): Map<string, KeyObject> {
  const all = new Map(imageKeys);
  for (const k of policy.trustedKeys) all.set(k.keyId, ed25519PublicKey(k.publicKeyPem));
  return all;
}
