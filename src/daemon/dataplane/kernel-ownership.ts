// What of the kernel's state orbitald owns, persisted (<data dir>/dataplane/kernel-ownership.json) so that it
// survives restarts and crashes: the state each link had before orbitald first configured it (MTU, admin
// state, alias: restored when the link leaves the configuration or a commit that configured it fails), the
// addresses it added and the VLANs it created (the only ones it ever removes). Written before the kernel is
// changed, so that after a crash orbitald knows at least everything it may have changed.
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import path from "node:path";
import type { Logger } from "../../common/logger.js";
import { removeStaleTemporaries, writeFileAtomic } from "../store/atomic-file.js";

/** A link's state before orbitald first changed it. */
export interface LinkOriginal {
  mtu: number;
  up: boolean;
  alias: string;
}

interface OwnershipFile {
  links: Record<string, LinkOriginal>;
  /** "ifname|address/prefix" */
  addresses: string[];
  vlans: string[];
}

export class KernelOwnership {
  private readonly links = new Map<string, LinkOriginal>();
  readonly addresses = new Set<string>();
  readonly vlans = new Set<string>();
  /**
   * True when there was no record yet (a first start, or an upgrade from a build that kept none): the first
   * apply then adopts the configured addresses already present as its own, as that build did.
   */
  readonly fresh: boolean;
  private written = "";

  /** `file` undefined: kept in memory only (the simulation, unit tests). */
  constructor(
    private readonly file: string | undefined,
    private readonly log?: Logger,
  ) {
    this.fresh = !file || !existsSync(file);
    if (!file) return;
    mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    removeStaleTemporaries(path.dirname(file));
    if (this.fresh) return;
    // A record that does not parse must stop the start: without it, orbitald could not undo its changes.
    const parsed = JSON.parse(readFileSync(file, "utf8")) as OwnershipFile;
    for (const [name, o] of Object.entries(parsed.links ?? {})) this.links.set(name, { mtu: Number(o.mtu), up: Boolean(o.up), alias: String(o.alias ?? "") });
    for (const a of parsed.addresses ?? []) this.addresses.add(a);
    for (const v of parsed.vlans ?? []) this.vlans.add(v);
    this.written = this.serialize();
  }

  static inDataDir(dataDir: string, log?: Logger): KernelOwnership {
    return new KernelOwnership(path.join(dataDir, "dataplane", "kernel-ownership.json"), log);
  }

  original(link: string): LinkOriginal | undefined {
    return this.links.get(link);
  }

  /** Links whose original state is recorded. */
  recordedLinks(): string[] {
    return [...this.links.keys()];
  }

  /** Records a link's state before the first change; a link already recorded keeps its first record. */
  recordOriginal(link: string, state: LinkOriginal): void {
    if (!this.links.has(link)) this.links.set(link, { ...state });
  }

  forgetLink(link: string): void {
    this.links.delete(link);
  }

  /**
   * Persists what changed since the last write. A failure (a full disk) is logged and retried on the next
   * flush: the kernel must still be reconciled, and the record is kept in memory meanwhile.
   */
  flush(): void {
    if (!this.file) return;
    const text = this.serialize();
    if (text === this.written) return;
    try {
      writeFileAtomic(this.file, Buffer.from(text));
      this.written = text;
    } catch (err) {
      this.log?.warn({ err: (err as Error).message, file: this.file }, "cannot persist what orbitald owns in the kernel; kept in memory");
    }
  }

  private serialize(): string {
    const body: OwnershipFile = {
      links: Object.fromEntries([...this.links].sort(([a], [b]) => a.localeCompare(b))),
      addresses: [...this.addresses].sort(),
      vlans: [...this.vlans].sort(),
    };
    return `${JSON.stringify(body, null, 1)}\n`;
  }
}
