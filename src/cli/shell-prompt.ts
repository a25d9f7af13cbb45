// The shell's prompt: the box's host name (its configured hostname, else this machine's), "[candidate]"
// while a transaction is open and "*" when it holds changes (its Diff is not empty), e.g. "edge1[candidate]*> ".
import os from "node:os";
import { ConfigService } from "../gen/orbital/config/v1/config_pb.js";
import { SystemService } from "../gen/orbital/system/v1/system_pb.js";
import { isApiError } from "./error-report.js";
import type { Session } from "./session.js";
import type { Style } from "./terminal.js";
import type { TransactionState } from "./transaction-state.js";

const QUICK = { deadlineMs: 2000 };

export class ShellPrompt {
  private host = os.hostname().split(".")[0]!.slice(0, 24) || "orbital";

  constructor(
    private readonly session: Session,
    private readonly tx: TransactionState,
    private readonly style: Style,
  ) {}

  /** Takes the host name from the running settings when it is configured. */
  async refreshHost(): Promise<void> {
    try {
      const res = await this.session.client(SystemService).getSettings({}, QUICK);
      if (res.settings?.hostname) this.host = res.settings.hostname;
    } catch {
      // unreachable or not allowed: keep the local name
    }
  }

  /** "[candidate]" or "[candidate]*" for the open transaction, "" without one. */
  async candidate(): Promise<string> {
    const id = this.tx.current();
    if (!id) return "";
    try {
      const diff = await this.session.client(ConfigService).diff({ transactionId: id }, QUICK);
      return diff.changes.length > 0 ? "[candidate]*" : "[candidate]";
    } catch (err) {
      if (isApiError(err) && err.reason === "TRANSACTION_NOT_FOUND") {
        this.tx.clear();
        return "";
      }
      return "[candidate]";
    }
  }

  async text(): Promise<string> {
    const c = await this.candidate();
    return `${this.style.bold(this.host)}${c ? this.style.yellow(c) : ""}> `;
  }
}
