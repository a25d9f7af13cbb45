// Handlers of `orbctl route ...`: static routes, and `route import`, which streams a route file through the
// client-streaming BulkUpdateRoutes in batches, with a progress bar and a per-line failure report.
import { AddressFamily, AddressFamilySchema } from "../../gen/orbital/api/v1/ip_pb.js";
import {
  RouteOrigin,
  RouteOriginSchema,
  RouteTypeSchema,
  RoutingService,
  type BulkUpdateRoutesRequestSchema,
  type Route,
} from "../../gen/orbital/routing/v1/routing_pb.js";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { Invocation } from "../argv-parser.js";
import { UsageError } from "../cli-error.js";
import type { CommandContext, Handler } from "../command-context.js";
import { ExitCode } from "../exit-codes.js";
import { lineSource, type LineSource } from "../line-source.js";
import { ProgressBar } from "../progress-bar.js";
import { parseRouteLine, ROUTE_TYPES, type RouteInit } from "../route-file.js";
import { allPages, changed, enumFromLabel, label, PAGE, yesNo } from "./render-helpers.js";

const M = RoutingService.method;
const MAIN_TABLE = 254;

function tableOf(r: Route): string {
  return r.table === 0 || r.table === MAIN_TABLE ? "main" : String(r.table);
}

function routeFields(r: Route | undefined): [string, string][] {
  if (!r) return [];
  return [
    ["destination", r.destination?.cidr ?? "-"],
    ["table", tableOf(r)],
    ["type", label(RouteTypeSchema, r.type) === "-" ? "unicast" : label(RouteTypeSchema, r.type)],
    ["via", r.gateway?.address || "-"],
    ["dev", r.interface || "-"],
    ["metric", String(r.metric)],
    ["description", r.description],
    ["origin", label(RouteOriginSchema, r.origin)],
    ["owner", r.owner || "-"],
    ["installed", r.installed || !r.notInstalledReason ? yesNo(r.installed) : `no: ${r.notInstalledReason}`],
  ];
}

export function listRequest(inv: Invocation, token: string) {
  const family = inv.str("family");
  return {
    page: PAGE(token),
    table: inv.int("table") ?? 0,
    family: family ? enumFromLabel(AddressFamilySchema, family) : AddressFamily.UNSPECIFIED,
    includeUnowned: inv.bool("all"),
    origin: inv.str("origin") ? enumFromLabel(RouteOriginSchema, inv.str("origin")!) : RouteOrigin.UNSPECIFIED,
    routeSet: inv.str("set") ?? "",
  };
}

/** The CreateRoute request of `route add`. */
export function addRequest(inv: Invocation, transactionId: string) {
  const via = inv.str("via");
  const type = inv.str("type");
  return {
    route: {
      destination: { cidr: inv.arg("CIDR")! },
      table: inv.int("table") ?? 0,
      type: type ? ROUTE_TYPES[type]! : 0,
      ...(via !== undefined ? { gateway: { address: via } } : {}),
      interface: inv.str("dev") ?? "",
      metric: inv.int("metric") ?? 0,
      description: inv.str("description") ?? "",
    },
    transactionId,
  };
}

export function deleteRequest(inv: Invocation, transactionId: string) {
  return { destination: { cidr: inv.arg("CIDR")! }, table: inv.int("table") ?? 0, transactionId };
}

interface Failure {
  line: number;
  text: string;
  reason: string;
  description: string;
}

/**
 * The BulkUpdateRoutes request stream of a route file, in batches of `batch` routes, and what it sent: the
 * file line of each stream item (failures come back by item index) and the lines that did not parse.
 */
export function routeBatches(source: LineSource, batch: number, transactionId: string, progress?: ProgressBar) {
  const lineOfItem: number[] = [];
  const textOfItem: string[] = [];
  const failures: Failure[] = [];
  let read = 0;
  async function* requests(): AsyncIterable<MessageInitShape<typeof BulkUpdateRoutesRequestSchema>> {
    let adds: RouteInit[] = [];
    let sent = false;
    for await (const l of source.lines()) {
      const parsed = parseRouteLine(l.text);
      if (parsed === undefined) continue;
      read++;
      if ("error" in parsed) failures.push({ line: l.n, text: l.text.trim(), reason: "SYNTAX", description: parsed.error });
      else {
        adds.push(parsed.route);
        lineOfItem.push(l.n);
        textOfItem.push(parsed.route.destination.cidr);
      }
      progress?.update(l.bytesRead, read);
      if (adds.length >= batch) {
        yield { adds, transactionId };
        sent = true;
        adds = [];
      }
    }
    if (adds.length > 0 || !sent) yield { adds, transactionId };
  }
  return { requests, lineOfItem, textOfItem, failures, read: () => read };
}

async function importRoutes(ctx: CommandContext, inv: Invocation): Promise<number> {
  const batch = inv.int("batch") ?? 5000;
  if (batch < 1 || batch > 10_000) throw new UsageError("--batch must be 1..10000 (the API takes at most 10,000 items per message)");
  const source = lineSource(inv.arg("FILE")!, ctx.stdin);
  const transactionId = ctx.tx.forChange();
  const progress = new ProgressBar(ctx.stderr, ctx.stderrTerm, "routes", source.size);
  const sent = routeBatches(source, batch, transactionId, progress);
  // A bulk load may take long: wait for the connection within the deadline, then stream without one.
  await ctx.waitConnected();
  let res;
  try {
    res = await ctx.client(RoutingService).bulkUpdateRoutes(sent.requests(), { ...ctx.call, deadlineMs: ctx.call.deadlineMs ?? Infinity });
  } finally {
    progress.finish();
  }
  const failures: Failure[] = [
    ...sent.failures,
    ...res.failures.map((f) => ({
      line: sent.lineOfItem[Number(f.index)] ?? 0,
      text: f.key?.destination?.cidr || (sent.textOfItem[Number(f.index)] ?? ""),
      reason: f.reason,
      description: f.description,
    })),
  ].sort((a, b) => a.line - b.line);
  ctx.out.response(M.bulkUpdateRoutes.output, res, () => {
    const where = res.revision > 0n ? `revision ${res.revision}` : transactionId && res.added + res.deleted > 0n ? `staged in transaction ${transactionId}` : "nothing committed";
    ctx.out.line(`${sent.read()} routes read: ${res.added} added, ${res.deleted} deleted, ${failures.length} failed; ${where}`);
  });
  for (const f of failures) ctx.stderr.write(`line ${f.line}: ${f.text}: ${f.description} [${f.reason}]\n`);
  return failures.length > 0 ? ExitCode.INVALID : ExitCode.OK;
}

export const handlers: Record<string, Handler> = {
  async list(ctx, inv) {
    const svc = ctx.client(RoutingService);
    const res = await allPages((token) => svc.listRoutes(listRequest(inv, token), ctx.call), (r) => r.routes);
    ctx.out.response(M.listRoutes.output, res, () =>
      ctx.out.table(
        ["destination", "table", "via", "dev", "metric", "type", "origin", "owner"],
        res.routes.map((r) => [
          r.destination?.cidr ?? "-",
          tableOf(r),
          r.gateway?.address || "-",
          r.interface || "-",
          String(r.metric),
          label(RouteTypeSchema, r.type) === "-" ? "unicast" : label(RouteTypeSchema, r.type),
          `${label(RouteOriginSchema, r.origin)}${r.installed ? "" : " (not installed)"}`,
          r.owner || "-",
        ]),
      ),
    );
  },

  async show(ctx, inv) {
    const res = await ctx.client(RoutingService).getRoute({ destination: { cidr: inv.arg("CIDR")! }, table: inv.int("table") ?? 0 }, ctx.call);
    ctx.out.response(M.getRoute.output, res, () => ctx.out.fields(routeFields(res.route)));
  },

  async add(ctx, inv) {
    const req = addRequest(inv, ctx.tx.forChange());
    const res = await ctx.client(RoutingService).createRoute(req, ctx.call);
    ctx.out.response(M.createRoute.output, res, () => changed(ctx, `route ${req.route.destination.cidr} added`, res.revision, req.transactionId));
  },

  async delete(ctx, inv) {
    const req = deleteRequest(inv, ctx.tx.forChange());
    const res = await ctx.client(RoutingService).deleteRoute(req, ctx.call);
    ctx.out.response(M.deleteRoute.output, res, () => changed(ctx, `route ${req.destination.cidr} deleted`, res.revision, req.transactionId));
  },

  import: importRoutes,
};

