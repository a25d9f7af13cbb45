// Proves: a commit with a confirm timeout rolls back by itself when nobody confirms it, also when the daemon
// was killed and restarted meanwhile (the deadline is persisted), and Confirm makes it permanent. While a
// confirmation is pending, other commits get CONFIRM_PENDING. Topology: three daemons run side by side, root clients.
import { describe, expect, it } from "vitest";
import { CommitEventType, ConfigService } from "../../src/gen/orbital/config/v1/config_pb.js";
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
      const [p0, r0] = await Promise.all([confirmedCommit(plain), confirmedCommit(restarted), confirmedCommit(confirmed)]);

      // While pending, other commits are refused; Confirm on the third makes it permanent.
      const refused = await confirmed.client(UserService).createRole({ role: { name: "other", capabilities: [] } }).catch((e: unknown) => e);
      expect(refused).toMatchObject({ code: 9, reason: "CONFIRM_PENDING" });
      const ok = await confirmed.client(ConfigService).confirm({});
      expect(ok.revision?.confirmDeadline).toBeUndefined();
      expect(await confirmed.client(ConfigService).confirm({}).catch((e: unknown) => e)).toMatchObject({ reason: "NO_PENDING_CONFIRM" });

      // The second daemon dies before the deadline; its successor still rolls back.
      await restarted.stop("SIGKILL");
      const successor = await startDaemon({ dataDir: restarted.dataDir });
      later.push(successor);
      expect(await hasProbe(successor)).toBe(true);

      await Promise.all([rolledBack(plain, p0), rolledBack(successor, r0)]);
      expect(await hasProbe(confirmed)).toBe(true);
      const history = await successor.client(ConfigService).listRevisions({});
      expect(history.revisions[0]).toMatchObject({ revision: r0 + 2n, rolledBackTo: r0 });
    } finally {
      await Promise.all([plain, restarted, confirmed, ...later].map((d) => d.cleanup()));
    }
  }, 60_000);
});
