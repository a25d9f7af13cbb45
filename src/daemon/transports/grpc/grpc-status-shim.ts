// grpc-js answers some failures from inside its transport, below every interceptor: a request larger than
// the maximum message size, a malformed grpc-timeout header, a deadline that passed. Those statuses would
// leave without google.rpc.Status details, so this shim patches the one place they are all sent
// (BaseServerInterceptingCall.sendStatus, grpc-js 1.14) to add details with a catalogue reason. The version
// is pinned in package.json; test/daemon/limits-and-deadlines.test.ts fails if an upgrade breaks the shim.
import * as grpc from "@grpc/grpc-js";
// eslint-disable-next-line import/no-internal-modules -- no public hook exists for transport-level statuses
import { BaseServerInterceptingCall } from "@grpc/grpc-js/build/src/server-interceptors.js";
import { ErrorReason } from "../../../gen/orbital/api/v1/error_reason_pb.js";
import { encodeStatus, OrbitalError, STATUS_DETAILS_KEY } from "../../../common/errors.js";
import { traceFromParent } from "../../../common/trace.js";

function reasonFor(status: grpc.StatusObject): ErrorReason | { code: number; wire: string } {
  // "larger than max (n vs m)" on the wire, "decompresses to a size larger than m" for a gzip/deflate bomb
  if (status.code === grpc.status.RESOURCE_EXHAUSTED && /larger than/i.test(status.details)) return ErrorReason.MESSAGE_TOO_LARGE;
  if (status.code === grpc.status.DEADLINE_EXCEEDED) return ErrorReason.DEADLINE_EXCEEDED;
  // grpc-js's own UNIMPLEMENTED: an unsupported grpc-encoding, or zero or several messages on a unary method.
  // UNSUPPORTED is the catalogue reason with that code ("UNIMPLEMENTED" is not a catalogue reason).
  if (status.code === grpc.status.UNIMPLEMENTED) return ErrorReason.UNSUPPORTED;
  if (status.code === grpc.status.CANCELLED) return { code: status.code, wire: "CANCELLED" };
  return ErrorReason.MALFORMED_MESSAGE;
}

/** Adds structured details to every non-OK status that lacks them. */
export function withStructuredDetails(status: grpc.StatusObject): grpc.StatusObject {
  if (status.code === grpc.status.OK) return status;
  const metadata = status.metadata ?? new grpc.Metadata();
  if (metadata.get(STATUS_DETAILS_KEY).length > 0) return status;
  const err = new OrbitalError({ reason: reasonFor(status), message: status.details || "request failed in the transport" });
  err.traceId = traceFromParent(undefined).traceId;
  return { ...status, code: err.code as number as grpc.status, metadata: grpcStatusOf(err, metadata).metadata };
}

/** The status grpc-js sends for `err`: its code and message, its google.rpc.Status details added to `metadata`. */
export function grpcStatusOf(err: OrbitalError, metadata = new grpc.Metadata()): grpc.StatusObject {
  const bytes = encodeStatus(err);
  metadata.set(STATUS_DETAILS_KEY, Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  return { code: err.code as number as grpc.status, details: err.message, metadata };
}

let installed = false;

export function installStatusShim(): void {
  if (installed) return;
  installed = true;
  const proto = BaseServerInterceptingCall.prototype as unknown as { sendStatus(status: grpc.StatusObject): void };
  const original = proto.sendStatus;
  if (typeof original !== "function") throw new Error("grpc-js internals changed: BaseServerInterceptingCall.sendStatus is gone");
  proto.sendStatus = function sendStatus(this: unknown, status: grpc.StatusObject) {
    original.call(this, withStructuredDetails(status));
  };
}
