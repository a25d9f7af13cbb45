// What the typed clients need from a connection to orbitald, whatever protocol it speaks: the four kinds of
// call on encoded messages, and whether (or when) the connection is up. Implemented by the fast path
// (fast-channel.ts, the default) and by grpc-js (grpc-channel.ts, loaded only when asked for).
import type { DescMethod } from "@bufbuild/protobuf";

export interface ChannelCallOptions {
  /** When the call must be over (epoch ms): waiting for the daemon included. */
  deadline: number;
  /** W3C traceparent to continue. */
  traceparent?: string | undefined;
  /** Told the trace id the daemon uses, as soon as it is known. */
  onTrace?: ((traceId: string) => void) | undefined;
  signal?: AbortSignal | undefined;
}

export type Requests = Iterable<Uint8Array> | AsyncIterable<Uint8Array>;

export interface CallChannel {
  unary(method: DescMethod, request: Uint8Array, options: ChannelCallOptions): Promise<Uint8Array>;
  serverStream(method: DescMethod, request: Uint8Array, options: ChannelCallOptions): AsyncIterable<Uint8Array>;
  clientStream(method: DescMethod, requests: Requests, options: ChannelCallOptions): Promise<Uint8Array>;
  bidiStream(method: DescMethod, requests: Requests, options: ChannelCallOptions): AsyncIterable<Uint8Array>;
  /** Whether a connection to the daemon is up right now. */
  connected(): boolean;
  /** Connects if need be; resolves once connected, rejects once `deadline` (epoch ms) passes first. */
  waitForReady(deadline: number): Promise<void>;
  close(): void;
}

/** The path gRPC and the fast path name a method by. */
export const methodPath = (m: DescMethod) => `/${m.parent.typeName}/${m.name}`;
