// Handlers of `orbctl update ...`: A/B system updates (the daemon does not implement the service yet; its
// UNIMPLEMENTED error is shown like any other).
import { SlotHealthSchema, SlotMarkSchema, UpdateService } from "../../gen/orbital/update/v1/update_pb.js";
import type { Handler } from "../command-context.js";
import { enumFromLabel, label, yesNo } from "./render-helpers.js";

const M = UpdateService.method;

export const handlers: Record<string, Handler> = {
  async status(ctx) {
    const res = await ctx.client(UpdateService).getUpdateStatus({}, ctx.call);
    ctx.out.response(M.getUpdateStatus.output, res, () => {
      ctx.out.table(
        ["slot", "boot", "version", "health", "booted", "next"],
        res.slots.map((s) => [s.name, s.bootName, s.version || "-", label(SlotHealthSchema, s.health), yesNo(s.booted), yesNo(s.primary)]),
      );
      if (res.lastError) ctx.out.line(`last error: ${res.lastError}`);
    });
  },

  async install(ctx, inv) {
    await ctx.waitConnected();
    for await (const p of ctx.client(UpdateService).installUpdate({ bundlePath: inv.arg("PATH")! }, { ...ctx.call, deadlineMs: ctx.call.deadlineMs ?? Infinity })) {
      ctx.out.streamItem(M.installUpdate.output, p, () => ctx.out.line(`${String(p.percent).padStart(3)}%  ${p.message}${p.done ? `  (slot ${p.slot} ready; it boots next)` : ""}`));
    }
  },

  async mark(ctx, inv) {
    const res = await ctx.client(UpdateService).markSlot({ slot: inv.arg("SLOT")!, mark: enumFromLabel(SlotMarkSchema, inv.arg("MARK")!) }, ctx.call);
    ctx.out.response(M.markSlot.output, res, () => ctx.out.line(`slot ${res.slot?.name ?? inv.arg("SLOT")} marked ${inv.arg("MARK")}`));
  },
};
