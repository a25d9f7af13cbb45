// The admin's package policy (configuration section package_policy): which capabilities a package may be
// granted and which signing keys are trusted besides the image's. Without a configured policy the default
// applies: everything of the catalogue except user.*, update.* and package.*.
import { create } from "@bufbuild/protobuf";
import { PackagePolicySchema, TrustedKeySchema, type PackagePolicy } from "../../gen/orbital/package/v1/package_pb.js";
import type { Configuration } from "../../gen/orbital/config/v1/configuration_pb.js";
import { capabilityCatalogue, isCapabilityName } from "../../common/capabilities.js";
import { ed25519PublicKey, keyIdOf, SignatureError } from "../../common/package-format/package-signature.js";
import { Violations } from "../validation/violations.js";

/** Capability families a package never gets by default: who may do what, and what runs on the box. */
const WITHHELD_BY_DEFAULT = ["user.", "update.", "package."];

const DEFAULT_POLICY: Readonly<PackagePolicy> = create(PackagePolicySchema, {
  allowedCapabilities: capabilityCatalogue.map((c) => c.name).filter((n) => !WITHHELD_BY_DEFAULT.some((p) => n.startsWith(p))),
});

/** The policy in force; never modify the result (the default one is shared, and checked on every call). */
export function effectivePolicy(config: Configuration): { policy: PackagePolicy; isDefault: boolean } {
  return config.packagePolicy ? { policy: config.packagePolicy, isDefault: false } : { policy: DEFAULT_POLICY as PackagePolicy, isDefault: true };
}

/** The requested capabilities the policy does not allow. */
export function capabilitiesOutside(policy: PackagePolicy, requested: readonly string[]): string[] {
  const allowed = new Set(policy.allowedCapabilities);
  return requested.filter((c) => !allowed.has(c));
}

const KEY_NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;

/** Checks a policy from the API and returns it with key ids filled in (key id = what the key is). */
export function validatePolicy(input: PackagePolicy, field: string): PackagePolicy {
  const v = new Violations();
  input.allowedCapabilities.forEach((c, i) => v.check(isCapabilityName(c), `${field}.allowed_capabilities[${i}]`, `"${c}" is not a capability of the catalogue`));
  v.check(new Set(input.allowedCapabilities).size === input.allowedCapabilities.length, `${field}.allowed_capabilities`, "must not repeat a capability");
  const keys = input.trustedKeys.map((k, i) => {
    v.check(KEY_NAME.test(k.name), `${field}.trusted_keys[${i}].name`, "1..64 characters matching ^[a-z0-9][a-z0-9._-]*$");
    try {
      return create(TrustedKeySchema, { name: k.name, publicKeyPem: k.publicKeyPem, keyId: keyIdOf(ed25519PublicKey(k.publicKeyPem)) });
    } catch (err) {
      if (!(err instanceof SignatureError)) throw err;
      v.check(false, `${field}.trusted_keys[${i}].public_key_pem`, err.message);
      return k;
    }
  });
  v.check(new Set(keys.map((k) => k.name)).size === keys.length, `${field}.trusted_keys`, "must not repeat a key name");
  v.throwIfAny();
  return create(PackagePolicySchema, { allowedCapabilities: [...input.allowedCapabilities].sort(), trustedKeys: keys });
}
