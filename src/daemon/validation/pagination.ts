// One paging implementation for every List RPC: page size rules from PageRequest's comment, and opaque page
// tokens that are bound to the query they were issued for.
import { createHash } from "node:crypto";
import { ErrorReason } from "../../gen/orbital/api/v1/error_reason_pb.js";
import type { PageRequest } from "../../gen/orbital/api/v1/pagination_pb.js";
import { OrbitalError } from "../../common/errors.js";
import { Violations } from "./violations.js";

export const DEFAULT_PAGE_SIZE = 100;
export const MAX_PAGE_SIZE = 1000;

function queryTag(query: string): string {
  return createHash("sha256").update(query).digest("base64url").slice(0, 8);
}

/**
 * Cuts one page out of `items` (already filtered and sorted). `query` names the filter, so that a token of one
 * query is refused by another.
 */
export function paginate<T>(items: readonly T[], page: PageRequest | undefined, query: string) {
  const { start, end, page: out } = pageBounds(items.length, page, query);
  return { items: items.slice(start, end), page: out };
}

/** The positions [start, end) of one page of `total` items (for lists too big to hold as one array). */
export function pageBounds(total: number, page: PageRequest | undefined, query: string) {
  const v = new Violations();
  const size = page?.size ?? 0;
  v.check(size >= 0 && size <= MAX_PAGE_SIZE, "page.size", `must be 0..${MAX_PAGE_SIZE}`);
  v.throwIfAny();
  let offset = 0;
  if (page?.token) {
    const m = /^([A-Za-z0-9_-]{8})\.(\d{1,9})$/.exec(page.token);
    if (!m || m[1] !== queryTag(query) || Number(m[2]) > total) {
      throw new OrbitalError({ reason: ErrorReason.INVALID_PAGE_TOKEN, message: "page.token was not issued for this query" });
    }
    offset = Number(m[2]);
  }
  const limit = size === 0 ? DEFAULT_PAGE_SIZE : size;
  const end = Math.min(total, offset + limit);
  return { start: offset, end, page: { nextToken: end < total ? `${queryTag(query)}.${end}` : "", totalSize: total } };
}
