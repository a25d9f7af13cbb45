// The audit log: one JSON line per mutating call, allowed or denied (who, what, result, trace id), appended
// to <data dir>/audit.jsonl and rotated at a size cap so that it cannot fill the data partition.
import { createWriteStream, renameSync, statSync, type WriteStream } from "node:fs";
import path from "node:path";

export interface AuditRecord {
  time: string;
  /** User name, or "uid:<n>" when the caller was not authenticated. */
  principal: string;
  method: string;
  /** gRPC status code name ("OK", "PERMISSION_DENIED", ...). */
  code: string;
  reason?: string;
  traceId: string;
}

const MAX_BYTES = 8 << 20;

export class AuditLog {
  private stream: WriteStream;
  private size: number;

  constructor(private readonly file: string) {
    this.size = AuditLog.sizeOf(file);
    this.stream = createWriteStream(file, { flags: "a", mode: 0o600 });
  }

  static inDataDir(dataDir: string): AuditLog {
    return new AuditLog(path.join(dataDir, "audit.jsonl"));
  }

  private static sizeOf(file: string): number {
    try {
      return statSync(file).size;
    } catch {
      return 0;
    }
  }

  record(r: AuditRecord): void {
    const line = `${JSON.stringify(r)}\n`;
    if (this.size + line.length > MAX_BYTES) this.rotate();
    this.size += Buffer.byteLength(line);
    this.stream.write(line);
  }

  private rotate(): void {
    this.stream.end();
    try {
      renameSync(this.file, `${this.file}.1`);
    } catch {
      // a missing file needs no rotation
    }
    this.stream = createWriteStream(this.file, { flags: "a", mode: 0o600 });
    this.size = 0;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.stream.end(resolve));
  }
}
