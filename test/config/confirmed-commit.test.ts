// Proves: a commit with a confirm timeout rolls back by itself when nobody confirms it, also when the daemon
// was killed and restarted meanwhile (the deadline is persisted), and Confirm makes it permanent. While a
// confirmation is pending, other commits get CONFIRM_PENDING. A confirmation rewrites only the revision's info (its delta
// stays a delta) and survives a kill -9. Topology: three daemons run side by side, root clients.
import { readdirSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { CommitEventType, ConfigService } from "../../src/gen/orbital/config/v1/config_pb.js";
import { RouteType, RoutingService } from "../../src/gen/orbital/routing/v1/routing_pb.js";
import { UserService } from "../../src/gen/orbital/user/v1/user_pb.js";
import { startDaemon, type RunningDaemon } from "../support/daemon.js";

const CONFIRM = { seconds: 10n, nanos: 0 }; // the shortest timeout the API accepts

/** Commits role "probe" with a confirm timeout; returns the revision before it. */
async function confirmedCommit(d: RunningDaemon): Promise<bigint> {
  const config = d.client(ConfigService);
  const { transaction } = await config.begin({});
  await d.client(UserService).createRole({ role: { name: "probe", capabilities: [] }, transactionId: transaction!.id });
  const { revision } = await config.commit({ transactionId: transaction!.id, comment: "risky", confirmTimeout: CONFIRM });
  expect(revision?.confirmDeadline).toBeDefined();
  return revision!.revision - 1n;
}

const hasProbe = (d: RunningDaemon) => d.client(UserService).getRole({ name: "probe" }).then(() => true, () => false);

async function rolledBack(d: RunningDaemon, previous: bigint): Promise<void> {
  const events = d.client(ConfigService).watchCommits({}, { deadlineMs: 30_000 })[Symbol.asyncIterator]();
  const e = await events.next();
  expect(e.value).toMatchObject({ type: CommitEventType.CONFIRM_EXPIRED, revision: { author: "system", rolledBackTo: previous } });
  await events.return?.();
  expect(await hasProbe(d)).toBe(false);
}

describe("confirmed commit", () => {
  it("rolls back on time, across a restart, and stays when confirmed", async () => {
    const [plain, restarted, confirmed] = await Promise.all([startDaemon(), startDaemon(), startDaemon()]);
    const later: RunningDaemon[] = [];
    try {
      // 200 routes before it on the third, so that its confirmed commit (a role) is stored as a delta.
      const routes = Array.from({ length: 200 }, (_, i) => ({ destination: { cidr: `10.7.${i}.0/24` }, type: RouteType.BLACKHOLE }));
      expect((await confirmed.client(RoutingService).bulkUpdateRoutes((async function* () { yield { adds: routes }; })())).failures).toEqual([]);
      const [p0, r0, c0] = await Promise.all([confirmedCommit(plain), confirmedCommit(restarted), confirmedCommit(confirmed)]);

      // While pending, other commits are refused; Confirm on the third makes it permanent.
      const refused = await confirmed.client(UserService).createRole({ role: { name: "other", capabilities: [] } }).catch((e: unknown) => e);
      expect(refused).toMatchObject({ code: 9, reason: "CONFIRM_PENDING" });
      const ok = await confirmed.client(ConfigService).confirm({});
      expect(ok.revision?.confirmDeadline).toBeUndefined();
      expect(await confirmed.client(ConfigService).confirm({}).catch((e: unknown) => e)).toMatchObject({ reason: "NO_PENDING_CONFIRM" });
      // The confirmation rewrote only the revision's info: its delta stays a delta (no full copy of the configuration).
      const files = readdirSync(path.join(confirmed.dataDir, "config", "revisions")).filter((f) => /^\d+\./.test(f)).sort();
      expect(files).toEqual([`${String(c0).padStart(8, "0")}.binpb`, `${String(c0 + 1n).padStart(8, "0")}.delta`]);

      // The second daemon dies before the deadline; its successor still rolls back.
      await restarted.stop("SIGKILL");
      const successor = await startDaemon({ dataDir: restarted.dataDir });
      later.push(successor);
      expect(await hasProbe(successor)).toBe(true);

      // The confirmation survives a kill -9: the third's successor keeps the role past the deadline.
      await confirmed.stop("SIGKILL");
      const confirmedSuccessor = await startDaemon({ dataDir: confirmed.dataDir });
      later.push(confirmedSuccessor);
      expect((await confirmedSuccessor.client(ConfigService).listRevisions({})).revisions[0]!.confirmDeadline).toBeUndefined();

      await Promise.all([rolledBack(plain, p0), rolledBack(successor, r0)]);
      expect(await hasProbe(confirmedSuccessor)).toBe(true);
      expect((await confirmedSuccessor.client(ConfigService).listRevisions({})).revisions[0]!.revision).toBe(c0 + 1n);
      const history = await successor.client(ConfigService).listRevisions({});
      expect(history.revisions[0]).toMatchObject({ revision: r0 + 2n, rolledBackTo: r0 });
    } finally {
      await Promise.all([plain, restarted, confirmed, ...later].map((d) => d.cleanup()));
    }
  }, 60_000);
});
