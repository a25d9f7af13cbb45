// Proves: a W3C traceparent sent by the caller is continued by the daemon: it comes back in the response
// headers, stamps every log line of the call, and is the RequestInfo.request_id of an error; without one, a
// fresh trace id is minted per call. Topology: one daemon, one root client.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { UserService } from "../../src/gen/orbital/user/v1/user_pb.js";
import { OrbitalError } from "../../src/common/errors.js";
import { startDaemon, type RunningDaemon } from "../support/daemon.js";

let d: RunningDaemon;
beforeAll(async () => {
  d = await startDaemon();
});
afterAll(() => d.cleanup());

const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
const traceparent = `00-${traceId}-00f067aa0ba902b7-01`;

describe("trace propagation", () => {
  it("continues the caller's trace in headers and log lines", async () => {
    let seen = "";
    const res = await d.client(UserService).createUser({ user: { name: "tracy", role: "viewer", uid: 5151 } }, { traceparent, onTrace: (t) => (seen = t) });
    expect(res.revision).toBeGreaterThan(0n);
    expect(seen).toBe(traceId);
    const line = await d.waitForLog((l) => l.msg === "configuration committed" && l.revision === res.revision.toString());
    expect(line.traceId).toBe(traceId);
  });

  it("returns the trace id in the error's RequestInfo", async () => {
    const err = await d.client(UserService).getUser({ name: "nobody" }, { traceparent }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OrbitalError);
    expect(err).toMatchObject({ reason: "NOT_FOUND", traceId, metadata: { resourceType: "user", name: "nobody" } });
  });

  it("mints a distinct trace per call without a traceparent (and ignores a malformed one)", async () => {
    const ids: string[] = [];
    for (const tp of [undefined, undefined, "00-zzzz-bad-01"]) {
      await d.client(UserService).whoAmI({}, { ...(tp ? { traceparent: tp } : {}), onTrace: (t) => ids.push(t) });
    }
    expect(ids).toHaveLength(3);
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{32}$/);
    expect(new Set(ids).size).toBe(3);
  });
});
