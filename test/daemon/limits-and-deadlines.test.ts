// Proves: one client cannot starve the others. Calls in flight per connection are capped (RATE_LIMITED with
// RetryInfo) while other connections are served; oversized requests get MESSAGE_TOO_LARGE; the bytes of requests
// still arriving are capped per connection and for the daemon (RATE_LIMITED), and released as calls end; deadlines hold.
// Topology: one daemon; client connections (grpc-js channels, and node:http2 sessions for partial requests) from
// this process as root.
import http2 from "node:http2";
import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Health } from "../../src/gen/grpc/health/v1/health_pb.js";
import { SystemService } from "../../src/gen/orbital/system/v1/system_pb.js";
import { UserService } from "../../src/gen/orbital/user/v1/user_pb.js";
import { createClient } from "../../src/client/client.js";
import { createTransport } from "../../src/client/transport.js";
import { decodeStatus, OrbitalError, STATUS_DETAILS_KEY } from "../../src/common/errors.js";
import { defaultReceiveCaps } from "../../src/daemon/rpc/receive-budget.js";
import { startDaemon, type RunningDaemon } from "../support/daemon.js";

const MAX_IN_FLIGHT = 32; // defaultLimits.maxInFlightPerConnection
const MAX_MESSAGE = 4 << 20; // defaultLimits.maxMessageBytes
/** The daemon's receive caps; the request sizes below are chosen for 8 and 16 MiB. */
const { perConnection: RECEIVING_PER_CONNECTION, total: RECEIVING_TOTAL } = defaultReceiveCaps;
let d: RunningDaemon;
beforeAll(async () => {
  d = await startDaemon({ env: { ORBITAL_FAILPOINTS: "/orbital.system.v1.SystemService/GetSettings=slow" } });
});
afterAll(() => d.cleanup());

const failure = (p: Promise<unknown>) => p.then(() => undefined, (e: unknown) => e as OrbitalError);

/**
 * A connection with requests that each declare just under the maximum message size and send `bytes` of it: no
 * request completes, so the daemon holds what arrives until it refuses a request or the connection closes.
 */
class PartialRequests {
  readonly session: http2.ClientHttp2Session;
  /** The errors the daemon answered with, in order. */
  readonly refusals: OrbitalError[] = [];
  private readonly writes: Promise<void>[] = [];

  constructor(socketPath: string) {
    this.session = http2.connect("http://localhost", { createConnection: () => net.connect(socketPath), maxSessionMemory: 256 });
    this.session.on("error", () => {});
  }

  send(streams: number, bytes: number): void {
    for (let k = 0; k < streams; k++) {
      const req = this.session.request({ ":method": "POST", ":path": "/orbital.system.v1.SystemService/GetVersion", "content-type": "application/grpc", te: "trailers" }, { endStream: false });
      req.on("response", (h) => {
        if (h["grpc-status"] === undefined) return;
        const details = h[STATUS_DETAILS_KEY];
        this.refusals.push(decodeStatus(Number(h["grpc-status"]), decodeURIComponent(String(h["grpc-message"] ?? "")), details === undefined ? undefined : Buffer.from(String(details), "base64")));
      });
      req.on("error", () => {});
      req.on("data", () => {});
      const prefix = Buffer.alloc(5);
      prefix.writeUInt32BE(MAX_MESSAGE - 1, 1);
      this.writes.push(new Promise((resolve) => req.write(Buffer.concat([prefix, Buffer.alloc(bytes, 0x0a)]), () => resolve())));
    }
  }

  /** Resolves once every byte was sent: HTTP/2 flow control lets it go only as the daemon takes it in. */
  async sent(): Promise<void> {
    await Promise.all(this.writes);
  }

  /** Waits until the daemon refused `n` requests, or fails. */
  async refused(n: number): Promise<OrbitalError[]> {
    await expect.poll(() => this.refusals.length, { timeout: 20_000 }).toBeGreaterThanOrEqual(n);
    return this.refusals;
  }

  close(): void {
    this.session.destroy();
  }
}

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

  it("refuses the request that takes one connection over the bytes it may hold before its handlers have them", async () => {
    const conn = new PartialRequests(d.socketPath);
    try {
      conn.send(3, 3 << 20); // 9 MiB of requests that never complete, on one connection
      const [err] = await conn.refused(1);
      expect(err).toMatchObject({ code: 8, reason: "RATE_LIMITED", metadata: { limit: String(RECEIVING_PER_CONNECTION) } });
      expect(err!.message).toMatch(/on this connection/);
      expect(err!.retryDelayMs).toBeGreaterThan(0);
      // the two requests under the cap wait on: nothing else is refused
      await new Promise((r) => setTimeout(r, 500));
      expect(conn.refusals).toHaveLength(1);
    } finally {
      conn.close();
    }
    expect((await d.client(SystemService).getVersion({})).apiPackages.length).toBe(8);
  });

  it("refuses requests over the bytes the whole daemon may hold, and counts none of a closed connection's", async () => {
    // three connections of 6 MiB each, every one under its own cap: 18 MiB in all
    const conns = [0, 1, 2].map(() => new PartialRequests(d.socketPath));
    try {
      for (const c of conns) c.send(2, 3 << 20);
      await expect.poll(() => conns.flatMap((c) => c.refusals).length, { timeout: 20_000 }).toBeGreaterThanOrEqual(1);
      const errs = conns.flatMap((c) => c.refusals);
      for (const err of errs) expect(err).toMatchObject({ code: 8, reason: "RATE_LIMITED", metadata: { limit: String(RECEIVING_TOTAL) } });
      expect(errs[0]!.message).toMatch(/by the daemon/);
    } finally {
      for (const c of conns) c.close();
    }
    // the closed connections' bytes are released: 12 MiB on two new connections fit again
    const again = [0, 1].map(() => new PartialRequests(d.socketPath));
    try {
      for (const c of again) c.send(2, 3 << 20);
      await Promise.all(again.map((c) => c.sent()));
      await new Promise((r) => setTimeout(r, 500));
      expect(again.flatMap((c) => c.refusals)).toEqual([]);
    } finally {
      for (const c of again) c.close();
    }
  });

  it("honours the caller's deadline", async () => {
    const err = await failure(d.client(SystemService).getSettings({}, { deadlineMs: 200 }));
    expect(err).toMatchObject({ code: 4 });
    expect((await d.client(SystemService).getVersion({})).apiPackages.length).toBe(8);
  });
});
