// Persists configuration revisions under <data dir>/config/revisions/, one file per revision
// (<number>.binpb, a Revision message), each written crash-safely. The newest readable, valid revision is the
// active configuration: a kill -9 or power loss at any instant leaves either the old or the new one, never a
// torn one. Unreadable files are skipped (and reported), never deleted. Keeps the newest N revisions, and
// clears the temporary files a crash during a write left behind.
import { mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { RevisionSchema, type Revision } from "../../gen/orbital/config/v1/config_pb.js";
import type { Logger } from "../../common/logger.js";
import { removeStaleTemporaries, writeFileAtomic } from "./atomic-file.js";

const FILE = /^(\d{1,19})\.binpb$/;

export interface LoadResult {
  /** Newest good revision, or undefined on first start. */
  active: Revision | undefined;
  /** Why newer revision files were skipped; empty when the newest one loaded. */
  skipped: string[];
}

export class RevisionStore {
  readonly dir: string;

  constructor(dataDir: string, private readonly log: Logger) {
    this.dir = path.join(dataDir, "config", "revisions");
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    // A crash during a write leaves its temporary file (up to a whole configuration): clear them at start.
    for (const dir of [this.dir, path.dirname(this.dir)]) {
      const removed = removeStaleTemporaries(dir);
      if (removed.length) log.warn({ dir, removed }, "removed temporary files left by a crash");
    }
  }

  private fileOf(revision: bigint): string {
    return path.join(this.dir, `${revision.toString().padStart(8, "0")}.binpb`);
  }

  /** Revision numbers on disk, newest first. */
  numbers(): bigint[] {
    return readdirSync(this.dir)
      .map((f) => FILE.exec(f)?.[1])
      .filter((n): n is string => n !== undefined)
      .map((n) => BigInt(n))
      .sort((a, b) => (a < b ? 1 : a > b ? -1 : 0));
  }

  /** Reads one revision; throws when it is missing, unreadable or inconsistent. */
  read(revision: bigint): Revision {
    const rev = fromBinary(RevisionSchema, readFileSync(this.fileOf(revision)));
    if (rev.info?.revision !== revision || !rev.configuration) throw new Error(`file of revision ${revision} holds revision ${rev.info?.revision}`);
    return rev;
  }

  /**
   * Loads the newest revision that reads and passes `validate`; newer ones that do not are reported in
   * `skipped` (the caller reports a fallback through health and the log).
   */
  loadActive(validate: (rev: Revision) => void): LoadResult {
    const skipped: string[] = [];
    for (const n of this.numbers()) {
      try {
        const rev = this.read(n);
        validate(rev);
        return { active: rev, skipped };
      } catch (err) {
        const why = `revision ${n} is unusable (${(err as Error).message})`;
        skipped.push(why);
        this.log.error({ revision: n.toString(), err: (err as Error).message }, "skipping unusable revision");
      }
    }
    return { active: undefined, skipped };
  }

  /** Writes a revision crash-safely; STORAGE_FULL when the disk refuses. */
  write(rev: Revision): void {
    writeFileAtomic(this.fileOf(rev.info!.revision), toBinary(RevisionSchema, rev));
  }

  /** Whether the data dir takes a crash-safe write now (after STORAGE_FULL); throws STORAGE_FULL when not. */
  probeWrite(): void {
    const probe = path.join(path.dirname(this.dir), "write-probe");
    writeFileAtomic(probe, Buffer.from("probe\n"));
    rmSync(probe, { force: true });
  }

  /** Deletes all but the newest `keep` revisions (never the active one). */
  prune(keep: number): void {
    for (const n of this.numbers().slice(keep)) rmSync(this.fileOf(n), { force: true });
  }
}
