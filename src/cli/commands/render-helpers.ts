// Small formats shared by the command handlers: timestamps, enum labels, byte counts, fetching every page of
// a list, and the one-line result of a change (committed as revision N, or staged in the transaction).
import type { DescEnum } from "@bufbuild/protobuf";
import { durationMs, timestampMs, type Duration, type Timestamp } from "@bufbuild/protobuf/wkt";
import { UsageError } from "../cli-error.js";
import type { CommandContext } from "../command-context.js";
import { formatDuration } from "../duration.js";

/** "2025-11-26 10:04:05Z", or "-" when unset. */
export function time(t: Timestamp | undefined): string {
  if (!t) return "-";
  return new Date(timestampMs(t)).toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
}

export function duration(d: Duration | undefined): string {
  return d ? formatDuration(durationMs(d)) : "-";
}

/** An enum value for people: "HEALTH_STATUS_NOT_SERVING" is "not-serving"; UNSPECIFIED is "-". */
export function label(e: DescEnum, value: number): string {
  const v = e.value[value];
  if (!v || value === 0) return "-";
  return v.localName.toLowerCase().replace(/_/g, "-");
}

/** The enum value a label names ("not-serving"), for flags with choices. */
export function enumFromLabel(e: DescEnum, text: string): number {
  const v = e.values.find((x) => x.number !== 0 && x.localName.toLowerCase().replace(/_/g, "-") === text.toLowerCase());
  if (!v) throw new UsageError(`"${text}" is not one of ${e.values.filter((x) => x.number !== 0).map((x) => label(e, x.number)).join(", ")}`);
  return v.number;
}

export function yesNo(b: boolean): string {
  return b ? "yes" : "no";
}

export function bytes(n: bigint): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = Number(n);
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${v} B` : `${v.toFixed(1)} ${units[u]}`;
}

interface Paged {
  page?: { nextToken: string } | undefined;
}

/**
 * Every page of a list, merged into the first response (its list field holds all items), so that -o json
 * prints one response message whatever the page count.
 */
export async function allPages<R extends Paged>(fetch: (token: string) => Promise<R>, items: (r: R) => unknown[]): Promise<R> {
  const first = await fetch("");
  let next = first.page?.nextToken ?? "";
  while (next !== "") {
    const r = await fetch(next);
    items(first).push(...items(r));
    next = r.page?.nextToken ?? "";
  }
  if (first.page) first.page.nextToken = "";
  return first;
}

/** Page request of a list call: the biggest page the API allows. */
export const PAGE = (token: string) => ({ size: 1000, token });

/** "user alice created: revision 12" or "user alice created: staged in transaction t-1". */
export function changed(ctx: CommandContext, what: string, revision: bigint, transactionId: string): void {
  ctx.out.line(revision === 0n && transactionId !== "" ? `${what}: staged in transaction ${transactionId}` : `${what}: revision ${revision}`);
}

/** Keeps the fields of a mask whose flags were given; a change command with nothing to change is a usage error. */
export function maskOf(paths: readonly (string | false)[]): string[] {
  const given = paths.filter((p): p is string => p !== false);
  if (given.length === 0) throw new UsageError("nothing to change: give at least one flag (see --help)");
  return given;
}
