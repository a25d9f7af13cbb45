// orbitald's command line and environment: flags win over environment, environment over defaults.
import path from "node:path";
import { parseArgs } from "node:util";
import { apiServices } from "../common/api-services.js";

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
  /** The rauc command the update service runs. */
  raucCommand: string;
  /** os-release of the running root (its VERSION_ID is the booted version when RAUC has none). */
  osRelease: string;
  /** Where the trial guard notes why a slot's trial failed (trial-failure.<boot name>). */
  trialFailureDir: string;
  /** API services turned off on this box (full names): they answer SERVICE_NOT_IMPLEMENTED. */
  disabledServices: string[];
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
  --rauc COMMAND      the rauc executable the update service runs (env ORBITAL_RAUC, default rauc)
  --os-release FILE   the running release's os-release, for the downgrade check (env
                      ORBITAL_OS_RELEASE, default /etc/os-release)
  --trial-failure-dir DIR  where the trial guard notes why a slot's trial failed
                      (env ORBITAL_TRIAL_FAILURE_DIR, default /data/rauc)
  --disable-service NAME  turn an API service off on this box, e.g. orbital.package.v1.PackageService
                      where add-on packages are not allowed: its RPCs answer UNIMPLEMENTED
                      (SERVICE_NOT_IMPLEMENTED) and its health is NOT_SERVING; repeatable (env
                      ORBITAL_DISABLE_SERVICES, comma-separated)
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
        rauc: { type: "string" },
        "os-release": { type: "string" },
        "trial-failure-dir": { type: "string" },
        "disable-service": { type: "string", multiple: true },
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
  const disabledServices = values["disable-service"] ?? (env.ORBITAL_DISABLE_SERVICES ?? "").split(",").map((n) => n.trim()).filter(Boolean);
  const unknown = disabledServices.filter((n) => !apiServices.some((s) => s.typeName === n));
  if (unknown.length) throw new UsageError(`--disable-service: no API service ${unknown.join(", ")} (known: ${apiServices.map((s) => s.typeName).join(", ")})`);
  const dataDir = values["data-dir"] ?? env.ORBITAL_DATA_DIR ?? "/data/orbital";
  return {
    socketPath: values.socket ?? env.ORBITAL_SOCKET ?? "/run/orbital/api.sock",
    dataDir,
    packagesDir: values["packages-dir"] ?? env.ORBITAL_PACKAGES_DIR ?? path.join(path.dirname(path.resolve(dataDir)), "packages"),
    dataplane,
    logLevel,
    drainMs,
    raucCommand: values.rauc ?? env.ORBITAL_RAUC ?? "rauc",
    osRelease: values["os-release"] ?? env.ORBITAL_OS_RELEASE ?? "/etc/os-release",
    trialFailureDir: values["trial-failure-dir"] ?? env.ORBITAL_TRIAL_FAILURE_DIR ?? "/data/rauc",
    disabledServices,
  };
}
