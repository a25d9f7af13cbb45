// A configuration to change without copying what the change does not touch: a draft shares every section
// (Configuration field) with the configuration it was made from and takes its own deep copy of a section the
// first time the mutation reads or writes it. Untouched sections stay the very same objects, so that telling
// what changed (section-authorization.ts) and persisting it (a revision delta) cost what was touched.
import { clone, type DescField } from "@bufbuild/protobuf";
import type { Configuration } from "../../gen/orbital/config/v1/configuration_pb.js";
import { configSections } from "./section-authorization.js";

type Loose = Record<string, unknown>;

function cloneSection(field: DescField, value: unknown): unknown {
  switch (field.fieldKind) {
    case "list":
      return field.listKind === "message" ? (value as never[]).map((v) => clone(field.message, v)) : [...(value as unknown[])];
    case "map":
      return field.mapKind === "message"
        ? Object.fromEntries(Object.entries(value as Record<string, never>).map(([k, v]) => [k, clone(field.message, v)]))
        : { ...(value as Record<string, unknown>) };
    case "message":
      return value === undefined ? undefined : clone(field.message, value as never);
    default:
      return value;
  }
}

const sectionByLocalName = new Map(configSections.map((s) => [s.field.localName, s.field]));

export interface ConfigurationDraft {
  /** What the mutation changes: reads and writes go to copies of the sections it touches. */
  readonly config: Configuration;
  /** The changed configuration: `base`'s own sections where the draft left them alone. */
  readonly result: Configuration;
}

/** A draft of `base`, which itself is never changed through it. */
export function draftConfiguration(base: Configuration): ConfigurationDraft {
  const result = { ...base } as Configuration;
  const copied = new Set<string>();
  const touch = (prop: string | symbol) => {
    if (typeof prop !== "string" || copied.has(prop)) return;
    const field = sectionByLocalName.get(prop);
    if (!field) return;
    copied.add(prop);
    (result as unknown as Loose)[prop] = cloneSection(field, (base as unknown as Loose)[prop]);
  };
  const config = new Proxy(result, {
    get(target, prop, receiver) {
      touch(prop);
      return Reflect.get(target, prop, receiver);
    },
    set(target, prop, value, receiver) {
      if (typeof prop === "string") copied.add(prop);
      return Reflect.set(target, prop, value, receiver);
    },
  });
  return { config, result };
}
