// Handlers of `orbctl package ...`: add-on packages (install with progress, list, show, logs, delete) and the
// package policy (allowed capabilities, trusted signing keys).
import { readFileSync } from "node:fs";
import { InstallStageSchema, PackageService, PackageStateSchema, type Package, type PackagePolicy } from "../../gen/orbital/package/v1/package_pb.js";
import type { CommandContext, Handler } from "../command-context.js";
import { UsageError } from "../cli-error.js";
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
    ["pid", p.pid ? String(p.pid) : "-"],
    ["last exit", p.lastExit || "-"],
    ["capabilities", p.capabilities.join(" ") || "-"],
    ["architecture", p.architecture],
    ["signing key", p.signingKeyId],
    ["size", bytes(p.sizeBytes)],
    ["installed", time(p.installTime)],
  ];
}

/** Changes the policy in force (the default one when none is configured) and stores it whole. */
async function changePolicy(ctx: CommandContext, change: (p: PackagePolicy) => void): Promise<void> {
  const svc = ctx.client(PackageService);
  const { policy } = await svc.getPackagePolicy({}, ctx.call);
  change(policy!);
  const res = await svc.updatePackagePolicy({ policy: policy!, transactionId: ctx.tx.forChange() }, ctx.call);
  ctx.out.response(M.updatePackagePolicy.output, res, () => ctx.out.line(res.revision > 0n ? `package policy changed: revision ${res.revision}` : "package policy change staged"));
}

export const handlers: Record<string, Handler> = {
  async list(ctx) {
    const svc = ctx.client(PackageService);
    const res = await allPages((token) => svc.listPackages({ page: PAGE(token) }, ctx.call), (r) => r.packages);
    ctx.out.response(M.listPackages.output, res, () =>
      ctx.out.table(["name", "version", "state", "uid", "summary"], res.packages.map((p) => [p.name, p.version, label(PackageStateSchema, p.state), String(p.uid), p.summary])),
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

  async logs(ctx, inv) {
    const res = await ctx.client(PackageService).getPackageLogs({ name: inv.arg("NAME")!, lines: inv.int("lines") ?? 0 }, ctx.call);
    ctx.out.response(M.getPackageLogs.output, res, () => {
      for (const l of res.lines) ctx.out.line(l);
    });
  },

  async policyShow(ctx) {
    const res = await ctx.client(PackageService).getPackagePolicy({}, ctx.call);
    const p = res.policy!;
    ctx.out.response(M.getPackagePolicy.output, res, () =>
      ctx.out.fields([
        ["policy", res.defaultPolicy ? "default (all but user.*, update.*, package.*)" : "configured"],
        ["allowed", p.allowedCapabilities.join(" ") || "-"],
        ["image keys", res.imageKeyIds.join(" ") || "-"],
        ["trusted keys", p.trustedKeys.map((k) => `${k.name} (${k.keyId})`).join(" ") || "-"],
      ]),
    );
  },

  async policyAllow(ctx, inv) {
    await changePolicy(ctx, (p) => {
      p.allowedCapabilities = inv.args("CAPABILITY");
    });
  },

  async policyTrust(ctx, inv) {
    const name = inv.arg("NAME")!;
    let pem: string;
    try {
      pem = readFileSync(inv.arg("FILE")!, "utf8");
    } catch (err) {
      throw new UsageError(`cannot read ${inv.arg("FILE")}: ${(err as Error).message}`);
    }
    await changePolicy(ctx, (p) => {
      p.trustedKeys = [...p.trustedKeys.filter((k) => k.name !== name), { $typeName: "orbital.package.v1.TrustedKey", name, publicKeyPem: pem, keyId: "" }];
    });
  },

  async policyUntrust(ctx, inv) {
    const name = inv.arg("NAME")!;
    await changePolicy(ctx, (p) => {
      if (!p.trustedKeys.some((k) => k.name === name)) throw new UsageError(`no trusted key is named ${name}`);
      p.trustedKeys = p.trustedKeys.filter((k) => k.name !== name);
    });
  },
};
