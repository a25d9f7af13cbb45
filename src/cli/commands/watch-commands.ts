// Handlers of `orbctl watch ...`: server streams of interface, route and commit events, printed as they
// come (one JSON document per line with -o json) until Ctrl-C or the end of the stream.
import { ConfigService, CommitEventTypeSchema } from "../../gen/orbital/config/v1/config_pb.js";
import { InterfaceEventTypeSchema, InterfaceService, OperStateSchema, AdminStateSchema } from "../../gen/orbital/interface/v1/interface_pb.js";
import { RouteEventTypeSchema, RoutingService } from "../../gen/orbital/routing/v1/routing_pb.js";
import type { CommandContext, Handler } from "../command-context.js";
import { label } from "./render-helpers.js";

const clock = () => new Date().toISOString().slice(11, 19);

/** Runs a stream to its end; an interruption from the shell (Ctrl-C) ends it quietly. */
async function follow<T>(ctx: CommandContext, open: (options: object) => AsyncIterable<T>, each: (item: T) => void): Promise<void> {
  await ctx.waitConnected();
  try {
    for await (const item of open({ ...ctx.call, deadlineMs: ctx.call.deadlineMs ?? Infinity })) each(item);
  } catch (err) {
    if (ctx.call.signal?.aborted) return;
    throw err;
  }
}

export const handlers: Record<string, Handler> = {
  async interfaces(ctx, inv) {
    const schema = InterfaceService.method.watchInterfaces.output;
    await follow(ctx, (o) => ctx.client(InterfaceService).watchInterfaces({ name: inv.str("name") ?? "" }, o), (ev) =>
      ctx.out.streamItem(schema, ev, () => {
        const i = ev.interface;
        const what = label(InterfaceEventTypeSchema, ev.type);
        ctx.out.line(
          i
            ? `${clock()}  ${what}  ${i.name}  admin ${label(AdminStateSchema, i.adminState)}  oper ${label(OperStateSchema, i.operState)}  mtu ${i.kernelMtu}  ${i.kernelAddresses.map((a) => a.cidr).join(" ")}`.trimEnd()
            : `${clock()}  ${what}`,
        );
      }),
    );
  },

  async routes(ctx, inv) {
    const schema = RoutingService.method.watchRoutes.output;
    await follow(ctx, (o) => ctx.client(RoutingService).watchRoutes({ table: inv.int("table") ?? 0, includeUnowned: inv.bool("all") }, o), (ev) =>
      ctx.out.streamItem(schema, ev, () => {
        const r = ev.route;
        const what = label(RouteEventTypeSchema, ev.type);
        ctx.out.line(
          r
            ? `${clock()}  ${what}  ${r.destination?.cidr ?? ""}${r.gateway?.address ? ` via ${r.gateway.address}` : ""}${r.interface ? ` dev ${r.interface}` : ""} table ${r.table || 254} metric ${r.metric}`
            : `${clock()}  ${what}`,
        );
      }),
    );
  },

  async commits(ctx) {
    const schema = ConfigService.method.watchCommits.output;
    await follow(ctx, (o) => ctx.client(ConfigService).watchCommits({}, o), (ev) =>
      ctx.out.streamItem(schema, ev, () => {
        const r = ev.revision;
        ctx.out.line(`${clock()}  ${label(CommitEventTypeSchema, ev.type)}  revision ${r?.revision ?? "?"} by ${r?.author ?? "?"}${r?.comment ? `: ${r.comment}` : ""}`);
      }),
    );
  },
};
