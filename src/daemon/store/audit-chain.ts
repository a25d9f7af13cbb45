// The audit log's hash chain: each record carries a sequence number and the SHA-256 of the previous record's
// line, the first one the genesis value. Here: how a line is hashed and parsed as a link, and the verifier
// that walks the log's files (oldest first) and names the first record that breaks the chain. Files, writes
// and rotation are audit-log.ts's; this module reads text and nothing else.
import { createHash } from "node:crypto";
import { AuditLogProblem } from "../../gen/orbital/system/v1/system_pb.js";

/** What the first record of a log chains to. */
export const GENESIS = "0".repeat(64);

/** The newest record of a log: what the next record chains to. `seq` 0 and GENESIS for an empty log. */
export interface ChainHead {
  seq: number;
  hash: string;
}

export const EMPTY_CHAIN: ChainHead = { seq: 0, hash: GENESIS };

/** The chain fields of a record line. */
export interface ChainLink {
  seq: number;
  prev: string;
}

/** SHA-256 (hex) of a record's exact line, without its newline. */
export function lineHash(line: string): string {
  return createHash("sha256").update(line).digest("hex");
}

const HEX64 = /^[0-9a-f]{64}$/;

/** The chain fields of a line, or undefined when it is no record of the chain (torn, edited into garbage). */
export function parseLink(line: string): ChainLink | undefined {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof value !== "object" || value === null) return undefined;
  const { seq, prev } = value as Record<string, unknown>;
  if (typeof seq !== "number" || !Number.isSafeInteger(seq) || seq < 1) return undefined;
  if (typeof prev !== "string" || !HEX64.test(prev)) return undefined;
  return { seq, prev };
}

/** One file of the log as the verifier reads it: its name in the data dir and its whole text. */
export interface LogFile {
  name: string;
  text: string;
  /** The rotated file (audit.jsonl.1): its first record may chain to a generation rotated away. */
  rotated: boolean;
}

export interface LineRef {
  file: string;
  /** From 1. */
  line: number;
}

export interface BadRecord extends LineRef {
  /** The sequence number the record carries (or should carry, for TRUNCATED); 0 when unparseable. */
  seq: number;
  problem: AuditLogProblem;
  detail: string;
}

export interface ChainVerdict {
  ok: boolean;
  /** Records examined before the first bad one (all of them when ok). */
  recordsChecked: number;
  /** Oldest and newest sequence numbers present; 0 when the log holds no record. */
  firstSeq: number;
  lastSeq: number;
  badRecord?: BadRecord;
  /**
   * Lines that hold no record and that the chain steps over, so that they hide none: what a power loss
   * leaves of a record being written (the daemon chains on from the record before it), or lines of a daemon
   * from before the chain.
   */
  skippedLines: LineRef[];
}

interface Entry extends LineRef {
  text: string;
  link: ChainLink | undefined;
  rotated: boolean;
  /** Position among every line of every file. */
  index: number;
}

interface LinkedEntry extends Entry {
  link: ChainLink;
  hash: string;
  /** The next record of the log, if any. */
  after: LinkedEntry | undefined;
}

function entriesOf(files: readonly LogFile[]): Entry[] {
  const entries: Entry[] = [];
  for (const f of files) {
    const lines = f.text.split("\n");
    if (lines[lines.length - 1] === "") lines.pop();
    lines.forEach((text, i) => entries.push({ file: f.name, line: i + 1, text, link: parseLink(text), rotated: f.rotated, index: entries.length }));
  }
  return entries;
}

/** A break in the chain, and whether it is blamed on the record before the one being checked. */
interface Break {
  bad: BadRecord;
  blamesBefore?: boolean;
}

const badAt = (e: LineRef, seq: number, problem: AuditLogProblem, detail: string): BadRecord => ({ file: e.file, line: e.line, seq, problem, detail });

/**
 * Checks that every record chains to the one before it (the first to GENESIS, unless it opens the rotated
 * file and older ones were rotated away), and that the log ends with `head`, the newest record the daemon
 * wrote, so that a cut-off end is found too. Names the first record that breaks the chain. A line that holds
 * no record is skipped when the chain steps over it, and is the first bad record when the chain breaks there.
 */
export function verifyChain(files: readonly LogFile[], head: ChainHead): ChainVerdict {
  const entries = entriesOf(files);
  const records: LinkedEntry[] = [];
  for (const e of entries) if (e.link) records.push(Object.assign(e, { link: e.link, hash: lineHash(e.text), after: undefined }));
  records.forEach((r, i) => (r.after = records[i + 1]));
  const firstOfSeq = new Map<number, LinkedEntry>();
  for (const r of records) if (!firstOfSeq.has(r.link.seq)) firstOfSeq.set(r.link.seq, r);

  const skippedLines: LineRef[] = [];
  let pending: Entry[] = []; // lines without a record since the last good record
  let before: LinkedEntry | undefined;
  let checked = 0;
  const verdict = (broken?: Break): ChainVerdict => {
    // A line that is no record, right where the chain breaks, is the likelier culprit than the record.
    const torn = pending[0];
    const bad = broken && (torn ? badAt(torn, 0, AuditLogProblem.UNPARSEABLE, "not a record of the chain (not JSON, or no seq and prev)") : broken.bad);
    if (!broken) skippedLines.push(...pending.map(({ file, line }) => ({ file, line })));
    return {
      ok: bad === undefined,
      recordsChecked: broken?.blamesBefore && !torn ? checked - 1 : checked,
      firstSeq: records[0]?.link.seq ?? 0,
      lastSeq: records[records.length - 1]?.link.seq ?? 0,
      ...(bad ? { badRecord: bad } : {}),
      skippedLines,
    };
  };
  for (const e of entries) {
    if (!e.link) {
      pending.push(e);
      continue;
    }
    const r = e as LinkedEntry;
    const broken = linkBreak(r, before, head, firstOfSeq);
    if (broken) return verdict(broken);
    skippedLines.push(...pending.map(({ file, line }) => ({ file, line })));
    pending = [];
    before = r;
    checked++;
  }
  return verdict(endBreak(before, head, entries, files));
}

/** Why `r` does not follow `before` in the chain, or undefined when it does. */
function linkBreak(r: LinkedEntry, before: LinkedEntry | undefined, head: ChainHead, firstOfSeq: Map<number, LinkedEntry>): Break | undefined {
  const { seq, prev } = r.link;
  if (seq > head.seq) return { bad: badAt(r, seq, AuditLogProblem.HASH_MISMATCH, `not written by this daemon: its newest record is seq ${head.seq}`) };
  if (!before && r.rotated && seq > 1) return undefined; // older records were rotated away: nothing to chain to
  const expected = before ? before.link.seq + 1 : 1;
  if (seq < expected) return { bad: badAt(r, seq, AuditLogProblem.REORDERED, `seq ${seq} comes after seq ${expected - 1}`) };
  if (seq > expected) {
    const later = firstOfSeq.get(expected);
    if (later && later.index > r.index) return { bad: badAt(r, seq, AuditLogProblem.REORDERED, `seq ${seq} comes before seq ${expected} (${later.file} line ${later.line})`) };
    const range = seq - 1 === expected ? `seq ${expected} is` : `seq ${expected}..${seq - 1} are`;
    return { bad: badAt(r, seq, AuditLogProblem.SEQ_GAP, `${range} missing before it`) };
  }
  if (prev === (before?.hash ?? GENESIS)) return undefined;
  if (!before) return { bad: badAt(r, seq, AuditLogProblem.HASH_MISMATCH, "the first record does not chain to the genesis value") };
  // The link before → r is broken: `before` was changed, or r's prev was. When r is still what the next
  // record chained to (or, as the newest, what the daemon wrote), r is intact and `before` was changed.
  const rIntact = r.after ? r.after.link.seq === seq + 1 && r.after.link.prev === r.hash : seq === head.seq && r.hash === head.hash;
  if (rIntact) return { bad: badAt(before, before.link.seq, AuditLogProblem.HASH_MISMATCH, `changed after it was written: seq ${seq} chained to another SHA-256`), blamesBefore: true };
  return { bad: badAt(r, seq, AuditLogProblem.HASH_MISMATCH, `its prev is not the SHA-256 of seq ${before.link.seq} before it`) };
}

/** Why the log does not end with the daemon's newest record, or undefined when it does. */
function endBreak(last: LinkedEntry | undefined, head: ChainHead, entries: readonly Entry[], files: readonly LogFile[]): Break | undefined {
  const lastSeq = last?.link.seq ?? 0;
  if (lastSeq === head.seq && (last?.hash ?? GENESIS) === head.hash) return undefined;
  if (last && lastSeq === head.seq) return { bad: badAt(last, lastSeq, AuditLogProblem.HASH_MISMATCH, "changed after it was written: the daemon wrote another line as this seq") };
  // lastSeq < head.seq (a larger one broke the chain already): the end of the log was cut off. The first
  // missing record belongs after the last line of the newest file.
  const newest = files[files.length - 1]?.name ?? "audit.jsonl";
  const lines = entries.filter((e) => e.file === newest).length;
  const missing = head.seq - lastSeq === 1 ? `seq ${head.seq} is` : `seq ${lastSeq + 1}..${head.seq} are`;
  return { bad: badAt({ file: newest, line: lines + 1 }, lastSeq + 1, AuditLogProblem.TRUNCATED, `the log ends at seq ${lastSeq}: ${missing} missing`) };
}
