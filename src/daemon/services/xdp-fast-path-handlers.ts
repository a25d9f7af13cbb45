// The XDP half of the firewall service (not the fast-path transport: that is src/daemon/transports/fast/): prefix sets attached to interfaces as XDP drop or allow lists
// (configuration like the rest: staged, diffed, committed, rolled back), and the fast path's state on each
// interface as the kernel has it (attach mode, counters). The lists themselves are compiled and put in force
// by the data plane's XDP backend; this module only validates and stores the attachments.
import { clone, create } from "@bufbuild/protobuf";
import {
  FastPathAction,
  FastPathCountersSchema,
  FastPathInterfaceSchema,
  FastPathListSchema,
  FastPathMode,
  type FastPathList,
  type FirewallService,
} from "../../gen/orbital/firewall/v1/firewall_pb.js";
import type { ConfigEngine } from "../config/config-engine.js";
import type { Dataplane } from "../dataplane/dataplane.js";
import { ITEM_NAME } from "../dataplane/nftables/nft-ruleset.js";
import type { FastPathInterfaceStatus } from "../dataplane/xdp/xdp-fast-path.js";
import type { ServiceImpl } from "../rpc/service-impl.js";
import { checkInterfaceName } from "../validation/network-rules.js";
import { paginate } from "../validation/pagination.js";
import { Violations } from "../validation/violations.js";
import { notFound } from "./resource-errors.js";

/** Interfaces one list may name (FastPathList.interfaces). */
export const MAX_FAST_PATH_INTERFACES = 64;

type FastPathRpcs = Pick<ServiceImpl<typeof FirewallService>, "listFastPathLists" | "attachFastPathList" | "detachFastPathList" | "getFastPathStatus">;

/** The rules of FastPathList's field comments (the set's existence is checked with the whole configuration). */
export function validateFastPathList(v: Violations, list: FastPathList, field: string): void {
  v.check(ITEM_NAME.test(list.prefixSet), `${field}.prefix_set`, "1..63 characters, ^[a-z][a-z0-9-]*$");
  v.check(list.action === FastPathAction.DROP || list.action === FastPathAction.ALLOW, `${field}.action`, "must be DROP or ALLOW");
  v.check(list.interfaces.length >= 1 && list.interfaces.length <= MAX_FAST_PATH_INTERFACES, `${field}.interfaces`, `1..${MAX_FAST_PATH_INTERFACES} interfaces`);
  const seen = new Set<string>();
  list.interfaces.forEach((name, i) => {
    checkInterfaceName(v, `${field}.interfaces[${i}]`, name);
    v.check(!seen.has(name), `${field}.interfaces[${i}]`, `${name} is listed twice`);
    seen.add(name);
  });
}

/** The API's name for how the program runs on an interface (also the interface's fast_path_mode). */
export const FAST_PATH_MODES: Record<FastPathInterfaceStatus["mode"], FastPathMode> = {
  native: FastPathMode.NATIVE,
  generic: FastPathMode.GENERIC,
  offload: FastPathMode.NATIVE,
  multi: FastPathMode.NATIVE,
  none: FastPathMode.NOT_ATTACHED,
  "not attached": FastPathMode.NOT_ATTACHED,
};

export function fastPathHandlers(engine: ConfigEngine, dataplane: Dataplane): FastPathRpcs {
  return {
    async listFastPathLists(req) {
      const { items, page } = paginate(engine.running.fastPathLists, req.page, "fast-path-lists");
      return { fastPathLists: items, page };
    },

    async attachFastPathList(req, ctx) {
      const list = clone(FastPathListSchema, req.fastPathList ?? create(FastPathListSchema));
      const v = new Violations();
      validateFastPathList(v, list, "fast_path_list");
      v.throwIfAny();
      const { revision } = await engine.mutate(ctx, req.transactionId, (config) => {
        // A missing set is REFERENCE_MISSING from the whole-configuration check, as for rules.
        config.fastPathLists = [...config.fastPathLists.filter((l) => l.prefixSet !== list.prefixSet), list].sort((a, b) => a.prefixSet.localeCompare(b.prefixSet));
      });
      return { fastPathList: list, revision };
    },

    async detachFastPathList(req, ctx) {
      const { revision } = await engine.mutate(ctx, req.transactionId, (config) => {
        const n = config.fastPathLists.findIndex((l) => l.prefixSet === req.prefixSet);
        if (n < 0) throw notFound("fast-path list", req.prefixSet);
        config.fastPathLists.splice(n, 1);
      });
      return { revision };
    },

    async getFastPathStatus() {
      const status = await dataplane.fastPathStatus();
      return {
        interfaces: status.map((s) =>
          create(FastPathInterfaceSchema, {
            name: s.name,
            mode: FAST_PATH_MODES[s.mode],
            ...(s.counters ? { counters: create(FastPathCountersSchema, s.counters) } : {}),
            prefixSets: s.prefixSets,
            ipv4Entries: BigInt(s.ipv4Entries),
            ipv6Entries: BigInt(s.ipv6Entries),
            notAttachedReason: s.notInForce ?? "",
          }),
        ),
      };
    },
  };
}
