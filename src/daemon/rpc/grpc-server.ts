// The gRPC transport: a grpc-js server fed through createConnectionInjector() from the daemon's own
// net.Server, so that every connection's peer credentials are read before grpc-js sees it. Each call runs
// the same pipeline: trace → connection limits → authenticate → authorize → decode → handler → encode, and
// every failure leaves as a structured google.rpc.Status. Services are registered from their descriptors.
import net from "node:net";
import * as grpc from "@grpc/grpc-js";
import { create, fromBinary, toBinary, type DescMessage, type DescMethod } from "@bufbuild/protobuf";
import { ErrorReason } from "../../gen/orbital/api/v1/error_reason_pb.js";
import { requiredCapability } from "../../common/capabilities.js";
import { encodeStatus, OrbitalError, STATUS_DETAILS_KEY, toOrbitalError } from "../../common/errors.js";
import type { Logger } from "../../common/logger.js";
import type { Metrics } from "../../common/metrics.js";
import { Code } from "../../gen/google/rpc/code_pb.js";
import type { AuditRecord } from "../store/audit-log.js";
import { runWithTrace, toTraceparent, traceFromParent, type TraceContext } from "../../common/trace.js";
import { authorize } from "../auth/authorize.js";
import type { PeerCredentialReader } from "../auth/peer-credentials.js";
import type { Principal } from "../auth/principal.js";
import type { CallContext } from "./call-context.js";
import { ConnectionTable, type Connection } from "./connections.js";
import { parseFailpoints, trigger } from "./failpoints.js";
import { installStatusShim } from "./grpc-status-shim.js";
import type { ServiceRegistration } from "./service-impl.js";

export interface GrpcLimits {
  /** Largest request message accepted, bytes. */
  maxMessageBytes: number;
  /** HTTP/2 concurrent streams per connection. */
  maxConcurrentStreams: number;
  /** Calls being served per connection; more get RATE_LIMITED. */
  maxInFlightPerConnection: number;
  /** Open connections; more are closed at accept. */
  maxConnections: number;
  /** Every this long each connection gets a PING; one not answered within as long again is closed, ms. */
  keepaliveMs: number;
}

export const defaultLimits: GrpcLimits = {
  maxMessageBytes: 4 << 20,
  maxConcurrentStreams: 64,
  maxInFlightPerConnection: 32,
  maxConnections: 256,
  keepaliveMs: 5_000,
};

export interface GrpcServerDeps {
  log: Logger;
  peerCredentials: PeerCredentialReader;
  /** Resolves a socket peer to a principal; throws an OrbitalError when it cannot. */
  authenticatePeer(peer: { pid: number; uid: number; gid: number }): Principal;
  metrics: Metrics;
  /** Receives one record per finished call of an RPC that needs a ".write" capability. */
  audit?: (record: AuditRecord) => void;
  limits?: Partial<GrpcLimits>;
  /** Fault injection for tests, as in ORBITAL_FAILPOINTS. */
  failpoints?: string;
}

type AnyCall = grpc.ServerUnaryCall<Buffer, Uint8Array> | grpc.ServerReadableStream<Buffer, Uint8Array> | grpc.ServerWritableStream<Buffer, Uint8Array> | grpc.ServerDuplexStream<Buffer, Uint8Array>;

const identity = (b: Buffer) => b;
const toBuffer = (m: Uint8Array) => Buffer.from(m.buffer, m.byteOffset, m.byteLength);

/** Trailing metadata carrying the status details of an error. */
function errorMetadata(err: OrbitalError): grpc.Metadata {
  const md = new grpc.Metadata();
  md.set(STATUS_DETAILS_KEY, toBuffer(encodeStatus(err)));
  return md;
}

function toServiceError(err: OrbitalError): Partial<grpc.StatusObject> {
  return { code: err.code as number as grpc.status, details: err.message, metadata: errorMetadata(err) };
}

export class GrpcServer {
  readonly server: grpc.Server;
  readonly connections = new ConnectionTable();
  private readonly limits: GrpcLimits;
  private readonly listeners: net.Server[] = [];
  private readonly inject: { injectConnection(socket: net.Socket): void; drain(graceMs: number): void; destroy(): void };
  private readonly shutdown = new AbortController();
  private active = 0;
  private idleWaiters: (() => void)[] = [];
  private readonly failpoints;

  constructor(private readonly deps: GrpcServerDeps) {
    installStatusShim();
    this.limits = { ...defaultLimits, ...deps.limits };
    this.failpoints = parseFailpoints(deps.failpoints);
    this.server = new grpc.Server({
      "grpc.max_receive_message_length": this.limits.maxMessageBytes,
      "grpc.max_send_message_length": 64 << 20,
      "grpc.max_concurrent_streams": this.limits.maxConcurrentStreams,
      // After a protocol error, nghttp2 sends GOAWAY and stops reading, and Node never closes the socket: the
      // connection stays open even once the peer is gone, and maxConnections of them lock every client out.
      // An unanswered PING is the only way to find such a connection (or a vanished peer) and close it.
      "grpc.keepalive_time_ms": this.limits.keepaliveMs,
      "grpc.keepalive_timeout_ms": this.limits.keepaliveMs,
    });
    this.inject = this.server.createConnectionInjector(grpc.ServerCredentials.createInsecure());
  }

  /** Registers a service: every RPC of its descriptor must have an implementation. */
  addService(reg: ServiceRegistration): void {
    const definition: Record<string, grpc.MethodDefinition<Buffer, Uint8Array>> = {};
    const handlers: grpc.UntypedServiceImplementation = {};
    for (const method of reg.service.methods) {
      const fn = reg.impl[method.localName];
      if (typeof fn !== "function") throw new Error(`${reg.service.typeName}: no implementation of ${method.name}`);
      const capability = reg.capability ?? requiredCapability(method);
      definition[method.name] = {
        path: `/${reg.service.typeName}/${method.name}`,
        requestStream: method.methodKind === "client_streaming" || method.methodKind === "bidi_streaming",
        responseStream: method.methodKind === "server_streaming" || method.methodKind === "bidi_streaming",
        requestSerialize: toBuffer,
        requestDeserialize: identity,
        responseSerialize: toBuffer,
        responseDeserialize: identity,
      };
      handlers[method.name] = this.handlerFor(method, capability, fn as (...args: unknown[]) => unknown);
    }
    this.server.addService(definition as grpc.ServiceDefinition, handlers);
  }

  /** Serves connections accepted by `listener` (already listening or about to). */
  attach(listener: net.Server): void {
    listener.maxConnections = this.limits.maxConnections;
    listener.on("connection", (socket) => this.accept(socket));
    this.listeners.push(listener);
  }

  private accept(socket: net.Socket): void {
    let peer: Connection["peer"];
    if (!this.deps.peerCredentials.available) {
      peer = { error: this.deps.peerCredentials.cause };
    } else {
      try {
        peer = this.deps.peerCredentials.read(socket);
      } catch (err) {
        peer = { error: (err as Error).message };
      }
    }
    this.connections.add(socket, peer);
    socket.on("error", (err) => this.deps.log.debug({ err: err.message }, "connection error"));
    this.inject.injectConnection(socket);
  }

  /** Principal of the call's connection, or the structured reason why there is none. */
  private authenticate(conn: Connection | undefined): Principal {
    if (!conn) {
      throw new OrbitalError({ reason: ErrorReason.CREDENTIALS_MISSING, message: "the call came on a connection without credentials" });
    }
    if ("error" in conn.peer) {
      throw new OrbitalError({
        reason: ErrorReason.PEER_CREDENTIALS_UNAVAILABLE,
        message: "peer credentials are unavailable; refusing every call",
        metadata: { cause: conn.peer.error },
      });
    }
    return this.deps.authenticatePeer(conn.peer);
  }

  private decode<T extends DescMessage>(schema: T, bytes: Buffer, path: string) {
    try {
      return fromBinary(schema, bytes);
    } catch (err) {
      throw new OrbitalError({
        reason: ErrorReason.MALFORMED_MESSAGE,
        message: `request is not a valid ${schema.typeName}: ${(err as Error).message}`,
        metadata: { method: path },
      });
    }
  }

  private handlerFor(method: DescMethod, capability: string | undefined, impl: (...args: unknown[]) => unknown) {
    const path = `/${method.parent.typeName}/${method.name}`;
    const fn = this.failpoints.has(path) ? this.withFailpoint(method, path, impl) : impl;
    const policy = { path, capability };
    const audited = capability?.endsWith(".write") ?? false;
    const log = this.deps.log;

    const begin = (call: AnyCall & NodeJS.EventEmitter): { ctx: CallContext; conn: Connection | undefined; done: (failure: OrbitalError | undefined) => void } | OrbitalError => {
      const started = process.hrtime.bigint();
      const parent = call.metadata.get("traceparent")[0];
      const trace: TraceContext = traceFromParent(typeof parent === "string" ? parent : undefined);
      const abort = new AbortController();
      const onCancel = () => abort.abort(new Error("cancelled by the caller"));
      (call as NodeJS.EventEmitter).once("cancelled", onCancel);
      const onShutdown = () => abort.abort(new Error("daemon shutting down"));
      this.shutdown.signal.addEventListener("abort", onShutdown);
      const conn = this.connections.byPeer(call.getPeer());
      let counted = false;
      let who = conn && "uid" in conn.peer ? `uid:${conn.peer.uid}` : "unknown";
      const done = (failure: OrbitalError | undefined) => {
        const code = failure?.code ?? Code.OK;
        this.deps.metrics.observe(path, code, Number(process.hrtime.bigint() - started) / 1e9);
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
        (call as NodeJS.EventEmitter).off("cancelled", onCancel);
        this.shutdown.signal.removeEventListener("abort", onShutdown);
        if (counted && conn) conn.inFlight--;
        this.callEnded();
      };
      this.active++;
      const fail = (err: OrbitalError) => {
        err.traceId = trace.traceId;
        done(err);
        return err;
      };
      if (this.shutdown.signal.aborted) {
        return fail(new OrbitalError({ reason: ErrorReason.SHUTTING_DOWN, message: "the daemon is shutting down" }));
      }
      const md = new grpc.Metadata();
      md.set("traceparent", toTraceparent(trace));
      call.sendMetadata(md);
      try {
        const principal = this.authenticate(conn);
        who = principal.user;
        authorize(policy, principal);
        if (conn) {
          if (conn.inFlight >= this.limits.maxInFlightPerConnection) {
            throw new OrbitalError({
              reason: ErrorReason.RATE_LIMITED,
              message: `more than ${this.limits.maxInFlightPerConnection} calls in flight on this connection`,
              metadata: { limit: this.limits.maxInFlightPerConnection },
              retryDelayMs: 100,
            });
          }
          conn.inFlight++;
          counted = true;
        }
        const ctx: CallContext = { path, principal, trace, signal: abort.signal, log };
        return { ctx, conn, done };
      } catch (err) {
        const e = toOrbitalError(err);
        runWithTrace(trace, () => log.info({ method: path, reason: e.reason, uid: conn && "uid" in conn.peer ? conn.peer.uid : undefined }, "call refused"));
        return fail(e);
      }
    };

    const finishError = (ctx: CallContext, err: unknown): OrbitalError => {
      const e = toOrbitalError(err);
      e.traceId = ctx.trace.traceId;
      runWithTrace(ctx.trace, () => {
        if (e.reason === "INTERNAL") log.error({ method: path, err: e.cause ?? e }, "handler failed");
        else log.debug({ method: path, reason: e.reason }, "call failed");
      });
      return e;
    };

    const input = method.input;
    const output = method.output;
    const encode = (msg: unknown) => toBinary(output, msg as never);

    switch (method.methodKind) {
      case "unary":
        return (call: grpc.ServerUnaryCall<Buffer, Uint8Array>, callback: grpc.sendUnaryData<Uint8Array>) => {
          const started = begin(call);
          if (started instanceof OrbitalError) return callback(toServiceError(started));
          const { ctx, done } = started;
          runWithTrace(ctx.trace, async () => {
            let failure: OrbitalError | undefined;
            try {
              const req = this.decode(input, call.request, path);
              const res = await (fn as (r: unknown, c: CallContext) => Promise<unknown>)(req, ctx);
              callback(null, encode(create(output, res as never)));
            } catch (err) {
              const e = finishError(ctx, err);
              failure = e;
              callback(toServiceError(e));
            } finally {
              done(failure);
            }
          });
        };
      case "server_streaming":
        return (call: grpc.ServerWritableStream<Buffer, Uint8Array>) => {
          const started = begin(call);
          if (started instanceof OrbitalError) return void call.emit("error", toServiceError(started));
          const { ctx, done } = started;
          runWithTrace(ctx.trace, async () => {
            let failure: OrbitalError | undefined;
            try {
              const req = this.decode(input, call.request, path);
              for await (const res of (fn as (r: unknown, c: CallContext) => AsyncIterable<unknown>)(req, ctx)) {
                if (ctx.signal.aborted) break;
                if (!call.write(encode(create(output, res as never)))) await waitDrain(call, ctx.signal);
              }
              if (ctx.signal.aborted && this.shutdown.signal.aborted) {
                throw new OrbitalError({ reason: ErrorReason.SHUTTING_DOWN, message: "the daemon is shutting down" });
              }
              call.end();
            } catch (err) {
              const e = finishError(ctx, err);
              failure = e;
              call.emit("error", toServiceError(e));
            } finally {
              done(failure);
            }
          });
        };
      case "client_streaming":
      case "bidi_streaming": {
        const bidi = method.methodKind === "bidi_streaming";
        return (call: grpc.ServerReadableStream<Buffer, Uint8Array> | grpc.ServerDuplexStream<Buffer, Uint8Array>, callback?: grpc.sendUnaryData<Uint8Array>) => {
          const started = begin(call);
          const sendError = (e: OrbitalError) => (callback ? callback(toServiceError(e)) : call.emit("error", toServiceError(e)));
          if (started instanceof OrbitalError) return sendError(started);
          const { ctx, done } = started;
          const decode = this.decode.bind(this);
          async function* requests() {
            // Not `for await (… of call)`: that destroys the duplex when the client half-closes, and the final
            // status (duplex.end() below) would never be sent.
            for await (const chunk of call.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) yield decode(input, chunk, path);
          }
          runWithTrace(ctx.trace, async () => {
            let failure: OrbitalError | undefined;
            try {
              if (bidi) {
                const duplex = call as grpc.ServerDuplexStream<Buffer, Uint8Array>;
                for await (const res of (fn as (r: unknown, c: CallContext) => AsyncIterable<unknown>)(requests(), ctx)) {
                  if (!duplex.write(encode(create(output, res as never)))) await waitDrain(duplex, ctx.signal);
                }
                duplex.end();
              } else {
                const res = await (fn as (r: unknown, c: CallContext) => Promise<unknown>)(requests(), ctx);
                callback!(null, encode(create(output, res as never)));
              }
            } catch (err) {
              const e = finishError(ctx, err);
              failure = e;
              sendError(e);
            } finally {
              done(failure);
            }
          });
        };
      }
    }
  }

  /** Wraps a handler so that its configured failpoint fires before it runs (tests only). */
  private withFailpoint(method: DescMethod, path: string, impl: (...args: unknown[]) => unknown) {
    const failpoints = this.failpoints;
    if (method.methodKind === "server_streaming" || method.methodKind === "bidi_streaming") {
      return async function* (...args: unknown[]) {
        await trigger(failpoints, path);
        yield* impl(...args) as AsyncIterable<unknown>;
      };
    }
    return async (...args: unknown[]) => {
      await trigger(failpoints, path);
      return impl(...args);
    };
  }

  private callEnded(): void {
    this.active--;
    if (this.active === 0) for (const w of this.idleWaiters.splice(0)) w();
  }

  /** Calls being served right now. */
  get activeCalls(): number {
    return this.active;
  }

  /**
   * Graceful stop: stop accepting, let calls in flight finish until `graceMs`, then cancel what is left
   * (handlers see their signal aborted) and close every connection.
   */
  async stop(graceMs: number): Promise<void> {
    // close() stops accepting at once; its callback would wait for every connection to end, so don't.
    for (const l of this.listeners) l.close();
    // GOAWAY now; grpc-js would destroy the sessions at its own deadline, so give it ours plus the time
    // needed to end the remaining calls with SHUTTING_DOWN first.
    this.inject.drain(graceMs + 2000);
    const idle = new Promise<void>((resolve) => (this.active === 0 ? resolve() : this.idleWaiters.push(resolve)));
    const timedOut = await Promise.race([idle.then(() => false), new Promise<boolean>((r) => setTimeout(() => r(true), graceMs).unref())]);
    if (timedOut) {
      this.shutdown.abort();
      await Promise.race([idle, new Promise((r) => setTimeout(r, 1000).unref())]);
    }
    // Let the last statuses reach the clients: sessions close by themselves after GOAWAY once their streams
    // ended. Whatever is still open after a second is destroyed.
    const flushDeadline = Date.now() + 1000;
    while (this.connections.size > 0 && Date.now() < flushDeadline) await new Promise((r) => setTimeout(r, 10));
    this.inject.destroy();
    this.server.forceShutdown();
  }
}

function waitDrain(stream: NodeJS.EventEmitter, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const finish = () => {
      stream.off("drain", finish);
      signal.removeEventListener("abort", finish);
      resolve();
    };
    stream.once("drain", finish);
    signal.addEventListener("abort", finish);
  });
}
