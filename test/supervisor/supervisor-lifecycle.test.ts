// Proves: orbital-supervise's socket ownership (mode, group, fds 3/4 with LISTEN_*), refusal of live or non-socket
// paths, stale-socket replacement, SIGHUP forwarding, SIGTERM/SIGINT stop (SIGKILL after the timeout), capped backoff.
// Topology: test -> orbital-supervise -> a stand-in child (sleep, /bin/false, sh, node -e); no orbitald needed here.
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { orbitalGroup } from "../support/daemon.js";
import { connectError, SUPERVISOR, startSupervisor, type RunningSupervisor } from "../support/supervisor.js";

const dir = mkdtempSync(path.join(tmpdir(), "orbital-supervise-"));
chmodSync(dir, 0o755);
const started: RunningSupervisor[] = [];
afterAll(async () => {
  for (const s of started) await s.kill();
  rmSync(dir, { recursive: true, force: true });
});

function supervise(args: string[], command: string[]): RunningSupervisor {
  const s = startSupervisor({ args, command });
  started.push(s);
  return s;
}

/** Running means: the process exists and is not a zombie. */
function running(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z /.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}

/** Inode (in sockfs) of the listening Unix socket bound to `socketPath`, from /proc/net/unix. */
function listeningInode(socketPath: string): string | undefined {
  for (const line of readFileSync("/proc/net/unix", "utf8").split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    // Num RefCount Protocol Flags Type St Inode Path; flag 0x10000 = listening
    if (f[7] === socketPath && (parseInt(f[3]!, 16) & 0x10000) !== 0) return f[6];
  }
  return undefined;
}

const connects = async (socketPath: string): Promise<boolean> => (await connectError(socketPath)) === undefined;

describe("orbital-supervise", () => {
  it("owns the sockets (0660, group orbital) and hands them to the child as fds 3, 4 with LISTEN_*", async () => {
    const gid = orbitalGroup();
    const api = path.join(dir, "run", "orbital", "api.sock"); // parent directories do not exist yet
    const rest = path.join(dir, "run", "orbital", "rest.sock");
    const sup = supervise(["--socket", api, "--rest-socket", rest], ["sleep", "60"]);
    await sup.waitForLine(/^child started/);
    const pid = sup.currentChild()!;

    for (const p of [api, rest]) {
      const st = statSync(p);
      expect(st.isSocket()).toBe(true);
      expect(st.mode & 0o777).toBe(0o660);
      expect(st.gid).toBe(gid);
      expect(st.uid).toBe(0);
      expect(await connects(p)).toBe(true);
    }
    expect(statSync(path.dirname(api)).mode & 0o777).toBe(0o755);

    // The child's view: exactly stdio + the two listening sockets, in order, and the activation variables
    // meant for its own pid.
    const env = Object.fromEntries(
      readFileSync(`/proc/${pid}/environ`, "utf8")
        .split("\0")
        .filter((kv) => kv.startsWith("LISTEN_"))
        .map((kv) => kv.split("=") as [string, string]),
    );
    expect(env).toEqual({ LISTEN_FDS: "2", LISTEN_FDNAMES: "api:rest", LISTEN_PID: String(pid) });
    expect(readdirSync(`/proc/${pid}/fd`).map(Number).sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4]);
    expect(readlinkSync(`/proc/${pid}/fd/3`)).toBe(`socket:[${listeningInode(api)}]`);
    expect(readlinkSync(`/proc/${pid}/fd/4`)).toBe(`socket:[${listeningInode(rest)}]`);
    // Nothing blocked or ignored is inherited from the supervisor.
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    expect(/SigBlk:\s+(\w+)/.exec(status)?.[1]).toMatch(/^0+$/);
    expect(/SigIgn:\s+(\w+)/.exec(status)?.[1]).toMatch(/^0+$/);

    // SIGHUP is forwarded: sleep dies of it, and is restarted.
    sup.proc.kill("SIGHUP");
    await sup.waitForLine(/^SIGHUP received: forwarded to pid=/);
    const exit = await sup.waitFor(() => sup.events().find((e) => e.kind === "exited" && e.pid === pid), "the exit after SIGHUP");
    expect(exit).toMatchObject({ signal: 1, restartInMs: 100 });
    await sup.waitFor(() => sup.events().find((e) => e.kind === "started" && e.start === 2), "the restart");

    // SIGINT stops like SIGTERM: the child gets SIGTERM, the sockets are removed, exit 0.
    const second = sup.currentChild()!;
    sup.proc.kill("SIGINT");
    expect(await sup.exited).toEqual({ code: 0, signal: null });
    expect(sup.events().at(-1)).toMatchObject({ kind: "exited", pid: second, signal: 15 });
    expect(sup.events().at(-1)?.restartInMs).toBeUndefined();
    expect(running(second)).toBe(false);
    expect(existsSync(api)).toBe(false);
    expect(existsSync(rest)).toBe(false);
    expect(sup.lines().at(-1)?.text).toBe("stopped");
  });

  it("applies --mode, and keeps root's group when the group does not exist", async () => {
    const api = path.join(dir, "mode.sock");
    const sup = supervise(["--socket", api, "--mode", "0600", "--group", "orbital-no-such-group"], ["sleep", "60"]);
    await sup.waitForLine(/^child started/);
    expect(sup.lines().some((l) => /^group "orbital-no-such-group" does not exist; the sockets keep group 0$/.test(l.text))).toBe(true);
    const st = statSync(api);
    expect(st.mode & 0o777).toBe(0o600);
    expect(st.gid).toBe(0);
    sup.proc.kill("SIGTERM");
    expect((await sup.exited).code).toBe(0);
  });

  it("refuses a live socket and a non-socket path, replaces a stale socket", async () => {
    const api = path.join(dir, "shared.sock");
    const first = supervise(["--socket", api], ["sleep", "60"]);
    await first.waitForLine(/^child started/);
    const firstChild = first.currentChild()!;
    const inode = statSync(api).ino;

    // A second supervisor on the same live path refuses to start, and takes nothing over.
    const second = supervise(["--socket", api], ["sleep", "60"]);
    expect(await second.exited).toEqual({ code: 1, signal: null });
    expect(second.lines().map((l) => l.text)).toContain(`${api} is in use by a running process; refusing to take it over`);
    expect(second.events()).toEqual([]);
    expect(statSync(api).ino).toBe(inode);
    expect(await connects(api)).toBe(true);

    // A supervisor killed outright leaves a stale socket file; its child goes too (parent-death signal).
    await first.kill();
    await first.waitFor(() => !running(firstChild), "the orphaned child to exit");
    expect(existsSync(api)).toBe(true);
    expect(await connects(api)).toBe(false);
    const third = supervise(["--socket", api], ["sleep", "60"]);
    await third.waitForLine(/^child started/);
    expect(third.lines().map((l) => l.text)).toContain(`removed stale socket ${api} (nobody was listening)`);
    expect(await connects(api)).toBe(true); // (the inode number may be reused for the new file: not compared)
    third.proc.kill("SIGTERM");
    expect((await third.exited).code).toBe(0);

    // A path that is not a socket is never replaced.
    const file = path.join(dir, "not-a-socket");
    writeFileSync(file, "keep me");
    const fourth = supervise(["--socket", file], ["sleep", "60"]);
    expect(await fourth.exited).toEqual({ code: 1, signal: null });
    expect(fourth.lines().map((l) => l.text)).toContain(`${file} exists and is not a socket; refusing to replace it`);
    expect(readFileSync(file, "utf8")).toBe("keep me");
  });

  it("backs off exponentially (100 ms doubling, capped) while the child exits at once, and never gives up", async () => {
    const sup = supervise(["--socket", path.join(dir, "false.sock"), "--backoff-max-ms", "800"], ["/bin/false"]);
    const exits = await sup.waitFor(() => {
      const e = sup.events().filter((x) => x.kind === "exited");
      return e.length >= 7 && e;
    }, "7 exits");
    expect(exits.slice(0, 7).map((e) => e.restartInMs)).toEqual([100, 200, 400, 800, 800, 800, 800]);
    expect(exits.every((e) => e.status === 1)).toBe(true);
    // The delays are real: each start comes at least the logged delay after the previous exit.
    const starts = sup.events().filter((e) => e.kind === "started");
    for (let i = 0; i < 6; i++) expect(starts[i + 1]!.time.getTime() - exits[i]!.time.getTime()).toBeGreaterThanOrEqual(exits[i]!.restartInMs!);
    for (const e of exits) expect(running(e.pid)).toBe(false); // reaped
    const t0 = Date.now();
    sup.proc.kill("SIGTERM"); // mid-backoff: stops at once
    expect((await sup.exited).code).toBe(0);
    expect(Date.now() - t0).toBeLessThan(1_000);
  });

  it("resets the backoff after a child stayed up --stable-ms", async () => {
    const sup = supervise(["--socket", path.join(dir, "stable.sock"), "--stable-ms", "300"], ["sh", "-c", "sleep 0.5; exit 3"]);
    const exits = await sup.waitFor(() => {
      const e = sup.events().filter((x) => x.kind === "exited");
      return e.length >= 3 && e;
    }, "3 exits");
    expect(exits.map((e) => [e.status, e.restartInMs])).toEqual([
      [3, 100],
      [3, 100],
      [3, 100],
    ]);
    sup.proc.kill("SIGTERM");
    expect((await sup.exited).code).toBe(0);
  });

  it("keeps retrying a command that cannot be executed", async () => {
    const sup = supervise(["--socket", path.join(dir, "noexec.sock")], ["/nonexistent/orbitald"]);
    const exits = await sup.waitFor(() => {
      const e = sup.events().filter((x) => x.kind === "exited");
      return e.length >= 3 && e;
    }, "3 exits");
    expect(exits.every((e) => e.status === 127)).toBe(true);
    expect(sup.rawStderr).toMatch(/cannot start \/nonexistent\/orbitald: No such file or directory/);
    expect(sup.proc.exitCode).toBeNull();
    sup.proc.kill("SIGTERM");
    expect((await sup.exited).code).toBe(0);
  });

  it("SIGKILLs a child that ignores SIGTERM after --stop-timeout-ms, then exits 0", async () => {
    const api = path.join(dir, "stubborn.sock");
    const script = "process.on('SIGTERM', () => process.stderr.write('ignoring SIGTERM\\n')); process.stderr.write('ready\\n'); setInterval(() => {}, 1000);";
    const sup = supervise(["--socket", api, "--stop-timeout-ms", "500"], [process.execPath, "-e", script]);
    await sup.waitFor(() => sup.rawStderr.includes("ready\n"), "the child to be ready");
    const pid = sup.currentChild()!;
    const t0 = Date.now();
    sup.proc.kill("SIGTERM");
    expect(await sup.exited).toEqual({ code: 0, signal: null });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(450);
    expect(sup.rawStderr).toContain("ignoring SIGTERM");
    expect(sup.lines().map((l) => l.text)).toContain(`pid=${pid} still running 500 ms after SIGTERM: sending SIGKILL`);
    expect(sup.events().at(-1)).toMatchObject({ kind: "exited", pid, signal: 9 });
    expect(running(pid)).toBe(false);
    expect(existsSync(api)).toBe(false);
  });

  it("rejects usage errors with exit 2", () => {
    for (const args of [[], ["--socket", path.join(dir, "u.sock")], ["--mode", "999", "--", "true"], ["--backoff-max-ms", "x", "--", "true"], ["--bogus", "--", "true"]]) {
      const r = spawnSync(SUPERVISOR, args, { encoding: "utf8" });
      expect(r.status, `${args.join(" ")}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(/usage: orbital-supervise/);
    }
    expect(existsSync(path.join(dir, "u.sock"))).toBe(false);
  });
});
