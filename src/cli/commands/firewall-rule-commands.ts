// Handlers of `orbctl firewall rule ...`: ordered rules, their match criteria built from flags, counters.
import {
  ActionSchema,
  ChainSchema,
  ConnectionStateSchema,
  FirewallService,
  ProtocolSchema,
  type AddressMatch,
  type Match,
  type PortRange,
  type Rule,
} from "../../gen/orbital/firewall/v1/firewall_pb.js";
import type { Invocation } from "../argv-parser.js";
import { UsageError } from "../cli-error.js";
import type { Handler } from "../command-context.js";
import { allPages, changed, enumFromLabel, label, PAGE, yesNo } from "./render-helpers.js";

const M = FirewallService.method;

/** "--src 10.0.0.0/8" is a prefix, "--src @bogons" a prefix set. */
function addressMatch(text: string) {
  return text.startsWith("@") ? { match: { case: "prefixSet" as const, value: text.slice(1) } } : { match: { case: "prefix" as const, value: { cidr: text } } };
}

/** "22" or "1024-65535". */
function portRanges(flag: string, values: string[]) {
  return values.flatMap((v) =>
    v.split(",").map((p) => {
      const m = /^(\d+)(?:-(\d+))?$/.exec(p.trim());
      if (!m) throw new UsageError(`--${flag}: "${p}" is not a port or a range (22, 1024-65535)`);
      return { first: Number(m[1]), last: m[2] === undefined ? 0 : Number(m[2]) };
    }),
  );
}

function describeAddress(a: AddressMatch | undefined): string | undefined {
  if (a?.match.case === "prefix") return a.match.value.cidr;
  if (a?.match.case === "prefixSet") return `@${a.match.value}`;
  return undefined;
}

function describePorts(ps: PortRange[]): string {
  return ps.map((p) => (p.last && p.last !== p.first ? `${p.first}-${p.last}` : String(p.first))).join(",");
}

/** The match of a rule in the words of the flags: "tcp dport 22 src 10.0.0.0/8 in eth0". */
export function describeMatch(m: Match | undefined): string {
  if (!m) return "any";
  const parts: string[] = [];
  if (m.protocol) parts.push(label(ProtocolSchema, m.protocol));
  const src = describeAddress(m.source);
  const dst = describeAddress(m.destination);
  if (src) parts.push(`src ${src}`);
  if (dst) parts.push(`dst ${dst}`);
  if (m.sourcePorts.length) parts.push(`sport ${describePorts(m.sourcePorts)}`);
  if (m.destinationPorts.length) parts.push(`dport ${describePorts(m.destinationPorts)}`);
  if (m.inInterface) parts.push(`in ${m.inInterface}`);
  if (m.outInterface) parts.push(`out ${m.outInterface}`);
  if (m.connectionStates.length) parts.push(`state ${m.connectionStates.map((s) => label(ConnectionStateSchema, s)).join(",")}`);
  return parts.length ? parts.join(" ") : "any";
}

function ruleFields(r: Rule | undefined): [string, string][] {
  if (!r) return [];
  return [
    ["name", r.name],
    ["chain", label(ChainSchema, r.chain)],
    ["sequence", String(r.sequence)],
    ["match", describeMatch(r.match)],
    ["action", label(ActionSchema, r.action)],
    ["counter", yesNo(r.counter)],
    ["packets", String(r.counters?.packets ?? 0n)],
    ["bytes", String(r.counters?.bytes ?? 0n)],
    ["description", r.description],
  ];
}

/** The CreateRule request of `firewall rule add`. */
export function addRequest(inv: Invocation, transactionId: string) {
  const missing = ["chain", "seq", "action"].filter((f) => !inv.has(f));
  if (missing.length) throw new UsageError(`${missing.map((f) => `--${f}`).join(", ")} required`, "orbctl firewall rule add NAME --chain CHAIN --seq N --action ACTION [match flags]");
  const src = inv.str("src");
  const dst = inv.str("dst");
  const proto = inv.str("proto");
  const states = (inv.str("state") ?? "").split(",").filter((s) => s.trim() !== "");
  return {
    rule: {
      name: inv.arg("NAME")!,
      chain: enumFromLabel(ChainSchema, inv.str("chain")!),
      sequence: inv.int("seq")!,
      action: enumFromLabel(ActionSchema, inv.str("action")!),
      match: {
        ...(src !== undefined ? { source: addressMatch(src) } : {}),
        ...(dst !== undefined ? { destination: addressMatch(dst) } : {}),
        protocol: proto ? enumFromLabel(ProtocolSchema, proto) : 0,
        sourcePorts: portRanges("sport", inv.list("sport")),
        destinationPorts: portRanges("dport", inv.list("dport")),
        inInterface: inv.str("in") ?? "",
        outInterface: inv.str("out") ?? "",
        connectionStates: states.map((s) => enumFromLabel(ConnectionStateSchema, s.trim())),
      },
      counter: inv.bool("counter"),
      description: inv.str("description") ?? "",
    },
    transactionId,
  };
}

export const handlers: Record<string, Handler> = {
  async list(ctx, inv) {
    const svc = ctx.client(FirewallService);
    const chain = inv.str("chain");
    const res = await allPages((token) => svc.listRules({ page: PAGE(token), chain: chain ? enumFromLabel(ChainSchema, chain) : 0 }, ctx.call), (r) => r.rules);
    ctx.out.response(M.listRules.output, res, () =>
      ctx.out.table(
        ["chain", "seq", "name", "action", "match", "packets"],
        res.rules.map((r) => [label(ChainSchema, r.chain), String(r.sequence), r.name, label(ActionSchema, r.action), describeMatch(r.match), r.counter ? String(r.counters?.packets ?? 0n) : "-"]),
      ),
    );
  },

  async show(ctx, inv) {
    const res = await ctx.client(FirewallService).getRule({ name: inv.arg("NAME")! }, ctx.call);
    ctx.out.response(M.getRule.output, res, () => ctx.out.fields(ruleFields(res.rule)));
  },

  async add(ctx, inv) {
    const req = addRequest(inv, ctx.tx.forChange());
    const res = await ctx.client(FirewallService).createRule(req, ctx.call);
    ctx.out.response(M.createRule.output, res, () => changed(ctx, `rule ${req.rule.name} added`, res.revision, req.transactionId));
  },

  async delete(ctx, inv) {
    const transactionId = ctx.tx.forChange();
    const name = inv.arg("NAME")!;
    const res = await ctx.client(FirewallService).deleteRule({ name, transactionId }, ctx.call);
    ctx.out.response(M.deleteRule.output, res, () => changed(ctx, `rule ${name} deleted`, res.revision, transactionId));
  },
};
