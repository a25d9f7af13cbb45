// orbitald's process: options, logger, signals and last-resort error handling around the Daemon. Nothing in
// a call may take the process down: unhandled errors are logged and serving continues.
import { createLogger } from "../common/logger.js";
import { loadPeerCredentialReader } from "./auth/peer-credentials.js";
import { Daemon } from "./daemon.js";
import { Failpoints } from "./failpoints.js";
import { clearActivationEnv, inheritedSockets } from "./listeners/socket-activation.js";
import { SocketInUseError } from "./listeners/unix-listener.js";
import { parseOptions, usage, UsageError } from "./options.js";
import { tuneProcessMemory } from "./process-memory.js";

export async function orbitaldMain(argv: string[]): Promise<void> {
  let opts;
  try {
    opts = parseOptions(argv, process.env);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`orbitald: ${err.message}\n${usage}\n`);
      process.exit(2);
    }
    throw err;
  }
  if (opts === "help") {
    process.stdout.write(`${usage}\n`);
    return;
  }
  const log = createLogger("orbitald", opts.logLevel);
  process.on("unhandledRejection", (err) => log.error({ err }, "unhandled rejection (continuing)"));
  process.on("uncaughtException", (err) => log.error({ err }, "uncaught exception (continuing)"));
  tuneProcessMemory(log);

  let daemon: Daemon;
  try {
    const inherited = inheritedSockets(process.env, process.pid);
    clearActivationEnv(process.env);
    daemon = await Daemon.start(opts, {
      log,
      peerCredentials: loadPeerCredentialReader(),
      inherited,
      failpoints: Failpoints.fromEnv(process.env),
    });
  } catch (err) {
    const message = err instanceof SocketInUseError ? err.message : `cannot start: ${(err as Error).message}`;
    log.fatal({ err }, message);
    log.flush();
    process.stderr.write(`orbitald: ${message}\n`);
    process.exit(1);
  }

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal, drainMs: opts.drainMs }, "stopping: draining calls in flight");
    daemon
      .stop(opts.drainMs)
      .catch((err) => log.error({ err }, "error while stopping"))
      .finally(() => {
        log.info("stopped");
        log.flush(() => process.exit(0));
      });
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
}
