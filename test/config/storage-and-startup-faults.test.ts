// Proves: a full data partition makes a commit fail with RESOURCE_EXHAUSTED/STORAGE_FULL while the previous
// configuration stays in force and the daemon keeps serving; an unreadable newest revision at start-up falls
// back to the newest good one and says so in health and the log; temporary files a crash left are removed at
// start; a data plane refusal restores the previous state and persists nothing. Topology: daemons on a 1 MiB tmpfs data dir and on plain temp dirs; root clients.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigService } from "../../src/gen/orbital/config/v1/config_pb.js";
import { HealthStatus, SystemService } from "../../src/gen/orbital/system/v1/system_pb.js";
import { UserService } from "../../src/gen/orbital/user/v1/user_pb.js";
import { RouteType, RoutingService } from "../../src/gen/orbital/routing/v1/routing_pb.js";
import { OrbitalError } from "../../src/common/errors.js";
import { startDaemon } from "../support/daemon.js";

const mountPoint = mkdtempSync(path.join(tmpdir(), "orbital-small-"));
beforeAll(() => execFileSync("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", mountPoint]));
afterAll(() => {
  execFileSync("umount", [mountPoint]);
  rmSync(mountPoint, { recursive: true, force: true });
});

const failure = (p: Promise<unknown>) => p.then(() => undefined, (e: unknown) => e as OrbitalError);

describe("storage and start-up faults", () => {
  it("refuses a commit on a full disk with STORAGE_FULL and keeps serving the previous configuration", async () => {
    const dataDir = path.join(mountPoint, "orbital");
    const d = await startDaemon({ dataDir });
    try {
      const users = d.client(UserService);
      await users.createRole({ role: { name: "before", capabilities: ["system.read"] } });
      // Fill the partition.
      const filler = path.join(mountPoint, "filler");
      try {
        execFileSync("dd", ["if=/dev/zero", `of=${filler}`, "bs=4k", "count=1000"], { stdio: "ignore" });
      } catch {
        // dd stops with ENOSPC: the disk is full, as wanted
      }
      const err = await failure(users.createRole({ role: { name: "after", capabilities: [], description: "x".repeat(200) } }));
      expect(err).toBeInstanceOf(OrbitalError);
      expect(err).toMatchObject({ code: 8, reason: "STORAGE_FULL", metadata: { errno: "ENOSPC" } });
      expect(await failure(users.getRole({ name: "after" }))).toMatchObject({ reason: "NOT_FOUND" });
      expect((await users.getRole({ name: "before" })).role?.name).toBe("before");
      expect(readdirSync(path.join(dataDir, "config", "revisions")).filter((f) => f.endsWith(".tmp"))).toEqual([]);
      // Space again: commits work again.
      rmSync(filler);
      await users.createRole({ role: { name: "after", capabilities: [] } });
    } finally {
      await d.cleanup();
    }
  });

  it("falls back to the newest good revision when the newest one is unreadable, and reports it", async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), "orbital-fallback-"));
    try {
      const first = await startDaemon({ dataDir });
      await first.client(UserService).createRole({ role: { name: "good", capabilities: [] } });
      await first.client(UserService).createRole({ role: { name: "doomed", capabilities: [] } });
      await first.stop();
      const revisions = path.join(dataDir, "config", "revisions");
      const newest = readdirSync(revisions).sort().at(-1)!;
      writeFileSync(path.join(revisions, newest), Buffer.from([0xff, 0xff, 0xff, 0x07, 0x01]));

      const d = await startDaemon({ dataDir });
      try {
        const health = await d.client(SystemService).getHealth({});
        expect(health.configFallback).toBe(true);
        expect(health.activeRevision).toBe(1n);
        expect(health.messages.join("\n")).toMatch(/revision 2 is unusable/);
        expect(health.services.find((s) => s.service === "orbital.config.v1.ConfigService")?.status).toBe(HealthStatus.DEGRADED);
        expect(d.logs().some((l) => l.msg === "configuration loaded from an older revision")).toBe(true);
        expect((await d.client(UserService).getRole({ name: "good" })).role?.name).toBe("good");
        // The unusable file is kept as evidence; the next commit numbers past it.
        const next = await d.client(UserService).createRole({ role: { name: "fresh", capabilities: [] } });
        expect(next.revision).toBe(3n);
      } finally {
        await d.cleanup();
      }
      await first.cleanup();
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it("removes the temporary files a crash during a write left behind, and only those", async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), "orbital-tmpfiles-"));
    try {
      const first = await startDaemon({ dataDir });
      await first.client(UserService).createRole({ role: { name: "kept", capabilities: [] } });
      await first.stop("SIGKILL");
      const revisions = path.join(dataDir, "config", "revisions");
      // What a kill during a write leaves: the next revision's temporary file of a process that is gone.
      const dead = spawnSync(process.execPath, ["-e", "0"]).pid!;
      const leftovers = [path.join(revisions, `.00000002.binpb.${dead}.tmp`), path.join(dataDir, "config", `.dead-tokens.json.${dead}.tmp`)];
      for (const f of leftovers) writeFileSync(f, Buffer.alloc(64 << 10, 0xab));
      // A live process's file is not stale: it may be writing it right now.
      const live = path.join(revisions, `.00000002.binpb.${process.pid}.tmp`);
      writeFileSync(live, "in progress");
      const d = await startDaemon({ dataDir });
      try {
        expect(leftovers.filter((f) => existsSync(f))).toEqual([]);
        expect(existsSync(live)).toBe(true);
        expect(d.logs().some((l) => l.msg === "removed temporary files left by a crash")).toBe(true);
        expect((await d.client(UserService).getRole({ name: "kept" })).role?.name).toBe("kept");
      } finally {
        await d.cleanup();
      }
      await first.cleanup();
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it("refuses to start empty when no revision is usable", async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), "orbital-allbad-"));
    try {
      mkdirSync(path.join(dataDir, "config", "revisions"), { recursive: true });
      writeFileSync(path.join(dataDir, "config", "revisions", "00000001.binpb"), "garbage");
      const d = await startDaemon({ dataDir, noWait: true });
      expect(await d.exited).toBe(1);
      expect(d.rawStderr).toMatch(/no usable configuration revision/);
      await d.cleanup();
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it("restores the previous state and persists nothing when the data plane refuses an item", async () => {
    const item = "routes[table=254,destination=198.51.100.0/24]";
    const d = await startDaemon({ env: { ORBITAL_SIM_FAIL_ITEM: item } });
    try {
      const before = (await d.client(ConfigService).listRevisions({})).activeRevision;
      const routes = d.client(RoutingService);
      const err = await failure(routes.createRoute({ route: { destination: { cidr: "198.51.100.0/24" }, type: RouteType.BLACKHOLE } }));
      expect(err).toMatchObject({ code: 9, reason: "DATAPLANE_REJECTED", metadata: { item, operation: "apply", errno: "EINVAL" } });
      expect((await d.client(ConfigService).listRevisions({})).activeRevision).toBe(before);
      expect(await failure(routes.getRoute({ destination: { cidr: "198.51.100.0/24" } }))).toMatchObject({ reason: "NOT_FOUND" });
    } finally {
      await d.cleanup();
    }
  });
});
