// The outcome of the last install that failed, kept in the data dir (update-last-error.json) so that
// GetUpdateStatus can say why after a daemon restart; a successful install clears it.
import { readFileSync, rmSync } from "node:fs";
import path from "node:path";
import type { Logger } from "../../common/logger.js";
import { fsyncPath, writeFileAtomic } from "../store/atomic-file.js";

export interface InstallError {
  /** Wire reason of the error the install was answered with ("BUNDLE_DOWNGRADE"). */
  reason: string;
  message: string;
  /** ISO time of the failure. */
  time: string;
}

export class LastInstallError {
  private readonly file: string;
  private current: InstallError | undefined;

  constructor(dataDir: string, private readonly log: Logger) {
    this.file = path.join(dataDir, "update-last-error.json");
    try {
      const json = JSON.parse(readFileSync(this.file, "utf8")) as Partial<InstallError>;
      if (typeof json.reason === "string" && typeof json.message === "string") this.current = { reason: json.reason, message: json.message, time: String(json.time ?? "") };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") log.warn({ file: this.file, err: (e as Error).message }, "last install error unreadable: ignored");
    }
  }

  get(): InstallError | undefined {
    return this.current;
  }

  /** Records a failure (undefined: a success, which clears it). Never throws: the install's answer matters more. */
  set(error: InstallError | undefined): void {
    this.current = error;
    try {
      if (error) writeFileAtomic(this.file, Buffer.from(JSON.stringify(error)));
      else {
        rmSync(this.file, { force: true });
        fsyncPath(path.dirname(this.file), "r");
      }
    } catch (e) {
      this.log.warn({ file: this.file, err: (e as Error).message }, "cannot keep the last install error");
    }
  }
}
