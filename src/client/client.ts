// Typed clients for the API services, generated at run time from the service descriptors: unary calls return
// promises, server streams async iterables, client streams take an iterable of requests. Failures are thrown
// as OrbitalError with code, reason, metadata, field violations and the trace id.
import * as grpc from "@grpc/grpc-js";
import {
  create,
  fromBinary,
  toBinary,
  type DescMessage,
  type DescMethod,
  type DescService,
  type MessageInitShape,
  type MessageShape,
} from "@bufbuild/protobuf";
import type { GenService, GenServiceMethods } from "@bufbuild/protobuf/codegenv2";
import { decodeStatus, STATUS_DETAILS_KEY, type OrbitalError } from "../common/errors.js";
import type { Transport } from "./transport.js";

export interface CallOptions {
  /** Overrides the transport's default deadline, ms. */
  deadlineMs?: number;
  /** W3C traceparent to continue; otherwise the daemon mints a trace. */
  traceparent?: string;
  /** Called with the trace id the daemon used for this call, as soon as it is known. */
  onTrace?: (traceId: string) => void;
  signal?: AbortSignal;
}

type In<M> = M extends { input: infer I extends DescMessage } ? MessageInitShape<I> : never;
type Out<M> = M extends { output: infer O extends DescMessage } ? MessageShape<O> : never;
type Requests<T> = Iterable<T> | AsyncIterable<T>;

export type ClientMethod<M> = M extends { methodKind: "unary" }
  ? (request: In<M>, options?: CallOptions) => Promise<Out<M>>
  : M extends { methodKind: "server_streaming" }
    ? (request: In<M>, options?: CallOptions) => AsyncIterable<Out<M>>
    : M extends { methodKind: "client_streaming" }
      ? (requests: Requests<In<M>>, options?: CallOptions) => Promise<Out<M>>
      : (requests: Requests<In<M>>, options?: CallOptions) => AsyncIterable<Out<M>>;

export type Client<S> = S extends GenService<infer T extends GenServiceMethods> ? { [K in keyof T]: ClientMethod<T[K]> } : never;

/** The OrbitalError carried by a grpc-js ServiceError. */
export function errorFromGrpc(err: grpc.ServiceError): OrbitalError {
  const details = err.metadata?.get(STATUS_DETAILS_KEY)[0];
  return decodeStatus(err.code as number, err.details, typeof details === "string" ? Buffer.from(details) : details);
}

function metadataFor(options: CallOptions | undefined): grpc.Metadata {
  // Wait for the daemon instead of failing fast while it restarts; the deadline bounds the wait.
  const md = new grpc.Metadata({ waitForReady: true });
  if (options?.traceparent) md.set("traceparent", options.traceparent);
  return md;
}

function callOptions(transport: Transport, options: CallOptions | undefined): grpc.CallOptions {
  return { deadline: Date.now() + (options?.deadlineMs ?? transport.deadlineMs) };
}

function reportTrace(call: grpc.Call, options: CallOptions | undefined): void {
  if (!options?.onTrace) return;
  call.on("metadata", (md: grpc.Metadata) => {
    const tp = md.get("traceparent")[0];
    if (typeof tp === "string") options.onTrace!(tp.split("-")[1] ?? "");
  });
}

function cancelOnAbort(call: grpc.Call, signal: AbortSignal | undefined): void {
  signal?.addEventListener("abort", () => call.cancel(), { once: true });
}

/** Adapts grpc-js's event stream to an async iterable that throws OrbitalError. */
async function* readStream<T>(stream: grpc.ClientReadableStream<T>): AsyncIterable<T> {
  try {
    for await (const item of stream) yield item as T;
  } catch (err) {
    throw "code" in (err as object) ? errorFromGrpc(err as grpc.ServiceError) : err;
  } finally {
    stream.cancel();
  }
}

async function pump<T>(requests: Requests<T>, sink: grpc.ClientWritableStream<Uint8Array>, schema: DescMessage): Promise<void> {
  try {
    for await (const r of requests as AsyncIterable<T>) {
      if (!sink.write(toBinary(schema, create(schema, r as never)))) await new Promise((res) => sink.once("drain", res));
    }
    sink.end();
  } catch (err) {
    sink.cancel();
    throw err;
  }
}

function methodCaller(transport: Transport, method: DescMethod) {
  const path = `/${method.parent.typeName}/${method.name}`;
  const serialize = (m: unknown) => Buffer.from(toBinary(method.input, m as never));
  const deserialize = (b: Buffer) => fromBinary(method.output, b);
  const ch = transport.channel;
  switch (method.methodKind) {
    case "unary":
      return (request: unknown, options?: CallOptions) =>
        new Promise((resolve, reject) => {
          const call = ch.makeUnaryRequest(path, serialize, deserialize, create(method.input, request as never), metadataFor(options), callOptions(transport, options), (err, res) =>
            err ? reject(errorFromGrpc(err)) : resolve(res),
          );
          reportTrace(call, options);
          cancelOnAbort(call, options?.signal);
        });
    case "server_streaming":
      return (request: unknown, options?: CallOptions) => {
        const call = ch.makeServerStreamRequest(path, serialize, deserialize, create(method.input, request as never), metadataFor(options), callOptions(transport, options));
        reportTrace(call, options);
        cancelOnAbort(call, options?.signal);
        return readStream(call);
      };
    case "client_streaming":
      return (requests: Requests<unknown>, options?: CallOptions) =>
        new Promise((resolve, reject) => {
          const call = ch.makeClientStreamRequest(path, (b: Uint8Array) => Buffer.from(b), deserialize, metadataFor(options), callOptions(transport, options), (err, res) =>
            err ? reject(errorFromGrpc(err)) : resolve(res),
          );
          reportTrace(call, options);
          cancelOnAbort(call, options?.signal);
          pump(requests, call, method.input).catch(reject);
        });
    case "bidi_streaming":
      return (requests: Requests<unknown>, options?: CallOptions) => {
        const call = ch.makeBidiStreamRequest(path, (b: Uint8Array) => Buffer.from(b), deserialize, metadataFor(options), callOptions(transport, options));
        reportTrace(call, options);
        cancelOnAbort(call, options?.signal);
        void pump(requests, call, method.input).catch(() => call.cancel());
        return readStream(call);
      };
  }
}

export function createClient<S extends DescService>(service: S, transport: Transport): Client<S> {
  const client: Record<string, unknown> = {};
  for (const m of service.methods) client[m.localName] = methodCaller(transport, m);
  return client as Client<S>;
}
