// Where and whether the REST gateway listens, driven by Settings.rest and applied on every commit without a
// daemon restart: start, stop, move to another address or port, switch TLS on or off. A plain net.Server
// accepts (on the configured address and port, or on the socket named "rest" passed by init) and hands each
// connection to the current HTTP or HTTPS server. Changing the settings makes a new server "generation";
// the old one stops accepting, ends its streams, lets requests in flight finish and then closes. A failed
// bind or an unreadable certificate is logged and reported in GetHealth; the commit itself stands.
import { readFileSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import net from "node:net";
import type { RestListener as RestSettings } from "../../../gen/orbital/system/v1/system_pb.js";
import type { Logger } from "../../../common/logger.js";
import type { RestGateway } from "./rest-gateway.js";

export const DEFAULT_HTTP_PORT = 8080;
export const DEFAULT_HTTPS_PORT = 8443;
const HEALTH_PREFIX = "REST listener: ";
/** How long a retired server generation lets requests in flight finish before closing its connections. */
const RETIRE_GRACE_MS = 5000;

interface Target {
  enabled: boolean;
  /** "" for every address. */
  host: string;
  port: number;
  cert: string;
  key: string;
}

interface Generation {
  server: http.Server;
  retire: AbortController;
  inFlight: number;
  tls: boolean;
}

export interface RestEndpointDeps {
  log: Logger;
  gateway: RestGateway;
  /** GetHealth's findings; this keeps one line about the listener there while it cannot serve. */
  healthMessages: string[];
  /** fd of the socket named "rest" passed by init; used instead of address and port. */
  inheritedFd?: number;
}

function targetOf(s: RestSettings | undefined): Target {
  const tls = !!s?.tlsCertificatePath && !!s?.tlsKeyPath;
  return {
    enabled: s?.enabled ?? false,
    host: s?.address ?? "",
    port: s?.port || (tls ? DEFAULT_HTTPS_PORT : DEFAULT_HTTP_PORT),
    cert: tls ? s!.tlsCertificatePath : "",
    key: tls ? s!.tlsKeyPath : "",
  };
}

function listen(server: net.Server, target: { fd: number } | { host: string; port: number }): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    const done = () => {
      server.off("error", reject);
      resolve();
    };
    if ("fd" in target) server.listen({ fd: target.fd }, done);
    else if (target.host === "") server.listen({ port: target.port }, done);
    else server.listen({ port: target.port, host: target.host }, done);
  });
}

export class RestEndpoint {
  private listener: net.Server | undefined;
  private bound: { host: string; port: number } | undefined;
  private current: Generation | undefined;
  private applied: string | undefined;
  private failed = false;
  private queue: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(private readonly deps: RestEndpointDeps) {}

  /** Where it serves now ({port} of the listener), or undefined when it does not. */
  get serving(): { address: string; port: number; tls: boolean } | undefined {
    const a = this.listener?.address();
    if (!this.current || !a || typeof a === "string") return undefined;
    return { address: a.address, port: a.port, tls: this.current.tls };
  }

  /** Applies the REST settings of a (new) running configuration; serialized, never rejects. */
  configure(settings: RestSettings | undefined): Promise<void> {
    const next = this.queue.then(() => this.apply(targetOf(settings)));
    this.queue = next.catch((err: unknown) => this.deps.log.error({ err }, "REST listener: unexpected failure"));
    return this.queue;
  }

  private setHealth(problem: string | undefined): void {
    const msgs = this.deps.healthMessages;
    for (let i = msgs.length - 1; i >= 0; i--) if (msgs[i]!.startsWith(HEALTH_PREFIX)) msgs.splice(i, 1);
    if (problem) msgs.push(`${HEALTH_PREFIX}${problem}`);
  }

  private fail(problem: string, err: unknown): void {
    this.failed = true;
    const s = this.serving;
    const text = `${problem}; ${s ? `still serving on ${s.address}:${s.port} as before` : "not serving"}`;
    this.setHealth(text);
    this.deps.log.error({ err: (err as Error)?.message ?? String(err) }, `REST listener: ${text}`);
  }

  /** Listens on the socket passed by init (once: closing it could not be undone). */
  private async listenInherited(fd: number): Promise<boolean> {
    if (this.listener) return true;
    const listener = this.newListener();
    try {
      await listen(listener, { fd });
    } catch (err) {
      this.fail(`cannot serve on the socket passed by init (fd ${fd}): ${(err as Error).message}`, err);
      return false;
    }
    this.listener = listener;
    return true;
  }

  private async apply(target: Target): Promise<void> {
    if (this.stopped) return;
    const key = JSON.stringify(target);
    if (key === this.applied && !this.failed) return;
    const { log } = this.deps;
    const inherited = this.deps.inheritedFd;

    if (!target.enabled) {
      const was = this.current !== undefined;
      // An inherited socket stays open (init owns it, and closing our copy could not be undone): while REST
      // is disabled, its connections are closed at accept rather than left waiting in the backlog.
      if (inherited === undefined) this.closeListener();
      else if (!(await this.listenInherited(inherited))) return;
      void this.retire(this.current);
      this.current = undefined;
      this.applied = key;
      this.failed = false;
      this.setHealth(undefined);
      if (was) log.info("REST API disabled");
      return;
    }

    let tls: { cert: Buffer; key: Buffer } | undefined;
    if (target.cert) {
      try {
        tls = { cert: readFileSync(target.cert), key: readFileSync(target.key) };
      } catch (err) {
        return this.fail(`cannot read the TLS certificate or key (${(err as Error).message})`, err);
      }
    }
    let generation: Generation;
    try {
      generation = this.generation(tls);
    } catch (err) {
      return this.fail(`invalid TLS certificate or key (${(err as Error).message})`, err);
    }

    if (inherited !== undefined) {
      if (!(await this.listenInherited(inherited))) {
        void this.retire(generation);
        return;
      }
    } else if (!this.bound || this.bound.host !== target.host || this.bound.port !== target.port) {
      // Bind the new address before giving up the old one, so that a bad address leaves REST where it was;
      // the same port on another address can only be bound once the old listener is gone.
      if (this.bound?.port === target.port) this.closeListener();
      const listener = this.newListener();
      try {
        await listen(listener, { host: target.host, port: target.port });
      } catch (err) {
        void this.retire(generation);
        return this.fail(`cannot listen on ${target.host || "*"}:${target.port} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, err);
      }
      this.closeListener();
      this.listener = listener;
      this.bound = { host: target.host, port: target.port };
    }
    const old = this.current;
    this.current = generation;
    void this.retire(old);
    this.applied = key;
    this.failed = false;
    this.setHealth(undefined);
    const at = inherited !== undefined ? `fd ${inherited} (from init)` : `${target.host || "*"}:${this.serving?.port ?? target.port}`;
    log.info({ at, tls: !!tls }, "REST API serving");
  }

  private newListener(): net.Server {
    const listener = net.createServer({ pauseOnConnect: false, noDelay: true });
    listener.maxConnections = this.deps.gateway.limits.maxConnections;
    listener.on("connection", (socket) => {
      const gen = this.current;
      if (!gen || gen.retire.signal.aborted) return void socket.destroy();
      socket.on("error", (err) => this.deps.log.debug({ err: err.message }, "REST connection error"));
      gen.server.emit("connection", socket);
    });
    listener.on("error", (err) => this.deps.log.error({ err: err.message }, "REST listener error"));
    return listener;
  }

  private closeListener(): void {
    this.listener?.close();
    this.listener = undefined;
    this.bound = undefined;
  }

  private generation(tls: { cert: Buffer; key: Buffer } | undefined): Generation {
    const limits = this.deps.gateway.limits;
    const options: http.ServerOptions = {
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      keepAliveTimeout: limits.keepAliveTimeoutMs,
      // How often Node checks those two timeouts; its default (30 s) would let a slow client linger.
      connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(limits.headersTimeoutMs / 4))),
    };
    const retire = new AbortController();
    const server = tls ? https.createServer({ ...options, cert: tls.cert, key: tls.key }) : http.createServer(options);
    const gen: Generation = { server, retire, inFlight: 0, tls: !!tls };
    server.on("request", (req: http.IncomingMessage, res: http.ServerResponse) => {
      gen.inFlight++;
      res.once("close", () => gen.inFlight--);
      this.deps.gateway.handle(req, res, { retired: retire.signal });
    });
    server.on("clientError", (err: NodeJS.ErrnoException, socket: net.Socket) => {
      this.deps.log.debug({ err: err.message, code: err.code }, "REST client error");
      // What Node answers by itself without this listener: 408 for a request (or its headers) too slow, 431
      // for headers too large, 400 for anything unparseable.
      const status =
        err.code === "ERR_HTTP_REQUEST_TIMEOUT" ? "408 Request Timeout" : err.code === "HPE_HEADER_OVERFLOW" ? "431 Request Header Fields Too Large" : "400 Bad Request";
      if (socket.writable && err.code !== "ECONNRESET") socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\n\r\n`);
      else socket.destroy();
    });
    server.on("tlsClientError", (err: Error) => this.deps.log.debug({ err: err.message }, "REST TLS handshake failed"));
    // Connections are injected rather than accepted by this server, so it never emits "listening" by itself;
    // that event is what starts Node's checks of headersTimeout and requestTimeout.
    server.emit("listening");
    return gen;
  }

  /** Stops a generation: no new requests, streams end, requests in flight get RETIRE_GRACE_MS to finish. */
  private retire(gen: Generation | undefined, graceMs = RETIRE_GRACE_MS): Promise<void> {
    if (!gen) return Promise.resolve();
    // Streams end once what is already under way has been written: a commit that moved or disabled REST
    // still reaches the watchers of its commits (events are delivered within microtasks; this is a timer).
    setTimeout(() => gen.retire.abort(), 0);
    gen.server.closeIdleConnections();
    return new Promise((resolve) => {
      const deadline = Date.now() + graceMs;
      const check = () => {
        if (gen.inFlight <= 0 || Date.now() >= deadline) {
          gen.server.closeAllConnections();
          gen.server.close();
          resolve();
        } else {
          gen.server.closeIdleConnections();
          setTimeout(check, 25).unref();
        }
      };
      check();
    });
  }

  /**
   * Daemon shutdown: stop accepting, answer new requests SHUTTING_DOWN, let calls in flight finish as the
   * call pipeline drains them, then close every connection.
   */
  async stop(drained: Promise<void>): Promise<void> {
    this.stopped = true;
    await this.queue;
    this.deps.gateway.startDraining();
    this.listener?.close();
    this.listener = undefined;
    const gen = this.current;
    this.current = undefined;
    if (!gen) return;
    gen.server.closeIdleConnections();
    await drained;
    await this.retire(gen, 1000);
  }
}
