// Per-section authorization of configuration changes: which sections (Configuration fields) a change
// touches, and whether a principal holds the write capability each of them declares in the proto
// (section_write_capability). The RPC's own capability says who may call it; this says what the call may
// change, so that a commit, a rollback or a confirmation never changes a section its caller may not write.
import { equals, type DescField } from "@bufbuild/protobuf";
import { ErrorReason } from "../../gen/orbital/api/v1/error_reason_pb.js";
import { ConfigurationSchema, type Configuration } from "../../gen/orbital/config/v1/configuration_pb.js";
import { sectionWriteCapability } from "../../common/capabilities.js";
import { OrbitalError } from "../../common/errors.js";
import type { Principal } from "../auth/principal.js";

export interface ConfigSection {
  /** Proto field name, e.g. "firewall_rules" (the name change paths and RevisionInfo.changed_sections use). */
  readonly name: string;
  readonly field: DescField;
  /** Capability needed to change it; undefined only if the proto forgot it (then nobody may change it). */
  readonly capability: string | undefined;
}

export const configSections: readonly ConfigSection[] = ConfigurationSchema.fields.map((field) => ({
  name: field.name,
  field,
  capability: sectionWriteCapability(field),
}));

const byName = new Map(configSections.map((s) => [s.name, s]));

export function sectionByName(name: string): ConfigSection | undefined {
  return byName.get(name);
}

type Loose = Record<string, unknown>;

function sectionEqual(field: DescField, a: Configuration, b: Configuration): boolean {
  const x = (a as unknown as Loose)[field.localName];
  const y = (b as unknown as Loose)[field.localName];
  if (x === y) return true; // shared by a draft (config-draft.ts): untouched
  switch (field.fieldKind) {
    case "list": {
      const xs = x as never[];
      const ys = y as never[];
      if (xs.length !== ys.length) return false;
      if (field.listKind !== "message") return xs.every((v, i) => v === ys[i]);
      return xs.every((v, i) => equals(field.message, v, ys[i]!));
    }
    case "map": {
      const xm = x as Record<string, unknown>;
      const ym = y as Record<string, unknown>;
      const keys = Object.keys(xm);
      if (keys.length !== Object.keys(ym).length) return false;
      if (field.mapKind !== "scalar" && field.mapKind !== "enum") throw new Error(`section ${field.name}: maps of messages are not compared`);
      return keys.every((k) => k in ym && xm[k] === ym[k]);
    }
    case "message":
      if (x === undefined || y === undefined) return x === y;
      return equals(field.message, x as never, y as never);
    default:
      return x === y;
  }
}

/** Names of the sections that differ between two configurations, in field order. */
export function changedSections(before: Configuration, after: Configuration): string[] {
  return configSections.filter((s) => !sectionEqual(s.field, before, after)).map((s) => s.name);
}

/** Copies the named sections of `from` into `into` (the same objects: callers pass a clone they own). */
export function copySections(into: Configuration, from: Configuration, sections: readonly string[]): void {
  for (const name of sections) {
    const s = byName.get(name);
    if (!s) continue;
    (into as unknown as Loose)[s.field.localName] = (from as unknown as Loose)[s.field.localName];
  }
}

/**
 * Throws PERMISSION_DENIED / CAPABILITY_MISSING (with `section`) for the first section the principal may not
 * change; `what` says what was refused ("rollback to revision 4").
 */
export function authorizeSections(principal: Principal, sections: readonly string[], what: string): void {
  for (const name of sections) {
    const capability = byName.get(name)?.capability;
    if (capability !== undefined && principal.capabilities.has(capability)) continue;
    throw new OrbitalError({
      reason: ErrorReason.CAPABILITY_MISSING,
      message: `${what} would change ${name}, which needs ${capability ?? "a capability the proto does not declare"}; role "${principal.role}" of ${principal.user} lacks it`,
      metadata: { capability: capability ?? "", principal: principal.user, role: principal.role, section: name },
    });
  }
}
