// Proves: one client cannot starve the others. Calls in flight per connection are capped (RATE_LIMITED with
// RetryInfo) while other connections are served; oversized requests get MESSAGE_TOO_LARGE; deadlines hold.
// Topology: one daemon; two client connections (grpc-js channels) from this process as root.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Health } from "../../src/gen/grpc/health/v1/health_pb.js";
import { SystemService } from "../../src/gen/orbital/system/v1/system_pb.js";
import { UserService } from "../../src/gen/orbital/user/v1/user_pb.js";
import { createClient } from "../../src/client/client.js";
import { createTransport } from "../../src/client/transport.js";
import { OrbitalError } from "../../src/common/errors.js";
import { startDaemon, type RunningDaemon } from "../support/daemon.js";

const MAX_IN_FLIGHT = 32; // defaultLimits.maxInFlightPerConnection
let d: RunningDaemon;
beforeAll(async () => {
  d = await startDaemon({ env: { ORBITAL_FAILPOINTS: "/orbital.system.v1.SystemService/GetSettings=slow" } });
});
afterAll(() => d.cleanup());

const failure = (p: Promise<unknown>) => p.then(() => undefined, (e: unknown) => e as OrbitalError);

describe("per-connection limits", () => {
  it("refuses calls beyond the in-flight cap on one connection but serves other connections", async () => {
    const busy = createTransport({ socketPath: d.socketPath, deadlineMs: 20_000 });
    const health = createClient(Health, busy);
    const aborts: AbortController[] = [];
    try {
      // Long-lived watches stay in flight: fill the connection's quota with them.
      for (let i = 0; i < MAX_IN_FLIGHT; i++) {
        const abort = new AbortController();
        aborts.push(abort);
        const it = health.watch({ service: "" }, { signal: abort.signal })[Symbol.asyncIterator]();
        expect((await it.next()).value?.status).toBe(1);
      }
      const err = await failure(createClient(SystemService, busy).getVersion({}));
      expect(err).toMatchObject({ code: 8, reason: "RATE_LIMITED", metadata: { limit: String(MAX_IN_FLIGHT) } });
      const other = await d.client(SystemService).getVersion({});
      expect(other.apiPackages.length).toBe(8);
    } finally {
      for (const a of aborts) a.abort();
    }
    // Once the watches end, the same connection is served again.
    await expect.poll(() => createClient(SystemService, busy).getVersion({}).then((v) => v.apiPackages.length, () => 0), { timeout: 5000 }).toBe(8);
    busy.close();
  });

  it("answers an oversized request with MESSAGE_TOO_LARGE and keeps serving", async () => {
    const huge = "x".repeat(5 << 20);
    const err = await failure(d.client(UserService).createUser({ user: { name: "big", role: "viewer", description: huge } }));
    expect(err).toBeInstanceOf(OrbitalError);
    expect(err).toMatchObject({ code: 8, reason: "MESSAGE_TOO_LARGE" });
    expect((await d.client(UserService).whoAmI({})).user).toBe("root");
  });

  it("honours the caller's deadline", async () => {
    const err = await failure(d.client(SystemService).getSettings({}, { deadlineMs: 200 }));
    expect(err).toMatchObject({ code: 4 });
    expect((await d.client(SystemService).getVersion({})).apiPackages.length).toBe(8);
  });
});
