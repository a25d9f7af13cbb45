// A revision stored as what it changed in the revision it was made from (its base), so that a commit writes
// what it changed, not the whole configuration. A delta holds whole sections a commit replaced (e.g. users)
// and single items of keyed collections it put or removed (routes), and names its base by number: reading
// it reads the base (a full revision or another delta) and applies it.
//
// File format (<number>.delta): the magic line, a 4-byte big-endian length, that many bytes of a JSON header
// {"base": "<number>", "sections": [names], "removed": {collection: [keys]}}, then a Revision message
// (binary protobuf): its info, and a configuration holding the replaced sections and the put items.
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { RevisionSchema, type Revision, type RevisionInfo } from "../../gen/orbital/config/v1/config_pb.js";
import { ConfigurationSchema, type Configuration } from "../../gen/orbital/config/v1/configuration_pb.js";
import { create } from "@bufbuild/protobuf";
import { applyItemChanges, routeKey, type ItemChanges } from "../config/collections.js";
import { copySections } from "../config/section-authorization.js";

const MAGIC = Buffer.from("orbital revision delta 1\n");

/** What a revision changed in its base, as the config engine knows it. */
export interface RevisionChange {
  base: bigint;
  /** Sections replaced as a whole: their content is the revision's. */
  sections: readonly string[];
  /** Single routes put (the new item) or removed (undefined), by key. */
  routes?: ItemChanges;
}

interface Header {
  base: string;
  sections: string[];
  removed: { routes?: string[] };
}

export interface DecodedDelta {
  base: bigint;
  /** Applies the delta to its base's configuration, in place. */
  apply(config: Configuration): void;
  info: Revision["info"];
}

export function encodeDelta(rev: Revision, change: RevisionChange): Uint8Array {
  const partial = create(ConfigurationSchema);
  copySections(partial, rev.configuration!, change.sections);
  const removed: string[] = [];
  for (const [key, item] of change.routes ?? []) {
    if (item) partial.routes.push(item as never);
    else removed.push(key);
  }
  const header: Header = { base: change.base.toString(), sections: [...change.sections], removed: removed.length ? { routes: removed } : {} };
  const json = Buffer.from(JSON.stringify(header));
  const length = Buffer.alloc(4);
  length.writeUInt32BE(json.length);
  const body = toBinary(RevisionSchema, { ...rev, configuration: partial });
  return Buffer.concat([MAGIC, length, json, body]);
}

export function isDelta(bytes: Uint8Array): boolean {
  return bytes.length >= MAGIC.length && Buffer.from(bytes.buffer, bytes.byteOffset, MAGIC.length).equals(MAGIC);
}

/** A delta's parts: the bytes up to its Revision message (magic, length, header), the header, the Revision. */
function splitDelta(bytes: Uint8Array): { prefix: Buffer; header: Header; rev: Revision } {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  if (!isDelta(buf) || buf.length < MAGIC.length + 4) throw new Error("not a revision delta");
  const jsonLength = buf.readUInt32BE(MAGIC.length);
  const start = MAGIC.length + 4;
  if (start + jsonLength > buf.length) throw new Error("truncated revision delta");
  const header = JSON.parse(buf.subarray(start, start + jsonLength).toString("utf8")) as Header;
  if (typeof header.base !== "string" || !/^\d{1,19}$/.test(header.base) || !Array.isArray(header.sections)) throw new Error("bad revision delta header");
  return { prefix: buf.subarray(0, start + jsonLength), header, rev: fromBinary(RevisionSchema, buf.subarray(start + jsonLength)) };
}

/** The same delta with its revision's info replaced (a confirmation clears the deadline); throws as decodeDelta. */
export function withInfo(bytes: Uint8Array, info: RevisionInfo): Uint8Array {
  const { prefix, rev } = splitDelta(bytes);
  return Buffer.concat([prefix, toBinary(RevisionSchema, { ...rev, info })]);
}

/** Throws when the bytes are not a whole delta. */
export function decodeDelta(bytes: Uint8Array): DecodedDelta {
  const { header, rev } = splitDelta(bytes);
  const partial = rev.configuration ?? create(ConfigurationSchema);
  return {
    base: BigInt(header.base),
    info: rev.info,
    apply(config) {
      copySections(config, partial, header.sections);
      if (header.sections.includes("routes")) return;
      const changes: ItemChanges = new Map();
      for (const key of header.removed.routes ?? []) changes.set(key, undefined);
      for (const r of partial.routes) changes.set(routeKey(r), r);
      if (changes.size) applyItemChanges(config, "routes", changes);
    },
  };
}
