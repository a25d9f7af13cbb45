// Persists configuration revisions under <data dir>/config/revisions/, one file per revision, each written
// crash-safely: a full one (<number>.binpb, a Revision message: what every release wrote) or a delta
// (<number>.delta: what it changed in its base revision, revision-delta.ts). A commit writes a delta, and a
// full revision once the deltas since the last full one add up to its size or their chain grows long, so that
// disk use grows with the changes and reading a revision reads one full file and a bounded chain.
// The newest readable, valid revision is the active configuration: a kill -9 or power loss at any instant
// leaves either the old or the new one, never a torn one. Unreadable files (a delta whose chain is broken
// included) are skipped (and reported), never deleted. Keeps the newest N revisions (and the files they are
// made from), and clears the temporary files a crash during a write left behind.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import path from "node:path";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";
import { RevisionInfoSchema, RevisionSchema, type Revision, type RevisionInfo } from "../../gen/orbital/config/v1/config_pb.js";
import { ConfigurationSchema } from "../../gen/orbital/config/v1/configuration_pb.js";
import type { Logger } from "../../common/logger.js";
import { sortOrderedCollections } from "../config/collections.js";
import { removeStaleTemporaries, writeFileAtomic } from "./atomic-file.js";
import { decodeDelta, encodeDelta, withInfo, type RevisionChange } from "./revision-delta.js";

const FILE = /^(\d{1,19})\.(binpb|delta)$/;
/** Deltas in a row at most: reading a revision applies at most this many. */
export const MAX_DELTA_CHAIN = 1000;

interface Chain {
  /** The newest full revision on disk. */
  full: bigint;
  fullBytes: number;
  /** Deltas written after it, and their bytes. */
  deltas: number;
  deltaBytes: number;
}

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

  private fileOf(revision: bigint, kind: "binpb" | "delta" = "binpb"): string {
    return path.join(this.dir, `${revision.toString().padStart(8, "0")}.${kind}`);
  }

  /** Revision numbers on disk, newest first. */
  numbers(): bigint[] {
    return [...this.files().keys()];
  }

  /** Revision files on disk by number, newest first: whether each is a delta (a full file wins over a delta of the same number). */
  private files(): Map<bigint, "binpb" | "delta"> {
    const out = new Map<bigint, "binpb" | "delta">();
    for (const f of readdirSync(this.dir)) {
      const m = FILE.exec(f);
      if (!m) continue;
      const n = BigInt(m[1]!);
      if (out.get(n) !== "binpb") out.set(n, m[2] as "binpb" | "delta");
    }
    return new Map([...out].sort(([a], [b]) => (a < b ? 1 : a > b ? -1 : 0)));
  }

  /**
   * Reads one revision (a full file, or a delta applied to the revision it names, down to a full one);
   * throws when it or one it is made from is missing, unreadable or inconsistent.
   */
  read(revision: bigint): Revision {
    const deltas: ReturnType<typeof decodeDelta>[] = [];
    let n = revision;
    let full: Revision | undefined;
    while (!full) {
      if (deltas.length > MAX_DELTA_CHAIN) throw new Error(`revision ${revision}: its chain of deltas is longer than ${MAX_DELTA_CHAIN}`);
      if (n === 0n && deltas.length > 0) {
        full = create(RevisionSchema, { info: { revision: 0n }, configuration: create(ConfigurationSchema) });
        break;
      }
      let bytes: Buffer;
      try {
        bytes = readFileSync(this.fileOf(n));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
        const d = decodeDelta(readFileSync(this.fileOf(n, "delta")));
        if (d.info?.revision !== n || d.base >= n) throw new Error(`delta file of revision ${n} holds revision ${d.info?.revision} on ${d.base}`);
        deltas.push(d);
        n = d.base;
        continue;
      }
      full = fromBinary(RevisionSchema, bytes);
      if (full.info?.revision !== n || !full.configuration) throw new Error(`file of revision ${n} holds revision ${full.info?.revision}`);
      // What older builds wrote may list routes in key order; deltas locate them in route order.
      sortOrderedCollections(full.configuration);
    }
    const config = full.configuration!;
    for (const d of deltas.reverse()) d.apply(config);
    if (deltas.length === 0) return full;
    return create(RevisionSchema, { info: deltas.at(-1)!.info, configuration: config });
  }

  /**
   * The info of one revision, without its configuration (a full file's configuration is skipped, a delta's
   * chain not read); throws when the file is missing or unreadable.
   */
  readInfo(revision: bigint): RevisionInfo {
    let info: RevisionInfo | undefined;
    try {
      const reader = new BinaryReader(readFileSync(this.fileOf(revision)));
      while (reader.pos < reader.len) {
        const [field, wireType] = reader.tag();
        if (field === 1 && wireType === WireType.LengthDelimited) info = fromBinary(RevisionInfoSchema, reader.bytes());
        else reader.skip(wireType);
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
      info = decodeDelta(readFileSync(this.fileOf(revision, "delta"))).info;
    }
    if (info?.revision !== revision) throw new Error(`file of revision ${revision} holds revision ${info?.revision}`);
    return info;
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

  /**
   * Writes a revision crash-safely; STORAGE_FULL when the disk refuses. With `change` (what it changed in
   * the revision it was made from), as a delta while the chain since the last full revision is short and
   * small; as a full revision otherwise (which replaces a delta of the same number).
   */
  write(rev: Revision, change?: RevisionChange): void {
    const n = rev.info!.revision;
    const chain = (this.chainCache ??= this.chain());
    if (change && chain && change.base >= chain.full && chain.deltas < MAX_DELTA_CHAIN) {
      const delta = encodeDelta(rev, change);
      if (chain.deltaBytes + delta.length < chain.fullBytes) {
        this.chainCache = undefined; // re-read should the write fail half-way
        writeFileAtomic(this.fileOf(n, "delta"), delta);
        this.chainCache = { ...chain, deltas: chain.deltas + 1, deltaBytes: chain.deltaBytes + delta.length };
        return;
      }
    }
    this.chainCache = undefined;
    const bytes = toBinary(RevisionSchema, rev);
    writeFileAtomic(this.fileOf(n), bytes);
    rmSync(this.fileOf(n, "delta"), { force: true });
    this.chainCache = { full: n, fullBytes: bytes.length, deltas: 0, deltaBytes: 0 };
  }

  /**
   * Rewrites the info of a revision on disk (a confirmation clears its deadline) in the form it has: a delta
   * stays that delta with only its info changed, so that confirming costs what the commit changed; a full
   * revision is written whole (`rev` carries its configuration).
   */
  rewriteInfo(rev: Revision): void {
    const n = rev.info!.revision;
    const file = this.fileOf(n, "delta");
    // (a full file of the same number wins over a delta, as in files())
    if (existsSync(this.fileOf(n)) || !existsSync(file)) return this.write(rev);
    const before = readFileSync(file);
    const after = withInfo(before, rev.info!);
    const chain = this.chainCache;
    this.chainCache = undefined; // re-read should the write fail half-way
    writeFileAtomic(file, after);
    if (chain) this.chainCache = { ...chain, deltaBytes: chain.deltaBytes - before.length + after.length };
  }

  /** chain() as of the last write by this store (the only writer of its directory). */
  private chainCache: Chain | undefined;

  /** The newest full revision and the deltas after it (undefined when there is no full one yet). */
  private chain(): Chain | undefined {
    let deltas = 0;
    let deltaBytes = 0;
    for (const [n, kind] of this.files()) {
      const size = statSync(this.fileOf(n, kind)).size;
      if (kind === "binpb") return { full: n, fullBytes: size, deltas, deltaBytes };
      deltas++;
      deltaBytes += size;
    }
    return undefined;
  }

  /** Whether the data dir takes a crash-safe write now (after STORAGE_FULL); throws STORAGE_FULL when not. */
  probeWrite(): void {
    const probe = path.join(path.dirname(this.dir), "write-probe");
    writeFileAtomic(probe, Buffer.from("probe\n"));
    rmSync(probe, { force: true });
  }

  /**
   * Deletes all but the newest `keep` revisions (never the active one), keeping the full revision the
   * oldest kept delta is made from: every delta's chain ends at the newest full revision before it (a
   * delta is only written on a chain that reaches the newest full one), so nothing older is needed.
   */
  prune(keep: number): void {
    const files = [...this.files()];
    const oldestKept = files.slice(0, keep).at(-1)?.[0];
    if (oldestKept === undefined) return;
    const needed = files.find(([n, kind]) => n <= oldestKept && kind === "binpb")?.[0] ?? 0n;
    for (const [n, kind] of files) if (n < needed) rmSync(this.fileOf(n, kind), { force: true });
  }
}
