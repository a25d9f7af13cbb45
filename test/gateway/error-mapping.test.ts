// Proves: every gRPC code maps to grpc-gateway's HTTP status (checked code by code against src/common/http-status.ts), and real failing REST requests (400/401/403/404/405/409/413/429/501/503/504) answer that status with a JSON google.rpc.Status carrying ErrorInfo, BadRequest and RequestInfo.
// How: the daemon's own refusals (validation, RBAC, conflicts, limits, unimplemented services, a grpc-timeout over a failpoint-slowed RPC, a request arriving during the shutdown drain).
// Topology: one daemon (sim, GetVersion slowed by ORBITAL_FAILPOINTS), REST on 127.0.0.1:<free port>; root, viewer and operator API tokens; the last test stops the daemon.
import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code, CodeSchema } from "../../src/gen/google/rpc/code_pb.js";
import { ConfigService } from "../../src/gen/orbital/config/v1/config_pb.js";
import { SystemService } from "../../src/gen/orbital/system/v1/system_pb.js";
import { UserService } from "../../src/gen/orbital/user/v1/user_pb.js";
import { reasonCatalogue } from "../../src/common/error-reasons.js";
import { OrbitalError } from "../../src/common/errors.js";
import { httpStatusFromCode } from "../../src/common/http-status.js";
import { httpStatusOf } from "../../src/daemon/transports/rest/rest-gateway.js";
import { startDaemon, type RunningDaemon } from "../support/daemon.js";
import { enableRest, mintToken, rest, restCall, statusParts, type RestResponse } from "../support/rest.js";

/** grpc-gateway runtime/errors.go HTTPStatusFromCode, written out independently of the code under test. */
const GRPC_GATEWAY: Record<string, number> = {
  OK: 200,
  CANCELLED: 499,
  UNKNOWN: 500,
  INVALID_ARGUMENT: 400,
  DEADLINE_EXCEEDED: 504,
  NOT_FOUND: 404,
  ALREADY_EXISTS: 409,
  PERMISSION_DENIED: 403,
  UNAUTHENTICATED: 401,
  RESOURCE_EXHAUSTED: 429,
  FAILED_PRECONDITION: 400,
  ABORTED: 409,
  OUT_OF_RANGE: 400,
  UNIMPLEMENTED: 501,
  INTERNAL: 500,
  UNAVAILABLE: 503,
  DATA_LOSS: 500,
};

describe("gRPC code → HTTP status", () => {
  it.each(CodeSchema.values.map((v) => ({ name: v.localName, code: v.number as Code })))("$name", ({ name, code }) => {
    expect(GRPC_GATEWAY[name], `the test's table lacks ${name}`).toBeDefined();
    expect(httpStatusFromCode(code)).toBe(GRPC_GATEWAY[name]);
  });

  it("answers 500 for a code outside the enum", () => {
    expect(httpStatusFromCode(99 as Code)).toBe(500);
  });

  it("gives every catalogue reason its code's status, except a body over the limit (413)", () => {
    for (const r of reasonCatalogue) {
      const status = httpStatusOf(new OrbitalError({ reason: r.value, message: "x" }));
      expect(status, r.wire).toBe(r.wire === "MESSAGE_TOO_LARGE" ? 413 : httpStatusFromCode(r.code));
    }
  });
});

let d: RunningDaemon;
let base: string;
let port: number;
let root: string;
let viewer: string;
let operator: string;

beforeAll(async () => {
  d = await startDaemon({ env: { ORBITAL_FAILPOINTS: "/orbital.system.v1.SystemService/GetVersion=slow", ORBITAL_DISABLE_SERVICES: "orbital.package.v1.PackageService" } });
  ({ base, port } = await enableRest(d));
  root = (await mintToken(d, "root")).secret;
  viewer = (await mintToken(d, "err-viewer", "viewer")).secret;
  operator = (await mintToken(d, "err-operator", "operator")).secret;
});
afterAll(() => d.cleanup());

/** The response is a JSON google.rpc.Status for `reason`, with the status of its code (or `status`). */
function expectStatus(res: RestResponse, reason: string, status?: number) {
  const parts = statusParts(res.json);
  expect(parts.reason, res.text).toBe(reason);
  expect(res.status, res.text).toBe(status ?? httpStatusFromCode(parts.code));
  expect(res.headers.get("content-type")).toMatch(/^application\/json/);
  const body = res.json as { code: number; message: string; details: { "@type": string; domain?: string }[] };
  expect(typeof body.message).toBe("string");
  expect(body.details[0]).toMatchObject({ "@type": "type.googleapis.com/google.rpc.ErrorInfo", domain: "orbital" });
  expect(parts.traceId).toMatch(/^[0-9a-f]{32}$/);
  expect(res.headers.get("traceparent")).toContain(parts.traceId);
  return parts;
}

describe("real requests", () => {
  it("400 INVALID_ARGUMENT: INVALID_FIELD with BadRequest violations, MALFORMED_MESSAGE for broken JSON", async () => {
    const bad = await rest(base, { method: "POST", path: "/v1/users", token: root, body: JSON.stringify({ name: "Bad Name", role: "viewer" }) });
    const parts = expectStatus(bad, "INVALID_FIELD");
    expect(parts.code).toBe(Code.INVALID_ARGUMENT);
    expect(parts.violations.map((v) => v.field)).toContain("user.name");
    expectStatus(await rest(base, { method: "POST", path: "/v1/users", token: root, body: '{"name": "x",' }), "MALFORMED_MESSAGE");
    expectStatus(await rest(base, { method: "GET", path: "/v1/users?page.size=many", token: root }), "INVALID_FIELD");
  });

  it("400 FAILED_PRECONDITION: REFERENCE_MISSING", async () => {
    const res = await rest(base, { method: "POST", path: "/v1/routes", token: root, body: JSON.stringify({ destination: { cidr: "10.77.0.0/16" }, interface: "eth7" }) });
    expect(expectStatus(res, "REFERENCE_MISSING").code).toBe(Code.FAILED_PRECONDITION);
  });

  it("401 UNAUTHENTICATED: CREDENTIALS_MISSING, with WWW-Authenticate", async () => {
    const res = await rest(base, { method: "GET", path: "/v1/whoami" });
    expect(expectStatus(res, "CREDENTIALS_MISSING").code).toBe(Code.UNAUTHENTICATED);
    expect(res.headers.get("www-authenticate")).toMatch(/^Bearer /);
  });

  it("403 PERMISSION_DENIED: CAPABILITY_MISSING and BUILTIN_IMMUTABLE", async () => {
    const denied = await restCall(base, viewer, UserService.method.createRole, { role: { name: "nope" } });
    expect(expectStatus(denied, "CAPABILITY_MISSING").metadata).toEqual({ capability: "user.write", principal: "err-viewer", role: "viewer" });
    expectStatus(await restCall(base, root, UserService.method.deleteRole, { name: "admin" }), "BUILTIN_IMMUTABLE");
  });

  it("404 NOT_FOUND: a missing resource and an unknown route", async () => {
    expect(expectStatus(await restCall(base, root, UserService.method.getUser, { name: "nobody" }), "NOT_FOUND").metadata).toEqual({ resourceType: "user", name: "nobody" });
    expectStatus(await rest(base, { method: "GET", path: "/v1/no/such/thing", token: root }), "NOT_FOUND");
    expectStatus(await rest(base, { method: "GET", path: "/v2/users", token: root }), "NOT_FOUND");
  });

  it("405 for a known path with another method, with Allow", async () => {
    const res = await rest(base, { method: "PUT", path: "/v1/users", token: root, body: "{}" });
    expectStatus(res, "UNSUPPORTED", 405);
    expect(res.headers.get("allow")).toBe("GET, POST");
  });

  it("409 ALREADY_EXISTS and ABORTED (CONFIG_CONFLICT)", async () => {
    await restCall(base, root, UserService.method.createUser, { user: { name: "twice", role: "viewer" } });
    expectStatus(await restCall(base, root, UserService.method.createUser, { user: { name: "twice", role: "viewer" } }), "ALREADY_EXISTS");

    // A transaction stages a hostname; a one-change commit changes the same item before it commits.
    const adminTx = (await restCall(base, root, ConfigService.method.begin, {})).json as { transaction: { id: string } };
    const staged = await rest(base, { method: "PATCH", path: `/v1/system/settings?transactionId=${adminTx.transaction.id}&updateMask=hostname`, token: root, body: '{"hostname":"side-b"}' });
    expect(staged.status, staged.text).toBe(200);
    const direct = await restCall(base, root, SystemService.method.updateSettings, { settings: { hostname: "side-c" }, updateMask: { paths: ["hostname"] } });
    expect(direct.status, direct.text).toBe(200);
    const conflict = await restCall(base, root, ConfigService.method.commit, { transactionId: adminTx.transaction.id });
    expect(expectStatus(conflict, "CONFIG_CONFLICT").code).toBe(Code.ABORTED);
  });

  it("413 MESSAGE_TOO_LARGE for a body over 4 MiB", async () => {
    const body = JSON.stringify({ name: "big", description: "x".repeat((4 << 20) + 10) });
    const res = await rest(base, { method: "POST", path: "/v1/users", token: root, body });
    expect(expectStatus(res, "MESSAGE_TOO_LARGE", 413).metadata).toMatchObject({ limitBytes: String(4 << 20) });
  });

  it("429 RESOURCE_EXHAUSTED: TOO_MANY_TRANSACTIONS", async () => {
    let last: RestResponse | undefined;
    for (let i = 0; i < 12 && last?.status !== 429; i++) last = await restCall(base, operator, ConfigService.method.begin, {});
    expect(expectStatus(last!, "TOO_MANY_TRANSACTIONS").code).toBe(Code.RESOURCE_EXHAUSTED);
  });

  it("501 UNIMPLEMENTED: SERVICE_NOT_IMPLEMENTED, unary and server streaming", async () => {
    expectStatus(await rest(base, { method: "GET", path: "/v1/packages", token: root }), "SERVICE_NOT_IMPLEMENTED");
    expectStatus(await rest(base, { method: "POST", path: "/v1/packages:install", token: root, body: '{"bundlePath":"/data/x.oap"}' }), "SERVICE_NOT_IMPLEMENTED");
  });

  it("504 DEADLINE_EXCEEDED when grpc-timeout passes before the handler ends", async () => {
    const res = await rest(base, { method: "GET", path: "/v1/system/version", token: root, headers: { "grpc-timeout": "200m" } });
    expect(expectStatus(res, "DEADLINE_EXCEEDED").code).toBe(Code.DEADLINE_EXCEEDED);
    expect((await rest(base, { method: "GET", path: "/v1/system/version", token: root, headers: { "grpc-timeout": "5S" } })).status).toBe(200);
  });

  it("503 UNAVAILABLE: SHUTTING_DOWN for a request that arrives while the daemon drains", async () => {
    // A request whose headers are half sent before SIGTERM and finished during the drain (a slow gRPC call in
    // flight keeps the daemon draining for a second).
    const socket = net.connect({ port, host: "127.0.0.1" });
    await new Promise((r) => socket.once("connect", r));
    let answer = "";
    socket.setEncoding("utf8");
    socket.on("data", (c: string) => (answer += c));
    socket.write("GET /v1/whoami HTTP/1.1\r\nHost: orbital\r\n");
    const slow = d.client(SystemService).getVersion({}).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 200));
    d.proc.kill("SIGTERM");
    await d.waitForLog((l) => l.msg === "stopping: draining calls in flight");
    socket.write(`Authorization: Bearer ${root}\r\n\r\n`);
    await new Promise((r) => socket.once("close", r));
    const [head, body] = answer.split("\r\n\r\n");
    expect(head).toMatch(/^HTTP\/1\.1 503 /);
    expect(head).toMatch(/connection: close/i);
    expect(statusParts(JSON.parse(body!))).toMatchObject({ code: Code.UNAVAILABLE, reason: "SHUTTING_DOWN" });
    expect(await slow).toMatchObject({ build: expect.anything() });
    expect(await d.exited).toBe(0);
  });
});
