// Reads the capability catalogue from the proto: capability names, which built-in role holds which, the
// capability each RPC requires and the one each configuration section needs to be changed. Nothing here lists capabilities by hand: capability.proto is the only source.
import { getOption, hasOption, type DescField, type DescMethod } from "@bufbuild/protobuf";
import {
  BuiltinRole,
  Capability,
  CapabilitySchema,
  required_capability,
  section_write_capability,
  spec,
} from "../gen/orbital/api/v1/capability_pb.js";

export interface CapabilityEntry {
  readonly value: Capability;
  readonly name: string;
  readonly description: string;
  readonly grantedTo: readonly BuiltinRole[];
}

/** Every capability of the catalogue, in enum order, without UNSPECIFIED. */
export const capabilityCatalogue: readonly CapabilityEntry[] = CapabilitySchema.values
  .filter((v) => v.number !== Capability.UNSPECIFIED)
  .map((v) => {
    const s = getOption(v, spec);
    return { value: v.number, name: s.name, description: s.description, grantedTo: s.grantedTo };
  });

const byValue = new Map(capabilityCatalogue.map((c) => [c.value, c]));
const byName = new Map(capabilityCatalogue.map((c) => [c.name, c]));

/** The wire name of a capability ("routing.write"), or undefined for UNSPECIFIED and unknown values. */
export function capabilityName(value: Capability): string | undefined {
  return byValue.get(value)?.name;
}

/** Whether a name is a capability of the catalogue (custom roles may only use these). */
export function isCapabilityName(name: string): boolean {
  return byName.has(name);
}

/** The name a built-in role has in the user service ("admin", "operator", "viewer"). */
export function builtinRoleName(role: BuiltinRole): string {
  return BuiltinRole[role].toLowerCase();
}

/** Capability names a built-in role holds, sorted. */
export function builtinRoleCapabilities(role: BuiltinRole): string[] {
  return capabilityCatalogue
    .filter((c) => c.grantedTo.includes(role))
    .map((c) => c.name)
    .sort();
}

/** The capability an RPC declares, or undefined when it declares none (such an RPC is denied to all). */
export function requiredCapability(method: DescMethod): string | undefined {
  if (!hasOption(method, required_capability)) return undefined;
  return capabilityName(getOption(method, required_capability));
}

/** The capability a configuration section (a Configuration field) declares for changing it, or undefined. */
export function sectionWriteCapability(field: DescField): string | undefined {
  if (!hasOption(field, section_write_capability)) return undefined;
  return capabilityName(getOption(field, section_write_capability));
}
