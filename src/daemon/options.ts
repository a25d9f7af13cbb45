// orbitald's command line and environment: flags win over environment, environment over defaults.
import path from "node:path";
import { parseArgs } from "node:util";

export type DataplaneBackend = "linux" | "sim";

export interface DaemonOptions {
  socketPath: string;
  dataDir: string;
  /** Installed add-on packages and their supervisor's services. */
  packagesDir: string;
  dataplane: DataplaneBackend;
  logLevel: string;
  /** How long SIGTERM waits for calls in flight before cancelling them. */
  drainMs: number;
}

export const usage = `usage: orbitald [options]

  --socket PATH       gRPC Unix socket to bind when init passes none (env ORBITAL_SOCKET,
                      default /run/orbital/api.sock)
  --data-dir DIR      configuration and audit data (env ORBITAL_DATA_DIR, default /data/orbital)
  --packages-dir DIR  installed packages (env ORBITAL_PACKAGES_DIR, default: packages beside the
                      data dir, /data/packages)
  --dataplane NAME    data plane backend: linux or sim (env ORBITAL_DATAPLANE, default linux;
                      sim is for unit tests only)
  --log-level LEVEL   trace, debug, info, warn, error (env ORBITAL_LOG_LEVEL, default info)
  --drain-ms MS       on SIGTERM, wait this long for calls in flight (default 10000)
  -h, --help          show this help

Sockets passed by init (LISTEN_FDS, LISTEN_PID, LISTEN_FDNAMES with names "api" and "rest") take
precedence over --socket.`;

export class UsageError extends Error {}

export function parseOptions(argv: string[], env: NodeJS.ProcessEnv): DaemonOptions | "help" {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        socket: { type: "string" },
        "data-dir": { type: "string" },
        "packages-dir": { type: "string" },
        dataplane: { type: "string" },
        "log-level": { type: "string" },
        "drain-ms": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (values.help) return "help";
  const dataplane = values.dataplane ?? env.ORBITAL_DATAPLANE ?? "linux";
  if (dataplane !== "linux" && dataplane !== "sim") throw new UsageError(`--dataplane must be linux or sim, not "${dataplane}"`);
  const logLevel = values["log-level"] ?? env.ORBITAL_LOG_LEVEL ?? "info";
  if (!["trace", "debug", "info", "warn", "error", "fatal", "silent"].includes(logLevel)) throw new UsageError(`unknown log level "${logLevel}"`);
  const drainMs = Number(values["drain-ms"] ?? 10000);
  if (!Number.isInteger(drainMs) || drainMs < 0) throw new UsageError("--drain-ms must be a whole number of milliseconds");
  const dataDir = values["data-dir"] ?? env.ORBITAL_DATA_DIR ?? "/data/orbital";
  return {
    socketPath: values.socket ?? env.ORBITAL_SOCKET ?? "/run/orbital/api.sock",
    dataDir,
    packagesDir: values["packages-dir"] ?? env.ORBITAL_PACKAGES_DIR ?? path.join(path.dirname(path.resolve(dataDir)), "packages"),
    dataplane,
    logLevel,
    drainMs,
  };
}
