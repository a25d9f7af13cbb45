// Reads a text file (or standard input for "-") line by line with line numbers and bytes consumed, for the
// bulk commands (route import, prefix-set entries) that stream big files without holding them in memory.
import { createReadStream, statSync } from "node:fs";
import readline from "node:readline";
import { CliError } from "./cli-error.js";
import { ExitCode } from "./exit-codes.js";

export interface Line {
  /** 1-based line number. */
  n: number;
  text: string;
  /** Bytes of the file read up to and including this line. */
  bytesRead: number;
}

export interface LineSource {
  /** Size of the file in bytes; undefined for standard input. */
  size: number | undefined;
  lines(): AsyncIterable<Line>;
}

export function lineSource(file: string, stdin: NodeJS.ReadableStream): LineSource {
  let size: number | undefined;
  if (file !== "-") {
    try {
      size = statSync(file).size;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new CliError(`cannot read ${file}: ${code === "ENOENT" ? "no such file" : (code ?? String(e))}`, code === "ENOENT" ? ExitCode.NOT_FOUND : ExitCode.FAILURE, "FILE_UNREADABLE");
    }
  }
  return {
    size,
    async *lines() {
      const input = file === "-" ? stdin : createReadStream(file);
      const rl = readline.createInterface({ input, crlfDelay: Infinity });
      let n = 0;
      let bytesRead = 0;
      for await (const text of rl) {
        n++;
        bytesRead += Buffer.byteLength(text) + 1;
        yield { n, text, bytesRead };
      }
    },
  };
}
