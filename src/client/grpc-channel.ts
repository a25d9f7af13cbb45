// The gRPC protocol for the SDK: one grpc-js channel (one HTTP/2 connection) over the Unix socket that
// reconnects with backoff by itself; calls wait for the daemon (waitForReady) until their deadline. Loaded
// only by transports made with protocol "grpc": the fast path is the default, and orbctl never loads grpc-js.
import * as grpc from "@grpc/grpc-js";
import type { DescMethod } from "@bufbuild/protobuf";
import { decodeStatus, STATUS_DETAILS_KEY, type OrbitalError } from "../common/errors.js";
import { methodPath, type CallChannel, type ChannelCallOptions, type Requests } from "./call-channel.js";

/** grpc-js connectivity state READY. */
const READY = grpc.connectivityState.READY;

/** The OrbitalError carried by a grpc-js ServiceError. */
export function errorFromGrpc(err: grpc.ServiceError): OrbitalError {
  const details = err.metadata?.get(STATUS_DETAILS_KEY)[0];
  return decodeStatus(err.code as number, err.details, typeof details === "string" ? Buffer.from(details) : details);
}

const identity = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength);
const asBytes = (b: Buffer) => new Uint8Array(b.buffer, b.byteOffset, b.byteLength);

function metadataFor(options: ChannelCallOptions): grpc.Metadata {
  // Wait for the daemon instead of failing fast while it restarts; the deadline bounds the wait.
  const md = new grpc.Metadata({ waitForReady: true });
  if (options.traceparent) md.set("traceparent", options.traceparent);
  return md;
}

function watch(call: grpc.Call, options: ChannelCallOptions): void {
  if (options.onTrace) {
    call.on("metadata", (md: grpc.Metadata) => {
      const tp = md.get("traceparent")[0];
      if (typeof tp === "string") options.onTrace!(tp.split("-")[1] ?? "");
    });
  }
  options.signal?.addEventListener("abort", () => call.cancel(), { once: true });
}

/** Adapts grpc-js's event stream to an async iterable that throws OrbitalError. */
async function* readStream(stream: grpc.ClientReadableStream<Buffer>): AsyncIterable<Uint8Array> {
  try {
    for await (const item of stream) yield asBytes(item as Buffer);
  } catch (err) {
    throw "code" in (err as object) ? errorFromGrpc(err as grpc.ServiceError) : err;
  } finally {
    stream.cancel();
  }
}

async function pump(requests: Requests, sink: grpc.ClientWritableStream<Uint8Array>): Promise<void> {
  try {
    for await (const r of requests as AsyncIterable<Uint8Array>) {
      if (!sink.write(r)) await new Promise((res) => sink.once("drain", res));
    }
    sink.end();
  } catch (err) {
    sink.cancel();
    throw err;
  }
}

export class GrpcChannel implements CallChannel {
  private readonly client: grpc.Client;

  constructor(socketPath: string) {
    this.client = new grpc.Client(`unix:${socketPath}`, grpc.credentials.createInsecure(), {
      "grpc.max_receive_message_length": 64 << 20,
      "grpc.initial_reconnect_backoff_ms": 100,
      "grpc.max_reconnect_backoff_ms": 2000,
      "grpc.enable_retries": 0,
      // One Transport is one connection: grpc-js would otherwise share a connection among every channel to
      // the same socket, and per-connection limits would count them all together.
      "grpc.use_local_subchannel_pool": 1,
    });
  }

  unary(method: DescMethod, request: Uint8Array, options: ChannelCallOptions): Promise<Uint8Array> {
    return new Promise((resolve, reject) => {
      const call = this.client.makeUnaryRequest(methodPath(method), identity, identity, request, metadataFor(options), { deadline: options.deadline }, (err, res) =>
        err ? reject(errorFromGrpc(err)) : resolve(asBytes(res!)),
      );
      watch(call, options);
    });
  }

  serverStream(method: DescMethod, request: Uint8Array, options: ChannelCallOptions): AsyncIterable<Uint8Array> {
    const call = this.client.makeServerStreamRequest(methodPath(method), identity, identity, request, metadataFor(options), { deadline: options.deadline });
    watch(call, options);
    return readStream(call);
  }

  clientStream(method: DescMethod, requests: Requests, options: ChannelCallOptions): Promise<Uint8Array> {
    return new Promise((resolve, reject) => {
      const call = this.client.makeClientStreamRequest(methodPath(method), identity, identity, metadataFor(options), { deadline: options.deadline }, (err, res) =>
        err ? reject(errorFromGrpc(err)) : resolve(asBytes(res!)),
      );
      watch(call, options);
      pump(requests, call).catch(reject);
    });
  }

  bidiStream(method: DescMethod, requests: Requests, options: ChannelCallOptions): AsyncIterable<Uint8Array> {
    const call = this.client.makeBidiStreamRequest(methodPath(method), identity, identity, metadataFor(options), { deadline: options.deadline });
    watch(call, options);
    void pump(requests, call).catch(() => call.cancel());
    return readStream(call);
  }

  connected(): boolean {
    return this.client.getChannel().getConnectivityState(false) === READY;
  }

  waitForReady(deadline: number): Promise<void> {
    return new Promise((resolve, reject) => this.client.waitForReady(deadline, (err) => (err ? reject(err) : resolve())));
  }

  close(): void {
    this.client.close();
  }
}
