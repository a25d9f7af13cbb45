// Handlers of `orbctl config ...`: the transaction remembered across commands (begin, diff, commit, confirm,
// discard), rollback, the revision history and whole configurations.
import { toJson } from "@bufbuild/protobuf";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { ConfigService, type RevisionInfo } from "../../gen/orbital/config/v1/config_pb.js";
import { ConfigurationSchema } from "../../gen/orbital/config/v1/configuration_pb.js";
import type { Invocation } from "../argv-parser.js";
import { CliError } from "../cli-error.js";
import type { CommandContext, Handler } from "../command-context.js";
import { isApiError } from "../error-report.js";
import { ExitCode } from "../exit-codes.js";
import { toYaml } from "../yaml-text.js";
import { time } from "./render-helpers.js";

const M = ConfigService.method;

/** The remembered transaction; config commands that need one fail without it. */
function openTransaction(ctx: CommandContext): string {
  const id = ctx.tx.current();
  if (!id) throw new CliError("no transaction is open; start one with `orbctl config begin`", ExitCode.INVALID, "NO_TRANSACTION");
  return id;
}

function commitOptions(inv: Invocation) {
  const confirm = inv.int("confirm");
  return { comment: inv.str("message") ?? "", ...(confirm !== undefined ? { confirmTimeout: durationFromMs(confirm) } : {}) };
}

function committed(ctx: CommandContext, r: RevisionInfo | undefined, what = "committed"): void {
  if (!r) return;
  ctx.out.line(`${what} revision ${r.revision}${r.rolledBackTo ? ` (content of revision ${r.rolledBackTo})` : ""}`);
  if (r.confirmDeadline) ctx.out.line(`confirm before ${time(r.confirmDeadline)} (config confirm), or it rolls back`);
}

/** Colours a diff text (+ added, - removed, ~ changed) when the terminal allows. */
function diffLines(ctx: CommandContext, text: string): string[] {
  const s = ctx.out.style;
  return text
    .replace(/\n$/, "")
    .split("\n")
    .map((l) => (l.startsWith("+") ? s.green(l) : l.startsWith("-") ? s.red(l) : l.startsWith("~") ? s.yellow(l) : l));
}

export const handlers: Record<string, Handler> = {
  async begin(ctx) {
    const config = ctx.client(ConfigService);
    const open = ctx.tx.current();
    if (open) {
      // Refuse to forget a transaction that still exists; replace one that ended elsewhere.
      const alive = await config.diff({ transactionId: open }, ctx.call).then(
        () => true,
        (e: unknown) => {
          if (isApiError(e) && e.reason === "TRANSACTION_NOT_FOUND") return false;
          throw e;
        },
      );
      if (alive) {
        throw new CliError(`transaction ${open} is already open; commit or discard it first`, ExitCode.CONFLICT, "TRANSACTION_OPEN", [
          ["hint", "orbctl config diff | commit | discard"],
        ]);
      }
    }
    const res = await config.begin({}, ctx.call);
    const tx = res.transaction!;
    ctx.tx.save(tx.id, ctx.socketPath);
    ctx.out.response(M.begin.output, res, () => {
      ctx.out.line(tx.id);
      ctx.out.line(`transaction open (base revision ${tx.baseRevision}); changes stage into it until commit or discard`);
    });
  },

  async diff(ctx) {
    const transactionId = openTransaction(ctx);
    const res = await ctx.client(ConfigService).diff({ transactionId }, ctx.call);
    ctx.out.response(M.diff.output, res, () => {
      if (res.changes.length === 0) ctx.out.line(`no changes against revision ${res.runningRevision}`);
      else ctx.out.lines(diffLines(ctx, res.text));
    });
  },

  async commit(ctx, inv) {
    const transactionId = openTransaction(ctx);
    const res = await ctx.client(ConfigService).commit({ transactionId, ...commitOptions(inv) }, ctx.call);
    ctx.tx.clear();
    ctx.out.response(M.commit.output, res, () => committed(ctx, res.revision));
  },

  async confirm(ctx) {
    const res = await ctx.client(ConfigService).confirm({}, ctx.call);
    ctx.out.response(M.confirm.output, res, () => ctx.out.line(`revision ${res.revision?.revision ?? "?"} confirmed`));
  },

  async discard(ctx) {
    const transactionId = openTransaction(ctx);
    const res = await ctx.client(ConfigService).discard({ transactionId }, ctx.call);
    ctx.tx.clear();
    ctx.out.response(M.discard.output, res, () => ctx.out.line(`transaction ${transactionId} discarded`));
  },

  async rollback(ctx, inv) {
    const res = await ctx.client(ConfigService).rollback({ revision: BigInt(inv.argInt("N")!), ...commitOptions(inv) }, ctx.call);
    ctx.out.response(M.rollback.output, res, () => committed(ctx, res.revision));
  },

  async history(ctx) {
    const config = ctx.client(ConfigService);
    const first = await config.listRevisions({ page: { size: 1000 } }, ctx.call);
    for (let next = first.page?.nextToken ?? ""; next !== ""; ) {
      const r = await config.listRevisions({ page: { size: 1000, token: next } }, ctx.call);
      first.revisions.push(...r.revisions);
      next = r.page?.nextToken ?? "";
    }
    ctx.out.response(M.listRevisions.output, first, () =>
      ctx.out.table(
        ["rev", "time", "author", "comment"],
        first.revisions.map((r) => [
          `${r.revision}${r.revision === first.activeRevision ? "*" : ""}`,
          time(r.commitTime),
          r.author,
          [r.comment, r.rolledBackTo ? `(rollback to ${r.rolledBackTo})` : "", r.confirmDeadline ? `(unconfirmed)` : ""].filter((x) => x).join(" "),
        ]),
      ),
    );
  },

  async show(ctx, inv) {
    const res = await ctx.client(ConfigService).getRevision({ revision: BigInt(inv.argInt("N") ?? 0) }, ctx.call);
    ctx.out.response(M.getRevision.output, res, () => {
      const i = res.info;
      ctx.out.line(`# revision ${i?.revision ?? "?"} by ${i?.author ?? "?"} at ${time(i?.commitTime)}${i?.comment ? `: ${i.comment}` : ""}`);
      ctx.out.text(res.configuration ? toYaml(toJson(ConfigurationSchema, res.configuration)) : "{}\n");
    });
  },
};
