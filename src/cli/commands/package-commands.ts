// Handlers of `orbctl package ...`: add-on packages (the daemon does not implement the service yet; its
// UNIMPLEMENTED error is shown like any other).
import { InstallStageSchema, PackageService, PackageStateSchema, type Package } from "../../gen/orbital/package/v1/package_pb.js";
import type { Handler } from "../command-context.js";
import { allPages, bytes, label, PAGE, time } from "./render-helpers.js";

const M = PackageService.method;

function packageFields(p: Package | undefined): [string, string][] {
  if (!p) return [];
  return [
    ["name", p.name],
    ["version", p.version],
    ["summary", p.summary],
    ["state", label(PackageStateSchema, p.state)],
    ["uid", String(p.uid)],
    ["size", bytes(p.sizeBytes)],
    ["installed", time(p.installTime)],
  ];
}

export const handlers: Record<string, Handler> = {
  async list(ctx) {
    const svc = ctx.client(PackageService);
    const res = await allPages((token) => svc.listPackages({ page: PAGE(token) }, ctx.call), (r) => r.packages);
    ctx.out.response(M.listPackages.output, res, () =>
      ctx.out.table(["name", "version", "state", "summary"], res.packages.map((p) => [p.name, p.version, label(PackageStateSchema, p.state), p.summary])),
    );
  },

  async show(ctx, inv) {
    const res = await ctx.client(PackageService).getPackage({ name: inv.arg("NAME")! }, ctx.call);
    ctx.out.response(M.getPackage.output, res, () => ctx.out.fields(packageFields(res.package)));
  },

  async install(ctx, inv) {
    await ctx.waitConnected();
    for await (const p of ctx.client(PackageService).installPackage({ bundlePath: inv.arg("PATH")! }, { ...ctx.call, deadlineMs: ctx.call.deadlineMs ?? Infinity })) {
      ctx.out.streamItem(M.installPackage.output, p, () => ctx.out.line(`${String(p.percent).padStart(3)}%  ${label(InstallStageSchema, p.stage)}  ${p.message}`));
    }
  },

  async delete(ctx, inv) {
    const name = inv.arg("NAME")!;
    const res = await ctx.client(PackageService).deletePackage({ name }, ctx.call);
    ctx.out.response(M.deletePackage.output, res, () => ctx.out.line(`package ${name} removed`));
  },
};
