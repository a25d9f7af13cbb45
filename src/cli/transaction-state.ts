// The open transaction across one-shot commands: `config begin` stores its id in a per-user file (one per
// daemon socket), change commands send it as transaction_id while it is set, commit/discard clear it.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { runtimeDir } from "./state-paths.js";

/** FNV-1a of the socket path: one state file per daemon, so two daemons never share a transaction. */
function socketKey(socketPath: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < socketPath.length; i++) h = Math.imul(h ^ socketPath.charCodeAt(i), 0x01000193);
  return (h >>> 0).toString(16).padStart(8, "0");
}

export class TransactionState {
  readonly file: string;

  constructor(
    socketPath: string,
    env: NodeJS.ProcessEnv,
    /** --no-transaction: change commands commit at once even while a transaction is open. */
    readonly bypass: boolean,
  ) {
    this.file = path.join(runtimeDir(env), `transaction-${socketKey(socketPath)}`);
  }

  /** The stored transaction id, if any. */
  current(): string | undefined {
    try {
      const id = readFileSync(this.file, "utf8").split("\n")[0]!.trim();
      return id === "" ? undefined : id;
    } catch {
      return undefined;
    }
  }

  /** What change commands send as transaction_id: the open transaction, or "" to commit at once. */
  forChange(): string {
    return this.bypass ? "" : (this.current() ?? "");
  }

  save(id: string, socketPath: string): void {
    mkdirSync(path.dirname(this.file), { recursive: true, mode: 0o700 });
    writeFileSync(this.file, `${id}\n${socketPath}\n`, { mode: 0o600 });
  }

  clear(): void {
    rmSync(this.file, { force: true });
  }
}
