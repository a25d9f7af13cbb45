// Proves: kill -9 at random moments during a loop of commits never leaves a torn or empty configuration:
// after each restart the active revision is the last acknowledged one or the one in flight, with exactly its
// content, and no temporary file of an interrupted write is left. 50 rounds. Topology: one data dir; a daemon per round, killed with SIGKILL while a client commits.
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ConfigService } from "../../src/gen/orbital/config/v1/config_pb.js";
import { UserService } from "../../src/gen/orbital/user/v1/user_pb.js";
import { startDaemon } from "../support/daemon.js";

const ROUNDS = 50;
const dataDir = mkdtempSync(path.join(tmpdir(), "orbital-crash-"));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

// A tiny seeded PRNG, so that a failing run can be repeated (ORBITAL_CRASH_SEED).
const seed = Number(process.env.ORBITAL_CRASH_SEED ?? Date.now() % 100000);
let state = seed;
const random = () => ((state = (state * 1103515245 + 12345) % 2147483648) / 2147483648);

describe("crash consistency", () => {
  it(`keeps the old or the new revision through ${ROUNDS} kill -9s (seed ${seed})`, async () => {
    let acked = 0n;
    let ackedRoles: string[] = [];
    let commits = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const d = await startDaemon({ dataDir });
      try {
        const config = d.client(ConfigService, 2000);
        const users = d.client(UserService, 2000);
        const active = await config.getRevision({ revision: 0n });
        const roles = active.configuration!.roles.map((r) => r.name).sort();
        const revision = active.info!.revision;
        if (revision === acked) {
          expect(roles, `round ${round}: revision ${revision}`).toEqual(ackedRoles);
        } else {
          // The commit in flight when the daemon died made it to disk: exactly one more role.
          expect(revision, `round ${round}`).toBe(acked + 1n);
          expect(roles.length).toBe(ackedRoles.length + 1);
          expect(roles).toEqual(expect.arrayContaining(ackedRoles));
        }
        acked = revision;
        ackedRoles = roles;
        // A kill during the previous round's write left no temporary file behind (start-up removed it).
        expect(readdirSync(path.join(dataDir, "config", "revisions")).filter((f) => f.endsWith(".tmp")), `round ${round}`).toEqual([]);

        const killAt = Date.now() + 20 + random() * 200;
        const killer = new Promise<void>((resolve) => setTimeout(() => void d.stop("SIGKILL").then(() => resolve()), killAt - Date.now()));
        for (let i = 0; Date.now() < killAt + 50; i++) {
          const name = `k${round}-${i}`;
          try {
            const r = await users.createRole({ role: { name, capabilities: ["system.read"] } });
            acked = r.revision;
            ackedRoles = [...ackedRoles, name].sort();
            commits++;
          } catch {
            break; // the daemon died under this call: it may or may not have landed
          }
        }
        await killer;
      } finally {
        await d.cleanup().catch(() => undefined);
      }
    }
    expect(commits).toBeGreaterThan(ROUNDS);
    // A final clean start sees the last state and every kept revision reads back.
    const d = await startDaemon({ dataDir });
    try {
      const history = await d.client(ConfigService).listRevisions({ page: { size: 1000 } });
      expect(history.revisions.length).toBe(Math.min(50, Number(history.activeRevision)));
      expect(history.activeRevision).toBeGreaterThanOrEqual(acked);
    } finally {
      await d.cleanup();
    }
  }, 240_000);
});
