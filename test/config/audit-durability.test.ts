// Proves: an answered mutation's audit record is on disk before the client sees the answer. Each round starts
// the daemon on the same data dir, makes a mutation (over gRPC, over REST, or one that fails), and kills the
// daemon with SIGKILL the moment the answer arrives; afterwards every answered call's trace id is in the
// audit log with the code the client saw. Topology: one data dir; a daemon per round, REST on 127.0.0.1.
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { UserService } from "../../src/gen/orbital/user/v1/user_pb.js";
import type { OrbitalError } from "../../src/common/errors.js";
import { startDaemon, type RunningDaemon } from "../support/daemon.js";
import { accepts, enableRest, mintToken, restCall, waitFor } from "../support/rest.js";

const ROUNDS = Number(process.env.ORBITAL_AUDIT_ROUNDS ?? 60);
const dataDir = mkdtempSync(path.join(tmpdir(), "orbital-audit-kill-"));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

interface Answered {
  round: number;
  via: string;
  traceId: string;
  code: string;
}

function auditedTraces(): Map<string, string> {
  const codes = new Map<string, string>();
  for (const file of ["audit.jsonl.1", "audit.jsonl"]) {
    const p = path.join(dataDir, file);
    if (!existsSync(p)) continue;
    for (const line of readFileSync(p, "utf8").split("\n")) {
      if (line === "") continue;
      const r = JSON.parse(line) as { traceId: string; code: string };
      codes.set(r.traceId, r.code);
    }
  }
  return codes;
}

/** The answered call of one round; the daemon is killed the moment it returns. */
async function answeredMutation(d: RunningDaemon, round: number, rest: { base: string; token: string }): Promise<Answered> {
  const name = `kill-${round}`;
  switch (round % 3) {
    case 0: {
      let traceId = "";
      await d.client(UserService).createRole({ role: { name, capabilities: ["system.read"] } }, { onTrace: (t) => (traceId = t) });
      return { round, via: "gRPC", traceId, code: "OK" };
    }
    case 1: {
      const res = await restCall(rest.base, rest.token, UserService.method.createRole, { role: { name, capabilities: ["system.read"] } });
      expect(res.status, res.text).toBe(200);
      return { round, via: "REST", traceId: res.headers.get("traceparent")!.split("-")[1]!, code: "OK" };
    }
    default: {
      // A failed mutation: the client sees ALREADY_EXISTS, and the record of that must survive too.
      const err = (await d.client(UserService).createRole({ role: { name: "admin" } }).catch((e: unknown) => e)) as OrbitalError;
      expect(err.reason).toBe("ALREADY_EXISTS");
      return { round, via: "gRPC, failed", traceId: err.traceId!, code: "ALREADY_EXISTS" };
    }
  }
}

describe("audit durability", () => {
  it(`keeps the audit record of every answered mutation through ${ROUNDS} kill -9s right after the answer`, async () => {
    // REST on a fixed port and a token for it, both persisted in the data dir for every later round.
    const first = await startDaemon({ dataDir });
    const { base } = await enableRest(first);
    const { secret } = await mintToken(first, "rest-admin", "admin");
    await first.cleanup();
    const port = Number(new URL(base).port);

    const answered: Answered[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const d = await startDaemon({ dataDir });
      try {
        await waitFor(() => accepts(port), 10_000, "REST after restart");
        const a = await answeredMutation(d, round, { base, token: secret });
        d.proc.kill("SIGKILL");
        answered.push(a);
      } finally {
        await d.cleanup();
      }
    }

    const audited = auditedTraces();
    const lost = answered.filter((a) => audited.get(a.traceId) !== (a.code === "OK" ? "OK" : "ALREADY_EXISTS"));
    expect(lost.map((a) => `round ${a.round} (${a.via}): trace ${a.traceId} ${audited.has(a.traceId) ? `recorded as ${audited.get(a.traceId)}` : "missing"}`), `${lost.length} of ${answered.length} answered calls lost their audit record`).toEqual([]);
  }, 600_000);
});
