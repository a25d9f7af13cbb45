// System service: version and build information, health, metrics, box-wide settings and the audit log's
// verification (the verifier itself is src/daemon/store/audit-chain.ts).
import { isIP } from "node:net";
import os from "node:os";
import { create } from "@bufbuild/protobuf";
import { durationFromMs, timestampFromMs } from "@bufbuild/protobuf/wkt";
import { ErrorReason } from "../../gen/orbital/api/v1/error_reason_pb.js";
import { SettingsSchema, type SystemService } from "../../gen/orbital/system/v1/system_pb.js";
import { apiPackages } from "../../common/api-services.js";
import type { Metrics } from "../../common/metrics.js";
import type { ServiceImpl } from "../rpc/service-impl.js";
import type { ConfigEngine } from "../config/config-engine.js";
import { applyFieldMask } from "../validation/field-mask.js";
import { invalidField } from "../../common/errors.js";
import { Violations } from "../validation/violations.js";
import type { BackendHealth } from "./backend-health.js";
import type { AuditLog } from "../store/audit-log.js";
import type { HealthState } from "./health-state.js";
import { buildInfo } from "../build-info.js";

const HOSTNAME = /^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$/;

function validateSettings(s: ReturnType<typeof create<typeof SettingsSchema>>): void {
  const v = new Violations();
  if (s.hostname !== "") v.check(HOSTNAME.test(s.hostname), "settings.hostname", "1..63 letters, digits and '-', not starting or ending with '-'");
  const rest = s.rest;
  if (rest) {
    v.check(rest.port <= 65535, "settings.rest.port", "must be 1..65535");
    // RestListener.address: "an IPv4 or IPv6 address, or empty"; anything else would only fail at bind time.
    if (rest.address !== "") v.check(isIP(rest.address) !== 0, "settings.rest.address", "must be an IPv4 or IPv6 address, or empty for all", ErrorReason.INVALID_ADDRESS, rest.address);
    v.check((rest.tlsCertificatePath === "") === (rest.tlsKeyPath === ""), "settings.rest.tls_key_path", "certificate and key are set together or not at all");
  }
  v.throwIfAny();
}

export function systemService(deps: {
  engine: ConfigEngine;
  health: HealthState;
  backendHealth: BackendHealth;
  metrics: Metrics;
  audit: Pick<AuditLog, "verify">;
  startedAt: number;
}): ServiceImpl<typeof SystemService> {
  const { engine, health, backendHealth, metrics, audit, startedAt } = deps;
  // What does not change while the daemon runs, worked out once (GetVersion is the cheapest liveness call).
  const build = { ...buildInfo(), runtimeVersion: process.version, architecture: os.machine(), kernelRelease: os.release() };
  const packages = apiPackages();
  return {
    async getVersion() {
      return {
        build,
        apiPackages: packages,
        uptime: durationFromMs(Date.now() - startedAt),
        startTime: timestampFromMs(startedAt),
      };
    },

    async getHealth() {
      return {
        status: health.overall(),
        services: health.all().map(([service, s]) => ({ service, status: s.status, detail: s.detail })),
        activeRevision: engine.revision,
        configFallback: engine.fallback.length > 0,
        messages: [...engine.fallback, ...health.messages],
        ...backendHealth.report(),
      };
    },

    async getMetrics() {
      return { text: metrics.render() };
    },

    async getSettings() {
      return { settings: engine.running.settings ?? create(SettingsSchema) };
    },

    async updateSettings(req, ctx) {
      // settings is REQUIRED: without it, the empty mask ("every field") would silently reset every setting.
      if (!req.settings) throw invalidField("settings", "is required");
      const { result, revision } = await engine.mutate(ctx, req.transactionId, (config) => {
        const updated = applyFieldMask(SettingsSchema, config.settings ?? create(SettingsSchema), req.settings ?? create(SettingsSchema), req.updateMask, ["hostname", "rest"]);
        validateSettings(updated);
        config.settings = updated;
        return updated;
      });
      return { settings: result, revision };
    },

    async verifyAuditLog() {
      const v = audit.verify();
      const bad = v.badRecord;
      return {
        ok: v.ok,
        recordsChecked: BigInt(v.recordsChecked),
        firstSeq: BigInt(v.firstSeq),
        lastSeq: BigInt(v.lastSeq),
        ...(bad ? { badRecord: { ...bad, line: BigInt(bad.line), seq: BigInt(bad.seq) } } : {}),
        skippedLines: v.skippedLines.map((l) => ({ file: l.file, line: BigInt(l.line) })),
      };
    },
  };
}
