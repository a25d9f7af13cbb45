// The fast path for the SDK (docs/fast-path.md): one connection over the Unix socket, made on the first
// call and again after the daemon went away; calls wait for the daemon while it restarts (waitForReady,
// retried with backoff until each call's own deadline), declare each method once per connection, and
// respect the daemon's flow-control windows. Errors are the same OrbitalError as over gRPC.
import net from "node:net";
import { create, fromBinary, toBinary, type DescMethod } from "@bufbuild/protobuf";
import { Code } from "../gen/google/rpc/code_pb.js";
import { StatusSchema } from "../gen/google/rpc/status_pb.js";
import { CallHeadersSchema, CallOpenSchema, GoawayCode, GoawaySchema, HelloSchema, type Hello } from "../gen/orbital/fastpath/v1/fastpath_pb.js";
import { decodeStatus, OrbitalError } from "../common/errors.js";
import { DEFAULT_MAX_FRAME_BYTES, encodeFrame, END_STREAM, FrameReader, FrameType, PREFACE, windowPayload, type Frame } from "../common/fastpath/frame.js";
import { methodPath, type CallChannel, type ChannelCallOptions, type Requests } from "./call-channel.js";

const FIRST_BACKOFF_MS = 50;
const MAX_BACKOFF_MS = 1000;
/** How long the daemon may take to send HELLO once connected. */
const HELLO_TIMEOUT_MS = 5000;
/** The daemon never sends frames larger than this; a bigger length means the stream is broken. */
const MAX_INCOMING_FRAME = 64 << 20;

/** An error made here, not by the daemon: no reason from the catalogue ("UNKNOWN"), as grpc-js does. */
const localError = (code: Code, message: string) => new OrbitalError({ reason: { code, wire: "UNKNOWN" }, message });

type Event = { message: Uint8Array } | { status: OrbitalError | undefined };

/** One call on a connection: what the daemon sent for it, and the credit it gave for what we send. */
class ClientCall {
  private readonly events: Event[] = [];
  private wake: (() => void) | undefined;
  private creditWake: (() => void) | undefined;
  done = false;
  /** Bytes of messages we may still send before the next WINDOW. */
  sendCredit: number;
  /** Bytes of messages taken by the consumer and not yet granted back. */
  private consumed = 0;
  /** Set by a unary caller: events go straight to it instead of the queue (no async iteration per call). */
  onEvent: ((e: Event) => void) | undefined;

  constructor(
    readonly id: number,
    private readonly conn: FastConnectionToDaemon,
    window: number,
    readonly onTrace: ((traceId: string) => void) | undefined,
  ) {
    this.sendCredit = window;
  }

  push(e: Event): void {
    if ("status" in e) this.done = true;
    if (this.onEvent) return this.onEvent(e);
    this.events.push(e);
    this.notify();
  }

  grant(bytes: number): void {
    this.sendCredit += bytes;
    this.notify();
  }

  private notify(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
    const c = this.creditWake;
    this.creditWake = undefined;
    c?.();
  }

  /** The next message, or the status that ended the call (undefined: OK). */
  async next(): Promise<Event> {
    for (;;) {
      const e = this.events.shift();
      if (e) {
        if ("message" in e) this.taken(e.message.length);
        return e;
      }
      await new Promise<void>((r) => (this.wake = r));
    }
  }

  private taken(bytes: number): void {
    this.consumed += bytes;
    if (this.consumed < this.conn.window / 2 || this.done) return;
    this.conn.write(encodeFrame(FrameType.WINDOW, 0, this.id, windowPayload(this.consumed)));
    this.consumed = 0;
  }

  async send(message: Uint8Array): Promise<void> {
    while (this.sendCredit <= 0 && !this.done) await new Promise<void>((r) => (this.creditWake = r));
    if (this.done) return;
    this.sendCredit -= message.length;
    this.conn.write(encodeFrame(FrameType.MESSAGE, 0, this.id, message));
    await this.conn.writable();
  }

  end(): void {
    if (!this.done) this.conn.write(encodeFrame(FrameType.END, 0, this.id));
  }

  /** Tells the daemon to stop the call and ends it here with `why`. */
  cancel(why: OrbitalError = localError(Code.CANCELLED, "cancelled by the caller")): void {
    if (this.done) return;
    this.conn.write(encodeFrame(FrameType.CANCEL, 0, this.id));
    this.conn.forget(this.id);
    this.push({ status: why });
  }
}

/** One connection to the daemon after its HELLO. */
class FastConnectionToDaemon {
  private readonly calls = new Map<number, ClientCall>();
  private readonly methodIds = new Map<string, number>();
  private nextCallId = 1;
  private readonly reader: FrameReader;
  private goaway: GoawayCode | undefined;
  private closed = false;
  private drainWaiters: (() => void)[] = [];
  readonly window: number;

  constructor(
    private readonly socket: net.Socket,
    hello: Hello,
  ) {
    this.window = hello.initialWindowBytes || 1 << 20;
    this.reader = new FrameReader(MAX_INCOMING_FRAME, (f) => this.onFrame(f));
    socket.on("data", (chunk: Buffer) => this.onData(chunk));
    socket.on("drain", () => {
      for (const w of this.drainWaiters.splice(0)) w();
    });
    socket.on("close", () => this.onClosed());
    // Like a grpc-js channel, an idle connection does not keep the process alive.
    socket.unref();
  }

  /** Whether new calls may go on this connection. */
  get usable(): boolean {
    return !this.closed && this.goaway === undefined && this.nextCallId < 0xffffffff;
  }

  write(bytes: Buffer): void {
    if (!this.closed) this.socket.write(bytes);
  }

  writable(): Promise<void> {
    if (!this.socket.writableNeedDrain || this.closed) return Promise.resolve();
    return new Promise((r) => this.drainWaiters.push(r));
  }

  /** Opens a call: declares its method the first time, then OPEN (and the request, for one-request calls). */
  open(method: DescMethod, options: ChannelCallOptions, request?: Uint8Array): ClientCall {
    const path = methodPath(method);
    const frames: Buffer[] = [];
    let methodId = this.methodIds.get(path);
    if (methodId === undefined) {
      methodId = this.methodIds.size + 1;
      this.methodIds.set(path, methodId);
      frames.push(encodeFrame(FrameType.DECLARE, 0, methodId, Buffer.from(path, "utf8")));
    }
    const id = this.nextCallId++;
    const call = new ClientCall(id, this, this.window, options.onTrace);
    this.calls.set(id, call);
    this.socket.ref();
    // No deadline (Infinity: a watch) is timeout 0; a deadline too far for 32 bits is as good as none.
    const left = Math.ceil(options.deadline - Date.now());
    const timeoutMs = Number.isFinite(left) && left < 0xffffffff ? Math.max(1, left) : 0;
    const open = create(CallOpenSchema, { methodId, timeoutMs, traceparent: options.traceparent ?? "" });
    frames.push(encodeFrame(FrameType.OPEN, 0, id, toBinary(CallOpenSchema, open)));
    if (request) {
      call.sendCredit -= request.length;
      frames.push(encodeFrame(FrameType.MESSAGE, END_STREAM, id, request));
    }
    this.write(frames.length === 1 ? frames[0]! : Buffer.concat(frames));
    return call;
  }

  forget(id: number): void {
    this.calls.delete(id);
    if (this.calls.size > 0) return;
    this.socket.unref();
    if (this.goaway !== undefined) this.socket.end();
  }

  close(): void {
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    try {
      this.reader.push(chunk);
    } catch {
      this.socket.destroy(); // the daemon's stream is broken: every open call fails as a lost connection
    }
  }

  private onFrame(f: Frame): void {
    if (f.type === FrameType.GOAWAY) {
      try {
        this.goaway = fromBinary(GoawaySchema, f.payload).code;
      } catch {
        this.goaway = GoawayCode.UNSPECIFIED;
      }
      if (this.calls.size === 0) this.socket.end();
      return;
    }
    const call = this.calls.get(f.callId);
    if (!call) return; // a call we cancelled
    switch (f.type) {
      case FrameType.HEADERS:
        if (call.onTrace) {
          try {
            call.onTrace(fromBinary(CallHeadersSchema, f.payload).traceparent.split("-")[1] ?? "");
          } catch {
            // no trace to report
          }
        }
        return;
      case FrameType.MESSAGE:
        call.push({ message: new Uint8Array(f.payload.buffer, f.payload.byteOffset, f.payload.byteLength).slice() });
        return;
      case FrameType.WINDOW:
        if (f.payload.length === 4) call.grant(f.payload.readUInt32BE(0));
        return;
      case FrameType.STATUS: {
        this.forget(f.callId);
        let status;
        try {
          status = fromBinary(StatusSchema, f.payload);
        } catch {
          call.push({ status: localError(Code.INTERNAL, "the daemon sent a status that does not decode") });
          return;
        }
        call.push({ status: status.code === 0 ? undefined : decodeStatus(status.code, status.message, f.payload) });
        return;
      }
      default:
        return;
    }
  }

  private onClosed(): void {
    if (this.closed) return;
    this.closed = true;
    for (const w of this.drainWaiters.splice(0)) w();
    const why = this.goaway === GoawayCode.SHUTTING_DOWN ? "orbitald shut down during the call" : "the connection to orbitald was lost during the call";
    for (const call of this.calls.values()) call.push({ status: localError(Code.UNAVAILABLE, why) });
    this.calls.clear();
  }
}

/** Connects once: the preface, then the daemon's HELLO. Rejects with the socket's error (ENOENT, ECONNREFUSED...). */
function dialOnce(socketPath: string): Promise<FastConnectionToDaemon> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(socketPath);
    let settled = false;
    const fail = (err: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      reject(err);
    };
    const timer = setTimeout(() => fail(new Error("the daemon did not say HELLO in time")), HELLO_TIMEOUT_MS);
    socket.once("error", fail);
    socket.once("close", () => fail(new Error("the daemon closed the connection before HELLO")));
    socket.once("connect", () => socket.write(PREFACE));
    const reader = new FrameReader(DEFAULT_MAX_FRAME_BYTES, (f) => {
      if (settled) return;
      if (f.type !== FrameType.HELLO) return fail(new Error(`the daemon's first frame is 0x${f.type.toString(16)}, not HELLO`));
      settled = true;
      clearTimeout(timer);
      socket.removeAllListeners("data");
      socket.removeListener("error", fail);
      socket.on("error", () => undefined); // "close" follows and fails the open calls
      socket.removeAllListeners("close");
      // Nothing follows HELLO until we send a call, so no frame is left behind in this reader.
      resolve(new FastConnectionToDaemon(socket, fromBinary(HelloSchema, f.payload)));
    });
    socket.on("data", (chunk: Buffer) => {
      try {
        reader.push(chunk);
      } catch (err) {
        fail(err as Error);
      }
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms).unref());

/** Runs `fire` at `deadline` (epoch ms); never for a deadline of Infinity (or one beyond a timer's reach). */
function onDeadline(deadline: number, fire: () => void): NodeJS.Timeout | undefined {
  const ms = deadline - Date.now();
  if (!Number.isFinite(ms) || ms > 0x7fffffff) return undefined;
  return setTimeout(fire, Math.max(0, ms));
}

export class FastChannel implements CallChannel {
  private conn: FastConnectionToDaemon | undefined;
  private dialing: Promise<FastConnectionToDaemon> | undefined;
  /** Calls waiting for a connection; the dialling loop stops when none does. */
  private waiting = 0;
  private closed = false;

  constructor(private readonly socketPath: string) {}

  connected(): boolean {
    return this.conn?.usable ?? false;
  }

  async waitForReady(deadline: number): Promise<void> {
    await this.connection(deadline);
  }

  close(): void {
    this.closed = true;
    this.conn?.close();
    this.conn = undefined;
  }

  /** A usable connection, dialling (again) if need be, until `deadline`. */
  private async connection(deadline: number): Promise<FastConnectionToDaemon> {
    if (this.closed) throw localError(Code.UNAVAILABLE, "the transport is closed");
    if (this.conn?.usable) return this.conn;
    this.waiting++;
    try {
      this.dialing ??= this.dial().finally(() => (this.dialing = undefined));
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = onDeadline(deadline, () => reject(localError(Code.DEADLINE_EXCEEDED, `no connection to orbitald at ${this.socketPath} before the deadline`)));
      });
      try {
        return await Promise.race([this.dialing, timeout]);
      } finally {
        clearTimeout(timer);
      }
    } finally {
      this.waiting--;
    }
  }

  /** Dials until it connects, backing off, while some call still waits. */
  private async dial(): Promise<FastConnectionToDaemon> {
    let backoff = FIRST_BACKOFF_MS;
    for (;;) {
      try {
        const conn = await dialOnce(this.socketPath);
        if (this.closed) {
          conn.close();
          throw localError(Code.UNAVAILABLE, "the transport is closed");
        }
        this.conn = conn;
        return conn;
      } catch (err) {
        if (err instanceof OrbitalError) throw err;
        if (this.waiting === 0 || this.closed) throw localError(Code.UNAVAILABLE, `cannot connect to orbitald at ${this.socketPath}: ${(err as Error).message}`);
        await sleep(backoff);
        backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
      }
    }
  }

  /** Runs a call: opens it, lets `drive` exchange messages, ends it at the deadline or on abort. */
  private async *run(method: DescMethod, options: ChannelCallOptions, request: Uint8Array | undefined, requests: Requests | undefined): AsyncGenerator<Uint8Array> {
    if (options.signal?.aborted) throw localError(Code.CANCELLED, "cancelled by the caller");
    const conn = await this.connection(options.deadline);
    const call = conn.open(method, options, request);
    // The daemon ends the call at the same deadline; whichever side sees it first ends it.
    const timer = onDeadline(options.deadline, () => call.cancel(localError(Code.DEADLINE_EXCEEDED, `the deadline passed before ${method.name} answered`)));
    const onAbort = () => call.cancel();
    options.signal?.addEventListener("abort", onAbort, { once: true });
    let finished = false;
    try {
      if (requests) {
        void (async () => {
          try {
            for await (const r of requests as AsyncIterable<Uint8Array>) {
              if (call.done) return;
              await call.send(r);
            }
            call.end();
          } catch {
            call.cancel();
          }
        })();
      }
      for (;;) {
        const e = await call.next();
        if ("message" in e) {
          yield e.message;
          continue;
        }
        finished = true;
        if (e.status) throw e.status;
        return;
      }
    } finally {
      clearTimeout(timer);
      options.signal?.removeEventListener("abort", onAbort);
      if (!finished) call.cancel();
    }
  }

  /** One request, one response: events straight to a promise, the common case made cheap. */
  async unary(method: DescMethod, request: Uint8Array, options: ChannelCallOptions): Promise<Uint8Array> {
    if (options.signal?.aborted) throw localError(Code.CANCELLED, "cancelled by the caller");
    const conn = this.conn?.usable ? this.conn : await this.connection(options.deadline);
    const call = conn.open(method, options, request);
    return new Promise<Uint8Array>((resolve, reject) => {
      let response: Uint8Array | undefined;
      const timer = onDeadline(options.deadline, () => call.cancel(localError(Code.DEADLINE_EXCEEDED, `the deadline passed before ${method.name} answered`)));
      const onAbort = () => call.cancel();
      options.signal?.addEventListener("abort", onAbort, { once: true });
      call.onEvent = (e) => {
        if ("message" in e) {
          response = e.message;
          return;
        }
        clearTimeout(timer);
        options.signal?.removeEventListener("abort", onAbort);
        if (e.status) reject(e.status);
        else if (response) resolve(response);
        else reject(localError(Code.INTERNAL, `${method.name} answered without a message`));
      };
    });
  }

  serverStream(method: DescMethod, request: Uint8Array, options: ChannelCallOptions): AsyncIterable<Uint8Array> {
    return this.run(method, options, request, undefined);
  }

  async clientStream(method: DescMethod, requests: Requests, options: ChannelCallOptions): Promise<Uint8Array> {
    let response: Uint8Array | undefined;
    for await (const m of this.run(method, options, undefined, requests)) response = m;
    if (!response) throw localError(Code.INTERNAL, `${method.name} answered without a message`);
    return response;
  }

  bidiStream(method: DescMethod, requests: Requests, options: ChannelCallOptions): AsyncIterable<Uint8Array> {
    return this.run(method, options, undefined, requests);
  }
}
