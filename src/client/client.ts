// Typed clients for the API services, generated at run time from the service descriptors: unary calls return
// promises, server streams async iterables, client streams take an iterable of requests. Messages are
// encoded here and carried by the transport's channel (fast path or gRPC); failures are thrown as
// OrbitalError with code, reason, metadata, field violations and the trace id.
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
import type { ChannelCallOptions } from "./call-channel.js";
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

function channelOptions(transport: Transport, options: CallOptions | undefined): ChannelCallOptions {
  return {
    deadline: Date.now() + (options?.deadlineMs ?? transport.deadlineMs),
    traceparent: options?.traceparent,
    onTrace: options?.onTrace,
    signal: options?.signal,
  };
}

async function* encoded(requests: Requests<unknown>, schema: DescMessage): AsyncIterable<Uint8Array> {
  for await (const r of requests as AsyncIterable<unknown>) yield toBinary(schema, create(schema, r as never));
}

async function* decoded(responses: AsyncIterable<Uint8Array>, schema: DescMessage): AsyncIterable<unknown> {
  for await (const bytes of responses) yield fromBinary(schema, bytes);
}

function methodCaller(transport: Transport, method: DescMethod) {
  const ch = transport.channel;
  const request = (r: unknown) => toBinary(method.input, create(method.input, r as never));
  const response = (b: Uint8Array) => fromBinary(method.output, b);
  switch (method.methodKind) {
    case "unary":
      return async (r: unknown, options?: CallOptions) => response(await ch.unary(method, request(r), channelOptions(transport, options)));
    case "server_streaming":
      return (r: unknown, options?: CallOptions) => decoded(ch.serverStream(method, request(r), channelOptions(transport, options)), method.output);
    case "client_streaming":
      return async (rs: Requests<unknown>, options?: CallOptions) => response(await ch.clientStream(method, encoded(rs, method.input), channelOptions(transport, options)));
    case "bidi_streaming":
      return (rs: Requests<unknown>, options?: CallOptions) => decoded(ch.bidiStream(method, encoded(rs, method.input), channelOptions(transport, options)), method.output);
  }
}

export function createClient<S extends DescService>(service: S, transport: Transport): Client<S> {
  const client: Record<string, unknown> = {};
  for (const m of service.methods) client[m.localName] = methodCaller(transport, m);
  return client as Client<S>;
}
