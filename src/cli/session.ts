// orbctl's connection to the daemon, only through the SDK (src/client): one transport, typed clients made
// on first use, and "daemon not reachable at <socket>" when the deadline passes without a connection.
import net from "node:net";
import type { DescService } from "@bufbuild/protobuf";
import { createClient, type Client } from "../client/client.js";
import { createTransport, DEFAULT_SOCKET, type Transport } from "../client/transport.js";
import { CliError } from "./cli-error.js";
import { isApiError } from "./error-report.js";
import { ExitCode, GRPC_DEADLINE_EXCEEDED, GRPC_UNAVAILABLE } from "./exit-codes.js";
import { runState } from "./run-state.js";

/** Default deadline of a call, waiting for the daemon included. */
export const DEFAULT_DEADLINE_MS = 10_000;

export function socketPathFrom(flag: string | undefined, env: NodeJS.ProcessEnv): string {
  return flag ?? env.ORBITAL_SOCKET ?? DEFAULT_SOCKET;
}

/** Why nobody answers on the socket, as a suffix for the error message. */
function probe(socketPath: string): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect(socketPath);
    const done = (why: string) => {
      clearTimeout(timer);
      s.destroy();
      resolve(why);
    };
    const timer = setTimeout(() => done(": it accepts connections but did not answer in time"), 500);
    s.once("connect", () => done(": it accepts connections but did not answer in time"));
    s.once("error", (e: NodeJS.ErrnoException) => {
      if (e.code === "ENOENT") done(": no such socket (is orbitald running?)");
      else if (e.code === "ECONNREFUSED") done(": connection refused (is orbitald running?)");
      else if (e.code === "EACCES") done(": permission denied (is your user in group orbital?)");
      else done(`: ${e.code ?? e.message}`);
    });
  });
}

export class Session {
  private current: Transport | undefined;
  private readonly clients = new Map<DescService, unknown>();

  constructor(
    readonly socketPath: string,
    readonly deadlineMs: number = DEFAULT_DEADLINE_MS,
  ) {
    runState.daemon = true;
  }

  /** The SDK transport (one connection), made on first use. */
  transport(): Transport {
    this.current ??= createTransport({ socketPath: this.socketPath, deadlineMs: this.deadlineMs });
    return this.current;
  }

  /** The typed client of a service on this session's one connection. */
  client<S extends DescService>(service: S): Client<S> {
    let c = this.clients.get(service);
    if (!c) {
      c = createClient(service, this.transport());
      this.clients.set(service, c);
    }
    return c as Client<S>;
  }

  /** Starts connecting now (the first call would otherwise start it), so that set-up overlaps other work. */
  connect(): void {
    this.transport()
      .channel.waitForReady(Date.now() + this.deadlineMs)
      .catch(() => undefined); // the first call reports what went wrong
  }

  /** Whether the connection is up right now. */
  connected(): boolean {
    return this.current?.channel.connected() ?? false;
  }

  /**
   * Waits until the connection is up (for long-running calls that have no deadline of their own: watch,
   * import); throws "daemon not reachable" when the deadline passes first.
   */
  async waitConnected(deadlineMs = this.deadlineMs, signal?: AbortSignal): Promise<void> {
    const channel = this.transport().channel;
    await new Promise<void>((resolve, reject) => {
      signal?.addEventListener("abort", () => reject(new CliError("interrupted", ExitCode.FAILURE, "CANCELLED")), { once: true });
      channel.waitForReady(Date.now() + deadlineMs).then(resolve, reject);
    }).catch(async (err: unknown) => {
      if (err instanceof CliError) throw err;
      throw await this.unreachable();
    });
  }

  private async unreachable(): Promise<CliError> {
    return new CliError(`daemon not reachable at ${this.socketPath}${await probe(this.socketPath)}`, ExitCode.UNAVAILABLE, "UNAVAILABLE");
  }

  /**
   * The error to report for a failed call: a deadline or UNAVAILABLE that the SDK raised without a
   * connection (no reason from the daemon) becomes "daemon not reachable at <socket>".
   */
  async explain(err: unknown): Promise<unknown> {
    if (!isApiError(err) || err.reason !== "UNKNOWN") return err;
    if (err.code !== GRPC_DEADLINE_EXCEEDED && err.code !== GRPC_UNAVAILABLE) return err;
    if (this.connected()) return err;
    return this.unreachable();
  }

  /** Drops the connection; the next call makes a new one. */
  reset(): void {
    this.current?.close();
    this.current = undefined;
    this.clients.clear();
  }

  close(): void {
    this.reset();
  }
}
