// What must survive a crash about the dynamic route sets (<data dir>/dataplane/route-sets.json): which sets
// exist, who owns them, their protocol, distance and grace period. Not their routes: the kernel keeps those,
// and after a restart they are read back from it by protocol number. Written atomically on every change.
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { removeStaleTemporaries, writeFileAtomic } from "../store/atomic-file.js";

export interface RouteSetDeclaration {
  name: string;
  /** Principal (user name) that owns it. */
  owner: string;
  protocol: number;
  distance: number;
  graceMs: number;
  /** How long a resumed set waits for end_of_resync; 0: graceMs. */
  resyncMs: number;
}

export class RouteSetStore {
  /** `file` undefined: kept in memory only (unit tests). */
  constructor(private readonly file: string | undefined) {
    if (!file) return;
    mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    removeStaleTemporaries(path.dirname(file));
  }

  static inDataDir(dataDir: string): RouteSetStore {
    return new RouteSetStore(path.join(dataDir, "dataplane", "route-sets.json"));
  }

  /** The sets recorded; a record that does not parse stops the start (routes would be orphaned silently). */
  load(): RouteSetDeclaration[] {
    if (!this.file || !existsSync(this.file)) return [];
    const parsed = JSON.parse(readFileSync(this.file, "utf8")) as { sets?: RouteSetDeclaration[] };
    return (parsed.sets ?? []).map((s) => ({ name: String(s.name), owner: String(s.owner), protocol: Number(s.protocol), distance: Number(s.distance), graceMs: Number(s.graceMs), resyncMs: Number(s.resyncMs ?? 0) }));
  }

  save(sets: readonly RouteSetDeclaration[]): void {
    if (!this.file) return;
    const sorted = [...sets].sort((a, b) => a.name.localeCompare(b.name));
    writeFileAtomic(this.file, Buffer.from(`${JSON.stringify({ sets: sorted }, null, 1)}\n`));
  }
}
