// Contract of the audit log's hash chain: an intact log verifies, across rotation too; a deleted, changed,
// reordered, duplicated or unparseable line, a cut-off start or end, and a record the daemon did not write
// are each found, and the first bad record is named by file, line and seq; a torn line the chain steps over
// is reported, not failed.
import { describe, expect, it } from "vitest";
import { AuditLogProblem } from "../../gen/orbital/system/v1/system_pb.js";
import { EMPTY_CHAIN, GENESIS, lineHash, parseLink, verifyChain, type ChainHead, type LogFile } from "./audit-chain.js";

/** `n` chained record lines from seq `from`, the first chained to `prev`. */
function chain(n: number, from = 1, prev = GENESIS): string[] {
  const lines: string[] = [];
  for (let seq = from; seq < from + n; seq++) {
    const line = JSON.stringify({ seq, prev, time: "2025-01-01T00:00:00.000Z", principal: "root", method: "/orbital.user.v1.UserService/CreateRole", code: "OK", traceId: `trace-${seq}` });
    lines.push(line);
    prev = lineHash(line);
  }
  return lines;
}

const headOf = (lines: string[]): ChainHead => ({ seq: parseLink(lines[lines.length - 1]!)!.seq, hash: lineHash(lines[lines.length - 1]!) });
const current = (lines: string[], tail = "\n"): LogFile => ({ name: "audit.jsonl", text: lines.length ? lines.join("\n") + tail : "", rotated: false });
const rotated = (lines: string[]): LogFile => ({ name: "audit.jsonl.1", text: lines.map((l) => `${l}\n`).join(""), rotated: true });
const without = (lines: string[], i: number) => lines.filter((_, j) => j !== i);

describe("verifyChain", () => {
  it("accepts an intact log, and an empty one", () => {
    const log = chain(10);
    expect(verifyChain([current(log)], headOf(log))).toEqual({ ok: true, recordsChecked: 10, firstSeq: 1, lastSeq: 10, skippedLines: [] });
    expect(verifyChain([], EMPTY_CHAIN)).toMatchObject({ ok: true, recordsChecked: 0, firstSeq: 0, lastSeq: 0 });
    expect(verifyChain([current([])], EMPTY_CHAIN).ok).toBe(true);
  });

  it("names the record after a deleted line (a gap in seq)", () => {
    const log = chain(10);
    expect(verifyChain([current(without(log, 4))], headOf(log))).toMatchObject({
      ok: false,
      recordsChecked: 4,
      badRecord: { file: "audit.jsonl", line: 5, seq: 6, problem: AuditLogProblem.SEQ_GAP, detail: "seq 5 is missing before it" },
    });
    expect(verifyChain([current(log.slice(3))], headOf(log)).badRecord).toMatchObject({ line: 1, seq: 4, problem: AuditLogProblem.SEQ_GAP, detail: "seq 1..3 are missing before it" });
  });

  it("names a changed line itself, whether its content or its prev was changed", () => {
    const log = chain(10);
    const edited = [...log];
    edited[3] = log[3]!.replace('"principal":"root"', '"principal":"mallory"');
    expect(verifyChain([current(edited)], headOf(log))).toMatchObject({
      recordsChecked: 3,
      badRecord: { line: 4, seq: 4, problem: AuditLogProblem.HASH_MISMATCH },
    });
    const relinked = [...log];
    relinked[3] = log[3]!.replace(/"prev":"[0-9a-f]+"/, `"prev":"${"a".repeat(64)}"`);
    expect(verifyChain([current(relinked)], headOf(log)).badRecord).toMatchObject({ line: 4, seq: 4, problem: AuditLogProblem.HASH_MISMATCH });
    const newest = [...log];
    newest[9] = log[9]!.replace('"code":"OK"', '"code":"PERMISSION_DENIED"');
    expect(verifyChain([current(newest)], headOf(log)).badRecord).toMatchObject({ line: 10, seq: 10, problem: AuditLogProblem.HASH_MISMATCH });
  });

  it("names the first of two swapped lines, and a repeated one", () => {
    const log = chain(10);
    const swapped = [...log];
    [swapped[5], swapped[6]] = [log[6]!, log[5]!];
    expect(verifyChain([current(swapped)], headOf(log)).badRecord).toMatchObject({
      line: 6,
      seq: 7,
      problem: AuditLogProblem.REORDERED,
      detail: "seq 7 comes before seq 6 (audit.jsonl line 7)",
    });
    const repeated = [...log.slice(0, 5), log[4]!, ...log.slice(5)];
    expect(verifyChain([current(repeated)], headOf(log)).badRecord).toMatchObject({ line: 6, seq: 5, problem: AuditLogProblem.REORDERED });
  });

  it("finds a cut-off end against the daemon's newest record", () => {
    const log = chain(10);
    expect(verifyChain([current(log.slice(0, 7))], headOf(log))).toMatchObject({
      ok: false,
      recordsChecked: 7,
      badRecord: { file: "audit.jsonl", line: 8, seq: 8, problem: AuditLogProblem.TRUNCATED, detail: "the log ends at seq 7: seq 8..10 are missing" },
    });
    expect(verifyChain([current([])], headOf(log)).badRecord).toMatchObject({ line: 1, seq: 1, problem: AuditLogProblem.TRUNCATED });
    // Cut in the middle of the newest line: the fragment is where the chain breaks.
    const cut = current([...log.slice(0, 9), log[9]!.slice(0, 40)], "");
    expect(verifyChain([cut], headOf(log)).badRecord).toMatchObject({ line: 10, seq: 0, problem: AuditLogProblem.UNPARSEABLE });
  });

  it("names an unparseable line that replaced a record", () => {
    const log = chain(10);
    const garbled = [...log];
    garbled[2] = "{not json";
    expect(verifyChain([current(garbled)], headOf(log))).toMatchObject({ recordsChecked: 2, badRecord: { line: 3, seq: 0, problem: AuditLogProblem.UNPARSEABLE } });
  });

  it("skips a torn line that the chain steps over (a power loss, then a restart)", () => {
    const before = chain(5);
    const after = chain(3, 6, lineHash(before[4]!));
    const torn = '{"seq":6,"prev":"12ab';
    expect(verifyChain([current([...before, torn, ...after])], headOf(after))).toEqual({
      ok: true,
      recordsChecked: 8,
      firstSeq: 1,
      lastSeq: 8,
      skippedLines: [{ file: "audit.jsonl", line: 6 }],
    });
  });

  it("follows the chain across rotation, and accepts a rotated file whose older records were rotated away", () => {
    const log = chain(12, 40, lineHash("an older record"));
    expect(verifyChain([rotated(log.slice(0, 8)), current(log.slice(8))], headOf(log))).toMatchObject({ ok: true, recordsChecked: 12, firstSeq: 40, lastSeq: 51 });
    // Only the new file after a rotation, before its first record.
    expect(verifyChain([rotated(log), current([])], headOf(log)).ok).toBe(true);
  });

  it("finds a rotated file removed, or replaced by one the new file does not chain to", () => {
    const log = chain(12);
    expect(verifyChain([current(log.slice(8))], headOf(log)).badRecord).toMatchObject({ file: "audit.jsonl", line: 1, seq: 9, problem: AuditLogProblem.SEQ_GAP });
    // The new file is intact (each record chains to the one before), so the rotated file's end is blamed.
    const other = chain(4, 9, lineHash("somewhere else"));
    expect(verifyChain([rotated(log.slice(0, 8)), current(other)], headOf(other)).badRecord).toMatchObject({
      file: "audit.jsonl.1",
      line: 8,
      seq: 8,
      problem: AuditLogProblem.HASH_MISMATCH,
      detail: "changed after it was written: seq 9 chained to another SHA-256",
    });
  });

  it("refuses a first record that does not chain to the genesis value, and records the daemon did not write", () => {
    const log = chain(3, 1, lineHash("not genesis"));
    expect(verifyChain([current(log)], headOf(log)).badRecord).toMatchObject({ line: 1, seq: 1, problem: AuditLogProblem.HASH_MISMATCH });
    const forged = chain(6);
    expect(verifyChain([current(forged)], headOf(forged.slice(0, 4))).badRecord).toMatchObject({ line: 5, seq: 5, problem: AuditLogProblem.HASH_MISMATCH });
  });
});

describe("parseLink", () => {
  it("takes a positive integer seq and a hex SHA-256 prev, nothing less", () => {
    expect(parseLink(`{"seq":3,"prev":"${GENESIS}","code":"OK"}`)).toEqual({ seq: 3, prev: GENESIS });
    for (const bad of ["", "null", "[]", '{"seq":3}', `{"seq":0,"prev":"${GENESIS}"}`, `{"seq":1.5,"prev":"${GENESIS}"}`, '{"seq":1,"prev":"xyz"}', `{"seq":"1","prev":"${GENESIS}"}`]) {
      expect(parseLink(bad), bad).toBeUndefined();
    }
  });
});
