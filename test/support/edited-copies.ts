// Test harness for the static checks of scripts/ (python3 scripts that print one "error:" line per problem and exit 1): runs one
// on a folder, and makes scratch copies of parts of the repository with one file edited, which the check must then reject.
import { spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect } from "vitest";

/** Runs `python3 script dir`: its exit status and everything it printed. */
export function runCheck(script: string, dir: string): { status: number | null; out: string } {
  const r = spawnSync("python3", [script, dir], { encoding: "utf8" });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

export class EditedCopies {
  private readonly scratch: string;

  constructor(prefix: string) {
    this.scratch = mkdtempSync(path.join(os.tmpdir(), prefix));
  }

  /**
   * A folder `name` holding copies of `sources` (path in the copy → folder copied there; symbolic links kept as they are) with
   * `file` (a path in the copy) edited; fails the test when the edit changes nothing.
   */
  make(name: string, sources: Record<string, string>, file: string, edit: (text: string) => string): string {
    const dir = path.join(this.scratch, name);
    for (const [to, from] of Object.entries(sources)) cpSync(from, path.join(dir, to), { recursive: true, verbatimSymlinks: true });
    const f = path.join(dir, file);
    const before = readFileSync(f, "utf8");
    const after = edit(before);
    expect(after, `the edit of ${file} changed nothing`).not.toBe(before);
    writeFileSync(f, after);
    return dir;
  }

  remove(): void {
    rmSync(this.scratch, { recursive: true, force: true });
  }
}
