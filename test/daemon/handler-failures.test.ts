// Proves: a handler that throws becomes INTERNAL with reason INTERNAL and the call's trace id, is logged with
// that trace id, and the daemon keeps serving; unhandled rejections and uncaught exceptions are logged, not fatal.
// Topology: one daemon with failpoints (ORBITAL_FAILPOINTS) on three SystemService RPCs, one root client.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SystemService } from "../../src/gen/orbital/system/v1/system_pb.js";
import { UserService } from "../../src/gen/orbital/user/v1/user_pb.js";
import { OrbitalError } from "../../src/common/errors.js";
import { startDaemon, type RunningDaemon } from "../support/daemon.js";

const S = "/orbital.system.v1.SystemService";
let d: RunningDaemon;
beforeAll(async () => {
  d = await startDaemon({
    env: { ORBITAL_FAILPOINTS: `${S}/GetVersion=throw,${S}/GetHealth=reject-later,${S}/GetMetrics=throw-later` },
  });
});
afterAll(() => d.cleanup());

describe("handler failures", () => {
  it("turns a thrown exception into INTERNAL with a trace id that the log line carries", async () => {
    const err = (await d.client(SystemService).getVersion({}).catch((e: unknown) => e)) as OrbitalError;
    expect(err).toBeInstanceOf(OrbitalError);
    expect(err).toMatchObject({ code: 13, reason: "INTERNAL", message: "internal error" });
    expect(err.traceId).toMatch(/^[0-9a-f]{32}$/);
    const line = await d.waitForLog((l) => l.msg === "handler failed" && l.traceId === err.traceId);
    expect(JSON.stringify(line)).toContain("failpoint");
    expect((await d.client(UserService).whoAmI({})).user).toBe("root");
  });

  it("survives an unhandled rejection and an uncaught exception", async () => {
    await d.client(SystemService).getHealth({});
    await d.client(SystemService).getMetrics({});
    await d.waitForLog((l) => l.msg === "unhandled rejection (continuing)");
    await d.waitForLog((l) => l.msg === "uncaught exception (continuing)");
    expect(d.proc.exitCode).toBeNull();
    expect((await d.client(UserService).whoAmI({})).user).toBe("root");
  });
});
