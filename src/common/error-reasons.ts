// Reads the error catalogue from error_reason.proto: each reason's wire string, gRPC code, description and
// metadata keys. The error helper, the REST gateway and the docs all take reasons from here.
import { getOption } from "@bufbuild/protobuf";
import { ErrorReason, ErrorReasonSchema, reason as reasonOption } from "../gen/orbital/api/v1/error_reason_pb.js";
import type { Code } from "../gen/google/rpc/code_pb.js";

export interface ReasonEntry {
  readonly value: ErrorReason;
  /** The string sent in ErrorInfo.reason, e.g. "INVALID_PREFIX". */
  readonly wire: string;
  readonly code: Code;
  readonly description: string;
  readonly metadataKeys: readonly string[];
}

const PREFIX = "ERROR_REASON_";

/** Every reason of the catalogue, in enum order, without UNSPECIFIED. */
export const reasonCatalogue: readonly ReasonEntry[] = ErrorReasonSchema.values
  .filter((v) => v.number !== ErrorReason.UNSPECIFIED)
  .map((v) => {
    const s = getOption(v, reasonOption);
    return {
      value: v.number,
      wire: v.name.slice(PREFIX.length),
      code: s.code,
      description: s.description,
      metadataKeys: s.metadataKeys,
    };
  });

const byValue = new Map(reasonCatalogue.map((r) => [r.value, r]));
const byWire = new Map(reasonCatalogue.map((r) => [r.wire, r]));

/** The catalogue entry of a reason; throws for UNSPECIFIED, which is never sent. */
export function reasonEntry(value: ErrorReason): ReasonEntry {
  const entry = byValue.get(value);
  if (!entry) throw new Error(`error reason ${value} is not in the catalogue`);
  return entry;
}

/** Looks a reason up by its wire string (clients use this to branch on ErrorInfo.reason). */
export function reasonByWire(wire: string): ReasonEntry | undefined {
  return byWire.get(wire);
}
