// Config service: transactions (begin, diff, commit, confirm, discard), rollback, revision history and the
// commit event stream, over the config engine.
import { fromJson } from "@bufbuild/protobuf";
import { timestampFromMs, ValueSchema } from "@bufbuild/protobuf/wkt";
import type { Duration } from "@bufbuild/protobuf/wkt";
import type { ConfigService } from "../../gen/orbital/config/v1/config_pb.js";
import { redacted, diffText } from "../config/collections.js";
import { MAX_CONFIRM_MS, MIN_CONFIRM_MS, type CommitEvent, type ConfigEngine } from "../config/config-engine.js";
import type { ServiceImpl } from "../rpc/service-impl.js";
import { paginate } from "../validation/pagination.js";
import { utf8Length, Violations } from "../validation/violations.js";

/** confirm_timeout in ms, or undefined when not set; 10 s..24 h per the proto comment. */
function confirmMs(d: Duration | undefined, field: string): number | undefined {
  if (!d) return undefined;
  const ms = Number(d.seconds) * 1000 + Math.floor(d.nanos / 1e6);
  const v = new Violations();
  v.check(ms >= MIN_CONFIRM_MS && ms <= MAX_CONFIRM_MS, field, "must be 10s..24h");
  v.throwIfAny();
  return ms;
}

function checkComment(comment: string): void {
  const v = new Violations();
  v.check(utf8Length(comment) <= 1024, "comment", "at most 1024 bytes of UTF-8");
  v.throwIfAny();
}

function requireId(id: string): void {
  const v = new Violations();
  v.check(id !== "", "transaction_id", "is required");
  v.throwIfAny();
}

export function configService(engine: ConfigEngine): ServiceImpl<typeof ConfigService> {
  return {
    async begin(_req, ctx) {
      const tx = engine.begin(ctx.principal.user);
      return {
        transaction: { id: tx.id, owner: tx.owner, baseRevision: tx.baseRevision, createTime: tx.createTime, expireTime: timestampFromMs(tx.expiresAt) },
      };
    },

    async diff(req, ctx) {
      requireId(req.transactionId);
      const { changes, runningRevision } = engine.diff(engine.transaction(req.transactionId, ctx.principal.user));
      return {
        changes: changes.map((c) => ({
          path: c.path,
          kind: c.kind,
          ...(c.before !== undefined ? { before: fromJson(ValueSchema, c.before) } : {}),
          ...(c.after !== undefined ? { after: fromJson(ValueSchema, c.after) } : {}),
        })),
        text: diffText(changes),
        runningRevision,
      };
    },

    async commit(req, ctx) {
      requireId(req.transactionId);
      checkComment(req.comment);
      const info = await engine.commit(ctx, req.transactionId, req.comment, confirmMs(req.confirmTimeout, "confirm_timeout"));
      return { revision: info };
    },

    async confirm(_req, ctx) {
      return { revision: await engine.confirm(ctx) };
    },

    async discard(req, ctx) {
      requireId(req.transactionId);
      engine.discard(req.transactionId, ctx.principal.user);
      return {};
    },

    async rollback(req, ctx) {
      checkComment(req.comment);
      const v = new Violations();
      v.check(req.revision > 0n, "revision", "is required (a kept revision number)");
      v.throwIfAny();
      const info = await engine.rollback(ctx, req.revision, req.comment, confirmMs(req.confirmTimeout, "confirm_timeout"));
      return { revision: info };
    },

    async listRevisions(req) {
      const { items, page } = paginate(engine.history(), req.page, "revisions");
      return { revisions: items, page, activeRevision: engine.revision };
    },

    async getRevision(req) {
      const rev = engine.readRevision(req.revision);
      return { info: rev.info!, configuration: redacted(rev.configuration!) };
    },

    async *watchCommits(_req, ctx) {
      const queue: CommitEvent[] = [];
      let wake: (() => void) | undefined;
      const off = engine.onEvent((e) => {
        queue.push(e);
        wake?.();
      });
      const aborted = new Promise<void>((r) => ctx.signal.addEventListener("abort", () => r(), { once: true }));
      try {
        while (!ctx.signal.aborted) {
          const e = queue.shift();
          if (e) yield { type: e.type, revision: e.info };
          else await Promise.race([new Promise<void>((r) => (wake = r)), aborted]);
        }
      } finally {
        off();
      }
    },
  };
}

