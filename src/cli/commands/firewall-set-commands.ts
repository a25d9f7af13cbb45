// Handlers of `orbctl firewall set ...`: prefix sets, and streaming many entries into or out of one through
// the client-streaming BulkUpdatePrefixSetEntries.
import type { MessageInitShape } from "@bufbuild/protobuf";
import { AddressFamilySchema } from "../../gen/orbital/api/v1/ip_pb.js";
import { FirewallService, type BulkUpdatePrefixSetEntriesRequestSchema, type PrefixSet } from "../../gen/orbital/firewall/v1/firewall_pb.js";
import type { Invocation } from "../argv-parser.js";
import { UsageError } from "../cli-error.js";
import type { CommandContext, Handler } from "../command-context.js";
import { ExitCode } from "../exit-codes.js";
import { lineSource } from "../line-source.js";
import { allPages, changed, enumFromLabel, label, PAGE } from "./render-helpers.js";

const M = FirewallService.method;
const BATCH = 5000;

function setFields(s: PrefixSet | undefined): [string, string][] {
  if (!s) return [];
  return [
    ["name", s.name],
    ["family", label(AddressFamilySchema, s.family)],
    ["description", s.description],
    ["prefixes", `${s.prefixes.length}`],
  ];
}

export function addRequest(inv: Invocation, transactionId: string) {
  const family = inv.str("family");
  if (!family) throw new UsageError("--family is required", "orbctl firewall set add NAME --family ipv4|ipv6 [--prefix CIDR ...]");
  return {
    prefixSet: {
      name: inv.arg("NAME")!,
      family: enumFromLabel(AddressFamilySchema, family),
      prefixes: inv.list("prefix").map((cidr) => ({ cidr })),
      description: inv.str("description") ?? "",
    },
    transactionId,
  };
}

type EntriesRequest = MessageInitShape<typeof BulkUpdatePrefixSetEntriesRequestSchema>;

/** The request stream of add-entries/remove-entries: argument prefixes, then --file lines, in batches. */
export async function* entryBatches(inv: Invocation, stdin: NodeJS.ReadableStream, remove: boolean, transactionId: string): AsyncIterable<EntriesRequest> {
  const prefixSet = inv.arg("NAME")!;
  let batch: { cidr: string }[] = [];
  const flush = (): EntriesRequest => {
    const r = { prefixSet, transactionId, ...(remove ? { removes: batch } : { adds: batch }) };
    batch = [];
    return r;
  };
  for (const cidr of inv.args("CIDR")) {
    batch.push({ cidr });
    if (batch.length >= BATCH) yield flush();
  }
  const file = inv.str("file");
  if (file !== undefined) {
    for await (const l of lineSource(file, stdin).lines()) {
      const cidr = l.text.replace(/#.*/, "").trim();
      if (cidr === "") continue;
      batch.push({ cidr });
      if (batch.length >= BATCH) yield flush();
    }
  }
  if (batch.length > 0) yield flush();
}

async function bulk(ctx: CommandContext, inv: Invocation, remove: boolean): Promise<number> {
  if (inv.args("CIDR").length === 0 && !inv.has("file")) throw new UsageError("give prefixes as arguments or with --file");
  const transactionId = ctx.tx.forChange();
  await ctx.waitConnected();
  const res = await ctx
    .client(FirewallService)
    .bulkUpdatePrefixSetEntries(entryBatches(inv, ctx.stdin, remove, transactionId), { ...ctx.call, deadlineMs: ctx.call.deadlineMs ?? Infinity });
  ctx.out.response(M.bulkUpdatePrefixSetEntries.output, res, () => {
    const where = res.revision > 0n ? `revision ${res.revision}` : transactionId && res.added + res.removed > 0n ? `staged in transaction ${transactionId}` : "nothing committed";
    ctx.out.line(`${res.added} added, ${res.removed} removed, ${res.failures.length} failed; ${where}`);
  });
  for (const f of res.failures) ctx.stderr.write(`item ${f.index}: ${f.cidr}: ${f.description} [${f.reason}]\n`);
  return res.failures.length > 0 ? ExitCode.INVALID : ExitCode.OK;
}

export const handlers: Record<string, Handler> = {
  async list(ctx) {
    const svc = ctx.client(FirewallService);
    const res = await allPages((token) => svc.listPrefixSets({ page: PAGE(token) }, ctx.call), (r) => r.prefixSets);
    ctx.out.response(M.listPrefixSets.output, res, () =>
      ctx.out.table(
        ["name", "family", "prefixes", "description"],
        res.prefixSets.map((s) => [s.name, label(AddressFamilySchema, s.family), String(s.prefixes.length), s.description]),
      ),
    );
  },

  async show(ctx, inv) {
    const res = await ctx.client(FirewallService).getPrefixSet({ name: inv.arg("NAME")! }, ctx.call);
    ctx.out.response(M.getPrefixSet.output, res, () => {
      ctx.out.fields(setFields(res.prefixSet));
      for (const p of res.prefixSet?.prefixes ?? []) ctx.out.line(`  ${p.cidr}`);
    });
  },

  async add(ctx, inv) {
    const req = addRequest(inv, ctx.tx.forChange());
    const res = await ctx.client(FirewallService).createPrefixSet(req, ctx.call);
    ctx.out.response(M.createPrefixSet.output, res, () => changed(ctx, `prefix set ${req.prefixSet.name} created`, res.revision, req.transactionId));
  },

  async delete(ctx, inv) {
    const transactionId = ctx.tx.forChange();
    const name = inv.arg("NAME")!;
    const res = await ctx.client(FirewallService).deletePrefixSet({ name, transactionId }, ctx.call);
    ctx.out.response(M.deletePrefixSet.output, res, () => changed(ctx, `prefix set ${name} deleted`, res.revision, transactionId));
  },

  addEntries: (ctx, inv) => bulk(ctx, inv, false),
  removeEntries: (ctx, inv) => bulk(ctx, inv, true),
};
