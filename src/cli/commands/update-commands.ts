// Handlers of `orbctl update ...`: A/B system updates: the slots, installing a bundle (a progress bar on a
// terminal, RAUC's progress lines otherwise, then a summary) and marking slots.
import path from "node:path";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { SlotHealthSchema, SlotMarkSchema, UpdateService, type InstallUpdateResponse } from "../../gen/orbital/update/v1/update_pb.js";
import type { Handler } from "../command-context.js";
import { ProgressBar } from "../progress-bar.js";
import { enumFromLabel, label, yesNo } from "./render-helpers.js";

const M = UpdateService.method;

export const handlers: Record<string, Handler> = {
  async status(ctx) {
    const res = await ctx.client(UpdateService).getUpdateStatus({}, ctx.call);
    ctx.out.response(M.getUpdateStatus.output, res, () => {
      ctx.out.table(
        ["slot", "boot", "version", "health", "booted", "next", "installed"],
        res.slots.map((s) => [
          s.name,
          s.bootName,
          s.version || "-",
          label(SlotHealthSchema, s.health),
          yesNo(s.booted),
          yesNo(s.primary),
          s.installedTime ? timestampDate(s.installedTime).toISOString().replace(/\.\d+Z$/, "Z") : "-",
        ]),
      );
      for (const s of res.slots) if (s.badReason) ctx.out.line(`${s.name} is bad: ${s.badReason}`);
      if (res.installRunning) ctx.out.line("an install is running");
      if (res.lastError) ctx.out.line(`last error: ${res.lastError} [${res.lastErrorReason}]`);
    });
  },

  async install(ctx, inv) {
    // The daemon wants an absolute path; orbctl runs on the box, so a relative one is the caller's cwd's.
    const bundlePath = path.resolve(inv.arg("FILE")!);
    const forceDowngrade = inv.bool("force-downgrade");
    const bar = ctx.out.format === "table" && ctx.stderrTerm.fancy ? new ProgressBar(ctx.stderr, ctx.stderrTerm, "", 100) : undefined;
    const started = Date.now();
    let last: InstallUpdateResponse | undefined;
    // An install takes as long as the slot takes to write: wait for the connection within the deadline, then stream without one.
    await ctx.waitConnected();
    try {
      for await (const p of ctx.client(UpdateService).installUpdate({ bundlePath, forceDowngrade }, { ...ctx.call, deadlineMs: ctx.call.deadlineMs ?? Infinity })) {
        last = p;
        if (bar) bar.update(p.percent, p.percent, p.message);
        else if (!p.done) ctx.out.streamItem(M.installUpdate.output, p, () => ctx.out.line(`${String(p.percent).padStart(3)}%  ${p.message}`));
        else ctx.out.streamItem(M.installUpdate.output, p, () => {});
      }
    } finally {
      bar?.finish();
    }
    if (ctx.out.format !== "table" || !last?.done) return;
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    ctx.out.line(`installed ${last.version || "the bundle"} into ${last.slot} in ${seconds} s; it boots at the next reboot`);
  },

  async mark(ctx, inv) {
    const res = await ctx.client(UpdateService).markSlot({ slot: inv.arg("SLOT")!, mark: enumFromLabel(SlotMarkSchema, inv.arg("MARK")!) }, ctx.call);
    ctx.out.response(M.markSlot.output, res, () => {
      const s = res.slot;
      ctx.out.line(`slot ${s?.name ?? inv.arg("SLOT")} marked ${inv.arg("MARK")}${s ? `: ${label(SlotHealthSchema, s.health)}, ${s.primary ? "boots next" : "does not boot next"}` : ""}`);
    });
  },
};
