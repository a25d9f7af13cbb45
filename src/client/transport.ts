// The connection to orbitald: one persistent HTTP/2 connection over the Unix socket (grpc-js channel) that
// reconnects with backoff by itself; calls wait for the daemon (waitForReady) until their deadline, so that a
// daemon restart or a socket disruption shows up as latency, not as an error.
import * as grpc from "@grpc/grpc-js";

export const DEFAULT_SOCKET = "/run/orbital/api.sock";
export const DEFAULT_DEADLINE_MS = 30_000;

export interface TransportOptions {
  /** Default: $ORBITAL_SOCKET, then /run/orbital/api.sock. */
  socketPath?: string;
  /** Default deadline of every call, ms. */
  deadlineMs?: number;
}

export interface Transport {
  readonly channel: grpc.Client;
  readonly socketPath: string;
  readonly deadlineMs: number;
  close(): void;
}

export function createTransport(opts: TransportOptions = {}): Transport {
  const socketPath = opts.socketPath ?? process.env.ORBITAL_SOCKET ?? DEFAULT_SOCKET;
  const channel = new grpc.Client(`unix:${socketPath}`, grpc.credentials.createInsecure(), {
    "grpc.max_receive_message_length": 64 << 20,
    "grpc.initial_reconnect_backoff_ms": 100,
    "grpc.max_reconnect_backoff_ms": 2000,
    "grpc.enable_retries": 0,
    // One Transport is one connection: grpc-js would otherwise share a connection among every channel to
    // the same socket, and per-connection limits would count them all together.
    "grpc.use_local_subchannel_pool": 1,
  });
  return { channel, socketPath, deadlineMs: opts.deadlineMs ?? DEFAULT_DEADLINE_MS, close: () => channel.close() };
}
