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
    else if (c === 46 && dots < 3 && octet < 256) {
      address = address * 256 + octet;
      octet = 0;
      dots++;
    } else if (c === 47 && dots === 3 && i + 1 < cidr.length) {
      let length = 0;
      for (let j = i + 1; j < cidr.length; j++) {
        const d = cidr.charCodeAt(j);
        if (d < 48 || d > 57) return -1;
        length = length * 10 + (d - 48);
      }
      return octet < 256 && length <= 32 ? (address * 256 + octet) * 64 + length : -1;
    } else return -1;
  }
  return -1;
}

/**
 * Prefixes split by family (sets are validated when staged: nothing unparsable is left, and no host bits are
 * set). IPv4 entries go into a typed array: a million of them are 8 MB outside the JavaScript heap, not a
 * million boxed numbers inside it (the daemon's heap is sized for the configuration, not for copies of it).
 */
function parse(cidrs: readonly string[]): { 4: Float64Array; 6: V6Entry[] } {
  const v4 = new Float64Array(cidrs.length);
  let n = 0;
  const v6: V6Entry[] = [];
  for (const cidr of cidrs) {
    const e = storedV4(cidr);
    if (e >= 0) {
      v4[n++] = e;
      continue;
    }
    const p = parsePrefix(cidr);
    if (typeof p === "string") continue;
    if (p.family === 6) v6.push({ length: p.prefixLength, bytes: p.bytes });
    else v4[n++] = p.bytes.reduce((a, b) => a * 256 + b, 0) * 64 + p.prefixLength;
  }
  return { 4: v4.subarray(0, n), 6: v6 };
}

/** `entries` sorted and without duplicates, in place (a view of its first part). */
function uniqueSorted(entries: Float64Array): Float64Array {
  entries.sort();
  let n = 0;
  for (let i = 0; i < entries.length; i++) if (i === 0 || entries[i] !== entries[n - 1]) entries[n++] = entries[i]!;
  return entries.subarray(0, n);
}

const v4Length = (e: V4Entry) => e % 64;
/** The entry of the network made of the first `length` bits of `e`'s address (e itself for its own length). */
const v4Network = (e: V4Entry, length: number) => (length === 0 ? 0 : (Math.floor(e / 64) >>> (32 - length)) * 64 * 2 ** (32 - length) + length);

/** The IPv6 entry's network of `length` bits, as a string key (equal for equal networks). */
function v6Network(e: V6Entry, length: number): string {
  let s = `${length}/`;
  const whole = length >> 3;
  for (let i = 0; i < whole; i++) s += String.fromCharCode(e.bytes[i]!);
  const rest = length & 7;
  if (rest) s += String.fromCharCode(e.bytes[whole]! & (0xff << (8 - rest)) & 0xff);
  return s;
}

/** The keys and verdicts of a table, with its digest. */
function table(family: 4 | 6, count: number, fill: (keys: Buffer, verdicts: Buffer) => void): EncodedList {
  const keys = Buffer.alloc(count * KEY_SIZE[family]);
  const verdicts = Buffer.alloc(count);
  fill(keys, verdicts);
  const digest = createHash("sha256").update(keys).update(verdicts).digest();
  return { family, keys, verdicts, count, digest };
}

/** The IPv4 table: every allow entry, then every drop entry no allow entry covers; sorted, duplicates once. */
function encodeV4(dropIn: Float64Array, allowIn: Float64Array): EncodedList {
  const allow = uniqueSorted(allowIn);
  const drop = uniqueSorted(dropIn);
  const allowed = new Set(allow);
  const lengths = [...new Set(Array.from(allow, v4Length))].sort((a, b) => a - b);
  const kept = new Uint8Array(drop.length);
  let count = allow.length;
  for (let i = 0; i < drop.length; i++) {
    const length = v4Length(drop[i]!);
    if (lengths.some((l) => l <= length && allowed.has(v4Network(drop[i]!, l)))) continue;
    kept[i] = 1;
    count++;
  }
  return table(4, count, (keys, verdicts) => {
    let at = 0;
    const put = (e: V4Entry, verdict: number) => {
      writeLength.call(keys, v4Length(e), at * 8);
      keys.writeUInt32BE(Math.floor(e / 64), at * 8 + 4);
      verdicts[at++] = verdict;
    };
    for (const e of allow) put(e, VERDICT_ALLOW);
    for (let i = 0; i < drop.length; i++) if (kept[i]) put(drop[i]!, VERDICT_DROP);
  });
}

/** The IPv6 table, by the same rule (IPv6 lists are small in practice: objects and string keys). */
function encodeV6(drop: readonly V6Entry[], allow: readonly V6Entry[]): EncodedList {
  const lengths = [...new Set(allow.map((a) => a.length))].sort((a, b) => a - b);
  const allowNets = new Set(allow.map((a) => v6Network(a, a.length)));
  const entries: V6Entry[] = [];
  const verdictOf: number[] = [];
  const seen = new Set<string>();
  for (const e of allow) {
    const k = v6Network(e, e.length);
    if (!seen.has(k)) {
      entries.push(e);
      verdictOf.push(VERDICT_ALLOW);
    }
    seen.add(k);
  }
  for (const e of drop) {
    const k = v6Network(e, e.length);
    if (seen.has(k)) continue;
    seen.add(k);
    if (lengths.some((l) => l <= e.length && allowNets.has(v6Network(e, l)))) continue;
    entries.push(e);
    verdictOf.push(VERDICT_DROP);
  }
  return table(6, entries.length, (keys, verdicts) =>
    entries.forEach((e, i) => {
      writeLength.call(keys, e.length, i * 20);
      keys.set(e.bytes, i * 20 + 4);
      verdicts[i] = verdictOf[i]!;
    }),
  );
}

/** An interface's two tables from its drop and allow prefixes (both families mixed). */
export function encodeLists(drop: readonly string[], allow: readonly string[]): { v4: EncodedList; v6: EncodedList } {
  const d = parse(drop);
  const a = parse(allow);
  return { v4: encodeV4(d[4], a[4]), v6: encodeV6(d[6], a[6]) };
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
