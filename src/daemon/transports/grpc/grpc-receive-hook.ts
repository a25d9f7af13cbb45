// Charges what grpc-js holds of each call, before the call's handler has it, to the ReceiveAccount of the call's
// connection, and refuses (RESOURCE_EXHAUSTED / RATE_LIMITED, then RST_STREAM NO_ERROR so that the client
// stops sending) the call that takes its connection or the daemon over a cap. grpc-js has no public hook for
// received bytes, so this patches BaseServerInterceptingCall (grpc-js 1.14, pinned in package.json; the class
// grpc-status-shim.ts patches too); test/daemon/limits-and-deadlines.test.ts fails if an upgrade breaks it.
//
// What a call holds before its handler has it:
// - a unary request (unary and server-streaming methods): every byte received until the client half-closes;
//   only then does grpc-js call the handler, so a client that never half-closes would otherwise hold them
//   for as long as the connection lives;
// - a request stream (client-streaming, bidi): the message being received. The handler runs from the start
//   and pulls whole messages; grpc-js pauses the stream (so HTTP/2 flow control holds the client back) while
//   one waits.
// Each received chunk also costs the objects that hold it (a Buffer view, its entry in grpc-js's list):
// CHUNK_COST is charged on top of its bytes, so that a stream of tiny DATA frames is not nearly free.
import http2 from "node:http2";
import type net from "node:net";
import type * as grpc from "@grpc/grpc-js";
// eslint-disable-next-line import/no-internal-modules -- no public hook exists for received bytes
import { BaseServerInterceptingCall } from "@grpc/grpc-js/build/src/server-interceptors.js";
import { traceFromParent } from "../../../common/trace.js";
import { grpcStatusOf } from "./grpc-status-shim.js";
import { receiveCapError, type ReceiveAccount, type ReceiveCap } from "../../rpc/receive-budget.js";

/** Bytes charged per received chunk on top of its length: about what V8 and grpc-js spend to hold it. */
const CHUNK_COST = 256;

const ACCOUNT = Symbol("orbital.receiveAccount");
const CHARGE = Symbol("orbital.receiveCharge");

/** grpc-js's StreamDecoder: the message being received is readMessageSize bytes, readMessageRemaining to come. */
interface Decoder {
  readState: number;
  readMessageSize: number;
  readMessageRemaining: number;
  readPartialMessage: Buffer[];
}
const READING_MESSAGE = 2;

interface Charge {
  account: ReceiveAccount;
  /** Bytes (with CHUNK_COST) received since the call began, for a unary request. */
  received: number;
  /** What is charged to the account now. */
  charged: number;
}

interface CallInternals {
  stream: http2.ServerHttp2Stream;
  handler: { type: "unary" | "clientStream" | "serverStream" | "bidi" };
  decoder: Decoder;
  cancelled: boolean;
  sendStatus(status: grpc.StatusObject): void;
  handleDataFrame(data: Buffer): void;
  handleEndEvent(): void;
  [CHARGE]?: Charge | null;
}

/** Charges what grpc-js receives on the calls of `socket` (before it is injected) to `account`. */
export function chargeReceivesTo(socket: net.Socket, account: ReceiveAccount): void {
  (socket as net.Socket & { [ACCOUNT]?: ReceiveAccount })[ACCOUNT] = account;
}

/** The call's charge, made on its first DATA frame; null when its connection has no account. */
function chargeOf(call: CallInternals): Charge | null {
  let charge = call[CHARGE];
  if (charge !== undefined) return charge;
  let account: ReceiveAccount | undefined;
  try {
    // session.socket is node:http2's proxy of the socket; it throws once the session let go of the socket
    account = (call.stream.session?.socket as (net.Socket & { [ACCOUNT]?: ReceiveAccount }) | undefined)?.[ACCOUNT];
  } catch {
    account = undefined;
  }
  charge = account ? { account, received: 0, charged: 0 } : null;
  call[CHARGE] = charge;
  if (charge) call.stream.once("close", () => release(charge));
  return charge;
}

function release(charge: Charge): void {
  charge.account.change(-charge.charged);
  charge.charged = 0;
}

/** What the call holds now that its handler does not have. */
function heldBy(call: CallInternals, charge: Charge): number {
  if (call.handler.type === "unary" || call.handler.type === "serverStream") return charge.received;
  const d = call.decoder;
  return d.readState === READING_MESSAGE ? d.readMessageSize - d.readMessageRemaining + d.readPartialMessage.length * CHUNK_COST : 0;
}

function refuse(call: CallInternals, charge: Charge, cap: ReceiveCap): void {
  release(charge);
  const err = receiveCapError(charge.account.caps, cap);
  err.traceId = traceFromParent(undefined).traceId;
  call.sendStatus(grpcStatusOf(err));
  // The status is queued before the reset; NO_ERROR after a complete response asks the client to stop sending
  // the request (RFC 9113 section 8.1) without failing it.
  call.stream.close(http2.constants.NGHTTP2_NO_ERROR);
}

let installed = false;

export function installReceiveHook(): void {
  if (installed) return;
  installed = true;
  const proto = BaseServerInterceptingCall.prototype as unknown as CallInternals;
  const { handleDataFrame, handleEndEvent } = proto;
  if (typeof handleDataFrame !== "function" || typeof handleEndEvent !== "function") {
    throw new Error("grpc-js internals changed: BaseServerInterceptingCall.handleDataFrame/handleEndEvent are gone");
  }
  proto.handleDataFrame = function (this: CallInternals, data: Buffer) {
    handleDataFrame.call(this, data);
    const charge = chargeOf(this);
    if (!charge) return;
    if (this.cancelled) return release(charge);
    charge.received += data.length + CHUNK_COST;
    const held = heldBy(this, charge);
    const exceeded = charge.account.change(held - charge.charged);
    charge.charged = held;
    if (exceeded) refuse(this, charge, exceeded);
  };
  // At the half-close grpc-js hands a unary request to its handler, and a request stream has nothing left to
  // receive: either way the call holds nothing more for later.
  proto.handleEndEvent = function (this: CallInternals) {
    const charge = this[CHARGE];
    if (charge) release(charge);
    handleEndEvent.call(this);
  };
}
