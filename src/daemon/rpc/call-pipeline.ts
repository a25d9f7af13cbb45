// The transport-neutral part of serving a call, shared by the gRPC transport (grpc-server.ts) and the REST
// gateway (src/gateway/): the method table (path → descriptor, capability, handler, audited), the call's
// trace context, authentication through the transport's own credentials, authorization by the capability the
// proto declares, the handler (wrapped with its failpoint), the shaping of failures (INTERNAL logged with the
// trace id), and what every finished call leaves behind: a metrics observation and, for RPCs that need a
// ".write" capability, an audit record, written before the caller can see the answer. The transports only
// move bytes and map the outcome onto their wire.
import type { DescMethod } from "@bufbuild/protobuf";
import { ErrorReason } from "../../gen/orbital/api/v1/error_reason_pb.js";
import { Code } from "../../gen/google/rpc/code_pb.js";
import { requiredCapability } from "../../common/capabilities.js";
import { OrbitalError, toOrbitalError } from "../../common/errors.js";
import type { Logger } from "../../common/logger.js";
import type { Metrics } from "../../common/metrics.js";
import { runWithTrace, toTraceparent, traceFromParent, type TraceContext } from "../../common/trace.js";
import type { AuditRecord } from "../store/audit-log.js";
import { authorize } from "../auth/authorize.js";
import type { Principal } from "../auth/principal.js";
import type { CallContext } from "./call-context.js";
import type { Failpoints } from "../failpoints.js";
import type { ServiceRegistration } from "./service-impl.js";

/** One RPC as every transport serves it. */
export interface MethodEntry {
  /** "/orbital.routing.v1.RoutingService/ListRoutes" */
  readonly path: string;
  readonly method: DescMethod;
  /** Required capability; undefined when the RPC declares none (then it is denied to everybody). */
  readonly capability: string | undefined;
  /** Whether each call leaves an audit record (the capability ends in ".write"). */
  readonly audited: boolean;
  /**
   * The implementation, wrapped with its failpoint when one is configured. Unary and client-streaming RPCs
   * return a promise of the response, server-streaming and bidi ones an async iterable of responses.
   */
  readonly handler: (request: unknown, ctx: CallContext) => unknown;
}

/** Where a call comes from, as its transport knows it. */
export interface CallOrigin {
  /** The transport's metrics label: "grpc", "fast" or "rest". */
  transport: string;
  /** W3C traceparent sent by the caller (gRPC metadata, HTTP header), if any. */
  traceparent: string | undefined;
  /** Who the audit record names until the caller is authenticated ("uid:1000", "token:<id>", ...). */
  caller: string;
  /** Extra fields of the "call refused" log line (the peer uid, the remote address). */
  refusedLog?: Record<string, unknown>;
  /** Subscribes to the caller's cancellation; returns the function that unsubscribes. */
  onCancel(cancel: () => void): () => void;
  /** Returns the call's traceparent to the caller (response headers); called before authentication. */
  sendTraceparent(traceparent: string): void;
  /** The caller's principal, or throws the OrbitalError saying why there is none. */
  authenticate(): Principal;
  /**
   * Transport admission once the call is authorized (e.g. the per-connection limit of calls in flight);
   * throws an OrbitalError to refuse, returns the function that releases what it took.
   */
  admit?(): (() => void) | undefined;
}

/** A call that passed authentication, authorization and admission. */
export interface ActiveCall {
  readonly entry: MethodEntry;
  readonly ctx: CallContext;
  /**
   * Ends the call exactly once: metrics, audit record, counters. The audit record is written when it returns,
   * so it is called before the answer goes out (run() does so).
   */
  done(failure: OrbitalError | undefined): void;
}

export interface CallPipelineDeps {
  log: Logger;
  metrics: Metrics;
  /**
   * Receives one record per finished call of an RPC that needs a ".write" capability, before the caller is
   * answered; the record must be durable when it returns (see AuditLog.record).
   */
  audit?: (record: AuditRecord) => void;
  /** Fault injection for tests (ORBITAL_FAILPOINTS, ORBITAL_FAULT_FILE); absent in production. */
  failpoints?: Failpoints;
  /**
   * How long a unary or client-streaming handler may run before the call ends with HANDLER_TIMEOUT (the
   * backends have shorter deadlines of their own: this catches a handler that never returns).
   */
  handlerTimeoutMs?: number;
  /**
   * Told how every authorized call's handler ended: `failure` is the call's error when the handler failed
   * by itself (INTERNAL, HANDLER_TIMEOUT), undefined when it succeeded or refused the request on purpose.
   */
  onHandlerOutcome?: (entry: MethodEntry, failure: OrbitalError | undefined) => void;
}

export const DEFAULT_HANDLER_TIMEOUT_MS = 120_000;

const shuttingDown = () => new OrbitalError({ reason: ErrorReason.SHUTTING_DOWN, message: "the daemon is shutting down" });

export class CallPipeline {
  private readonly byPath = new Map<string, MethodEntry>();
  private readonly shutdown = new AbortController();
  private active = 0;
  private idleWaiters: (() => void)[] = [];
  private draining: Promise<void> | undefined;

  constructor(private readonly deps: CallPipelineDeps) {
  }

  get log(): Logger {
    return this.deps.log;
  }

  /** Adds a service's RPCs to the method table: every RPC of its descriptor must have an implementation. */
  register(reg: ServiceRegistration): MethodEntry[] {
    const entries: MethodEntry[] = [];
    for (const method of reg.service.methods) {
      const fn = reg.impl[method.localName];
      if (typeof fn !== "function") throw new Error(`${reg.service.typeName}: no implementation of ${method.name}`);
      const path = `/${reg.service.typeName}/${method.name}`;
      if (this.byPath.has(path)) throw new Error(`${path} is registered twice`);
      const capability = reg.capability ?? requiredCapability(method);
      const impl = fn as (...args: unknown[]) => unknown;
      const entry: MethodEntry = {
        path,
        method,
        capability,
        audited: capability?.endsWith(".write") ?? false,
        handler: this.deps.failpoints?.mayFault(path) ? this.withFailpoint(this.deps.failpoints, method, path, impl) : impl,
      };
      this.byPath.set(path, entry);
      entries.push(entry);
    }
    return entries;
  }

  /** Every registered RPC, in registration order. */
  get methods(): MethodEntry[] {
    return [...this.byPath.values()];
  }

  lookup(path: string): MethodEntry | undefined {
    return this.byPath.get(path);
  }

  /**
   * Starts a call: trace context, cancellation, authentication, authorization, admission. Returns the
   * active call, or the OrbitalError that refused it (already counted, audited and logged).
   */
  begin(entry: MethodEntry, origin: CallOrigin): ActiveCall | OrbitalError {
    const { path, audited } = entry;
    const log = this.deps.log;
    const started = process.hrtime.bigint();
    const trace: TraceContext = traceFromParent(origin.traceparent);
    const abort = new AbortController();
    const unsubscribeCancel = origin.onCancel(() => abort.abort(new Error("cancelled by the caller")));
    const onShutdown = () => abort.abort(new Error("daemon shutting down"));
    this.shutdown.signal.addEventListener("abort", onShutdown);
    let release: (() => void) | undefined;
    let who = origin.caller;
    let ended = false;
    const done = (failure: OrbitalError | undefined) => {
      if (ended) return;
      ended = true;
      const code = failure?.code ?? Code.OK;
      try {
        this.deps.metrics.observe(path, origin.transport, code, Number(process.hrtime.bigint() - started) / 1e9);
        if (audited) {
          this.deps.audit?.({
            time: new Date().toISOString(),
            principal: who,
            method: path,
            code: Code[code] ?? String(code),
            ...(failure ? { reason: failure.reason } : {}),
            traceId: trace.traceId,
          });
        }
      } finally {
        // Whatever the audit did, the call no longer counts as in flight (or the drain would wait for it).
        unsubscribeCancel();
        this.shutdown.signal.removeEventListener("abort", onShutdown);
        release?.();
        this.callEnded();
      }
    };
    this.active++;
    const fail = (err: OrbitalError) => {
      err.traceId = trace.traceId;
      done(err);
      return err;
    };
    if (this.shutdown.signal.aborted) return fail(shuttingDown());
    origin.sendTraceparent(toTraceparent(trace));
    try {
      const principal = origin.authenticate();
      who = principal.user;
      authorize({ path, capability: entry.capability }, principal);
      release = origin.admit?.();
      const ctx: CallContext = { path, principal, trace, signal: abort.signal, log };
      return { entry, ctx, done };
    } catch (err) {
      const e = toOrbitalError(err);
      runWithTrace(trace, () => log.info({ method: path, reason: e.reason, ...origin.refusedLog }, "call refused"));
      return fail(e);
    }
  }

  /**
   * Runs the body of an active call in its trace context. The body does the work and streams any messages,
   * and returns the function that sends the final answer (the unary response, the end of a stream): the
   * call is ended, and so audited, first, and the answer sent after. A failure is shaped by finishError, the
   * call ended with it, and then handed to `onError` (which sends it on the transport's wire).
   */
  run(call: ActiveCall, body: () => Promise<() => void>, onError: (err: OrbitalError) => void): void {
    void runWithTrace(call.ctx.trace, async () => {
      let failure: OrbitalError | undefined;
      try {
        const sendAnswer = await this.bounded(call, body());
        call.done(undefined);
        sendAnswer();
      } catch (err) {
        // A throw after done() (the answer could not be sent) finds the call ended; done() does nothing.
        const e = this.finishError(call.ctx, err);
        failure = e;
        call.done(e);
        onError(e);
      } finally {
        const own = failure && (failure.reason === "INTERNAL" || failure.reason === "HANDLER_TIMEOUT") ? failure : undefined;
        this.deps.onHandlerOutcome?.(call.entry, own);
      }
    });
  }


  /**
   * The body of a unary or client-streaming call, cut off after handlerTimeoutMs: the call ends with
   * HANDLER_TIMEOUT and its late answer is never sent. Streams that send many responses are not cut off.
   */
  private bounded<T>(call: ActiveCall, work: Promise<T>): Promise<T> {
    const kind = call.entry.method.methodKind;
    if (kind === "server_streaming" || kind === "bidi_streaming") return work;
    const ms = this.deps.handlerTimeoutMs ?? DEFAULT_HANDLER_TIMEOUT_MS;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(
          new OrbitalError({
            reason: ErrorReason.HANDLER_TIMEOUT,
            message: `${call.entry.method.name} did not finish within ${ms} ms; if it was a change, read the state back`,
            metadata: { method: call.entry.path, timeoutMs: ms },
          }),
        );
      }, ms);
      work.then(
        (v) => {
          clearTimeout(timer);
          resolve(v);
        },
        (err: unknown) => {
          clearTimeout(timer);
          reject(err);
        },
      );
    });
  }

  /** The OrbitalError of a failed call, stamped with its trace id; INTERNAL failures are logged as errors. */
  finishError(ctx: CallContext, err: unknown): OrbitalError {
    const e = toOrbitalError(err);
    e.traceId = ctx.trace.traceId;
    runWithTrace(ctx.trace, () => {
      if (e.reason === "INTERNAL") this.deps.log.error({ method: ctx.path, err: e.cause ?? e }, "handler failed");
      else this.deps.log.debug({ method: ctx.path, reason: e.reason }, "call failed");
    });
    return e;
  }

  /** Whether the drain period ran out and calls in flight were told to stop. */
  get shuttingDown(): boolean {
    return this.shutdown.signal.aborted;
  }

  /** The error a call ends with when it was cut short by the shutdown. */
  shuttingDownError(): OrbitalError {
    return shuttingDown();
  }

  /** Calls being served right now, on every transport. */
  get activeCalls(): number {
    return this.active;
  }

  /**
   * Lets calls in flight finish until `graceMs`, then cancels what is left (handlers see their signal
   * aborted, new calls get SHUTTING_DOWN) and waits up to a second more. Every transport's stop calls this;
   * the first call starts the drain, the others wait for the same one.
   */
  drain(graceMs: number): Promise<void> {
    this.draining ??= (async () => {
      const idle = new Promise<void>((resolve) => (this.active === 0 ? resolve() : this.idleWaiters.push(resolve)));
      const timedOut = await Promise.race([idle.then(() => false), new Promise<boolean>((r) => setTimeout(() => r(true), graceMs).unref())]);
      if (timedOut) {
        this.shutdown.abort();
        await Promise.race([idle, new Promise((r) => setTimeout(r, 1000).unref())]);
      }
    })();
    return this.draining;
  }

  private callEnded(): void {
    this.active--;
    if (this.active === 0) for (const w of this.idleWaiters.splice(0)) w();
  }

  /** Wraps a handler so that its configured failpoint fires before it runs (tests only). */
  private withFailpoint(failpoints: Failpoints, method: DescMethod, path: string, impl: (...args: unknown[]) => unknown) {
    if (method.methodKind === "server_streaming" || method.methodKind === "bidi_streaming") {
      return async function* (...args: unknown[]) {
        await failpoints.trigger(path);
        yield* impl(...args) as AsyncIterable<unknown>;
      };
    }
    return async (...args: unknown[]) => {
      await failpoints.trigger(path);
      return impl(...args);
    };
  }
}
