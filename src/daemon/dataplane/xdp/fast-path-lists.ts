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

interface Entry {
  length: number;
  bytes: Uint8Array;
}

/** Prefixes split by family (sets are validated when staged: nothing unparsable is left). */
function parse(cidrs: readonly string[]): { 4: Entry[]; 6: Entry[] } {
  const out: { 4: Entry[]; 6: Entry[] } = { 4: [], 6: [] };
  for (const cidr of cidrs) {
    const p = parsePrefix(cidr);
    if (typeof p !== "string") out[p.family].push({ length: p.prefixLength, bytes: p.bytes });
  }
  return out;
}

/** The first `length` bits of `bytes` as text: the identity of a network for set look-ups. */
function networkText(bytes: Uint8Array, length: number): string {
  let s = `${length}/`;
  const whole = length >> 3;
  for (let i = 0; i < whole; i++) s += String.fromCharCode(bytes[i]!);
  const rest = length & 7;
  if (rest) s += String.fromCharCode(bytes[whole]! & (0xff << (8 - rest)) & 0xff);
  return s;
}

/** An interface's two tables from its drop and allow prefixes (both families mixed). */
export function encodeLists(drop: readonly string[], allow: readonly string[]): { v4: EncodedList; v6: EncodedList } {
  const d = parse(drop);
  const a = parse(allow);
  return { v4: encodeFamily(4, d[4], a[4]), v6: encodeFamily(6, d[6], a[6]) };
}

/**
 * One family's table: allow entries, then the drop entries no allow prefix covers; duplicates once.
 */
function encodeFamily(family: 4 | 6, drop: readonly Entry[], allowed: readonly Entry[]): EncodedList {
  const lengths = [...new Set(allowed.map((a) => a.length))].sort((a, b) => a - b);
  const allowNets = new Set(allowed.map((a) => networkText(a.bytes, a.length)));
  const entries: { e: Entry; verdict: number }[] = [];
  const seen = new Set<string>();
  for (const e of allowed) {
    const k = networkText(e.bytes, e.length);
    if (!seen.has(k)) entries.push({ e, verdict: VERDICT_ALLOW });
    seen.add(k);
  }
  for (const e of drop) {
    const k = networkText(e.bytes, e.length);
    if (seen.has(k)) continue;
    seen.add(k);
    if (lengths.some((l) => l <= e.length && allowNets.has(networkText(e.bytes, l)))) continue;
    entries.push({ e, verdict: VERDICT_DROP });
  }
  const size = KEY_SIZE[family];
  const keys = Buffer.alloc(entries.length * size);
  const verdicts = Buffer.alloc(entries.length);
  entries.forEach(({ e, verdict }, i) => {
    writeLength.call(keys, e.length, i * size);
    keys.set(e.bytes, i * size + 4);
    verdicts[i] = verdict;
  });
  const digest = createHash("sha256").update(keys).update(verdicts).digest();
  return { family, keys, verdicts, count: entries.length, digest };
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
