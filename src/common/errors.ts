// The one error type of Orbital OS and its wire form: a gRPC code plus google.rpc.Status details (ErrorInfo
// with a catalogue reason, BadRequest field violations, RequestInfo with the trace id). The daemon throws
// it, both transports encode it, the SDK decodes it back. Mapping of unexpected exceptions lives here too.
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { anyPack, anyUnpack } from "@bufbuild/protobuf/wkt";
import { Code } from "../gen/google/rpc/code_pb.js";
import {
  BadRequestSchema,
  ErrorInfoSchema,
  RequestInfoSchema,
  RetryInfoSchema,
} from "../gen/google/rpc/error_details_pb.js";
import { StatusSchema, type Status } from "../gen/google/rpc/status_pb.js";
import { ErrorReason } from "../gen/orbital/api/v1/error_reason_pb.js";
import { reasonByWire, reasonEntry } from "./error-reasons.js";

export const ERROR_DOMAIN = "orbital";
/** gRPC trailer that carries the binary google.rpc.Status. */
export const STATUS_DETAILS_KEY = "grpc-status-details-bin";

export interface FieldViolation {
  /** Path of the field in the request, e.g. "user.name". */
  field: string;
  description: string;
  /** Reason of this violation (a catalogue wire reason). */
  reason?: string;
}

export interface OrbitalErrorInit {
  /** A catalogue reason (daemon side), or a code and wire reason decoded from a status (client side). */
  reason: ErrorReason | { code: Code; wire: string };
  message: string;
  metadata?: Record<string, string | number | bigint | boolean>;
  violations?: FieldViolation[];
  traceId?: string;
  retryDelayMs?: number;
  cause?: unknown;
}

/** A structured API error. Its code always follows from its reason. */
export class OrbitalError extends Error {
  readonly code: Code;
  /** Wire reason, e.g. "INVALID_PREFIX"; a string so that clients older than a new reason still work. */
  readonly reason: string;
  readonly metadata: Record<string, string>;
  readonly violations: FieldViolation[];
  /** Trace id of the call that failed (RequestInfo.request_id); set by the daemon when the call ends. */
  traceId: string | undefined;
  readonly retryDelayMs: number | undefined;

  constructor(init: OrbitalErrorInit) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = "OrbitalError";
    const { code, wire } = typeof init.reason === "number" ? reasonEntry(init.reason) : init.reason;
    this.code = code;
    this.reason = wire;
    this.metadata = Object.fromEntries(Object.entries(init.metadata ?? {}).map(([k, v]) => [k, String(v)]));
    this.violations = init.violations ?? [];
    this.traceId = init.traceId;
    this.retryDelayMs = init.retryDelayMs;
  }

  /** One line for people: message, reason and trace id. */
  describe(): string {
    const trace = this.traceId ? ` trace=${this.traceId}` : "";
    return `${this.message} [${this.reason}${trace}]`;
  }
}

/** Shorthand for the common "this field is invalid" error. */
export function invalidField(field: string, description: string, reason = ErrorReason.INVALID_FIELD): OrbitalError {
  return new OrbitalError({
    reason,
    message: `invalid ${field}: ${description}`,
    metadata: { field },
    violations: [{ field, description, reason: reasonEntry(reason).wire }],
  });
}

/** Converts anything thrown by a handler into an OrbitalError; unexpected errors become INTERNAL. */
export function toOrbitalError(err: unknown): OrbitalError {
  if (err instanceof OrbitalError) return err;
  return new OrbitalError({ reason: ErrorReason.INTERNAL, message: "internal error", cause: err });
}

/** The google.rpc.Status of an error, with ErrorInfo, BadRequest (when violations exist) and RequestInfo. */
export function toStatus(err: OrbitalError): Status {
  const details = [
    anyPack(ErrorInfoSchema, create(ErrorInfoSchema, { reason: err.reason, domain: ERROR_DOMAIN, metadata: err.metadata })),
  ];
  if (err.violations.length > 0) {
    details.push(
      anyPack(
        BadRequestSchema,
        create(BadRequestSchema, {
          fieldViolations: err.violations.map((v) => ({ field: v.field, description: v.description, reason: v.reason ?? "" })),
        }),
      ),
    );
  }
  if (err.retryDelayMs !== undefined) {
    const ms = BigInt(Math.ceil(err.retryDelayMs));
    details.push(
      anyPack(RetryInfoSchema, create(RetryInfoSchema, { retryDelay: { seconds: ms / 1000n, nanos: Number(ms % 1000n) * 1e6 } })),
    );
  }
  if (err.traceId) {
    details.push(anyPack(RequestInfoSchema, create(RequestInfoSchema, { requestId: err.traceId })));
  }
  return create(StatusSchema, { code: err.code, message: err.message, details });
}

export function encodeStatus(err: OrbitalError): Uint8Array {
  return toBinary(StatusSchema, toStatus(err));
}

/**
 * Rebuilds an OrbitalError from a gRPC code, message and the bytes of grpc-status-details-bin (if any).
 * Errors without details (from a proxy, or grpc-js itself) keep their code and get reason "UNKNOWN".
 */
export function decodeStatus(code: Code, message: string, detailsBin: Uint8Array | undefined): OrbitalError {
  let reason = "UNKNOWN";
  let metadata: Record<string, string> = {};
  const violations: FieldViolation[] = [];
  let traceId: string | undefined;
  let retryDelayMs: number | undefined;
  if (detailsBin && detailsBin.length > 0) {
    try {
      const status = fromBinary(StatusSchema, detailsBin);
      message = status.message || message;
      for (const any of status.details) {
        const info = anyUnpack(any, ErrorInfoSchema);
        if (info) {
          reason = info.reason;
          metadata = { ...info.metadata };
        }
        const bad = anyUnpack(any, BadRequestSchema);
        if (bad) for (const v of bad.fieldViolations) violations.push({ field: v.field, description: v.description, reason: v.reason });
        const request = anyUnpack(any, RequestInfoSchema);
        if (request) traceId = request.requestId;
        const retry = anyUnpack(any, RetryInfoSchema);
        if (retry?.retryDelay) retryDelayMs = Number(retry.retryDelay.seconds) * 1000 + retry.retryDelay.nanos / 1e6;
      }
    } catch {
      // Undecodable details: keep the plain code and message.
    }
  }
  return new OrbitalError({ reason: { code, wire: reason }, message, metadata, violations, traceId, retryDelayMs });
}

/** Whether a decoded reason is known to this build's catalogue. */
export function isKnownReason(wire: string): boolean {
  return reasonByWire(wire) !== undefined;
}
