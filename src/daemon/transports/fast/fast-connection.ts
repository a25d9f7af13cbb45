// One fast-path connection on the daemon side (docs/fast-path.md): reads frames, keeps the method
// declarations and the open calls, runs each call through the call pipeline (the same authentication,
// authorization, admission, handlers, audit and metrics as gRPC), and writes HEADERS, MESSAGE and STATUS
// frames under per-call flow control. A protocol error ends this connection only. What is gRPC's or REST's
// lives in their own transports; what a call does is the pipeline's and the handlers'.
import type net from "node:net";
import { create, fromBinary, toBinary, type DescMessage } from "@bufbuild/protobuf";
import { ErrorReason } from "../../../gen/orbital/api/v1/error_reason_pb.js";
import { CallHeadersSchema, CallOpenSchema, GoawayCode, GoawaySchema, HelloSchema } from "../../../gen/orbital/fastpath/v1/fastpath_pb.js";
import { StatusSchema } from "../../../gen/google/rpc/status_pb.js";
import { encodeStatus, OrbitalError } from "../../../common/errors.js";
import { encodeFrame, END_STREAM, FrameReader, FrameType, HEADER_BYTES, PROTOCOL_VERSION, ProtocolError, windowPayload, type Frame, type OversizedFrame } from "../../../common/fastpath/frame.js";
import type { Principal } from "../../auth/principal.js";
import type { CallContext } from "../../rpc/call-context.js";
import type { ActiveCall, CallPipeline, MethodEntry } from "../../rpc/call-pipeline.js";
import { admitCall, peerUid, type Connection } from "../../rpc/connections.js";
import { receiveCapError, type ReceiveAccount, type ReceiveCap } from "../../rpc/receive-budget.js";

export interface FastLimits {
  maxFrameBytes: number;
  /** Largest request message, bytes. */
  maxMessageBytes: number;
  maxCallsInFlight: number;
  maxOpenCalls: number;
  /** Flow-control window of every call, each direction, bytes. */
  windowBytes: number;
  idleTimeoutMs: number;
  maxDeclarations: number;
}

export interface FastConnectionDeps {
  pipeline: CallPipeline;
  limits: FastLimits;
  /** This connection's share of the daemon's receive budget: the requests queued for handlers that have not taken them. */
  receive: ReceiveAccount;
  /** Resolves the connection's peer to a principal; throws the OrbitalError saying why it cannot. */
  authenticate(conn: Connection): Principal;
  onClose(): void;
}

const OK_STATUS = toBinary(StatusSchema, create(StatusSchema, { code: 0 }));

/** A request as received: decoded, and its size on the wire. */
interface Received {
  message: unknown;
  bytes: number;
}

/** A call as the connection tracks it. */
class FastCall {
  /** Decoded requests not yet taken by the handler (client-sent messages), charged to the connection's account. */
  private readonly inbox: Received[] = [];
  private queuedBytes = 0;
  private waiter: (() => void) | undefined;
  /** The client sent END (or END_STREAM): no more requests. */
  halfClosed = false;
  /** STATUS sent, or cancelled: nothing more is written. */
  ended = false;
  /** Request bytes received minus the credit granted back. */
  unacked = 0;
  /** Request bytes consumed by the handler and not yet granted back. */
  consumed = 0;
  /** Request messages received. */
  received = 0;
  /** Response credit: bytes the client allows before its next WINDOW. */
  sendCredit: number;
  private creditWaiter: (() => void) | undefined;
  cancel: (() => void) | undefined;
  active: ActiveCall | undefined;
  /** A one-response call's HEADERS, held to go out in the same write as its answer. */
  heldHeaders: Buffer | undefined;
  deadline: NodeJS.Timeout | undefined;

  constructor(
    readonly id: number,
    readonly entry: MethodEntry,
    window: number,
    private readonly account: ReceiveAccount,
  ) {
    this.sendCredit = window;
  }

  /** Queues a request for the handler; says which receive cap that leaves exceeded, if any. */
  deliver(request: Received): ReceiveCap | undefined {
    this.inbox.push(request);
    this.queuedBytes += request.bytes;
    this.wake();
    return this.account.change(request.bytes);
  }

  /** Forgets the requests not taken yet: a handler that never returns must not keep them alive. */
  dropInbox(): void {
    this.inbox.length = 0;
    this.account.change(-this.queuedBytes);
    this.queuedBytes = 0;
  }

  closeInput(): void {
    this.halfClosed = true;
    this.wake();
  }

  wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
    const c = this.creditWaiter;
    this.creditWaiter = undefined;
    c?.();
  }

  /** The next request, undefined once the client half-closed and every request was taken. */
  async next(signal: AbortSignal): Promise<Received | undefined> {
    for (;;) {
      const request = this.inbox.shift();
      if (request) {
        this.queuedBytes -= request.bytes;
        this.account.change(-request.bytes);
        return request;
      }
      if (this.halfClosed || this.ended || signal.aborted) return undefined;
      await new Promise<void>((r) => (this.waiter = r));
    }
  }

  /** Waits until the client's window allows another response message (or the call ended). */
  async credit(): Promise<void> {
    while (this.sendCredit <= 0 && !this.ended) await new Promise<void>((r) => (this.creditWaiter = r));
  }

  grant(bytes: number): void {
    this.sendCredit += bytes;
    this.wake();
  }
}

/** A GOAWAY frame: the connection ends, for `code`. */
export function goawayFrame(code: GoawayCode, description: string): Buffer {
  return encodeFrame(FrameType.GOAWAY, 0, 0, toBinary(GoawaySchema, create(GoawaySchema, { code, description })));
}

export class FastConnection {
  private readonly reader: FrameReader;
  private readonly methods = new Map<number, string>();
  private readonly calls = new Map<number, FastCall>();
  private idleTimer: NodeJS.Timeout | undefined;
  private goingAway = false;
  private closed = false;
  private corked = false;
  private drainWaiters: (() => void)[] = [];

  constructor(
    private readonly socket: net.Socket,
    readonly conn: Connection,
    private readonly deps: FastConnectionDeps,
  ) {
    this.reader = new FrameReader(deps.limits.maxFrameBytes, (f) => this.onFrame(f), (f) => this.onOversized(f));
  }

  /** Sends HELLO and serves the connection (the sniffer has taken the preface off the stream). */
  start(): void {
    const { limits } = this.deps;
    const hello = create(HelloSchema, {
      version: PROTOCOL_VERSION,
      maxFrameBytes: limits.maxFrameBytes,
      maxCallsInFlight: limits.maxCallsInFlight,
      maxOpenCalls: limits.maxOpenCalls,
      initialWindowBytes: limits.windowBytes,
      idleTimeoutMs: limits.idleTimeoutMs,
    });
    this.write(encodeFrame(FrameType.HELLO, 0, 0, toBinary(HelloSchema, hello)));
    this.socket.on("data", (chunk: Buffer) => this.onData(chunk));
    this.socket.on("drain", () => {
      for (const w of this.drainWaiters.splice(0)) w();
    });
    this.socket.on("close", () => this.onClosed());
    this.socket.on("error", () => undefined); // "close" follows
    this.armIdle();
  }

  get openCalls(): number {
    return this.calls.size;
  }

  /** Stops taking calls (GOAWAY SHUTTING_DOWN); open calls go on until the pipeline's drain ends them. */
  goAway(code: GoawayCode, description: string): void {
    if (this.goingAway || this.closed) return;
    this.goingAway = true;
    this.write(goawayFrame(code, description));
    if (this.calls.size === 0) this.socket.end();
  }

  destroy(): void {
    this.socket.destroy();
  }

  // ----- reading

  private onData(chunk: Buffer): void {
    try {
      this.reader.push(chunk);
    } catch (err) {
      if (err instanceof ProtocolError) return this.protocolError(err.message);
      throw err;
    }
  }

  private protocolError(description: string): void {
    if (this.closed) return;
    this.write(goawayFrame(GoawayCode.PROTOCOL_ERROR, description));
    this.goingAway = true;
    for (const call of this.calls.values()) this.abandon(call);
    this.socket.end();
    // A peer that stops reading must not keep the socket: close it for good shortly after.
    setTimeout(() => this.socket.destroy(), 1000).unref();
  }

  private onFrame(f: Frame): void {
    if (this.closed) return;
    switch (f.type) {
      case FrameType.DECLARE:
        return this.onDeclare(f);
      case FrameType.OPEN:
        return this.onOpen(f);
      case FrameType.MESSAGE:
        return this.onMessage(f);
      case FrameType.END:
        return this.onEnd(f);
      case FrameType.CANCEL:
        return this.onCancel(f);
      case FrameType.WINDOW:
        return this.onWindow(f);
      default:
        return this.protocolError(`frame type 0x${f.type.toString(16)} is not sent by clients`);
    }
  }

  /**
   * A request message larger than a frame may be: its call ends with MESSAGE_TOO_LARGE and its bytes are
   * skipped unread; any other oversized frame is a protocol error.
   */
  private onOversized(f: OversizedFrame): boolean {
    if (f.type !== FrameType.MESSAGE) return false;
    const call = this.calls.get(f.callId);
    if (call) this.endCall(call, this.tooLarge(f.bytes - HEADER_BYTES));
    return true;
  }

  private onDeclare(f: Frame): void {
    if (f.callId === 0) return this.protocolError("method id 0 is not an id");
    if (!this.methods.has(f.callId) && this.methods.size >= this.deps.limits.maxDeclarations) {
      return this.protocolError(`more than ${this.deps.limits.maxDeclarations} method declarations`);
    }
    this.methods.set(f.callId, f.payload.toString("utf8"));
  }

  private onOpen(f: Frame): void {
    if (f.callId === 0) return this.protocolError("call id 0 is not a call id");
    if (this.calls.has(f.callId)) return this.protocolError(`call ${f.callId} is open already`);
    let open;
    try {
      open = fromBinary(CallOpenSchema, f.payload);
    } catch {
      return this.protocolError(`the OPEN of call ${f.callId} is not a CallOpen message`);
    }
    this.disarmIdle();
    const path = this.methods.get(open.methodId);
    const entry = path === undefined ? undefined : this.deps.pipeline.lookup(path);
    if (!entry) {
      const what = path === undefined ? `method id ${open.methodId} was never declared` : `${path} is not served here`;
      return this.refuse(f.callId, new OrbitalError({ reason: ErrorReason.UNSUPPORTED, message: what, metadata: { feature: path ?? `method id ${open.methodId}` } }));
    }
    if (this.goingAway) return this.refuse(f.callId, new OrbitalError({ reason: ErrorReason.SHUTTING_DOWN, message: "the daemon is shutting down; open a new connection" }));
    if (this.calls.size >= this.deps.limits.maxOpenCalls) {
      return this.refuse(f.callId, new OrbitalError({ reason: ErrorReason.RATE_LIMITED, message: `more than ${this.deps.limits.maxOpenCalls} calls open on this connection`, metadata: { limit: this.deps.limits.maxOpenCalls }, retryDelayMs: 100 }));
    }
    const call = new FastCall(f.callId, entry, this.deps.limits.windowBytes, this.deps.receive);
    this.calls.set(f.callId, call);
    this.begin(call, open.traceparent || undefined, open.timeoutMs);
  }

  private onMessage(f: Frame): void {
    const call = this.calls.get(f.callId);
    if (!call) return; // crossed a STATUS or a CANCEL
    if (call.halfClosed) return this.protocolError(`call ${f.callId} sent a message after it half-closed`);
    if (call.unacked >= this.deps.limits.windowBytes) return this.protocolError(`call ${f.callId} sent a message beyond its window`);
    call.unacked += f.payload.length;
    if (f.payload.length > this.deps.limits.maxMessageBytes) {
      return this.endCall(call, this.tooLarge(f.payload.length));
    }
    let message: unknown;
    try {
      message = fromBinary(call.entry.method.input as DescMessage, f.payload);
    } catch (err) {
      return this.endCall(call, new OrbitalError({ reason: ErrorReason.MALFORMED_MESSAGE, message: `request is not a valid ${call.entry.method.input.typeName}: ${(err as Error).message}`, metadata: { method: call.entry.path } }));
    }
    const kind = call.entry.method.methodKind;
    if ((kind === "unary" || kind === "server_streaming") && call.received > 0) {
      return this.endCall(call, new OrbitalError({ reason: ErrorReason.UNSUPPORTED, message: `${call.entry.method.name} takes exactly one request message`, metadata: { feature: "several request messages" } }));
    }
    call.received++;
    const exceeded = call.deliver({ message, bytes: f.payload.length });
    if (exceeded) return this.endCall(call, receiveCapError(this.deps.receive.caps, exceeded));
    if (f.flags & END_STREAM) call.closeInput();
  }

  private onEnd(f: Frame): void {
    const call = this.calls.get(f.callId);
    if (!call) return;
    if (call.halfClosed) return this.protocolError(`call ${f.callId} half-closed twice`);
    call.closeInput();
  }

  private onCancel(f: Frame): void {
    const call = this.calls.get(f.callId);
    if (call) this.abandon(call);
  }

  private onWindow(f: Frame): void {
    if (f.payload.length !== 4) return this.protocolError("a WINDOW payload is 4 bytes");
    this.calls.get(f.callId)?.grant(f.payload.readUInt32BE(0));
  }

  // ----- calls

  private begin(call: FastCall, traceparent: string | undefined, timeoutMs: number): void {
    const { pipeline } = this.deps;
    const uid = peerUid(this.conn);
    const started = pipeline.begin(call.entry, {
      transport: "fast",
      traceparent,
      caller: uid !== undefined ? `uid:${uid}` : "unknown",
      refusedLog: { uid, transport: "fast" },
      onCancel: (cancel) => {
        call.cancel = cancel;
        return () => (call.cancel = undefined);
      },
      sendTraceparent: (tp) => {
        const headers = encodeFrame(FrameType.HEADERS, 0, call.id, toBinary(CallHeadersSchema, create(CallHeadersSchema, { traceparent: tp })));
        // A stream's client wants its trace now; a one-response call gets it with the answer (one write).
        const kind = call.entry.method.methodKind;
        if (kind === "unary" || kind === "client_streaming") call.heldHeaders = headers;
        else this.write(headers);
      },
      authenticate: () => this.deps.authenticate(this.conn),
      admit: () => admitCall(this.conn, this.deps.limits.maxCallsInFlight),
    });
    if (started instanceof OrbitalError) return this.endCall(call, started);
    call.active = started;
    if (timeoutMs > 0) {
      call.deadline = setTimeout(() => {
        const e = new OrbitalError({ reason: ErrorReason.DEADLINE_EXCEEDED, message: `the deadline of ${timeoutMs} ms passed` });
        e.traceId = started.ctx.trace.traceId;
        this.endCall(call, e);
      }, timeoutMs);
      call.deadline.unref();
    }
    pipeline.run(started, () => this.serve(call, started.ctx), (e) => this.endCall(call, e));
  }

  /** The body of a call: takes the requests, runs the handler, streams responses; returns the final answer. */
  private async serve(call: FastCall, ctx: CallContext): Promise<() => void> {
    const { method, handler } = call.entry;
    const requests = this.requests(call, ctx.signal);
    const answer = (last?: unknown) => () => {
      if (last !== undefined) this.sendMessage(call, last);
      this.endCall(call, undefined);
    };
    switch (method.methodKind) {
      case "unary": {
        const req = await this.single(call, ctx.signal);
        return answer(create(method.output, (await (handler as (r: unknown, c: CallContext) => Promise<unknown>)(req, ctx)) as never));
      }
      case "server_streaming": {
        const req = await this.single(call, ctx.signal);
        for await (const res of (handler as (r: unknown, c: CallContext) => AsyncIterable<unknown>)(req, ctx)) {
          if (call.ended || ctx.signal.aborted) break;
          await call.credit();
          this.sendMessage(call, create(method.output, res as never));
          await this.writable();
        }
        if (ctx.signal.aborted && this.deps.pipeline.shuttingDown) throw this.deps.pipeline.shuttingDownError();
        return answer();
      }
      case "client_streaming":
        return answer(create(method.output, (await (handler as (r: AsyncIterable<unknown>, c: CallContext) => Promise<unknown>)(requests, ctx)) as never));
      case "bidi_streaming":
        for await (const res of (handler as (r: AsyncIterable<unknown>, c: CallContext) => AsyncIterable<unknown>)(requests, ctx)) {
          if (call.ended || ctx.signal.aborted) break;
          await call.credit();
          this.sendMessage(call, create(method.output, res as never));
          await this.writable();
        }
        return answer();
    }
  }

  /** The one request of a unary or server-streaming call. */
  private async single(call: FastCall, signal: AbortSignal): Promise<unknown> {
    const first = await this.take(call, signal);
    if (!first) throw new OrbitalError({ reason: ErrorReason.UNSUPPORTED, message: `${call.entry.method.name} takes exactly one request message; none came` });
    return first;
  }

  private async *requests(call: FastCall, signal: AbortSignal): AsyncIterable<unknown> {
    for (;;) {
      const m = await this.take(call, signal);
      if (m === undefined) return;
      yield m;
    }
  }

  /** Takes the next request and gives its bytes back to the client's window (in halves, to save frames). */
  private async take(call: FastCall, signal: AbortSignal): Promise<unknown> {
    const next = await call.next(signal);
    if (!next) return undefined;
    const { message, bytes } = next;
    call.consumed += bytes;
    if (call.consumed >= this.deps.limits.windowBytes / 2 || call.halfClosed) {
      call.unacked -= call.consumed;
      if (!call.ended && !call.halfClosed) this.write(encodeFrame(FrameType.WINDOW, 0, call.id, windowPayload(call.consumed)));
      call.consumed = 0;
    }
    return message;
  }

  private sendMessage(call: FastCall, message: unknown): void {
    if (call.ended) return;
    const bytes = toBinary(call.entry.method.output as DescMessage, message as never);
    call.sendCredit -= bytes.length;
    this.releaseHeaders(call);
    this.write(encodeFrame(FrameType.MESSAGE, 0, call.id, bytes));
  }

  private releaseHeaders(call: FastCall): void {
    if (!call.heldHeaders) return;
    this.write(call.heldHeaders);
    call.heldHeaders = undefined;
  }

  /** A call refused before it began (no pipeline call exists for it). */
  private refuse(id: number, err: OrbitalError): void {
    this.write(encodeFrame(FrameType.STATUS, 0, id, encodeStatus(err)));
    this.armIdle();
  }

  private tooLarge(bytes: number): OrbitalError {
    const limit = this.deps.limits.maxMessageBytes;
    return new OrbitalError({ reason: ErrorReason.MESSAGE_TOO_LARGE, message: `a request of ${bytes} bytes is larger than ${limit}`, metadata: { limit } });
  }

  /**
   * Ends a call with its STATUS (OK when `err` is undefined); later answers for it are dropped. A call ended
   * here rather than by its handler (deadline, a request too large or malformed) is recorded (audit,
   * metrics) with that error before the answer, and its handler is told to stop.
   */
  private endCall(call: FastCall, err: OrbitalError | undefined): void {
    if (call.ended) return;
    if (err && call.active) err.traceId ??= call.active.ctx.trace.traceId;
    call.active?.done(err);
    call.ended = true;
    this.releaseHeaders(call);
    this.write(encodeFrame(FrameType.STATUS, 0, call.id, err ? encodeStatus(err) : OK_STATUS));
    if (err) call.cancel?.();
    this.forget(call);
  }

  /** A call the client cancelled (or that a protocol error ended): no STATUS, the handler is told to stop. */
  private abandon(call: FastCall): void {
    if (call.ended) return;
    call.ended = true;
    call.cancel?.();
    this.forget(call);
  }

  /** The end of every call: its deadline, its queued requests and its waiters go. */
  private forget(call: FastCall): void {
    if (call.deadline) clearTimeout(call.deadline);
    this.calls.delete(call.id);
    call.dropInbox();
    call.wake();
    if (this.calls.size === 0) {
      if (this.goingAway) this.socket.end();
      else this.armIdle();
    }
  }

  // ----- writing and lifecycle

  /** Queues a frame; the frames of one turn of the event loop leave in one write (cork until the next tick). */
  private write(bytes: Buffer): void {
    if (this.closed || this.socket.destroyed) return;
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      process.nextTick(() => {
        this.corked = false;
        this.socket.uncork();
      });
    }
    this.socket.write(bytes);
  }

  /** Resolves when the socket takes more (a slow reader holds its own streams back, nobody else's). */
  private writable(): Promise<void> {
    if (!this.socket.writableNeedDrain || this.closed) return Promise.resolve();
    return new Promise((r) => this.drainWaiters.push(r));
  }

  private armIdle(): void {
    this.disarmIdle();
    if (this.calls.size > 0 || this.closed) return;
    this.idleTimer = setTimeout(() => this.goAway(GoawayCode.IDLE, `no call for ${this.deps.limits.idleTimeoutMs} ms`), this.deps.limits.idleTimeoutMs);
    this.idleTimer.unref();
  }

  private disarmIdle(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
  }

  private onClosed(): void {
    if (this.closed) return;
    this.closed = true;
    this.disarmIdle();
    for (const call of [...this.calls.values()]) this.abandon(call);
    for (const w of this.drainWaiters.splice(0)) w();
    this.deps.onClose();
  }
}
