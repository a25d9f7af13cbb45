// Proves: orbitald serves on a listening socket passed by init (LISTEN_FDS=1, LISTEN_FDNAMES=api, fd 3)
// instead of binding its own path, and the socket outlives the daemon process for the next one to serve.
// Topology: this test process plays init: it binds the socket and hands its fd to each daemon it starts.
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { SystemService } from "../../src/gen/orbital/system/v1/system_pb.js";
import { createClient } from "../../src/client/client.js";
import { createTransport } from "../../src/client/transport.js";
import { startDaemon } from "../support/daemon.js";

const dir = mkdtempSync(path.join(tmpdir(), "orbital-activation-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("socket activation", () => {
  it("serves the inherited socket, and a restarted daemon serves the same socket", async () => {
    const socketPath = path.join(dir, "init-owned.sock");
    const init = net.createServer();
    await new Promise<void>((r) => init.listen(socketPath, r));
    init.on("connection", (s) => s.destroy()); // never reached: the daemon accepts on the shared fd
    const fd = (init as unknown as { _handle: { fd: number } })._handle.fd;
    const env = { LISTEN_FDS: "1", LISTEN_FDNAMES: "api" };
    const transport = createTransport({ socketPath, deadlineMs: 10_000 });
    const system = createClient(SystemService, transport);
    try {
      for (let round = 0; round < 2; round++) {
        const d = await startDaemon({ env, stdio: [fd] });
        expect(d.logs().find((l) => l.msg === "orbitald serving")?.socket).toBe("fd 3 (from init)");
        expect(existsSync(d.socketPath)).toBe(false); // it did not bind its own --socket path
        expect((await system.getVersion({})).apiPackages).toContain("orbital.user.v1");
        await d.cleanup();
        expect(existsSync(socketPath)).toBe(true);
      }
    } finally {
      transport.close();
      init.close();
    }
  });

  it("ignores activation variables meant for another process", async () => {
    const d = await startDaemon({ env: { LISTEN_FDS: "1", LISTEN_PID: "1" } });
    try {
      expect(existsSync(d.socketPath)).toBe(true);
      expect((await d.client(SystemService).getVersion({})).apiPackages.length).toBe(8);
    } finally {
      await d.cleanup();
    }
  });
});
