// Proves: orbitald binds its socket 0660 with group "orbital", replaces a stale socket file left by a dead
// daemon, and never steals a live socket or clobbers a non-socket file at the path.
// Topology: daemon processes on sockets in fresh temp dirs; a plain net.Server plays a live foreign listener.
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { SystemService } from "../../src/gen/orbital/system/v1/system_pb.js";
import { orbitalGroup, startDaemon, type RunningDaemon } from "../support/daemon.js";

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function scratch(): string {
  const dir = mkdtempSync(path.join(tmpdir(), "orbital-sock-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function daemonAt(socket: string, noWait = false): Promise<RunningDaemon> {
  const d = await startDaemon({ socketPath: socket, noWait });
  cleanups.push(() => d.cleanup());
  return d;
}

describe("socket ownership", () => {
  it("binds the socket 0660 with group orbital", async () => {
    const socket = path.join(scratch(), "api.sock");
    const d = await daemonAt(socket);
    const st = statSync(socket);
    expect(st.isSocket()).toBe(true);
    expect(st.mode & 0o777).toBe(0o660);
    expect(st.gid).toBe(orbitalGroup());
    const v = await d.client(SystemService).getVersion({});
    expect(v.apiPackages).toContain("orbital.system.v1");
  });

  it("replaces a stale socket file nobody listens on", async () => {
    const socket = path.join(scratch(), "api.sock");
    // A daemon killed with SIGKILL leaves its socket file behind with nobody listening.
    spawnSync(process.execPath, ["-e", `require("net").createServer().listen(${JSON.stringify(socket)}, () => process.kill(process.pid, "SIGKILL"))`]);
    expect(statSync(socket).isSocket()).toBe(true);
    const d = await daemonAt(socket);
    expect((await d.client(SystemService).getVersion({})).apiPackages.length).toBe(8);
  });

  it("refuses to take over a socket somebody still listens on", async () => {
    const socket = path.join(scratch(), "api.sock");
    const first = await daemonAt(socket);
    const second = await daemonAt(socket, true);
    expect(await second.exited).toBe(1);
    expect(second.rawStderr).toMatch(/in use by a running process/);
    expect((await first.client(SystemService).getVersion({})).apiPackages.length).toBe(8);
  });

  it("refuses to replace a file that is not a socket", async () => {
    const socket = path.join(scratch(), "api.sock");
    writeFileSync(socket, "precious");
    const d = await daemonAt(socket, true);
    expect(await d.exited).toBe(1);
    expect(d.rawStderr).toMatch(/not a socket/);
    expect(statSync(socket).isFile()).toBe(true);
  });
});
