// Collects field violations of one request and throws them together as one INVALID_FIELD error (or the more
// specific reason of the first violation), so that a caller learns every problem in one round trip.
import { ErrorReason } from "../../gen/orbital/api/v1/error_reason_pb.js";
import { reasonEntry } from "../../common/error-reasons.js";
import { OrbitalError, type FieldViolation } from "../../common/errors.js";

export class Violations {
  private readonly list: (FieldViolation & { value: ErrorReason; offending?: string })[] = [];

  /** `offending` is the bad value, for reasons whose catalogue metadata names it (INVALID_ADDRESS, INVALID_PREFIX). */
  add(field: string, description: string, reason = ErrorReason.INVALID_FIELD, offending?: string): void {
    this.list.push({ field, description, reason: reasonEntry(reason).wire, value: reason, ...(offending !== undefined ? { offending } : {}) });
  }

  /** Adds a violation unless `ok`. */
  check(ok: boolean, field: string, description: string, reason = ErrorReason.INVALID_FIELD, offending?: string): void {
    if (!ok) this.add(field, description, reason, offending);
  }

  throwIfAny(): void {
    const first = this.list[0];
    if (!first) return;
    throw new OrbitalError({
      reason: first.value,
      message: this.list.map((v) => `${v.field}: ${v.description}`).join("; "),
      // The error's reason is the first violation's, so its metadata must carry that reason's keys too.
      metadata: { field: first.field, ...(first.offending !== undefined ? { value: first.offending } : {}) },
      violations: this.list.map(({ field, description, reason }) => ({ field, description, reason })),
    });
  }
}

export const utf8Length = (s: string): number => Buffer.byteLength(s, "utf8");

/** Free-text fields: 0..255 bytes of UTF-8 without control characters (they are shown on consoles). */
export function checkDescription(v: Violations, field: string, text: string): void {
  v.check(utf8Length(text) <= 255, field, "at most 255 bytes of UTF-8");
  // eslint-disable-next-line no-control-regex
  v.check(!/[\u0000-\u001f\u007f]/.test(text), field, "must not contain control characters");
}
