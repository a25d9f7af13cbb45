// Contract of the audit log's file: a record is in audit.jsonl when record() returns, chained to the one
// before; a new AuditLog on the same file goes on with the chain; rotation carries the chain into the new
// file, and a second rotation drops the oldest generation without breaking verification; a torn last line
// (a power loss mid-write) does not stop the log from opening, and is skipped by the chain.
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { Logger } from "../../common/logger.js";
import { GENESIS, lineHash } from "./audit-chain.js";
import { AuditLog, type AuditRecord } from "./audit-log.js";

let dir: string;
let file: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), "audit-log-spec-"));
  file = path.join(dir, "audit.jsonl");
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const quietLog = () => ({ warn: vi.fn(), error: vi.fn() }) as unknown as Logger & { warn: ReturnType<typeof vi.fn> };
const record = (traceId: string, code = "OK"): AuditRecord => ({ time: new Date(0).toISOString(), principal: "root", method: "/orbital.user.v1.UserService/CreateRole", code, traceId });
const lines = (f: string) => readFileSync(f, "utf8").split("\n").filter((l) => l !== "");
const parsed = (f: string) => lines(f).map((l) => JSON.parse(l) as { seq: number; prev: string; traceId: string });

describe("AuditLog", () => {
  it("has each record in the file when record() returns, chained to the one before", () => {
    const audit = new AuditLog(file, quietLog());
    audit.record(record("a"));
    expect(parsed(file)).toEqual([expect.objectContaining({ seq: 1, prev: GENESIS, traceId: "a", code: "OK" })]);
    audit.record(record("b", "PERMISSION_DENIED"));
    expect(parsed(file)[1]).toMatchObject({ seq: 2, prev: lineHash(lines(file)[0]!), traceId: "b" });
    expect(audit.verify()).toMatchObject({ ok: true, recordsChecked: 2, firstSeq: 1, lastSeq: 2 });
    audit.close();
  });

  it("goes on with the chain after a restart", () => {
    const first = new AuditLog(file, quietLog());
    first.record(record("a"));
    first.record(record("b"));
    first.close();
    const second = new AuditLog(file, quietLog());
    second.record(record("c"));
    expect(parsed(file)[2]).toMatchObject({ seq: 3, prev: lineHash(lines(file)[1]!) });
    expect(second.verify()).toMatchObject({ ok: true, recordsChecked: 3 });
    second.close();
  });

  it("carries the chain across rotations; the oldest generation goes, verification still passes", () => {
    const audit = new AuditLog(file, quietLog(), 1000);
    for (let i = 1; i <= 6; i++) audit.record(record(`r${i}`, "PERMISSION_DENIED"));
    expect(existsSync(`${file}.1`)).toBe(true);
    const rotated = lines(`${file}.1`);
    expect(parsed(file)[0]!.prev).toBe(lineHash(rotated[rotated.length - 1]!));
    expect(audit.verify()).toMatchObject({ ok: true, recordsChecked: 6, firstSeq: 1, lastSeq: 6 });
    for (let i = 7; i <= 14; i++) audit.record(record(`r${i}`, "PERMISSION_DENIED"));
    const v = audit.verify();
    expect(v).toMatchObject({ ok: true, lastSeq: 14 });
    expect(v.firstSeq).toBeGreaterThan(1);
    audit.close();
    // A restart right after a rotation (the new file empty) chains to the rotated file's newest record.
    const again = new AuditLog(file, quietLog(), 1000);
    again.record(record("r15"));
    expect(again.verify()).toMatchObject({ ok: true, lastSeq: 15 });
    again.close();
  });

  it("opens a log that ends in a torn line, and chains on from the newest whole record", () => {
    const first = new AuditLog(file, quietLog());
    first.record(record("a"));
    first.close();
    appendFileSync(file, '{"seq":2,"prev":"0f3a');
    const log = quietLog();
    const second = new AuditLog(file, log);
    expect(log.warn).toHaveBeenCalledOnce();
    second.record(record("b"));
    expect(lines(file)).toHaveLength(3);
    expect(lines(file)[1]).toBe('{"seq":2,"prev":"0f3a');
    expect(JSON.parse(lines(file)[2]!)).toMatchObject({ seq: 2, prev: lineHash(lines(file)[0]!), traceId: "b" });
    expect(second.verify()).toEqual({ ok: true, recordsChecked: 2, firstSeq: 1, lastSeq: 2, skippedLines: [{ file: "audit.jsonl", line: 2 }] });
    second.close();
  });
});
