// The ledger of dead API tokens (<data dir>/config/dead-tokens.json): ids of every token that was revoked or
// left the configuration, kept outside the revisions so that no rollback, and no fall-back to an older
// revision at start-up, can bring a token back. It only grows; it is written crash-safely before the revision
// that kills a token, so that after a crash a token is dead or alive exactly as acknowledged, or dead.
import { readFileSync } from "node:fs";
import path from "node:path";
import { writeFileAtomic } from "./atomic-file.js";

interface LedgerFile {
  /** Token id → when it died (ISO 8601). */
  dead: Record<string, string>;
}

export class RevocationLedger {
  private readonly file: string;
  private readonly dead = new Map<string, string>();

  constructor(configDir: string) {
    this.file = path.join(configDir, "dead-tokens.json");
    let text: string | undefined;
    try {
      text = readFileSync(this.file, "utf8");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    }
    if (text !== undefined) {
      // A ledger that does not parse must stop the start: running without it could revive a dead token.
      const parsed = JSON.parse(text) as LedgerFile;
      for (const [id, when] of Object.entries(parsed.dead ?? {})) this.dead.set(id, String(when));
    }
  }

  has(id: string): boolean {
    return this.dead.has(id);
  }

  /** When the token died, or undefined when it is not in the ledger. */
  diedAt(id: string): string | undefined {
    return this.dead.get(id);
  }

  /** Adds ids (with when they died) and persists the ledger before returning; a no-op when all are known. */
  add(entries: Iterable<[string, string]>): void {
    const next = new Map(this.dead);
    for (const [id, when] of entries) if (!next.has(id)) next.set(id, when);
    if (next.size === this.dead.size) return;
    const body: LedgerFile = { dead: Object.fromEntries([...next].sort(([a], [b]) => a.localeCompare(b))) };
    // Throws STORAGE_FULL and leaves the ledger as it was when the disk refuses.
    writeFileAtomic(this.file, Buffer.from(`${JSON.stringify(body, null, 1)}\n`));
    for (const [id, when] of next) this.dead.set(id, when);
  }
}
