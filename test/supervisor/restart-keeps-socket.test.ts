// Proves: orbital-supervise keeps orbitald's socket (same inode) listening across kill -9 restarts: clients of
// either protocol (the SDK over the fast path and over gRPC) never fail with ECONNREFUSED/ENOENT, calls resume
// within seconds, each exit/restart is logged, SIGTERM stops it cleanly.
// Topology: test -> orbital-supervise (owns <tmp>/api.sock) -> node dist/orbitald.mjs (sim, fd 3); 4 clients here.
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import * as grpc from "@grpc/grpc-js";
import { create, toBinary } from "@bufbuild/protobuf";
import { afterAll, describe, expect, it } from "vitest";
import { GetVersionRequestSchema, SystemService } from "../../src/gen/orbital/system/v1/system_pb.js";
import { createClient } from "../../src/client/client.js";
import { createTransport } from "../../src/client/transport.js";
import { orbitalGroup, startDaemon } from "../support/daemon.js";
import { alive, connectError, ORBITALD_ENV, orbitaldCommand, startSupervisor } from "../support/supervisor.js";

const dir = mkdtempSync(path.join(tmpdir(), "orbital-supervise-"));
chmodSync(dir, 0o755);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const REFUSED = /ECONNREFUSED|ENOENT/;
const CALL_DEADLINE_MS = 20_000;
const KILLS = 5;

interface Outcome {
  startedAt: number;
  endedAt: number;
  ok: boolean;
  error?: string;
  code?: number;
}

/**
 * Four clients that run until stopped: the SDK over the fast path and over gRPC (they wait for the daemon: the
 * way real clients call), a gRPC client without waitForReady (fails fast: a refused connection would show as
 * an error at once), and raw connect() probes every 10 ms (the socket-level truth the others build on).
 */
function startClients(socketPath: string) {
  let running = true;
  const probes: { at: number; error?: string }[] = [];
  const failFast: Outcome[] = [];

  const sdkLoop = (protocol: "fast" | "grpc") => {
    const outcomes: Outcome[] = [];
    const transport = createTransport({ socketPath, deadlineMs: CALL_DEADLINE_MS, transport: protocol });
    const system = createClient(SystemService, transport);
    const loop = (async () => {
      while (running) {
        const startedAt = Date.now();
        try {
          await system.getVersion({});
          outcomes.push({ startedAt, endedAt: Date.now(), ok: true });
        } catch (e) {
          const err = e as { message: string; code?: number; reason?: string };
          outcomes.push({ startedAt, endedAt: Date.now(), ok: false, error: `${err.message} [${err.reason}]`, code: err.code });
        }
      }
      transport.close();
    })();
    return { outcomes, loop };
  };
  const fast = sdkLoop("fast");
  const overGrpc = sdkLoop("grpc");
  const sdk = fast.outcomes;
  const sdkGrpc = overGrpc.outcomes;

  const channel = new grpc.Client(`unix:${socketPath}`, grpc.credentials.createInsecure(), { "grpc.use_local_subchannel_pool": 1, "grpc.enable_retries": 0 });
  const request = Buffer.from(toBinary(GetVersionRequestSchema, create(GetVersionRequestSchema, {})));
  const failFastLoop = (async () => {
    while (running) {
      const startedAt = Date.now();
      await new Promise<void>((resolve) => {
        channel.makeUnaryRequest(
          "/orbital.system.v1.SystemService/GetVersion",
          (b: Buffer) => b,
          (b: Buffer) => b,
          request,
          new grpc.Metadata(), // no waitForReady
          { deadline: Date.now() + CALL_DEADLINE_MS },
          (err) => {
            failFast.push(err ? { startedAt, endedAt: Date.now(), ok: false, error: err.message, code: err.code } : { startedAt, endedAt: Date.now(), ok: true });
            resolve();
          },
        );
      });
      await new Promise((r) => setTimeout(r, 2));
    }
  })();

  const probeTimer = setInterval(() => {
    const at = Date.now();
    const s = net.connect(socketPath);
    s.once("connect", () => {
      probes.push({ at });
      s.destroy();
    });
    s.once("error", (e: NodeJS.ErrnoException) => probes.push({ at, error: e.code ?? e.message }));
  }, 10);

  return {
    sdk,
    sdkGrpc,
    failFast,
    probes,
    async stop() {
      running = false;
      clearInterval(probeTimer);
      await Promise.all([fast.loop, overGrpc.loop, failFastLoop]);
      channel.close();
    },
  };
}

/** Children of a process per /proc/<pid>/task/<pid>/children (CONFIG_PROC_CHILDREN), or undefined without it. */
function childrenOf(pid: number): number[] | undefined {
  const file = `/proc/${pid}/task/${pid}/children`;
  return existsSync(file) ? readFileSync(file, "utf8").trim().split(/\s+/).filter(Boolean).map(Number) : undefined;
}

async function until(probe: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe("orbital-supervise restarts", () => {
  it("keeps the socket across kill -9 of orbitald: no ECONNREFUSED/ENOENT, same inode, calls resume, restarts logged", async () => {
    orbitalGroup();
    const socketPath = path.join(dir, "api.sock");
    const decoy = path.join(dir, "daemon-own.sock"); // bound only if the daemon ignored the passed socket
    const sup = startSupervisor({
      args: ["--socket", socketPath, "--backoff-max-ms", "1000"],
      command: orbitaldCommand(path.join(dir, "data"), "--socket", decoy),
      env: ORBITALD_ENV,
    });
    let clients: ReturnType<typeof startClients> | undefined;
    try {
      const serving = await sup.waitFor(() => sup.daemonLogs().find((l) => l.msg === "orbitald serving"), "orbitald serving");
      expect(serving.socket).toBe("fd 3 (from init)"); // LISTEN_PID matched the child: it took fd 3
      expect(existsSync(decoy)).toBe(false);
      const inode = statSync(socketPath).ino;

      clients = startClients(socketPath);
      const c = clients;
      const resumeMs: number[] = [];
      for (let k = 0; k < KILLS; k++) {
        // The current daemon serves the SDK client, and has been doing so for a moment.
        const since = Date.now();
        await until(() => [c.sdk, c.sdkGrpc, c.failFast].every((o) => o.some((r) => r.ok && r.startedAt >= since)), "calls to succeed");
        await new Promise((r) => setTimeout(r, 200));

        const pid = sup.currentChild()!;
        expect(childrenOf(sup.proc.pid!) ?? [pid]).toEqual([pid]); // the logged pid is its one and only child
        const killedAt = Date.now();
        process.kill(pid, "SIGKILL");
        await sup.waitFor(() => sup.events().find((e) => e.kind === "exited" && e.pid === pid), `the exit of pid ${pid} in the log`);
        await sup.waitFor(() => sup.events().find((e) => e.kind === "started" && e.start === k + 2), `start ${k + 2} in the log`);
        await until(() => c.sdk.some((r) => r.ok && r.startedAt >= killedAt), `a call to succeed after kill ${k + 1}`);
        resumeMs.push(Math.min(...c.sdk.filter((r) => r.ok && r.startedAt >= killedAt).map((r) => r.endedAt)) - killedAt);

        expect(statSync(socketPath).ino).toBe(inode); // the very same socket, never re-created
        expect(alive(pid)).toBe(false); // reaped, not a zombie
      }
      await c.stop();

      // Socket level: every connect() during the restarts was accepted into the backlog.
      const probeErrors = c.probes.filter((p) => p.error);
      expect(c.probes.length).toBeGreaterThan(100);
      expect(probeErrors).toEqual([]);
      // Call level: no error caused by a refused or missing socket, in any client.
      for (const results of [c.sdk, c.sdkGrpc, c.failFast]) {
        expect(results.filter((r) => REFUSED.test(r.error ?? ""))).toEqual([]);
        // The only other failures allowed: a call the killed daemon had already accepted (connection reset:
        // UNAVAILABLE), at most one per kill since each client has one call in flight.
        const failed = results.filter((r) => !r.ok);
        expect(failed.every((r) => r.code === 14), JSON.stringify(failed)).toBe(true);
        expect(failed.length).toBeLessThanOrEqual(KILLS);
        expect(results.filter((r) => r.ok).length).toBeGreaterThan(KILLS * 5);
      }
      // Calls resume within a few seconds of each kill: the logged backoff delay plus the daemon's start-up.
      const exits = sup.events().filter((e) => e.kind === "exited");
      resumeMs.forEach((ms, i) => expect(ms).toBeLessThan((exits[i]?.restartInMs ?? 0) + 5_000));

      // Every kill was logged as an exit by SIGKILL with the next delay, followed by a start.
      expect(exits).toHaveLength(KILLS);
      expect(exits.every((e) => e.signal === 9 && e.restartInMs !== undefined)).toBe(true);
      expect(exits.map((e) => e.restartInMs)).toEqual([100, 200, 400, 800, 1000]);
      expect(sup.events().filter((e) => e.kind === "started").map((e) => e.start)).toEqual([1, 2, 3, 4, 5, 6]);
      console.log(
        `supervisor: ${KILLS} kills; calls resumed after ${resumeMs.join(", ")} ms; sdk ${c.sdk.length} calls (${c.sdk.filter((r) => !r.ok).length} reset in flight), ` +
          `fail-fast ${c.failFast.length} calls (${c.failFast.filter((r) => !r.ok).length} reset in flight), ${c.probes.length} connect probes, 0 refused; ` +
          `in-flight errors: ${JSON.stringify([...new Set([...c.sdk, ...c.failFast].filter((r) => !r.ok).map((r) => r.error))])}`,
      );

      // SIGTERM: the daemon drains and exits 0, the supervisor removes the socket and exits 0.
      const last = sup.currentChild()!;
      sup.proc.kill("SIGTERM");
      expect(await sup.exited).toEqual({ code: 0, signal: null });
      expect(sup.events().at(-1)).toMatchObject({ kind: "exited", pid: last, status: 0 });
      expect(sup.daemonLogs().filter((l) => l.msg === "stopped")).toHaveLength(1);
      expect(alive(last)).toBe(false);
      expect(existsSync(socketPath)).toBe(false);
    } finally {
      await clients?.stop();
      await sup.kill();
    }
  });

  it("control: without the supervisor the same probes see the refusal", async () => {
    // Shows that the assertions above can fail: a daemon that owns its socket leaves clients refused when killed.
    const d = await startDaemon();
    try {
      const transport = createTransport({ socketPath: d.socketPath, deadlineMs: 10_000 });
      expect((await createClient(SystemService, transport).getVersion({})).apiPackages.length).toBeGreaterThan(0);
      transport.close();
      d.proc.kill("SIGKILL");
      await d.exited;
      expect(await connectError(d.socketPath)).toBe("ECONNREFUSED");
      const channel = new grpc.Client(`unix:${d.socketPath}`, grpc.credentials.createInsecure(), { "grpc.use_local_subchannel_pool": 1 });
      const err = await new Promise<grpc.ServiceError | null>((resolve) =>
        channel.makeUnaryRequest("/orbital.system.v1.SystemService/GetVersion", (b: Buffer) => b, (b: Buffer) => b, Buffer.alloc(0), new grpc.Metadata(), { deadline: Date.now() + 5_000 }, (e) => resolve(e)),
      );
      channel.close();
      expect(err?.message).toMatch(REFUSED);
    } finally {
      await d.cleanup();
    }
  });
});
