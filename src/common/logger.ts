// The process logger: pino JSON lines on stderr, each line of a call stamped with its trace id.
import pino, { type Logger } from "pino";
import { currentTrace } from "./trace.js";

export type { Logger };

export function createLogger(name: string, level = process.env.ORBITAL_LOG_LEVEL ?? "info"): Logger {
  return pino(
    {
      name,
      level,
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      mixin() {
        const t = currentTrace();
        return t ? { traceId: t.traceId } : {};
      },
    },
    pino.destination({ fd: 2, sync: false }),
  );
}
