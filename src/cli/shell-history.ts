// The shell's history: kept in memory by readline and in a per-user file ($XDG_STATE_HOME/orbctl/history),
// loaded at start (newest last in the file) and appended to after each command line.
import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";

const KEEP = 1000;

export class ShellHistory {
  constructor(readonly file: string) {}

  /** The saved lines, newest first (the order readline wants). */
  load(): string[] {
    try {
      const lines = readFileSync(this.file, "utf8").split("\n").filter((l) => l.trim() !== "");
      if (lines.length > 2 * KEEP) writeFileSync(this.file, `${lines.slice(-KEEP).join("\n")}\n`, { mode: 0o600 });
      return lines.slice(-KEEP).reverse();
    } catch {
      return [];
    }
  }

  append(line: string): void {
    try {
      mkdirSync(path.dirname(this.file), { recursive: true, mode: 0o700 });
      appendFileSync(this.file, `${line}\n`, { mode: 0o600 });
    } catch {
      // A read-only home must not stop the shell.
    }
  }
}
