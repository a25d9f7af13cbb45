// The XDP half of the firewall service (not the fast-path transport: that is src/daemon/transports/fast/): prefix sets attached to interfaces as XDP drop or allow lists
// (configuration like the rest: staged, diffed, committed, rolled back), and the fast path's state on each
// interface as the kernel has it (attach mode, counters). The lists themselves are compiled and put in force
// by the data plane's XDP backend; this module only validates and stores the attachments.
import { clone, create } from "@bufbuild/protobuf";
import {
  FastPathCountersSchema,
  FastPathInterfaceSchema,
  FastPathListSchema,
  FastPathMode,
  type FastPathList,
  type FirewallService,
} from "../../gen/orbital/firewall/v1/firewall_pb.js";
import type { ConfigEngine } from "../config/config-engine.js";
import type { Dataplane } from "../dataplane/dataplane.js";
import type { FastPathInterfaceStatus } from "../dataplane/xdp/xdp-fast-path.js";
import type { ServiceImpl } from "../rpc/service-impl.js";
import { validateFastPathList } from "../validation/network-rules.js";
import { paginate } from "../validation/pagination.js";
import { Violations } from "../validation/violations.js";
import { notFound } from "./resource-errors.js";

type FastPathRpcs = Pick<ServiceImpl<typeof FirewallService>, "listFastPathLists" | "attachFastPathList" | "detachFastPathList" | "getFastPathStatus">;

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
