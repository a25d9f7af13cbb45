// The audit log: one JSON line per mutating call, allowed or denied (who, what, result, trace id), appended
// to <data dir>/audit.jsonl, hash-chained (audit-chain.ts) and rotated at a size cap so that it cannot fill
// the data partition. A record is in the file when record() returns, and on the disk for a success, so
// that the caller may answer only then; what the chain means and how it is verified is audit-chain.ts's.
import { closeSync, existsSync, fdatasyncSync, fstatSync, ftruncateSync, openSync, readFileSync, readSync, renameSync, writeSync } from "node:fs";
import path from "node:path";
import type { Logger } from "../../common/logger.js";
import { EMPTY_CHAIN, lineHash, parseLink, verifyChain, type ChainHead, type ChainVerdict, type LogFile } from "./audit-chain.js";
import { fsyncPath } from "./atomic-file.js";

export interface AuditRecord {
  time: string;
  /** User name, or "uid:<n>" when the caller was not authenticated. */
  principal: string;
  method: string;
  /** gRPC status code name ("OK", "PERMISSION_DENIED", ...). */
  code: string;
  reason?: string;
  traceId: string;
}

/** audit.jsonl is rotated before a record would take it past this size. */
export const ROTATE_BYTES = 8 << 20;
/** How much of a file's end is read at start to find its newest record (a record is well under 1 KiB). */
const TAIL_BYTES = 64 << 10;

/** The newest record of a file, or undefined when it holds none. Reads the whole file only if its tail has none. */
function newestRecordOf(file: string): ChainHead | undefined {
  let fd: number;
  try {
    fd = openSync(file, "r");
  } catch {
    return undefined;
  }
  try {
    const size = fstatSync(fd).size;
    for (const window of size > TAIL_BYTES ? [TAIL_BYTES, size] : [size]) {
      const buf = Buffer.alloc(window);
      readSync(fd, buf, 0, window, size - window);
      const lines = buf.toString("utf8").split("\n");
      // The window's first line may start mid-line, unless the window is the whole file.
      const whole = window === size ? lines : lines.slice(1);
      for (let i = whole.length - 1; i >= 0; i--) {
        const link = parseLink(whole[i]!);
        if (link) return { seq: link.seq, hash: lineHash(whole[i]!) };
      }
    }
    return undefined;
  } finally {
    closeSync(fd);
  }
}

/** The last byte of a file, if it has one. */
function lastByteOf(fd: number, size: number): number | undefined {
  if (size === 0) return undefined;
  const b = Buffer.alloc(1);
  readSync(fd, b, 0, 1, size - 1);
  return b[0];
}

export class AuditLog {
  private fd: number;
  private size: number;
  /** The newest record in the log: what the next one chains to. */
  private head: ChainHead;
  /** The file ends in a torn line (a write that failed half-way): the next record starts on a new line. */
  private unterminated = false;

  constructor(
    private readonly file: string,
    private readonly log: Logger,
    private readonly rotateBytes = ROTATE_BYTES,
  ) {
    const created = !existsSync(file);
    this.fd = openSync(file, "a+", 0o600);
    if (created) fsyncPath(path.dirname(file), "r");
    this.size = fstatSync(this.fd).size;
    // A power loss can leave the end of a record that was being written (only a record not yet synced: a
    // refusal or a failure). It stays, ended by the next record's newline; the chain goes on from the
    // newest whole record, and the verifier reports the fragment as a skipped line.
    const last = lastByteOf(this.fd, this.size);
    if (last !== undefined && last !== 0x0a) {
      this.unterminated = true;
      log.warn({ file }, "audit log ends in a torn line (power loss while a record was written?); the chain goes on after it");
    }
    this.head = newestRecordOf(file) ?? newestRecordOf(`${file}.1`) ?? EMPTY_CHAIN;
  }

  static inDataDir(dataDir: string, log: Logger): AuditLog {
    return new AuditLog(path.join(dataDir, "audit.jsonl"), log);
  }

  /**
   * Appends the record, chained to the one before. When it returns the record is in the file (a kill -9
   * cannot lose it); a success (code OK) is also synced to the disk, so that a power loss cannot lose an
   * acknowledged mutation's record. A record that cannot be written is logged as an error with its content,
   * and the call is answered anyway: its mutation is done, and its revision carries the trace id.
   */
  record(r: AuditRecord): void {
    const seq = this.head.seq + 1;
    const line = JSON.stringify({ seq, prev: this.head.hash, ...r });
    const bytes = Buffer.from(`${this.unterminated ? "\n" : ""}${line}\n`);
    if (this.size > 0 && this.size + bytes.length > this.rotateBytes) this.rotate();
    try {
      for (let off = 0; off < bytes.length; ) off += writeSync(this.fd, bytes, off, bytes.length - off);
    } catch (err) {
      this.undoPartialWrite();
      this.log.error({ err, record: line }, "audit record not written");
      return;
    }
    this.size += bytes.length;
    this.head = { seq, hash: lineHash(line) };
    this.unterminated = false;
    if (r.code !== "OK") return;
    try {
      fdatasyncSync(this.fd);
    } catch (err) {
      this.log.error({ err, seq }, "audit record written but not synced to disk");
    }
  }

  /** Cuts what a failed write left at the end, or makes the next record start on a new line. */
  private undoPartialWrite(): void {
    try {
      ftruncateSync(this.fd, this.size);
    } catch {
      this.unterminated = true;
    }
  }

  /**
   * audit.jsonl becomes audit.jsonl.1 (replacing the older one) and a new audit.jsonl is started; the chain
   * goes on across the files. A rotation that fails leaves the records going to the file as it is.
   */
  private rotate(): void {
    try {
      // The old file's unsynced tail reaches the disk before a record in the new file chains to it.
      fdatasyncSync(this.fd);
      renameSync(this.file, `${this.file}.1`);
    } catch (err) {
      this.log.error({ err }, "audit log not rotated");
      return;
    }
    let fd: number;
    try {
      fd = openSync(this.file, "a+", 0o600);
      fsyncPath(path.dirname(this.file), "r");
    } catch (err) {
      // The fd still writes to the renamed file, which a restart reads as the newest.
      this.log.error({ err }, "audit log rotated, but no new file: records go on in audit.jsonl.1");
      return;
    }
    closeSync(this.fd);
    this.fd = fd;
    this.size = 0;
  }

  /** Checks the chain of audit.jsonl.1 and audit.jsonl up to the newest record this daemon wrote or found. */
  verify(): ChainVerdict {
    // Read synchronously: no record is appended between reading the files and taking the head.
    const files: LogFile[] = [];
    for (const [file, rotated] of [[`${this.file}.1`, true], [this.file, false]] as const) {
      if (existsSync(file)) files.push({ name: path.basename(file), text: readFileSync(file, "utf8"), rotated });
    }
    return verifyChain(files, this.head);
  }

  close(): void {
    try {
      fdatasyncSync(this.fd);
    } finally {
      closeSync(this.fd);
    }
  }
}
