// Proves: when the peer-credentials addon cannot load, orbitald refuses every call with
// UNAUTHENTICATED/PEER_CREDENTIALS_UNAVAILABLE (fail closed) and says so in its log; nobody is served anonymously.
// Topology: the daemon bundle copied to a temp dir without its native/ folder, one client as root.
import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SystemService } from "../../src/gen/orbital/system/v1/system_pb.js";
import { UserService } from "../../src/gen/orbital/user/v1/user_pb.js";
import { OrbitalError } from "../../src/common/errors.js";
import { DAEMON_BUNDLE, startDaemon, type RunningDaemon } from "../support/daemon.js";

const lonely = mkdtempSync(path.join(tmpdir(), "orbitald-no-addon-"));
let d: RunningDaemon;
beforeAll(async () => {
  const bundle = path.join(lonely, "orbitald.mjs");
  copyFileSync(DAEMON_BUNDLE, bundle);
  d = await startDaemon({ bundle, env: { ORBITAL_NATIVE_DIR: path.join(lonely, "missing") } });
});
afterAll(async () => {
  await d.cleanup();
  rmSync(lonely, { recursive: true, force: true });
});

describe("fail closed without peer credentials", () => {
  it.each([
    ["SystemService.GetVersion", () => d.client(SystemService).getVersion({})],
    ["UserService.WhoAmI", () => d.client(UserService).whoAmI({})],
    ["UserService.CreateUser", () => d.client(UserService).createUser({ user: { name: "mallory", role: "admin", uid: 1 } })],
  ])("refuses %s even to root", async (_name, call) => {
    const err = await call().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(OrbitalError);
    expect(err).toMatchObject({ code: 16, reason: "PEER_CREDENTIALS_UNAVAILABLE" });
    expect((err as OrbitalError).metadata.cause).toMatch(/peercred addon not loadable/);
  });

  it("logs why it refuses", () => {
    expect(d.logs().some((l) => l.msg === "peer credentials unavailable: every call will be refused")).toBe(true);
  });
});
