// Handlers of `orbctl firewall fast-path ...`: attaching prefix sets to interfaces as XDP drop or allow lists,
// detaching them, and the fast path's state per interface (mode and counters).
import { FastPathAction, FastPathModeSchema, FastPathActionSchema, FirewallService } from "../../gen/orbital/firewall/v1/firewall_pb.js";
import type { Handler } from "../command-context.js";
import { UsageError } from "../cli-error.js";
import { allPages, bytes, changed, label, PAGE } from "./render-helpers.js";

const M = FirewallService.method;

export const handlers: Record<string, Handler> = {
  async list(ctx) {
    const svc = ctx.client(FirewallService);
    const res = await allPages((token) => svc.listFastPathLists({ page: PAGE(token) }, ctx.call), (r) => r.fastPathLists);
    ctx.out.response(M.listFastPathLists.output, res, () =>
      ctx.out.table(
        ["prefix-set", "action", "interfaces"],
        res.fastPathLists.map((l) => [l.prefixSet, label(FastPathActionSchema, l.action), l.interfaces.join(",")]),
      ),
    );
  },

  async attach(ctx, inv) {
    const interfaces = inv.list("interface");
    if (interfaces.length === 0) throw new UsageError("--interface is required", "orbctl firewall fast-path attach SET --interface IF [--interface IF ...] [--allow]");
    const transactionId = ctx.tx.forChange();
    const prefixSet = inv.arg("SET")!;
    const action = inv.has("allow") ? FastPathAction.ALLOW : FastPathAction.DROP;
    const res = await ctx.client(FirewallService).attachFastPathList({ fastPathList: { prefixSet, action, interfaces }, transactionId }, ctx.call);
    ctx.out.response(M.attachFastPathList.output, res, () =>
      changed(ctx, `fast-path ${label(FastPathActionSchema, action)} list ${prefixSet} on ${interfaces.join(", ")}`, res.revision, transactionId),
    );
  },

  async detach(ctx, inv) {
    const transactionId = ctx.tx.forChange();
    const prefixSet = inv.arg("SET")!;
    const res = await ctx.client(FirewallService).detachFastPathList({ prefixSet, transactionId }, ctx.call);
    ctx.out.response(M.detachFastPathList.output, res, () => changed(ctx, `fast-path list ${prefixSet} detached`, res.revision, transactionId));
  },

  async show(ctx) {
    const res = await ctx.client(FirewallService).getFastPathStatus({}, ctx.call);
    ctx.out.response(M.getFastPathStatus.output, res, () => {
      ctx.out.table(
        ["iface", "mode", "dropped", "bytes", "allowed", "passed", "entries", "lists"],
        res.interfaces.map((i) => [
          i.name,
          label(FastPathModeSchema, i.mode),
          String(i.counters?.droppedPackets ?? 0n),
          bytes(i.counters?.droppedBytes ?? 0n),
          String(i.counters?.allowedPackets ?? 0n),
          String(i.counters?.passedPackets ?? 0n),
          String(i.ipv4Entries + i.ipv6Entries),
          i.prefixSets.join(","),
        ]),
      );
      for (const i of res.interfaces) if (i.notAttachedReason) ctx.out.line(`${i.name}: not in force: ${i.notAttachedReason}`);
    });
  },
};
