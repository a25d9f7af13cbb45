// Handlers of `orbctl system ...`: version, health, metrics, box-wide settings and the audit log's check.
import { AuditLogProblemSchema, HealthStatusSchema, SystemService, type Settings, type VerifyAuditLogResponse } from "../../gen/orbital/system/v1/system_pb.js";
import { ExitCode } from "../exit-codes.js";
import type { Invocation } from "../argv-parser.js";
import type { Handler } from "../command-context.js";
import { changed, duration, label, time, yesNo } from "./render-helpers.js";

const M = SystemService.method;

function settingsFields(s: Settings | undefined): [string, string][] {
  const rest = s?.rest;
  return [
    ["hostname", s?.hostname || "-"],
    ["rest", rest?.enabled ? "on" : "off"],
    ["rest address", rest?.address || "(all)"],
    ["rest port", rest?.port ? String(rest.port) : "(default)"],
    ["rest certificate", rest?.tlsCertificatePath || "-"],
    ["rest key", rest?.tlsKeyPath || "-"],
  ];
}

/** The UpdateSettings request of `system settings --flag ...`, or undefined when no flag asks for a change. */
export function settingsRequest(inv: Invocation, transactionId: string) {
  const flags: [string, string][] = [
    ["hostname", "hostname"],
    ["rest", "rest.enabled"],
    ["rest-address", "rest.address"],
    ["rest-port", "rest.port"],
    ["rest-certificate", "rest.tls_certificate_path"],
    ["rest-key", "rest.tls_key_path"],
  ];
  const paths = flags.filter(([f]) => inv.has(f)).map(([, p]) => p);
  if (paths.length === 0) return undefined;
  return {
    settings: {
      hostname: inv.str("hostname") ?? "",
      rest: {
        enabled: inv.str("rest") === "on",
        address: inv.str("rest-address") ?? "",
        port: inv.int("rest-port") ?? 0,
        tlsCertificatePath: inv.str("rest-certificate") ?? "",
        tlsKeyPath: inv.str("rest-key") ?? "",
      },
    },
    updateMask: { paths },
    transactionId,
  };
}

/** The one-line verdict of `system audit verify`. */
export function auditVerdict(v: VerifyAuditLogResponse): string {
  const bad = v.badRecord;
  if (!v.ok && bad) {
    const seq = bad.seq > 0n ? ` (seq ${bad.seq})` : "";
    return `audit log broken at ${bad.file} line ${bad.line}${seq}: ${label(AuditLogProblemSchema, bad.problem)}: ${bad.detail}; ${v.recordsChecked} records intact before it`;
  }
  const records = v.recordsChecked === 0n ? "no records" : `${v.recordsChecked} records, seq ${v.firstSeq}..${v.lastSeq}`;
  const skipped = v.skippedLines.length === 0 ? "" : `; skipped ${v.skippedLines.length} torn line(s): ${v.skippedLines.map((l) => `${l.file} line ${l.line}`).join(", ")}`;
  return `audit log intact: ${records}${skipped}`;
}

export const handlers: Record<string, Handler> = {
  async version(ctx) {
    const v = await ctx.client(SystemService).getVersion({}, ctx.call);
    ctx.out.response(M.getVersion.output, v, () =>
      ctx.out.fields([
        ["version", v.build?.version ?? "-"],
        ["commit", v.build?.commit ?? "-"],
        ["built", time(v.build?.buildTime)],
        ["runtime", v.build?.runtimeVersion ?? "-"],
        ["architecture", v.build?.architecture ?? "-"],
        ["kernel", v.build?.kernelRelease ?? "-"],
        ["started", time(v.startTime)],
        ["uptime", duration(v.uptime)],
        ["api", v.apiPackages.join(", ")],
      ]),
    );
  },

  async health(ctx) {
    const h = await ctx.client(SystemService).getHealth({}, ctx.call);
    ctx.out.response(M.getHealth.output, h, () => {
      ctx.out.fields([
        ["status", label(HealthStatusSchema, h.status)],
        ["active revision", String(h.activeRevision)],
        ["config fallback", yesNo(h.configFallback)],
      ]);
      ctx.out.line();
      ctx.out.table(
        ["service", "status", "detail"],
        h.services.map((s) => [s.service.replace(/^orbital\./, ""), label(HealthStatusSchema, s.status), s.detail]),
      );
      ctx.out.line();
      ctx.out.table(
        ["backend", "status", "since", "detail"],
        h.backends.map((b) => [b.name, label(HealthStatusSchema, b.status), time(b.since), b.detail]),
      );
      if (h.unappliedItems.length) {
        ctx.out.line();
        ctx.out.line("configured but not in force:");
        ctx.out.table(
          ["item", "backend", "errno", "reason"],
          h.unappliedItems.map((i) => [i.item, i.backend, i.errno, i.reason]),
        );
      }
      for (const m of h.messages) ctx.out.line(`note: ${m}`);
    });
  },

  async metrics(ctx) {
    const m = await ctx.client(SystemService).getMetrics({}, ctx.call);
    ctx.out.response(M.getMetrics.output, m, () => ctx.out.text(m.text));
  },

  async settings(ctx, inv) {
    const system = ctx.client(SystemService);
    const req = settingsRequest(inv, ctx.tx.forChange());
    if (!req) {
      const res = await system.getSettings({}, ctx.call);
      ctx.out.response(M.getSettings.output, res, () => ctx.out.fields(settingsFields(res.settings)));
      return;
    }
    const res = await system.updateSettings(req, ctx.call);
    ctx.out.response(M.updateSettings.output, res, () => changed(ctx, "settings changed", res.revision, req.transactionId));
  },

  async auditVerify(ctx) {
    const v = await ctx.client(SystemService).verifyAuditLog({}, ctx.call);
    // One line however long, not wrapped: scripts and the serial console's expect read the verdict whole.
    ctx.out.response(M.verifyAuditLog.output, v, () => ctx.out.lines([auditVerdict(v)]));
    return v.ok ? ExitCode.OK : ExitCode.FAILURE;
  },
};
