// The fast-path lists of a configuration as the XDP program reads them: per interface and family one table of
// source prefixes and verdicts, merged from every prefix set attached there, encoded as the keys and values
// of the program's LPM tries (native/xdp/bpf/orbital_xdp.bpf.c), with a digest that says whether the table
// in the kernel already holds exactly that. Pure: no kernel, no I/O.
//
// "Allow wins over drop" is decided here, so that the program needs one longest-prefix lookup: every allow
// prefix is an entry, and so is every drop prefix that no allow prefix covers. (A drop prefix inside an allow
// prefix is left out; an allow prefix inside a drop prefix is longer, so the lookup finds it first.)
import { createHash } from "node:crypto";
import { endianness } from "node:os";
import type { Configuration } from "../../../gen/orbital/config/v1/configuration_pb.js";
import { FastPathAction } from "../../../gen/orbital/firewall/v1/firewall_pb.js";
import { parsePrefix } from "../../validation/ip.js";

/** Verdict bytes of the tries; the program's VERDICT_DROP / VERDICT_ALLOW. */
export const VERDICT_DROP = 1;
export const VERDICT_ALLOW = 2;

/** Key sizes of the tries: a host-order u32 prefix length, then the address in network order. */
export const KEY_SIZE = { 4: 8, 6: 20 } as const;

export interface EncodedList {
  family: 4 | 6;
  keys: Buffer;
  verdicts: Buffer;
  /** Entries (verdicts.length). */
  count: number;
  /** SHA-256 of keys and verdicts: equal digests, equal tables. */
  digest: Buffer;
}

export interface InterfaceLists {
  /** Interface name. */
  name: string;
  /** The attached prefix sets, in name order. */
  sets: string[];
  /** The change path of each attached list ("fast_path_lists[blocklist]"), for reporting. */
  items: string[];
  v4: EncodedList;
  v6: EncodedList;
}

/** The change path of a fast-path list. */
export const fastPathItem = (prefixSet: string) => `fast_path_lists[${prefixSet}]`;

const writeLength = endianness() === "LE" ? Buffer.prototype.writeUInt32LE : Buffer.prototype.writeUInt32BE;

/** An IPv6 entry: prefix length and the 16 address bytes. */
interface V6Entry {
  length: number;
  bytes: Uint8Array;
}

/**
 * An IPv4 entry packed into one number, address * 64 + length (< 2^38: exact): a million of them are a million
 * numbers, not a million objects for the collector.
 */
type V4Entry = number;

/** "a.b.c.d/n" as stored (canonical: validated when staged) read without the general parser; -1 otherwise. */
function storedV4(cidr: string): V4Entry {
  let address = 0;
  let octet = 0;
  let dots = 0;
  for (let i = 0; i < cidr.length; i++) {
    const c = cidr.charCodeAt(i);
    if (c >= 48 && c <= 57) octet = octet * 10 + (c - 48);
    else if (c === 46 && dots < 3) {
      address = address * 256 + octet;
      octet = 0;
      dots++;
    } else if (c === 47 && dots === 3) {
      const length = Number(cidr.slice(i + 1));
      return octet < 256 && length >= 0 && length <= 32 ? (address * 256 + octet) * 64 + length : -1;
    } else return -1;
  }
  return -1;
}

/** Prefixes split by family (sets are validated when staged: nothing unparsable is left). */
function parse(cidrs: readonly string[]): { 4: V4Entry[]; 6: V6Entry[] } {
  const out: { 4: V4Entry[]; 6: V6Entry[] } = { 4: [], 6: [] };
  for (const cidr of cidrs) {
    const v4 = storedV4(cidr);
    if (v4 >= 0) {
      out[4].push(v4);
      continue;
    }
    const p = parsePrefix(cidr);
    if (typeof p === "string") continue;
    if (p.family === 6) out[6].push({ length: p.prefixLength, bytes: p.bytes });
    else out[4].push(p.bytes.reduce((a, b) => a * 256 + b, 0) * 64 + p.prefixLength);
  }
  return out;
}

/** How the table builder reads one family's entries. */
interface FamilyEntries<E> {
  family: 4 | 6;
  length(e: E): number;
  /** The first `length` bits of the entry's address: equal for equal networks, whatever the family's form. */
  network(e: E, length: number): string | number;
  /** Writes the address bytes of the key (network order) at `offset`. */
  writeAddress(keys: Buffer, offset: number, e: E): void;
}

const V4: FamilyEntries<V4Entry> = {
  family: 4,
  length: (e) => e % 64,
  network: (e, length) => (length === 0 ? 0 : (Math.floor(e / 64) >>> (32 - length)) * 64 + length),
  writeAddress: (keys, offset, e) => keys.writeUInt32BE(Math.floor(e / 64), offset),
};

const V6: FamilyEntries<V6Entry> = {
  family: 6,
  length: (e) => e.length,
  network: (e, length) => {
    let s = `${length}/`;
    const whole = length >> 3;
    for (let i = 0; i < whole; i++) s += String.fromCharCode(e.bytes[i]!);
    const rest = length & 7;
    if (rest) s += String.fromCharCode(e.bytes[whole]! & (0xff << (8 - rest)) & 0xff);
    return s;
  },
  writeAddress: (keys, offset, e) => keys.set(e.bytes, offset),
};

/** An interface's two tables from its drop and allow prefixes (both families mixed). */
export function encodeLists(drop: readonly string[], allow: readonly string[]): { v4: EncodedList; v6: EncodedList } {
  const d = parse(drop);
  const a = parse(allow);
  return { v4: encodeFamily(V4, d[4], a[4]), v6: encodeFamily(V6, d[6], a[6]) };
}

/**
 * One family's table: allow entries, then the drop entries no allow prefix covers; duplicates once.
 */
function encodeFamily<E>(f: FamilyEntries<E>, drop: readonly E[], allowed: readonly E[]): EncodedList {
  const lengths = [...new Set(allowed.map((a) => f.length(a)))].sort((a, b) => a - b);
  const allowNets = new Set(allowed.map((a) => f.network(a, f.length(a))));
  const entries: E[] = [];
  const verdictOf: number[] = [];
  const seen = new Set<string | number>();
  for (const e of allowed) {
    const k = f.network(e, f.length(e));
    if (!seen.has(k)) {
      entries.push(e);
      verdictOf.push(VERDICT_ALLOW);
    }
    seen.add(k);
  }
  for (const e of drop) {
    const length = f.length(e);
    const k = f.network(e, length);
    if (seen.has(k)) continue;
    seen.add(k);
    if (lengths.some((l) => l <= length && allowNets.has(f.network(e, l)))) continue;
    entries.push(e);
    verdictOf.push(VERDICT_DROP);
  }
  const size = KEY_SIZE[f.family];
  const keys = Buffer.alloc(entries.length * size);
  const verdicts = Buffer.from(verdictOf);
  entries.forEach((e, i) => {
    writeLength.call(keys, f.length(e), i * size);
    f.writeAddress(keys, i * size + 4, e);
  });
  const digest = createHash("sha256").update(keys).update(verdicts).digest();
  return { family: f.family, keys, verdicts, count: entries.length, digest };
}

/** Every interface that has a fast-path list in `config`, in name order, with its two tables. */
export function interfaceLists(config: Pick<Configuration, "fastPathLists" | "prefixSets">): InterfaceLists[] {
  const sets = new Map(config.prefixSets.map((s) => [s.name, s]));
  const byInterface = new Map<string, { drop: string[]; allow: string[]; sets: string[] }>();
  for (const list of [...config.fastPathLists].sort((a, b) => a.prefixSet.localeCompare(b.prefixSet))) {
    const set = sets.get(list.prefixSet);
    if (!set) continue; // a dangling reference is refused before a commit
    for (const name of list.interfaces) {
      const acc = byInterface.get(name) ?? { drop: [], allow: [], sets: [] };
      byInterface.set(name, acc);
      const into = list.action === FastPathAction.ALLOW ? acc.allow : acc.drop;
      for (const p of set.prefixes) into.push(p.cidr);
      acc.sets.push(list.prefixSet);
    }
  }
  return [...byInterface]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, acc]) => ({
      name,
      sets: acc.sets,
      items: acc.sets.map(fastPathItem),
      ...encodeLists(acc.drop, acc.allow),
    }));
}
