// The installed packages (installed.json in the packages dir, written atomically): what each is, its uid
// and the capabilities its principal was granted; picks a free uid for a new one. Not configuration: a
// rollback of the configuration neither installs nor removes packages.
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import type { PackageManifest } from "../../common/package-format/package-manifest.js";
import { writeFileAtomic } from "../store/atomic-file.js";

export interface InstalledPackage {
  manifest: PackageManifest;
  uid: number;
  /** The package's own group; the same number as its uid. */
  gid: number;
  keyId: string;
  installTimeMs: number;
  sizeBytes: number;
}

/** Package uids are taken from here, away from people's uids and Debian's system range. */
export const PACKAGE_UID_FIRST = 61000;
export const PACKAGE_UID_LAST = 61999;

export class PackageRegistry {
  private readonly file: string;
  private packages = new Map<string, InstalledPackage>();

  constructor(readonly dir: string) {
    this.file = path.join(dir, "installed.json");
    if (existsSync(this.file)) {
      const list = JSON.parse(readFileSync(this.file, "utf8")) as InstalledPackage[];
      this.packages = new Map(list.map((p) => [p.manifest.name, p]));
    }
  }

  get(name: string): InstalledPackage | undefined {
    return this.packages.get(name);
  }

  byUid(uid: number): InstalledPackage | undefined {
    for (const p of this.packages.values()) if (p.uid === uid) return p;
    return undefined;
  }

  list(): InstalledPackage[] {
    return [...this.packages.values()].sort((a, b) => a.manifest.name.localeCompare(b.manifest.name));
  }

  put(p: InstalledPackage): void {
    this.packages.set(p.manifest.name, p);
    this.persist();
  }

  remove(name: string): void {
    if (this.packages.delete(name)) this.persist();
  }

  /** The lowest uid of the package range that no package, configured user or passwd entry holds. */
  freeUid(taken: ReadonlySet<number>): number | undefined {
    const used = new Set([...taken, ...[...this.packages.values()].map((p) => p.uid), ...passwdUids()]);
    for (let uid = PACKAGE_UID_FIRST; uid <= PACKAGE_UID_LAST; uid++) if (!used.has(uid)) return uid;
    return undefined;
  }

  private persist(): void {
    writeFileAtomic(this.file, Buffer.from(`${JSON.stringify(this.list(), null, 1)}\n`, "utf8"));
  }
}

function passwdUids(): number[] {
  try {
    return readFileSync("/etc/passwd", "utf8")
      .split("\n")
      .map((l) => Number(l.split(":")[2]))
      .filter((n) => Number.isInteger(n));
  } catch {
    return [];
  }
}
