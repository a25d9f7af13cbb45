// The REST transport: HTTP/1.1 requests routed by the RPCs' google.api.http bindings, transcoded to the
// request message, and run through the same CallPipeline (and so the same handlers, authorization, metrics,
// audit and trace context) as gRPC. Unary responses are canonical JSON; server streams are newline-delimited
// JSON; errors are the JSON google.rpc.Status with the HTTP status of their gRPC code. Authentication is an
// API bearer token, nothing else: even the OpenAPI document and the metrics need one.
import type http from "node:http";
import { create, type Message } from "@bufbuild/protobuf";
import { ErrorReason } from "../../../gen/orbital/api/v1/error_reason_pb.js";
import { Code } from "../../../gen/google/rpc/code_pb.js";
import { OrbitalError, toOrbitalError } from "../../../common/errors.js";
import { httpStatusFromCode } from "../../../common/http-status.js";
import type { Logger } from "../../../common/logger.js";
import type { Metrics } from "../../../common/metrics.js";
import { runWithTrace, toTraceparent, traceFromParent } from "../../../common/trace.js";
import { authorize } from "../../auth/authorize.js";
import type { Principal } from "../../auth/principal.js";
import type { ActiveCall, CallPipeline } from "../../rpc/call-pipeline.js";
import { Router, type Route } from "./router.js";
import type { TokenAuthenticator } from "./token-auth.js";
import { requestFromHttp, responseJson, statusJson } from "./transcode.js";

export interface RestLimits {
  /** Largest request body accepted, bytes (as gRPC's maximum message size). */
  maxBodyBytes: number;
  /** Time a client has to send the request headers (slow-loris), ms. */
  headersTimeoutMs: number;
  /** Time a client has to send the whole request, ms. */
  requestTimeoutMs: number;
  /** How long an idle keep-alive connection stays open, ms. */
  keepAliveTimeoutMs: number;
  /** Open connections; more are closed at accept. */
  maxConnections: number;
}

export const defaultRestLimits: RestLimits = {
  maxBodyBytes: 4 << 20,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 5_000,
  maxConnections: 128,
};

/** What the gateway knows about the server generation a request came in on (see rest-endpoint.ts). */
export interface RequestScope {
  /** Aborted when this server stops serving (REST disabled or moved): streams end, connections close. */
  retired: AbortSignal;
}

export interface RestGatewayDeps {
  log: Logger;
  pipeline: CallPipeline;
  tokens: TokenAuthenticator;
  metrics: Metrics;
  /** The OpenAPI document, as JSON text. */
  openApi: () => string;
  limits?: Partial<RestLimits>;
}

const JSON_TYPE = "application/json; charset=utf-8";
const NDJSON_TYPE = "application/x-ndjson; charset=utf-8";
const METRICS_CAPABILITY = "system.read";

/** grpc-timeout ("100m", "5S", "1H"), which grpc-gateway also honours on HTTP requests, in ms. */
export function parseGrpcTimeout(value: string | undefined): number | undefined {
  const m = value ? /^(\d{1,8})([HMSmun])$/.exec(value.trim()) : null;
  if (!m) return undefined;
  const n = Number(m[1]);
  const unit = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 0.001, n: 0.000001 }[m[2] as "H"];
  return Math.max(0, n * unit);
}

function deadlineExceeded(): OrbitalError {
  return new OrbitalError({ reason: ErrorReason.DEADLINE_EXCEEDED, message: "the call's deadline (grpc-timeout) passed before it completed" });
}

function tooLarge(limit: number, size: number): OrbitalError {
  return new OrbitalError({
    reason: ErrorReason.MESSAGE_TOO_LARGE,
    message: `the request body of ${size} bytes or more exceeds the limit of ${limit} bytes`,
    metadata: { limitBytes: limit, sizeBytes: size },
  });
}

/** HTTP status of an error: the grpc-gateway mapping of its code, except a body over the limit (413). */
export function httpStatusOf(err: OrbitalError): number {
  if (err.reason === "MESSAGE_TOO_LARGE") return 413;
  return httpStatusFromCode(err.code);
}

function readBody(req: http.IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers["content-length"]);
  if (Number.isFinite(declared) && declared > limit) return Promise.reject(tooLarge(limit, declared));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        cleanup();
        // The rest is read and thrown away (Node does so for a request whose response has ended); the
        // request timeout bounds how long that may take.
        req.resume();
        reject(tooLarge(limit, size));
      } else {
        chunks.push(c);
      }
    };
    const onEnd = () => {
      cleanup();
      resolve(Buffer.concat(chunks));
    };
    const onError = (err: Error) => {
      cleanup();
      reject(err);
    };
    const cleanup = () => {
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("error", onError);
    };
    req.on("data", onData);
    req.on("end", onEnd);
    req.on("error", onError);
  });
}

function waitDrain(res: http.ServerResponse, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const finish = () => {
      res.off("drain", finish);
      res.off("close", finish);
      signal.removeEventListener("abort", finish);
      resolve();
    };
    res.once("drain", finish);
    res.once("close", finish);
    signal.addEventListener("abort", finish);
  });
}

export class RestGateway {
  readonly limits: RestLimits;
  private readonly router: Router;
  private draining = false;

  /** Builds the routes from the RPCs registered in the pipeline so far (register every service first). */
  constructor(private readonly deps: RestGatewayDeps) {
    this.limits = { ...defaultRestLimits, ...deps.limits };
    this.router = new Router(deps.pipeline.methods);
  }

  /** From now on every new request is answered UNAVAILABLE / SHUTTING_DOWN; calls in flight go on. */
  startDraining(): void {
    this.draining = true;
  }

  /** Serves one HTTP request. Never throws. */
  handle(req: http.IncomingMessage, res: http.ServerResponse, scope: RequestScope): void {
    res.setHeader("Cache-Control", "no-store");
    res.setHeader("X-Content-Type-Options", "nosniff");
    if (scope.retired.aborted) res.setHeader("Connection", "close");
    this.dispatch(req, res, scope).catch((err: unknown) => {
      // Only a bug gets here: answer INTERNAL rather than leave the client hanging.
      const e = toOrbitalError(err);
      const trace = traceFromParent(undefined);
      e.traceId = trace.traceId;
      runWithTrace(trace, () => this.deps.log.error({ err, url: req.url }, "REST request failed"));
      this.sendError(res, e);
    });
  }

  private async dispatch(req: http.IncomingMessage, res: http.ServerResponse, scope: RequestScope): Promise<void> {
    const rawUrl = req.url ?? "/";
    const q = rawUrl.indexOf("?");
    const rawPath = q < 0 ? rawUrl : rawUrl.slice(0, q);
    const query = new URLSearchParams(q < 0 ? "" : rawUrl.slice(q + 1));
    const method = (req.method ?? "GET").toUpperCase();
    const traceparent = typeof req.headers.traceparent === "string" ? req.headers.traceparent : undefined;

    if (this.draining) {
      res.setHeader("Connection", "close");
      return this.refuse(res, traceparent, new OrbitalError({ reason: ErrorReason.SHUTTING_DOWN, message: "the daemon is shutting down" }));
    }
    if (rawPath === "/v1/openapi.json" || rawPath === "/metrics") {
      if (method !== "GET" && method !== "HEAD") return this.methodNotAllowed(res, traceparent, ["GET"], method, rawPath);
      return this.serveEndpoint(req, res, rawPath, traceparent);
    }
    const match = this.router.match(method, rawPath);
    if (match.kind === "not-found") {
      return this.refuse(
        res,
        traceparent,
        new OrbitalError({ reason: ErrorReason.NOT_FOUND, message: `no API operation at ${method} ${rawPath}`, metadata: { resourceType: "http route", name: `${method} ${rawPath}` } }),
      );
    }
    if (match.kind === "method-not-allowed") return this.methodNotAllowed(res, traceparent, match.allow, method, rawPath);
    const auth = await this.deps.tokens.authenticate(req.headers.authorization, req.socket.remoteAddress);
    this.serveCall(req, res, scope, match.route, query, traceparent, auth);
  }

  /** Answers an error outside any RPC (unknown route, draining): with a trace, as every answer has. */
  private refuse(res: http.ServerResponse, traceparent: string | undefined, err: OrbitalError, status?: number): void {
    const trace = traceFromParent(traceparent);
    res.setHeader("traceparent", toTraceparent(trace));
    err.traceId = trace.traceId;
    this.sendError(res, err, status);
  }

  private methodNotAllowed(res: http.ServerResponse, traceparent: string | undefined, allow: string[], method: string, path: string): void {
    res.setHeader("Allow", allow.join(", "));
    this.refuse(res, traceparent, new OrbitalError({ reason: ErrorReason.UNSUPPORTED, message: `${path} does not take ${method} (allowed: ${allow.join(", ")})`, metadata: { feature: `${method} ${path}` } }), 405);
  }

  /** GET /v1/openapi.json (any valid token) and GET /metrics (system.read). */
  private async serveEndpoint(req: http.IncomingMessage, res: http.ServerResponse, path: string, traceparent: string | undefined): Promise<void> {
    const trace = traceFromParent(traceparent);
    res.setHeader("traceparent", toTraceparent(trace));
    const auth = await this.deps.tokens.authenticate(req.headers.authorization, req.socket.remoteAddress);
    try {
      if (!auth.ok) throw auth.error;
      if (path === "/metrics") {
        authorize({ path, capability: METRICS_CAPABILITY }, auth.principal);
        res.writeHead(200, { "Content-Type": "text/plain; version=0.0.4; charset=utf-8" });
        res.end(req.method === "HEAD" ? undefined : this.deps.metrics.render());
      } else {
        res.writeHead(200, { "Content-Type": JSON_TYPE });
        res.end(req.method === "HEAD" ? undefined : this.deps.openApi());
      }
    } catch (err) {
      const e = toOrbitalError(err);
      e.traceId = trace.traceId;
      runWithTrace(trace, () => this.deps.log.info({ path, reason: e.reason, remote: req.socket.remoteAddress }, "request refused"));
      this.sendError(res, e);
    }
  }

  private serveCall(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    scope: RequestScope,
    route: Route,
    query: URLSearchParams,
    traceparent: string | undefined,
    auth: { ok: true; principal: Principal; caller: string } | { ok: false; error: OrbitalError; caller: string },
  ): void {
    const { pipeline } = this.deps;
    const { entry, binding } = route;
    let cancelCall: (() => void) | undefined;
    const call = pipeline.begin(entry, {
      transport: "rest",
      traceparent,
      caller: auth.caller,
      refusedLog: { remote: req.socket.remoteAddress },
      onCancel: (cancel) => {
        cancelCall = cancel;
        // "close" before the response finished: the client went away.
        const onClose = () => {
          if (!res.writableFinished) cancel();
        };
        res.on("close", onClose);
        // A server that stops serving (REST disabled or moved) ends its streams; unary calls may finish.
        const streaming = entry.method.methodKind !== "unary";
        if (streaming) scope.retired.addEventListener("abort", cancel);
        return () => {
          res.off("close", onClose);
          if (streaming) scope.retired.removeEventListener("abort", cancel);
        };
      },
      sendTraceparent: (tp) => res.setHeader("traceparent", tp),
      authenticate: () => {
        if (!auth.ok) throw auth.error;
        return auth.principal;
      },
    });
    if (call instanceof OrbitalError) return this.sendError(res, call);

    // A deadline from grpc-timeout: the call is cancelled and answered DEADLINE_EXCEEDED when it passes.
    const timeoutMs = parseGrpcTimeout(req.headers["grpc-timeout"] as string | undefined);
    let deadlineHit = false;
    let deadlineTimer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      if (timeoutMs === undefined) return;
      deadlineTimer = setTimeout(() => {
        deadlineHit = true;
        cancelCall?.();
        reject(deadlineExceeded());
      }, timeoutMs);
    });
    deadline.catch(() => undefined);
    const withDeadline = <T>(p: Promise<T>): Promise<T> => {
      if (timeoutMs === undefined) return p;
      p.catch(() => undefined); // a late failure after the deadline answered is of no interest
      return Promise.race([p, deadline]);
    };

    pipeline.run(
      call,
      async () => {
        try {
          const body = await withDeadline(readBody(req, this.limits.maxBodyBytes));
          const request = requestFromHttp({ binding, variables: route.variables, query, body });
          if (entry.method.methodKind === "unary") {
            const result = await withDeadline(Promise.resolve(entry.handler(request, call.ctx) as Promise<unknown>));
            const message = create(entry.method.output, result as never) as Message;
            const json = JSON.stringify(responseJson(binding, entry.method.output, message));
            return () => {
              res.writeHead(200, { "Content-Type": JSON_TYPE, "Content-Length": Buffer.byteLength(json) });
              res.end(json);
            };
          }
          return await this.stream(res, call, request, () => deadlineHit);
        } finally {
          if (deadlineTimer) clearTimeout(deadlineTimer);
        }
      },
      (e) => this.sendError(res, e),
    );
  }

  /**
   * A server stream as newline-delimited JSON: {"result": message} per line. A failure the handler reports
   * before its first message gets an HTTP status; after it, an {"error": status} line ends the stream.
   * Returns the function that ends the stream.
   */
  private async stream(res: http.ServerResponse, call: ActiveCall, request: Message, deadlineHit: () => boolean): Promise<() => void> {
    const { entry, ctx } = call;
    const { pipeline } = this.deps;
    const iterator = (entry.handler(request, ctx) as AsyncIterable<unknown>)[Symbol.asyncIterator]();
    let finished = false;
    try {
      const first = iterator.next();
      first.catch(() => undefined);
      // What the handler decides at once (refusals, validation) wins over the headers.
      const early = await Promise.race([first, new Promise<undefined>((r) => setImmediate(() => r(undefined)))]);
      res.writeHead(200, { "Content-Type": NDJSON_TYPE });
      res.flushHeaders();
      let step = early ?? (await first);
      while (!step.done) {
        if (ctx.signal.aborted) break;
        const message = create(entry.method.output, step.value as never) as Message;
        const line = `${JSON.stringify({ result: responseJson(undefined, entry.method.output, message) })}\n`;
        if (!res.write(line)) await waitDrain(res, ctx.signal);
        step = await iterator.next();
      }
      finished = step.done === true;
      if (ctx.signal.aborted && pipeline.shuttingDown) throw pipeline.shuttingDownError();
      if (ctx.signal.aborted && deadlineHit()) throw deadlineExceeded();
      return () => res.end();
    } finally {
      if (!finished) void Promise.resolve(iterator.return?.()).catch(() => undefined);
    }
  }

  /** Sends an error: the JSON google.rpc.Status, or a last NDJSON line when a stream is under way. */
  private sendError(res: http.ServerResponse, err: OrbitalError, status?: number): void {
    if (res.writableEnded || res.destroyed) return;
    const body = statusJson(err);
    if (res.headersSent) {
      res.end(`${JSON.stringify({ error: body })}\n`);
      return;
    }
    const json = JSON.stringify(body);
    const headers: Record<string, string | number> = { "Content-Type": JSON_TYPE, "Content-Length": Buffer.byteLength(json) };
    if (err.retryDelayMs !== undefined) headers["Retry-After"] = Math.max(1, Math.ceil(err.retryDelayMs / 1000));
    if (err.code === Code.UNAUTHENTICATED) {
      const invalid = err.reason.startsWith("TOKEN_") ? ', error="invalid_token"' : "";
      headers["WWW-Authenticate"] = `Bearer realm="orbital"${invalid}`;
    }
    res.writeHead(status ?? httpStatusOf(err), headers);
    res.end(json);
  }
}
