// Proves: REST is off by default and follows every commit (on, off, another port, HTTPS, a socket passed by init) without a restart, reporting a failed bind in GetHealth; every request needs a bearer API token (missing/invalid/expired/revoked → 401 with the reason, a viewer's write → 403), repeated failures from one source get 429 with Retry-After and RetryInfo.
// Also: bodies over 4 MiB get 413 (declared or streamed), and a client that sends its headers too slowly is cut off with 408.
// Topology: one daemon (sim, ORBITAL_REST_HEADERS_TIMEOUT_MS=500) with REST on 127.0.0.1:<free ports>, a second one given a REST socket as init would; clients from 127.0.0.1 and 127.0.0.9.
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import http from "node:http";
import https from "node:https";
import net from "node:net";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SystemService } from "../../src/gen/orbital/system/v1/system_pb.js";
import { UserService } from "../../src/gen/orbital/user/v1/user_pb.js";
import { startDaemon, type RunningDaemon } from "../support/daemon.js";
import { accepts, disableRest, enableRest, freePort, mintToken, rawRequest, rest, statusParts, waitFor } from "../support/rest.js";

const HEADERS_TIMEOUT_MS = 500;

let d: RunningDaemon;

/** TCP ports the daemon process listens on (its socket fds matched with /proc/net/tcp{,6} LISTEN entries). */
function listeningPorts(pid: number): number[] {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]!);
    } catch {
      // closed meanwhile
    }
  }
  const ports: number[] = [];
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    for (const line of readFileSync(table, "utf8").split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f[3] === "0A" && inodes.has(f[9]!)) ports.push(parseInt(f[1]!.split(":")[1]!, 16));
    }
  }
  return ports.sort();
}

/** One GET from a chosen source address (fetch cannot pick one). */
function getFrom(localAddress: string, port: number, urlPath: string, token: string): Promise<{ status: number; headers: http.IncomingHttpHeaders; json: unknown }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, path: urlPath, localAddress, headers: { authorization: `Bearer ${token}` }, agent: false }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (text += c));
      res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, json: JSON.parse(text) }));
    });
    req.on("error", reject);
    req.end();
  });
}

beforeAll(async () => {
  d = await startDaemon({ env: { ORBITAL_REST_HEADERS_TIMEOUT_MS: String(HEADERS_TIMEOUT_MS) } });
});
afterAll(() => d.cleanup());

describe("the REST listener follows the configuration", () => {
  it("is off by default: nothing listens and the settings say so", async () => {
    expect((await d.client(SystemService).getSettings({})).settings?.rest?.enabled ?? false).toBe(false);
    expect(listeningPorts(d.proc.pid!)).toEqual([]);
    expect(await accepts(8080)).toBe(false);
  });

  it("starts, moves and stops on commit, without a daemon restart", async () => {
    const pid = d.proc.pid;
    const { port: first, base } = await enableRest(d);
    const token = (await mintToken(d, "root")).secret;
    expect(listeningPorts(pid!)).toEqual([first]);
    expect((await rest(base, { method: "GET", path: "/v1/whoami", token })).status).toBe(200);

    const second = await freePort();
    const moved = await enableRest(d, { port: second });
    await waitFor(async () => !(await accepts(first)), 5000, "the old port to close");
    expect(listeningPorts(pid!)).toEqual([second]);
    expect((await rest(moved.base, { method: "GET", path: "/v1/whoami", token })).json).toMatchObject({ user: "root", authMethod: "AUTH_METHOD_API_TOKEN" });

    await disableRest(d);
    await waitFor(async () => !(await accepts(second)), 5000, "REST to stop");
    expect(listeningPorts(pid!)).toEqual([]);
    expect(d.proc.pid).toBe(pid);
    expect(d.proc.exitCode).toBeNull();
    expect(d.logs().filter((l) => l.msg === "orbitald serving")).toHaveLength(1);
  });

  it("answers the REST request that turns REST off, then stops, and ends its open streams", async () => {
    const { port, base } = await enableRest(d);
    const token = (await mintToken(d, "root")).secret;
    const ac = new AbortController();
    const watch = await fetch(`${base}/v1/config/commits:watch`, { headers: { authorization: `Bearer ${token}` }, signal: ac.signal });
    const streamText = watch.text();
    const res = await rest(base, { method: "PATCH", path: "/v1/system/settings", token, body: JSON.stringify({ rest: { enabled: false } }) });
    expect(res.status, res.text).toBe(200);
    expect(res.json).toMatchObject({ settings: { rest: { address: "127.0.0.1", port } } });
    expect((res.json as { settings: { rest: { enabled?: boolean } } }).settings.rest.enabled).toBeUndefined(); // false: left out
    await waitFor(async () => !(await accepts(port)), 5000, "REST to stop");
    // The open watch saw the commit, then ended cleanly.
    const lines = (await streamText).trim().split("\n").map((l) => JSON.parse(l) as { result: { type: string } });
    expect(lines.map((l) => l.result.type)).toEqual(["COMMIT_EVENT_TYPE_COMMITTED"]);
  });

  it("reports a port it cannot bind in GetHealth, keeps serving where it was, and recovers on the next commit", async () => {
    const { port, base } = await enableRest(d);
    const token = (await mintToken(d, "root")).secret;
    const squatter = net.createServer();
    const taken = await freePort();
    await new Promise<void>((r) => squatter.listen(taken, "127.0.0.1", r));
    try {
      const res = await d.client(SystemService).updateSettings({ settings: { rest: { enabled: true, address: "127.0.0.1", port: taken } }, updateMask: { paths: ["rest"] } });
      expect(res.revision).toBeGreaterThan(0n); // the commit itself stands
      await waitFor(async () => (await d.client(SystemService).getHealth({})).messages.some((m) => m.includes(`127.0.0.1:${taken}`)), 5000, "the health message");
      const health = await d.client(SystemService).getHealth({});
      expect(health.messages.find((m) => m.startsWith("REST listener:"))).toMatch(new RegExp(`cannot listen on 127\\.0\\.0\\.1:${taken} \\(EADDRINUSE\\); still serving on 127\\.0\\.0\\.1:${port}`));
      expect((await rest(base, { method: "GET", path: "/v1/whoami", token })).status).toBe(200);
    } finally {
      await new Promise((r) => squatter.close(r));
    }
    // The next commit retries; the port is free now.
    await d.client(UserService).createRole({ role: { name: "any-commit" } });
    await waitFor(() => accepts(taken), 5000, "the retried bind");
    await waitFor(async () => !(await d.client(SystemService).getHealth({})).messages.some((m) => m.startsWith("REST listener:")), 5000, "the health message to clear");
    await disableRest(d);
  });

  it("serves HTTPS when a certificate and key are set, and plain HTTP again when they are removed", async () => {
    const dir = d.dir;
    const cert = path.join(dir, "rest.crt");
    const key = path.join(dir, "rest.key");
    execFileSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"], { stdio: "ignore" });
    const { port } = await enableRest(d, { tls: { cert, key } });
    const token = (await mintToken(d, "root")).secret;
    const body = await new Promise<string>((resolve, reject) => {
      https
        .get({ host: "127.0.0.1", port, path: "/v1/whoami", ca: readFileSync(cert), headers: { authorization: `Bearer ${token}` } }, (res) => {
          let t = "";
          res.on("data", (c) => (t += c));
          res.on("end", () => resolve(t));
        })
        .on("error", reject);
    });
    expect(JSON.parse(body)).toMatchObject({ user: "root" });
    const plain = await enableRest(d, { port });
    await waitFor(async () => (await fetch(`${plain.base}/v1/whoami`, { headers: { authorization: `Bearer ${token}` } }).catch(() => undefined))?.status === 200, 5000, "plain HTTP");
    await disableRest(d);
  });
});

describe("a REST socket passed by init (LISTEN_FDNAMES=rest)", () => {
  it("is used instead of address and port, serves only while enabled, and is never closed by the daemon", async () => {
    const init = net.createServer();
    await new Promise<void>((r) => init.listen(0, "127.0.0.1", r));
    const port = (init.address() as net.AddressInfo).port;
    const fd = (init as unknown as { _handle: { fd: number } })._handle.fd;
    const a = await startDaemon({ env: { LISTEN_FDS: "1", LISTEN_FDNAMES: "rest" }, stdio: [fd] });
    // Only the daemon's copy accepts from now on (this process would otherwise take connections too).
    init.close();
    try {
      // Disabled: connections are accepted and closed at once (no answer, or a reset), not left in the backlog.
      const closedAtOnce = () => rawRequest(port, "GET /v1/whoami HTTP/1.1\r\nHost: x\r\n\r\n").catch((e: NodeJS.ErrnoException) => e.code);
      expect(["", "ECONNRESET"]).toContain(await closedAtOnce());
      // Enabled with an address and port of its own: the inherited socket serves instead.
      const elsewhere = await freePort();
      await a.client(SystemService).updateSettings({ settings: { rest: { enabled: true, address: "127.0.0.1", port: elsewhere } }, updateMask: { paths: ["rest"] } });
      const token = (await mintToken(a, "root")).secret;
      const base = `http://127.0.0.1:${port}`;
      await waitFor(async () => (await rest(base, { method: "GET", path: "/v1/whoami", token }).catch(() => undefined))?.status === 200, 5000, "REST on the inherited socket");
      expect(await accepts(elsewhere)).toBe(false);
      await disableRest(a);
      await waitFor(async () => ["", "ECONNRESET"].includes((await closedAtOnce()) ?? ""), 5000, "REST to stop serving");
      // And on again, on the same socket.
      await a.client(SystemService).updateSettings({ settings: { rest: { enabled: true } }, updateMask: { paths: ["rest.enabled"] } });
      await waitFor(async () => (await rest(base, { method: "GET", path: "/v1/whoami", token }).catch(() => undefined))?.status === 200, 5000, "REST back on");
    } finally {
      await a.cleanup();
    }
  });
});

describe("authentication", () => {
  let base: string;
  let port: number;
  let root: { id: string; secret: string };

  beforeAll(async () => {
    ({ base, port } = await enableRest(d));
    root = await mintToken(d, "root");
  });

  const whoami = (token?: string, extra: Record<string, string> = {}) =>
    rest(base, { method: "GET", path: "/v1/whoami", ...(token !== undefined ? { token } : {}), headers: extra });

  it("accepts a valid token, as its user", async () => {
    const res = await whoami(root.secret);
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ user: "root", role: "admin", capabilities: expect.any(Array), authMethod: "AUTH_METHOD_API_TOKEN", tokenId: root.id });
  });

  it("401 CREDENTIALS_MISSING without a token or with another scheme", async () => {
    for (const res of [await whoami(), await whoami(undefined, { authorization: "Basic cm9vdDpyb290" })]) {
      expect(res.status).toBe(401);
      expect(statusParts(res.json)).toMatchObject({ code: 16, reason: "CREDENTIALS_MISSING" });
    }
  });

  it("401 TOKEN_INVALID for a malformed token, an unknown id and a wrong secret", async () => {
    const wrongSecret = `orb_${root.id}_${"A".repeat(32)}`;
    for (const token of ["not-a-token", `orb_0123456789ab_${"a".repeat(32)}`, wrongSecret]) {
      const res = await whoami(token);
      expect(res.status, token).toBe(401);
      expect(statusParts(res.json).reason).toBe("TOKEN_INVALID");
      expect(res.headers.get("www-authenticate")).toContain('error="invalid_token"');
    }
  });

  it("401 TOKEN_EXPIRED {tokenId, expiredAt} once the token's expiry passes", async () => {
    const t = await mintToken(d, "expiring", "viewer", 1500);
    expect((await whoami(t.secret)).status).toBe(200);
    await new Promise((r) => setTimeout(r, 1600));
    const res = await whoami(t.secret);
    expect(res.status).toBe(401);
    const parts = statusParts(res.json);
    expect(parts).toMatchObject({ reason: "TOKEN_EXPIRED", metadata: { tokenId: t.id } });
    expect(Date.parse(parts.metadata.expiredAt!)).toBeLessThanOrEqual(Date.now());
  });

  it("401 TOKEN_REVOKED at once after RevokeApiToken or DeleteUser, although the token was just verified", async () => {
    const t = await mintToken(d, "revokee", "viewer");
    expect((await whoami(t.secret)).status).toBe(200);
    await d.client(UserService).revokeApiToken({ id: t.id });
    const res = await whoami(t.secret);
    expect(res.status).toBe(401);
    expect(statusParts(res.json)).toMatchObject({ reason: "TOKEN_REVOKED", metadata: { tokenId: t.id } });

    const u = await mintToken(d, "leaver", "viewer");
    expect((await whoami(u.secret)).status).toBe(200);
    await d.client(UserService).deleteUser({ name: "leaver" });
    expect(statusParts((await whoami(u.secret)).json)).toMatchObject({ reason: "TOKEN_REVOKED", metadata: { tokenId: u.id } });
  });

  it("403 CAPABILITY_MISSING for a viewer's write, as over gRPC; reads are allowed", async () => {
    const v = await mintToken(d, "rest-viewer", "viewer");
    expect((await rest(base, { method: "GET", path: "/v1/users", token: v.secret })).status).toBe(200);
    const res = await rest(base, { method: "POST", path: "/v1/users", token: v.secret, body: JSON.stringify({ name: "mallory", role: "admin" }) });
    expect(res.status).toBe(403);
    expect(statusParts(res.json)).toMatchObject({ code: 7, reason: "CAPABILITY_MISSING", metadata: { capability: "user.write", principal: "rest-viewer", role: "viewer" } });
  });

  it("needs a token for the OpenAPI document (any) and the metrics (system.read)", async () => {
    await d.client(UserService).createRole({ role: { name: "session-only", capabilities: ["session.read"] } });
    const s = await mintToken(d, "session-user", "session-only");
    for (const p of ["/v1/openapi.json", "/metrics"]) expect((await rest(base, { method: "GET", path: p })).status, p).toBe(401);
    expect((await rest(base, { method: "GET", path: "/v1/openapi.json", token: s.secret })).status).toBe(200);
    const metrics = await rest(base, { method: "GET", path: "/metrics", token: s.secret });
    expect(metrics.status).toBe(403);
    expect(statusParts(metrics.json)).toMatchObject({ reason: "CAPABILITY_MISSING", metadata: { capability: "system.read" } });
    expect((await rest(base, { method: "GET", path: "/metrics", token: root.secret })).status).toBe(200);
  });

  it("rate limits repeated failures from one source: 429 RATE_LIMITED with Retry-After and RetryInfo, other sources unaffected", async () => {
    const bad = `orb_0123456789ab_${"b".repeat(32)}`;
    const statuses: number[] = [];
    for (let i = 0; i < 10; i++) statuses.push((await getFrom("127.0.0.9", port, "/v1/whoami", bad)).status);
    expect(statuses).toEqual(Array(10).fill(401));
    const limited = await getFrom("127.0.0.9", port, "/v1/whoami", root.secret); // even a good token, from there
    expect(limited.status).toBe(429);
    expect(Number(limited.headers["retry-after"])).toBeGreaterThan(0);
    const parts = statusParts(limited.json);
    expect(parts).toMatchObject({ code: 8, reason: "RATE_LIMITED", metadata: { limit: "10" } });
    expect(parts.retryDelay).toMatch(/^\d+(\.\d+)?s$/);
    expect((await getFrom("127.0.0.1", port, "/v1/whoami", root.secret)).status).toBe(200);
  });
});

describe("protections", () => {
  let base: string;
  let port: number;
  let token: string;

  beforeAll(async () => {
    ({ base, port } = await enableRest(d));
    token = (await mintToken(d, "root")).secret;
  });

  it("413 MESSAGE_TOO_LARGE for a body over 4 MiB, declared or streamed, and the connection goes on serving", async () => {
    const big = JSON.stringify({ name: "big", description: "x".repeat(4 << 20) });
    const declared = await rest(base, { method: "POST", path: "/v1/users", token, body: big });
    expect(declared.status).toBe(413);
    expect(statusParts(declared.json)).toMatchObject({ reason: "MESSAGE_TOO_LARGE", metadata: { limitBytes: String(4 << 20) } });
    // Chunked: no Content-Length, the limit is found while reading.
    const chunks = new ReadableStream({
      start(c) {
        for (let i = 0; i < 5; i++) c.enqueue(new TextEncoder().encode("x".repeat(1 << 20)));
        c.close();
      },
    });
    const streamed = await fetch(`${base}/v1/users`, { method: "POST", headers: { authorization: `Bearer ${token}` }, body: chunks, duplex: "half" } as RequestInit);
    expect(streamed.status).toBe(413);
    expect((await rest(base, { method: "GET", path: "/v1/whoami", token })).status).toBe(200);
  });

  it("cuts off a client that sends its headers too slowly (slow-loris), and keeps serving others", async () => {
    const started = Date.now();
    const socket = net.connect({ port, host: "127.0.0.1" });
    await new Promise((r) => socket.once("connect", r));
    let answer = "";
    socket.on("data", (c: Buffer) => (answer += c.toString()));
    const closed = new Promise((r) => socket.once("close", r));
    socket.write("GET /v1/whoami HTTP/1.1\r\nHost: x\r\n");
    const drip = setInterval(() => socket.writable && socket.write("X-Slow: 1\r\n"), 100);
    await closed;
    clearInterval(drip);
    const elapsed = Date.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(HEADERS_TIMEOUT_MS - 50);
    expect(elapsed).toBeLessThan(HEADERS_TIMEOUT_MS + 2500);
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    const ok = await rawRequest(port, `GET /v1/whoami HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nConnection: close\r\n\r\n`);
    expect(ok).toMatch(/^HTTP\/1\.1 200 /);
  });
});
