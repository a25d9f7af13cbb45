// The connection to orbitald: one persistent connection over the Unix socket, speaking the fast path
// (docs/fast-path.md) by default or gRPC when asked (`transport: "grpc"`, or ORBITAL_TRANSPORT=grpc). Either
// reconnects by itself, and calls wait for the daemon (waitForReady) until their deadline, so that a daemon
// restart or a socket disruption shows up as latency, not as an error. grpc-js is loaded only for "grpc".
import type { DescMethod } from "@bufbuild/protobuf";
import type { CallChannel, ChannelCallOptions, Requests } from "./call-channel.js";
import { FastChannel } from "./fast-channel.js";

export const DEFAULT_SOCKET = "/run/orbital/api.sock";
export const DEFAULT_DEADLINE_MS = 30_000;

export type Protocol = "fast" | "grpc";

export interface TransportOptions {
  /** Default: $ORBITAL_SOCKET, then /run/orbital/api.sock. */
  socketPath?: string;
  /** Default deadline of every call, ms. */
  deadlineMs?: number;
  /** The protocol: "fast" (the fast path) or "grpc". Default: $ORBITAL_TRANSPORT, then "fast". */
  transport?: Protocol;
}

export interface Transport {
  readonly protocol: Protocol;
  readonly socketPath: string;
  readonly deadlineMs: number;
  readonly channel: CallChannel;
  close(): void;
}

/** The gRPC channel, loaded on its first use (one-shot orbctl commands never pay for grpc-js). */
class LazyGrpcChannel implements CallChannel {
  private loaded: Promise<CallChannel> | undefined;
  private channel: CallChannel | undefined;
  private closed = false;

  constructor(private readonly socketPath: string) {}

  private load(): Promise<CallChannel> {
    this.loaded ??= import("./grpc-channel.js").then(({ GrpcChannel }) => {
      this.channel = new GrpcChannel(this.socketPath);
      if (this.closed) this.channel.close();
      return this.channel;
    });
    return this.loaded;
  }

  async unary(method: DescMethod, request: Uint8Array, options: ChannelCallOptions): Promise<Uint8Array> {
    return (await this.load()).unary(method, request, options);
  }

  async *serverStream(method: DescMethod, request: Uint8Array, options: ChannelCallOptions): AsyncIterable<Uint8Array> {
    yield* (await this.load()).serverStream(method, request, options);
  }

  async clientStream(method: DescMethod, requests: Requests, options: ChannelCallOptions): Promise<Uint8Array> {
    return (await this.load()).clientStream(method, requests, options);
  }

  async *bidiStream(method: DescMethod, requests: Requests, options: ChannelCallOptions): AsyncIterable<Uint8Array> {
    yield* (await this.load()).bidiStream(method, requests, options);
  }

  connected(): boolean {
    return this.channel?.connected() ?? false;
  }

  async waitForReady(deadline: number): Promise<void> {
    return (await this.load()).waitForReady(deadline);
  }

  close(): void {
    this.closed = true;
    this.channel?.close();
  }
}

export function createTransport(opts: TransportOptions = {}): Transport {
  const socketPath = opts.socketPath ?? process.env.ORBITAL_SOCKET ?? DEFAULT_SOCKET;
  const wanted = opts.transport ?? process.env.ORBITAL_TRANSPORT;
  if (wanted !== undefined && wanted !== "fast" && wanted !== "grpc") throw new TypeError(`transport protocol must be "fast" or "grpc", not "${wanted}"`);
  const protocol: Protocol = wanted ?? "fast";
  const channel = protocol === "fast" ? new FastChannel(socketPath) : new LazyGrpcChannel(socketPath);
  return { protocol, socketPath, deadlineMs: opts.deadlineMs ?? DEFAULT_DEADLINE_MS, channel, close: () => channel.close() };
}
