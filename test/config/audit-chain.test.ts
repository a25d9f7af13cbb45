// Proves: the daemon's audit log is a hash chain (allowed and denied calls alike) that
// SystemService.VerifyAuditLog and `orbctl system audit verify` check: an intact log verifies (exit 0); a
// deleted, edited or reordered line, a cut-off start or end, and a line cut mid-way are each found and the
// first bad record is named by file, line and seq (exit 1); a rotated log is followed across its two files;
// a torn last line left by a power loss does not stop the daemon, which chains on after it, and verification
// reports the line as skipped; records that a full disk refuses (even half-way) leave the chain whole.
// Topology: one daemon edited under its feet, then daemons on prepared data dirs and on a 1 MiB tmpfs.
import { execFileSync } from "node:child_process";
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AuditLogProblem, SystemService, type VerifyAuditLogResponse } from "../../src/gen/orbital/system/v1/system_pb.js";
import { UserService } from "../../src/gen/orbital/user/v1/user_pb.js";
import type { OrbitalError } from "../../src/common/errors.js";
import { createLogger } from "../../src/common/logger.js";
import { lineHash } from "../../src/daemon/store/audit-chain.js";
import { AuditLog } from "../../src/daemon/store/audit-log.js";
import { callAs, startDaemon, type RunningDaemon } from "../support/daemon.js";
import { orbctl, orbctlHome, requireOrbctl } from "../support/orbctl.js";

let d: RunningDaemon;
let home: ReturnType<typeof orbctlHome>;
let auditFile: string;
let intact: string;
const UNMAPPED_UID = 6299;

beforeAll(async () => {
  requireOrbctl();
  home = orbctlHome();
  d = await startDaemon();
  const users = d.client(UserService);
  for (let i = 1; i <= 8; i++) await users.createRole({ role: { name: `chain-${i}`, capabilities: ["system.read"] } });
  const denied = await callAs(d.socketPath, UNMAPPED_UID, "orbital.user.v1.UserService/CreateRole", { role: { name: "x" } });
  expect(denied.error?.reason).toBe("UNKNOWN_PEER");
  auditFile = path.join(d.dataDir, "audit.jsonl");
  intact = readFileSync(auditFile, "utf8");
});
afterAll(async () => {
  await d?.cleanup();
  home?.remove();
});

const verifyRpc = (daemon = d) => daemon.client(SystemService).verifyAuditLog({});
const verifyCli = (daemon = d) => orbctl(daemon.socketPath, ["system", "audit", "verify"], { env: home.env });
const lines = (text: string) => text.split("\n").filter((l) => l !== "");
const fromLines = (ls: string[]) => ls.map((l) => `${l}\n`).join("");

/** Rewrites the running daemon's audit.jsonl in place (its O_APPEND fd still appends to the same file). */
function tamper(edit: (ls: string[]) => string[]): void {
  writeFileSync(auditFile, fromLines(edit(lines(intact))));
}

async function expectBroken(bad: { line: number; seq: number; problem: AuditLogProblem }, verdict: RegExp): Promise<VerifyAuditLogResponse> {
  const v = await verifyRpc();
  expect(v.ok).toBe(false);
  expect(v.badRecord).toMatchObject({ file: "audit.jsonl", line: BigInt(bad.line), seq: BigInt(bad.seq), problem: bad.problem });
  const cli = await verifyCli();
  expect(cli.stdout).toMatch(verdict);
  expect(cli.stdout.trim().split("\n")).toHaveLength(1);
  expect(cli.code).toBe(1);
  return v;
}

describe("audit log hash chain", () => {
  it("chains every record, denied calls included, and verifies the intact log", async () => {
    const records = lines(intact).map((l) => JSON.parse(l) as { seq: number; prev: string; code: string });
    expect(records.map((r) => r.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(records[8]).toMatchObject({ code: "UNAUTHENTICATED", prev: lineHash(lines(intact)[7]!) });
    expect(await verifyRpc()).toMatchObject({ ok: true, recordsChecked: 9n, firstSeq: 1n, lastSeq: 9n, skippedLines: [] });
    const cli = await verifyCli();
    expect(cli).toMatchObject({ code: 0, stdout: "audit log intact: 9 records, seq 1..9\n", stderr: "" });
    const json = await orbctl(d.socketPath, ["system", "audit", "verify", "-o", "json"], { env: home.env });
    expect(JSON.parse(json.stdout)).toEqual({ ok: true, recordsChecked: "9", firstSeq: "1", lastSeq: "9" });
  });

  it("names the record after a deleted line", async () => {
    tamper((ls) => ls.filter((_, i) => i !== 3));
    await expectBroken({ line: 4, seq: 5, problem: AuditLogProblem.SEQ_GAP }, /^audit log broken at audit\.jsonl line 4 \(seq 5\): seq-gap: seq 4 is missing before it; 3 records intact before it$/m);
  });

  it("names an edited line", async () => {
    tamper((ls) => ls.map((l, i) => (i === 2 ? l.replace('"principal":"root"', '"principal":"nobody"') : l)));
    await expectBroken({ line: 3, seq: 3, problem: AuditLogProblem.HASH_MISMATCH }, /^audit log broken at audit\.jsonl line 3 \(seq 3\): hash-mismatch: changed after it was written/m);
  });

  it("names the first of two swapped lines", async () => {
    tamper((ls) => [...ls.slice(0, 5), ls[6]!, ls[5]!, ...ls.slice(7)]);
    await expectBroken({ line: 6, seq: 7, problem: AuditLogProblem.REORDERED }, /^audit log broken at audit\.jsonl line 6 \(seq 7\): reordered: seq 7 comes before seq 6/m);
  });

  it("finds a cut-off end, a cut-off start and a line cut mid-way", async () => {
    tamper((ls) => ls.slice(0, 7));
    await expectBroken({ line: 8, seq: 8, problem: AuditLogProblem.TRUNCATED }, /^audit log broken at audit\.jsonl line 8 \(seq 8\): truncated: the log ends at seq 7: seq 8\.\.9 are missing/m);
    tamper((ls) => ls.slice(2));
    await expectBroken({ line: 1, seq: 3, problem: AuditLogProblem.SEQ_GAP }, /^audit log broken at audit\.jsonl line 1 \(seq 3\): seq-gap: seq 1\.\.2 are missing before it/m);
    writeFileSync(auditFile, intact.slice(0, intact.length - 30));
    await expectBroken({ line: 9, seq: 0, problem: AuditLogProblem.UNPARSEABLE }, /^audit log broken at audit\.jsonl line 9: unparseable: /m);
  });

  it("verifies again once the log is restored", async () => {
    writeFileSync(auditFile, intact);
    expect((await verifyRpc()).ok).toBe(true);
    expect((await verifyCli()).code).toBe(0);
  });
});

describe("audit log across rotation and power loss", () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });
  const dataDir = () => {
    const dir = mkdtempSync(path.join(tmpdir(), "orbital-audit-chain-"));
    dirs.push(dir);
    mkdirSync(path.join(dir, "data"));
    return path.join(dir, "data");
  };

  it("follows the chain from audit.jsonl.1 into audit.jsonl, older generations rotated away", async () => {
    // A log rotated several times by the daemon's own writer, with a tiny size cap.
    const dir = dataDir();
    const writer = new AuditLog(path.join(dir, "audit.jsonl"), createLogger("test", "silent"), 1500);
    for (let i = 1; i <= 20; i++) writer.record({ time: new Date().toISOString(), principal: "uid:7", method: "/orbital.user.v1.UserService/CreateRole", code: "UNAUTHENTICATED", traceId: `t${i}` });
    writer.close();
    const daemon = await startDaemon({ dataDir: dir });
    try {
      await daemon.client(UserService).createRole({ role: { name: "after-rotation", capabilities: [] } });
      const v = await verifyRpc(daemon);
      expect(v).toMatchObject({ ok: true, lastSeq: 21n });
      expect(v.firstSeq).toBeGreaterThan(1n);
      const cli = await verifyCli(daemon);
      expect(cli.code).toBe(0);
      expect(cli.stdout).toMatch(new RegExp(`^audit log intact: ${v.recordsChecked} records, seq ${v.firstSeq}\\.\\.21\\n$`));
      // The rotated file is what the current one chains to: replacing its last line breaks the chain there.
      const rotatedFile = path.join(dir, "audit.jsonl.1");
      const rotated = lines(readFileSync(rotatedFile, "utf8"));
      writeFileSync(rotatedFile, fromLines([...rotated.slice(0, -1), rotated[rotated.length - 1]!.replace('"uid:7"', '"uid:8"')]));
      expect((await verifyRpc(daemon)).badRecord).toMatchObject({ file: "audit.jsonl.1", line: BigInt(rotated.length), problem: AuditLogProblem.HASH_MISMATCH });
      expect((await verifyCli(daemon)).code).toBe(1);
    } finally {
      await daemon.cleanup();
    }
  });

  it("starts on a log whose last line is torn, chains on from the record before it, and reports the line", async () => {
    const dir = dataDir();
    const first = await startDaemon({ dataDir: dir });
    await first.client(UserService).createRole({ role: { name: "before-the-cut", capabilities: [] } });
    await first.cleanup();
    const file = path.join(dir, "audit.jsonl");
    const whole = lines(readFileSync(file, "utf8"));
    appendFileSync(file, whole[whole.length - 1]!.slice(0, 50)); // what a power loss may leave of a record
    const second = await startDaemon({ dataDir: dir });
    try {
      await second.waitForLog((l) => typeof l.msg === "string" && l.msg.startsWith("audit log ends in a torn line"));
      await second.client(UserService).createRole({ role: { name: "after-the-cut", capabilities: [] } });
      const after = lines(readFileSync(file, "utf8"));
      expect(JSON.parse(after[after.length - 1]!)).toMatchObject({ seq: whole.length + 1, prev: lineHash(whole[whole.length - 1]!) });
      expect(await verifyRpc(second)).toMatchObject({ ok: true, lastSeq: BigInt(whole.length + 1), skippedLines: [{ file: "audit.jsonl", line: BigInt(whole.length + 1) }] });
      const cli = await verifyCli(second);
      expect(cli.code).toBe(0);
      expect(cli.stdout).toMatch(new RegExp(`skipped 1 torn line\\(s\\): audit\\.jsonl line ${whole.length + 1}\\n$`));
    } finally {
      await second.cleanup();
    }
  });

  it("keeps the chain whole when a full disk refuses records, even half-way, and answers the calls anyway", async () => {
    const mountPoint = mkdtempSync(path.join(tmpdir(), "orbital-audit-full-"));
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", mountPoint]);
    try {
      const daemon = await startDaemon({ dataDir: path.join(mountPoint, "orbital") });
      try {
        const users = daemon.client(UserService);
        await users.createRole({ role: { name: "before-full", capabilities: [] } });
        const filler = path.join(mountPoint, "filler");
        try {
          execFileSync("dd", ["if=/dev/zero", `of=${filler}`, "bs=4k", "count=1000"], { stdio: "ignore" });
        } catch {
          // dd stops with ENOSPC: the disk is full, as wanted
        }
        // Failed mutations (an invalid name) are audited; once the file's last page is full they are refused.
        const notWritten = () => daemon.logs().some((l) => l.msg === "audit record not written");
        for (let i = 0; i < 60 && !notWritten(); i++) {
          const err = (await users.createRole({ role: { name: "Not Valid" } }).catch((e: unknown) => e)) as OrbitalError;
          expect(err.reason).toBe("INVALID_FIELD");
        }
        expect(notWritten()).toBe(true);
        rmSync(filler);
        await users.createRole({ role: { name: "after-full", capabilities: [] } });
        const v = await verifyRpc(daemon);
        expect(v).toMatchObject({ ok: true, skippedLines: [] });
        expect(v.recordsChecked).toBe(v.lastSeq);
      } finally {
        await daemon.cleanup();
      }
    } finally {
      execFileSync("umount", [mountPoint]);
      rmSync(mountPoint, { recursive: true, force: true });
    }
  });
});
