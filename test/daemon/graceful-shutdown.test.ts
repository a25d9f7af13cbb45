// Proves: on SIGTERM orbitald stops accepting, lets calls in flight finish, cuts long streams after the drain
// deadline with UNAVAILABLE/SHUTTING_DOWN, and exits 0.
// Topology: one daemon (drain 3 s, GetSettings slowed by a failpoint to stay in flight), clients as root.
import { describe, expect, it } from "vitest";
import { Health } from "../../src/gen/grpc/health/v1/health_pb.js";
import { SystemService } from "../../src/gen/orbital/system/v1/system_pb.js";
import { OrbitalError } from "../../src/common/errors.js";
import { startDaemon } from "../support/daemon.js";

describe("graceful shutdown", () => {
  it("drains unary calls, ends streams with SHUTTING_DOWN, exits 0", async () => {
    const d = await startDaemon({ env: { ORBITAL_FAILPOINTS: "/orbital.system.v1.SystemService/GetSettings=slow" } });
    try {
      const system = d.client(SystemService);
      const watch = d.client(Health).watch({ service: "" })[Symbol.asyncIterator]();
      expect((await watch.next()).value?.status).toBe(1);
      const inFlight = Array.from({ length: 5 }, () => system.getSettings({}));
      await new Promise((r) => setTimeout(r, 300)); // the calls reached the daemon and sleep in their handler
      d.proc.kill("SIGTERM");
      const results = await Promise.allSettled(inFlight);
      expect(results.map((r) => r.status)).toEqual(Array(5).fill("fulfilled"));
      const streamEnd = await watch.next().then(() => undefined, (e: unknown) => e);
      expect(streamEnd).toBeInstanceOf(OrbitalError);
      expect(streamEnd).toMatchObject({ code: 14, reason: "SHUTTING_DOWN" });
      expect(await d.exited).toBe(0);
      expect(d.logs().some((l) => l.msg === "stopped")).toBe(true);
    } finally {
      await d.cleanup();
    }
  });
});
