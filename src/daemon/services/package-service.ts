// Package service: install (streamed stages), list, get, delete and logs of add-on packages, and the admin's
// package policy (a configuration section, so it is revisioned and audited like any other change).
import { create } from "@bufbuild/protobuf";
import { PackagePolicySchema, type PackageService } from "../../gen/orbital/package/v1/package_pb.js";
import { invalidField } from "../../common/errors.js";
import type { ServiceImpl } from "../rpc/service-impl.js";
import type { ConfigEngine } from "../config/config-engine.js";
import type { PackageManager } from "../packages/package-manager.js";
import { effectivePolicy, validatePolicy } from "../packages/package-policy.js";
import { applyFieldMask } from "../validation/field-mask.js";
import { paginate } from "../validation/pagination.js";

const DEFAULT_LOG_LINES = 100;
/** The fields of a PackagePolicy an update_mask may name. */
const POLICY_FIELDS = ["allowed_capabilities", "trusted_keys"];
const MAX_LOG_LINES = 1000;

export function packageService(engine: ConfigEngine, packages: PackageManager, imageKeyIds: readonly string[]): ServiceImpl<typeof PackageService> {
  return {
    async listPackages(req) {
      const { items, page } = paginate(packages.list(), req.page, "packages");
      return { packages: items, page };
    },

    async getPackage(req) {
      return { package: packages.get(req.name) };
    },

    async *installPackage(req, ctx) {
      if (req.bundlePath === "") throw invalidField("bundle_path", "is required");
      yield* packages.install(req.bundlePath, ctx.principal);
    },

    async deletePackage(req) {
      await packages.delete(req.name);
      return {};
    },

    async getPackageLogs(req) {
      if (req.lines > MAX_LOG_LINES) throw invalidField("lines", `must be at most ${MAX_LOG_LINES}`);
      return { lines: packages.logs(req.name, req.lines || DEFAULT_LOG_LINES) };
    },

    async getPackagePolicy() {
      const { policy, isDefault } = effectivePolicy(engine.running);
      return { policy, defaultPolicy: isDefault, imageKeyIds: [...imageKeyIds] };
    },

    async updatePackagePolicy(req, ctx) {
      if (!req.policy) throw invalidField("policy", "is required");
      let policy = req.policy;
      const { revision } = await engine.mutate(ctx, req.transactionId, (config) => {
        const merged = applyFieldMask(PackagePolicySchema, effectivePolicy(config).policy, req.policy ?? create(PackagePolicySchema), req.updateMask, POLICY_FIELDS);
        policy = config.packagePolicy = validatePolicy(merged, "policy");
      });
      return { policy, revision };
    },
  };
}
