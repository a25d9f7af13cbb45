// Crash-safe file replacement: write a temporary file, fsync it, rename it over the target, fsync the
// directory. After a crash or power loss at any instant the target holds either the old or the new bytes.
// Running out of space (or a read-only filesystem) becomes STORAGE_FULL and leaves the old file intact. A
// crash between the write and the rename leaves the temporary file: removeStaleTemporaries() clears those.
import { closeSync, fsyncSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeSync } from "node:fs";
import path from "node:path";
import { ErrorReason } from "../../gen/orbital/api/v1/error_reason_pb.js";
import { OrbitalError } from "../../common/errors.js";

const STORAGE_ERRNOS = new Set(["ENOSPC", "EDQUOT", "EROFS", "EFBIG"]);

/** fsyncs a file or directory by path (a directory: flags "r"), e.g. so that a rename in it is on disk. */
export function fsyncPath(p: string, flags: string): void {
  const fd = openSync(p, flags);
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** ".<target name>.<pid>.tmp": the pid says which process may still be writing it. */
const TEMPORARY = /^\..+\.(\d+)\.tmp$/;

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Deletes the temporary files of writeFileAtomic in `dir` whose writer is gone (a crash mid-write); returns
 * their names. A file of a live process other than this one is left alone: it may be writing it right now.
 */
export function removeStaleTemporaries(dir: string): string[] {
  const removed: string[] = [];
  for (const name of readdirSync(dir)) {
    const pid = Number(TEMPORARY.exec(name)?.[1] ?? NaN);
    if (!Number.isInteger(pid) || (pid !== process.pid && processAlive(pid))) continue;
    rmSync(path.join(dir, name), { force: true });
    removed.push(name);
  }
  return removed;
}

export function writeFileAtomic(target: string, data: Uint8Array): void {
  const tmp = path.join(path.dirname(target), `.${path.basename(target)}.${process.pid}.tmp`);
  try {
    const fd = openSync(tmp, "w", 0o600);
    try {
      let off = 0;
      while (off < data.length) off += writeSync(fd, data, off, data.length - off);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, target);
    fsyncPath(path.dirname(target), "r");
  } catch (err) {
    rmSync(tmp, { force: true });
    const code = (err as NodeJS.ErrnoException).code;
    if (code && STORAGE_ERRNOS.has(code)) {
      throw new OrbitalError({
        reason: ErrorReason.STORAGE_FULL,
        message: `cannot persist ${path.basename(target)}: ${code}`,
        metadata: { path: target, errno: code },
        cause: err,
      });
    }
    throw err;
  }
}

/** A small text file's content, trimmed; "" when it does not exist or cannot be read (a mark, a note). */
export function readTextOrEmpty(file: string): string {
  try {
    return readFileSync(file, "utf8").trim();
  } catch {
    return "";
  }
}
