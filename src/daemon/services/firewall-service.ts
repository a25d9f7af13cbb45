// Firewall service: ordered rules and named prefix sets in the configuration (compiled by the data plane
// into one nftables table of orbitald's own), rule counters from the kernel, and bulk prefix-set loading;
// the XDP fast-path lists made of prefix sets are xdp-fast-path-handlers.ts.
import { clone, create } from "@bufbuild/protobuf";
import { AddressFamily, IpPrefixSchema, type IpPrefix } from "../../gen/orbital/api/v1/ip_pb.js";
import type { Configuration } from "../../gen/orbital/config/v1/configuration_pb.js";
import {
  Chain,
  PrefixSetEntryFailureSchema,
  PrefixSetSchema,
  RuleCountersSchema,
  RuleSchema,
  type FirewallService,
  type PrefixSetEntryFailure,
  type Rule,
} from "../../gen/orbital/firewall/v1/firewall_pb.js";
import { toOrbitalError } from "../../common/errors.js";
import type { ConfigEngine } from "../config/config-engine.js";
import { rulePrefixSets } from "../config/collections.js";
import type { Dataplane } from "../dataplane/dataplane.js";
import type { ServiceImpl } from "../rpc/service-impl.js";
import { applyFieldMask } from "../validation/field-mask.js";
import { parsePrefix } from "../validation/ip.js";
import { validatePrefixSet, validateRule } from "../validation/network-rules.js";
import { paginate } from "../validation/pagination.js";
import { checkBulkBatch } from "../validation/bulk-batch.js";
import { Violations } from "../validation/violations.js";
import { alreadyExists, inUse, notFound } from "./resource-errors.js";
import { fastPathHandlers } from "./xdp-fast-path-handlers.js";

const byEvaluationOrder = (a: Rule, b: Rule) => a.chain - b.chain || a.sequence - b.sequence;
const byName = (a: { name: string }, b: { name: string }) => a.name.localeCompare(b.name);

function setUsers(config: Configuration, set: string): string[] {
  return [
    ...config.firewallRules.filter((r) => rulePrefixSets(r).includes(set)).map((r) => `rule ${r.name}`),
    ...config.fastPathLists.filter((l) => l.prefixSet === set).map((l) => `fast-path list ${l.prefixSet}`),
  ];
}

function checkedRule(r: Rule, config: Configuration): Rule {
  const rule = clone(RuleSchema, r);
  rule.counters = undefined;
  const v = new Violations();
  validateRule(v, rule, "rule", config);
  v.throwIfAny();
  return rule;
}

export function firewallService(engine: ConfigEngine, dataplane: Dataplane): ServiceImpl<typeof FirewallService> {
  const withCounters = async (rules: Rule[]) => {
    const counters = await dataplane.ruleCounters();
    return rules.map((r) => {
      const out = clone(RuleSchema, r);
      const c = counters.get(r.name);
      if (c) out.counters = create(RuleCountersSchema, { packets: c.packets, bytes: c.bytes });
      return out;
    });
  };

  return {
    ...fastPathHandlers(engine, dataplane),

    async listRules(req) {
      const rules = engine.running.firewallRules.filter((r) => req.chain === Chain.UNSPECIFIED || r.chain === req.chain);
      const { items, page } = paginate(rules, req.page, `rules:${req.chain}`);
      return { rules: await withCounters(items), page };
    },

    async getRule(req) {
      const rule = engine.running.firewallRules.find((r) => r.name === req.name);
      if (!rule) throw notFound("firewall rule", req.name);
      return { rule: (await withCounters([rule]))[0]! };
    },

    async createRule(req, ctx) {
      const { result, revision } = await engine.mutate(ctx, req.transactionId, (config) => {
        const rule = checkedRule(req.rule ?? create(RuleSchema), config);
        if (config.firewallRules.some((r) => r.name === rule.name)) throw alreadyExists("firewall rule", rule.name);
        config.firewallRules.push(rule);
        config.firewallRules.sort(byEvaluationOrder);
        return rule;
      });
      return { rule: result, revision };
    },

    async updateRule(req, ctx) {
      const name = req.rule?.name ?? "";
      const { result, revision } = await engine.mutate(ctx, req.transactionId, (config) => {
        const n = config.firewallRules.findIndex((r) => r.name === name);
        if (n < 0) throw notFound("firewall rule", name);
        const merged = applyFieldMask(RuleSchema, config.firewallRules[n]!, req.rule!, req.updateMask, ["chain", "sequence", "match", "action", "counter", "description"]);
        config.firewallRules[n] = checkedRule(merged, config);
        config.firewallRules.sort(byEvaluationOrder);
        return merged;
      });
      return { rule: result, revision };
    },

    async deleteRule(req, ctx) {
      const { revision } = await engine.mutate(ctx, req.transactionId, (config) => {
        const n = config.firewallRules.findIndex((r) => r.name === req.name);
        if (n < 0) throw notFound("firewall rule", req.name);
        config.firewallRules.splice(n, 1);
      });
      return { revision };
    },

    async listPrefixSets(req) {
      const { items, page } = paginate(engine.running.prefixSets, req.page, "prefix-sets");
      return { prefixSets: items, page };
    },

    async getPrefixSet(req) {
      const set = engine.running.prefixSets.find((s) => s.name === req.name);
      if (!set) throw notFound("prefix set", req.name);
      return { prefixSet: set };
    },

    async createPrefixSet(req, ctx) {
      const set = clone(PrefixSetSchema, req.prefixSet ?? create(PrefixSetSchema));
      const v = new Violations();
      validatePrefixSet(v, set, "prefix_set");
      v.throwIfAny();
      const { revision } = await engine.mutate(ctx, req.transactionId, (config) => {
        if (config.prefixSets.some((s) => s.name === set.name)) throw alreadyExists("prefix set", set.name);
        config.prefixSets.push(set);
        config.prefixSets.sort(byName);
      });
      return { prefixSet: set, revision };
    },

    async updatePrefixSet(req, ctx) {
      const name = req.prefixSet?.name ?? "";
      const { result, revision } = await engine.mutate(ctx, req.transactionId, (config) => {
        const n = config.prefixSets.findIndex((s) => s.name === name);
        if (n < 0) throw notFound("prefix set", name);
        const merged = applyFieldMask(PrefixSetSchema, config.prefixSets[n]!, req.prefixSet!, req.updateMask, ["prefixes", "description"]);
        const v = new Violations();
        validatePrefixSet(v, merged, "prefix_set");
        v.throwIfAny();
        config.prefixSets[n] = merged;
        return merged;
      });
      return { prefixSet: result, revision };
    },

    async deletePrefixSet(req, ctx) {
      const { revision } = await engine.mutate(ctx, req.transactionId, (config) => {
        const n = config.prefixSets.findIndex((s) => s.name === req.name);
        if (n < 0) throw notFound("prefix set", req.name);
        const users = setUsers(config, req.name);
        if (users.length) throw inUse("prefix set", req.name, users);
        config.prefixSets.splice(n, 1);
      });
      return { revision };
    },

    async bulkUpdatePrefixSetEntries(batches, ctx) {
      // set name → cidr → its last operation in the stream, as one small number: item index * 2 + 1 for an
      // add, + 0 for a remove (a million entries are a million numbers, not objects and BigInts: the heap is
      // sized for the configuration this builds, not for copies of it). Failures by item index.
      const ops = new Map<string, Map<string, number>>();
      const failures: PrefixSetEntryFailure[] = [];
      let index = 0;
      let transactionId: string | undefined;
      const fail = (i: number, set: string, cidr: string, reason: string, description: string) =>
        failures.push(create(PrefixSetEntryFailureSchema, { index: BigInt(i), prefixSet: set, cidr, reason, description }));
      for await (const batch of batches) {
        transactionId = checkBulkBatch(transactionId, batch, batch.adds.length + batch.removes.length);
        const setOps = ops.get(batch.prefixSet) ?? new Map<string, number>();
        ops.set(batch.prefixSet, setOps);
        for (const [list, add] of [[batch.adds, 1], [batch.removes, 0]] as const) {
          for (const pfx of list) {
            const i = index++;
            const p = parsePrefix(pfx.cidr);
            if (typeof p === "string") fail(i, batch.prefixSet, pfx.cidr, "INVALID_PREFIX", p);
            else setOps.set(p.cidr === pfx.cidr ? pfx.cidr : p.cidr, i * 2 + add);
          }
        }
      }
      let added = 0n;
      let removed = 0n;
      // Nothing valid to do: no commit (an empty revision would only add noise to the history).
      if ([...ops.values()].every((m) => m.size === 0)) return { added, removed, failures, revision: 0n };
      const { revision } = await engine.mutate(ctx, transactionId ?? "", (config) => {
        for (const [name, setOps] of ops) {
          const set = config.prefixSets.find((s) => s.name === name);
          if (!set) {
            const e = toOrbitalError(notFound("prefix set", name));
            for (const [cidr, op] of setOps) fail(Math.floor(op / 2), name, cidr, e.reason, e.message);
            continue;
          }
          const family = set.family === AddressFamily.IPV4 ? 4 : 6;
          // The set's entries stay as they are, in their order; the removed ones go, the new ones follow.
          const at = new Map(set.prefixes.map((p, i) => [p.cidr, i]));
          const gone = new Set<number>();
          const appended: IpPrefix[] = [];
          for (const [cidr, op] of setOps) {
            const i = Math.floor(op / 2);
            if ((family === 6) !== cidr.includes(":")) fail(i, name, cidr, "INVALID_PREFIX", `${cidr} is not IPv${family}`);
            else if (op % 2 === 1) {
              if (at.has(cidr)) continue;
              appended.push(create(IpPrefixSchema, { cidr }));
              added++;
            } else if (at.has(cidr)) {
              gone.add(at.get(cidr)!);
              removed++;
            } else fail(i, name, cidr, "NOT_FOUND", `${cidr} is not in prefix set "${name}"`);
          }
          set.prefixes = (gone.size > 0 ? set.prefixes.filter((_, i) => !gone.has(i)) : set.prefixes).concat(appended);
        }
      });
      failures.sort((a, b) => (a.index < b.index ? -1 : 1));
      return { added, removed, failures, revision };
    },
  };
}
