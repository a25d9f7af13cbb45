// The gRPC transport: a grpc-js server fed through createConnectionInjector() with the connections the
// ConnectionRouter recognised as HTTP/2, whose peer credentials it read before grpc-js sees them. What is gRPC's
// own lives here: grpc-js wiring, the connection table, peer credentials, per-connection limits, protobuf
// binary framing and HTTP/2 streaming. Everything else a call goes through (trace → authenticate →
// authorize → handler → metrics and audit, structured google.rpc.Status errors) is the CallPipeline's,
// shared with the REST gateway. Services are registered from their descriptors.
import type net from "node:net";
import * as grpc from "@grpc/grpc-js";
import { create, fromBinary, toBinary, type DescMessage } from "@bufbuild/protobuf";
import { ErrorReason } from "../../../gen/orbital/api/v1/error_reason_pb.js";
import { encodeStatus, OrbitalError, STATUS_DETAILS_KEY } from "../../../common/errors.js";
import type { Logger } from "../../../common/logger.js";
import type { Principal } from "../../auth/principal.js";
import type { CallContext } from "../../rpc/call-context.js";
import type { ActiveCall, CallPipeline, MethodEntry } from "../../rpc/call-pipeline.js";
import { admitCall, connectionPrincipal, peerUid, type ConnectionTable } from "../../rpc/connections.js";
import { chargeReceivesTo, installReceiveHook } from "./grpc-receive-hook.js";
import { installStatusShim } from "./grpc-status-shim.js";
import type { ReceiveBudget } from "../../rpc/receive-budget.js";
import type { ServiceRegistration } from "../../rpc/service-impl.js";

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
  /** The call pipeline shared with the other transports. */
  pipeline: CallPipeline;
  /** The connections of every transport (the router registers them). */
  connections: ConnectionTable;
  /** Resolves a socket peer to a principal; throws an OrbitalError when it cannot. */
  authenticatePeer(peer: { pid: number; uid: number; gid: number }): Principal;
  /** What requests may hold before their handlers have them, shared with the fast path. */
  receiveBudget: ReceiveBudget;
  limits?: Partial<GrpcLimits>;
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
  private readonly connections: ConnectionTable;
  private readonly limits: GrpcLimits;
  private readonly pipeline: CallPipeline;
  private readonly inject: { injectConnection(socket: net.Socket): void; drain(graceMs: number): void; destroy(): void };

  constructor(private readonly deps: GrpcServerDeps) {
    installStatusShim();
    this.limits = { ...defaultLimits, ...deps.limits };
    this.pipeline = deps.pipeline;
    this.connections = deps.connections;
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
    installReceiveHook();
    const injector = this.server.createConnectionInjector(grpc.ServerCredentials.createInsecure());
    // Each connection gets its account in the receive budget as it is handed to grpc-js.
    this.inject = {
      ...injector,
      injectConnection: (socket) => {
        chargeReceivesTo(socket, deps.receiveBudget.account());
        injector.injectConnection(socket);
      },
    };
  }

  /**
   * Registers a service in the call pipeline and serves it: every RPC of its descriptor must have an
   * implementation.
   */
  addService(reg: ServiceRegistration): void {
    const entries = this.pipeline.register(reg);
    const definition: Record<string, grpc.MethodDefinition<Buffer, Uint8Array>> = {};
    const handlers: grpc.UntypedServiceImplementation = {};
    for (const entry of entries) {
      const { method } = entry;
      definition[method.name] = {
        path: entry.path,
        requestStream: method.methodKind === "client_streaming" || method.methodKind === "bidi_streaming",
        responseStream: method.methodKind === "server_streaming" || method.methodKind === "bidi_streaming",
        requestSerialize: toBuffer,
        requestDeserialize: identity,
        responseSerialize: toBuffer,
        responseDeserialize: identity,
      };
      handlers[method.name] = this.handlerFor(entry);
    }
    this.server.addService(definition as grpc.ServiceDefinition, handlers);
  }

  /** Serves an accepted connection that speaks HTTP/2 (registered in the connection table already). */
  injectConnection(socket: net.Socket): void {
    this.inject.injectConnection(socket);
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

  /** Starts a call in the pipeline with what the gRPC transport knows of it: metadata and connection. */
  private begin(entry: MethodEntry, call: AnyCall & NodeJS.EventEmitter): ActiveCall | OrbitalError {
    const parent = call.metadata.get("traceparent")[0];
    const conn = this.connections.byPeer(call.getPeer());
    const uid = peerUid(conn);
    return this.pipeline.begin(entry, {
      transport: "grpc",
      traceparent: typeof parent === "string" ? parent : undefined,
      caller: uid !== undefined ? `uid:${uid}` : "unknown",
      refusedLog: { uid },
      onCancel: (cancel) => {
        const events = call as NodeJS.EventEmitter;
        events.once("cancelled", cancel);
        return () => void events.off("cancelled", cancel);
      },
      sendTraceparent: (traceparent) => {
        const md = new grpc.Metadata();
        md.set("traceparent", traceparent);
        call.sendMetadata(md);
      },
      authenticate: () => connectionPrincipal(conn, this.deps.authenticatePeer),
      admit: () => (conn ? admitCall(conn, this.limits.maxInFlightPerConnection) : undefined),
    });
  }

  private handlerFor(entry: MethodEntry) {
    const { method, path } = entry;
    const pipeline = this.pipeline;
    const input = method.input;
    const output = method.output;
    const encode = (msg: unknown) => toBinary(output, msg as never);
    const fn = entry.handler;

    switch (method.methodKind) {
      case "unary":
        return (call: grpc.ServerUnaryCall<Buffer, Uint8Array>, callback: grpc.sendUnaryData<Uint8Array>) => {
          const started = this.begin(entry, call);
          if (started instanceof OrbitalError) return callback(toServiceError(started));
          const { ctx } = started;
          pipeline.run(
            started,
            async () => {
              const req = this.decode(input, call.request, path);
              const res = await (fn as (r: unknown, c: CallContext) => Promise<unknown>)(req, ctx);
              const reply = encode(create(output, res as never));
              return () => callback(null, reply);
            },
            (e) => callback(toServiceError(e)),
          );
        };
      case "server_streaming":
        return (call: grpc.ServerWritableStream<Buffer, Uint8Array>) => {
          const started = this.begin(entry, call);
          if (started instanceof OrbitalError) return void call.emit("error", toServiceError(started));
          const { ctx } = started;
          pipeline.run(
            started,
            async () => {
              const req = this.decode(input, call.request, path);
              for await (const res of (fn as (r: unknown, c: CallContext) => AsyncIterable<unknown>)(req, ctx)) {
                if (ctx.signal.aborted) break;
                if (!call.write(encode(create(output, res as never)))) await waitDrain(call, ctx.signal);
              }
              if (ctx.signal.aborted && pipeline.shuttingDown) throw pipeline.shuttingDownError();
              return () => call.end();
            },
            (e) => call.emit("error", toServiceError(e)),
          );
        };
      case "client_streaming":
      case "bidi_streaming": {
        const bidi = method.methodKind === "bidi_streaming";
        return (call: grpc.ServerReadableStream<Buffer, Uint8Array> | grpc.ServerDuplexStream<Buffer, Uint8Array>, callback?: grpc.sendUnaryData<Uint8Array>) => {
          const started = this.begin(entry, call);
          const sendError = (e: OrbitalError) => (callback ? callback(toServiceError(e)) : call.emit("error", toServiceError(e)));
          if (started instanceof OrbitalError) return sendError(started);
          const { ctx } = started;
          const decode = this.decode.bind(this);
          async function* requests() {
            // Not `for await (… of call)`: that destroys the duplex when the client half-closes, and the final
            // status (duplex.end() below) would never be sent.
            for await (const chunk of call.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) yield decode(input, chunk, path);
          }
          pipeline.run(
            started,
            async () => {
              if (bidi) {
                const duplex = call as grpc.ServerDuplexStream<Buffer, Uint8Array>;
                for await (const res of (fn as (r: unknown, c: CallContext) => AsyncIterable<unknown>)(requests(), ctx)) {
                  if (!duplex.write(encode(create(output, res as never)))) await waitDrain(duplex, ctx.signal);
                }
                return () => duplex.end();
              }
              const res = await (fn as (r: unknown, c: CallContext) => Promise<unknown>)(requests(), ctx);
              const reply = encode(create(output, res as never));
              return () => callback!(null, reply);
            },
            sendError,
          );
        };
      }
    }
  }

  /** Calls being served right now, on every transport of the pipeline. */
  get activeCalls(): number {
    return this.pipeline.activeCalls;
  }

  /**
   * Graceful stop: stop accepting, let calls in flight finish until `graceMs`, then cancel what is left
   * (handlers see their signal aborted) and close every connection.
   */
  async stop(graceMs: number): Promise<void> {
    // GOAWAY now (the router stopped accepting already); grpc-js would destroy the sessions at its own deadline, so give it ours plus the time
    // needed to end the remaining calls with SHUTTING_DOWN first.
    this.inject.drain(graceMs + 2000);
    await this.pipeline.drain(graceMs);
    // Let the last statuses reach the clients: sessions close by themselves after GOAWAY once their streams
    // ended. Whatever is still open after a second is destroyed.
    const flushDeadline = Date.now() + 1000;
    while (this.connections.sizeOf("grpc") > 0 && Date.now() < flushDeadline) await new Promise((r) => setTimeout(r, 10));
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
