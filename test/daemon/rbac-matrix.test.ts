// Proves: every RPC of every API service is authorized exactly by the capability its proto declares, over both of the socket's
// protocols (gRPC and the fast path) alike: a role without it gets PERMISSION_DENIED/CAPABILITY_MISSING {capability, principal,
// role}, a role with it is never refused, an unmapped uid is UNAUTHENTICATED.
// Topology: one daemon; users per built-in role plus a custom role; per user and protocol one child process under that uid with
// one connection (callSession), all of them at once.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DescMethod } from "@bufbuild/protobuf";
import { BuiltinRole } from "../../src/gen/orbital/api/v1/capability_pb.js";
import { HealthStatus, SystemService } from "../../src/gen/orbital/system/v1/system_pb.js";
import { UserService } from "../../src/gen/orbital/user/v1/user_pb.js";
import { apiServices } from "../../src/common/api-services.js";
import { builtinRoleCapabilities, requiredCapability } from "../../src/common/capabilities.js";
import { reasonByWire } from "../../src/common/error-reasons.js";
import type { OrbitalError } from "../../src/common/errors.js";
import type { Protocol } from "../../src/client/transport.js";
import { callAs, callSession, startDaemon, type CallResult, type RunningDaemon } from "../support/daemon.js";

// grpc.health.v1.Health and grpc.reflection are not in apiServices (they are gRPC's protos, served with a
// fixed capability); callAs cannot name them, so the matrix covers the API services only.
const CUSTOM_ROLE = "route-reader";
const CUSTOM_CAPS = ["routing.read", "session.read"];
const UNMAPPED_UID = 3199;
const PROTOCOLS: Protocol[] = ["fast", "grpc"];
/** Watch* streams never end by themselves: an accepted stream is cancelled after this and counts as allowed. */
const STREAM_WINDOW_MS = 500;

interface Row {
  user: string;
  uid: number;
  role: string;
  caps: ReadonlySet<string>;
}

const rows: Row[] = [
  { user: "matrix-admin", uid: 3101, role: "admin", caps: new Set(builtinRoleCapabilities(BuiltinRole.ADMIN)) },
  { user: "matrix-operator", uid: 3102, role: "operator", caps: new Set(builtinRoleCapabilities(BuiltinRole.OPERATOR)) },
  { user: "matrix-viewer", uid: 3103, role: "viewer", caps: new Set(builtinRoleCapabilities(BuiltinRole.VIEWER)) },
  { user: "matrix-custom", uid: 3104, role: CUSTOM_ROLE, caps: new Set(CUSTOM_CAPS) },
];

const methods: DescMethod[] = apiServices.flatMap((s) => s.methods);
/** For the unmapped uid: per service, its first RPC of each kind (unary, server and client streaming). */
const sample: DescMethod[] = apiServices.flatMap((s) => s.methods.filter((m, i, all) => all.findIndex((x) => x.methodKind === m.methodKind) === i));
const pathOf = (m: DescMethod) => `${m.parent.typeName}/${m.name}`;
const shortName = (m: DescMethod) => `${m.parent.name}/${m.name}`;
/** The empty request: `{}`, or the empty stream for client- and bidi-streaming RPCs (see test/support/call-outcome.mjs). */
const emptyRequest = (m: DescMethod) => (m.methodKind === "client_streaming" || m.methodKind === "bidi_streaming" ? [] : {});

let d: RunningDaemon;
let revisionBefore: bigint;
/** Services GetHealth reports NOT_SERVING: every RPC of theirs must answer SERVICE_NOT_IMPLEMENTED when allowed. */
let notServing: Set<string>;
const results = new Map<string, CallResult>();
const key = (uid: number, m: DescMethod, protocol: Protocol) => `${protocol} ${uid} ${pathOf(m)}`;

beforeAll(async () => {
  d = await startDaemon();
  const users = d.client(UserService);
  await users.createRole({ role: { name: CUSTOM_ROLE, capabilities: CUSTOM_CAPS, description: "routes and who-am-I only" } });
  for (const r of rows) await users.createUser({ user: { name: r.user, uid: r.uid, role: r.role } });
  const health = await d.client(SystemService).getHealth({});
  revisionBefore = health.activeRevision;
  notServing = new Set(health.services.filter((s) => s.status === HealthStatus.NOT_SERVING).map((s) => s.service));

  const callers = [...rows.map((r) => ({ uid: r.uid, ms: methods })), { uid: UNMAPPED_UID, ms: sample }];
  await Promise.all(
    callers.flatMap(({ uid, ms }) =>
      PROTOCOLS.map(async (protocol) => {
        const session = callSession(d.socketPath, uid, { protocol, streamWindowMs: STREAM_WINDOW_MS });
        try {
          for (const m of ms) results.set(key(uid, m, protocol), await session.call(pathOf(m), emptyRequest(m)));
        } finally {
          await session.close();
        }
      }),
    ),
  );
}, 180_000);
afterAll(() => d.cleanup());

function resultOf(uid: number, m: DescMethod, protocol: Protocol): CallResult {
  const r = results.get(key(uid, m, protocol));
  if (!r) throw new Error(`no result for uid ${uid} ${pathOf(m)} over ${protocol}`);
  return r;
}

/** Every failure is structured: a catalogue reason with its code, and the call's trace id. */
function expectStructured(e: NonNullable<CallResult["error"]>): void {
  const entry = reasonByWire(e.reason);
  expect(entry, `unknown reason ${e.reason}: ${e.message}`).toBeDefined();
  expect(e.code).toBe(entry!.code);
  expect(e.traceId).toMatch(/^[0-9a-f]{32}$/);
}

describe.each(PROTOCOLS.flatMap((protocol) => rows.map((row) => ({ ...row, protocol, row }))))("over $protocol: role $role (user $user, uid $uid)", ({ row, protocol }) => {
  it.each(methods.map((m) => ({ rpc: shortName(m), m, cap: requiredCapability(m) ?? "(none)", verdict: row.caps.has(requiredCapability(m) ?? "") ? "allowed" : "denied" })))(
    "$rpc needs $cap: $verdict",
    ({ m, cap, verdict }) => {
      const r = resultOf(row.uid, m, protocol);
      if (verdict === "denied") {
        expect(r.ok, JSON.stringify(r)).toBe(false);
        expect(r.error).toMatchObject({ code: 7, reason: "CAPABILITY_MISSING" });
        expect(r.error!.metadata).toEqual({ capability: cap, principal: row.user, role: row.role });
        expectStructured(r.error!);
        return;
      }
      if (!r.ok) {
        expect([7, 16], `${pathOf(m)} refused to a holder of ${cap}: ${JSON.stringify(r.error)}`).not.toContain(r.error!.code);
        expectStructured(r.error!);
      }
      if (r.open) expect(m.methodKind).toBe("server_streaming");
      if (notServing.has(m.parent.typeName)) {
        expect(r.error).toMatchObject({ code: 12, reason: "SERVICE_NOT_IMPLEMENTED", metadata: { service: m.parent.typeName } });
      }
    },
  );
});

describe(`unmapped uid ${UNMAPPED_UID} (a sample: every service, every RPC kind)`, () => {
  it("samples every service and every kind of RPC", () => {
    expect(new Set(sample.map((m) => m.parent.typeName)).size).toBe(apiServices.length);
    expect(new Set(sample.map((m) => m.methodKind))).toEqual(new Set(methods.map((m) => m.methodKind)));
  });

  it.each(PROTOCOLS.flatMap((protocol) => sample.map((m) => ({ rpc: shortName(m), m, protocol }))))("over $protocol: $rpc ($m.methodKind): UNAUTHENTICATED/UNKNOWN_PEER", ({ m, protocol }) => {
    const r = resultOf(UNMAPPED_UID, m, protocol);
    expect(r.ok).toBe(false);
    expect(r.error).toMatchObject({ code: 16, reason: "UNKNOWN_PEER", metadata: { uid: String(UNMAPPED_UID) } });
    expectStructured(r.error!);
  });
});

describe("authorization does not change behaviour", () => {
  it("gives every holder of an RPC's capability the same outcome for the same request, over either protocol", () => {
    const differing: string[] = [];
    for (const m of methods) {
      const outcomes = PROTOCOLS.flatMap((protocol) =>
        rows
          .filter((r) => r.caps.has(requiredCapability(m) ?? ""))
          .map((r) => {
            const res = resultOf(r.uid, m, protocol);
            return `${protocol} ${r.role}: ${res.ok ? (res.open ? "OK, stream open" : "OK") : `${res.error!.code} ${res.error!.reason}`}`;
          }),
      );
      if (new Set(outcomes.map((o) => o.slice(o.indexOf(":")))).size > 1) differing.push(`${pathOf(m)} → ${outcomes.join(", ")}`);
    }
    expect(differing).toEqual([]);
  });

  it("refuses every call the same way over either protocol", () => {
    const differing: string[] = [];
    for (const r of rows) {
      for (const m of methods) {
        const [fast, grpc] = PROTOCOLS.map((p) => resultOf(r.uid, m, p));
        const shape = (x: CallResult) => (x.ok ? "OK" : JSON.stringify({ code: x.error!.code, reason: x.error!.reason, metadata: x.error!.metadata }));
        if (shape(fast!) !== shape(grpc!)) differing.push(`${r.user} ${pathOf(m)}: fast ${shape(fast!)} vs grpc ${shape(grpc!)}`);
      }
    }
    expect(differing).toEqual([]);
  });

  it("left the configuration as it was: empty mutations by an admin change nothing", async () => {
    expect((await d.client(SystemService).getHealth({})).activeRevision).toBe(revisionBefore);
    const { users } = await d.client(UserService).listUsers({});
    expect(users.map((u) => `${u.name}:${u.uid}:${u.role}`)).toEqual(["root:0:admin", ...rows.map((r) => `${r.user}:${r.uid}:${r.role}`)].sort());
    const { role } = await d.client(UserService).getRole({ name: CUSTOM_ROLE });
    expect(role?.capabilities).toEqual(CUSTOM_CAPS);
  });
});

describe("privilege boundaries with real requests", () => {
  it("an operator cannot manage users: CreateUser is CAPABILITY_MISSING user.write, nothing is created", async () => {
    const r = await callAs(d.socketPath, 3102, "orbital.user.v1.UserService/CreateUser", { user: { name: "mallory", uid: 3198, role: "admin" } });
    expect(r.ok).toBe(false);
    expect(r.error).toMatchObject({ code: 7, reason: "CAPABILITY_MISSING" });
    expect(r.error!.metadata).toEqual({ capability: "user.write", principal: "matrix-operator", role: "operator" });
    const err = await d.client(UserService).getUser({ name: "mallory" }).catch((e: OrbitalError) => e);
    expect(err).toMatchObject({ reason: "NOT_FOUND" });
  });

  it("an operator cannot promote itself: UpdateUser is CAPABILITY_MISSING user.write, its role stays", async () => {
    const r = await callAs(d.socketPath, 3102, "orbital.user.v1.UserService/UpdateUser", { user: { name: "matrix-operator", role: "admin" }, updateMask: "role" });
    expect(r.error).toMatchObject({ code: 7, reason: "CAPABILITY_MISSING", metadata: { capability: "user.write" } });
    expect((await d.client(UserService).getUser({ name: "matrix-operator" })).user?.role).toBe("operator");
  });

  it("a viewer cannot write: CreateRoute is CAPABILITY_MISSING routing.write", async () => {
    const r = await callAs(d.socketPath, 3103, "orbital.routing.v1.RoutingService/CreateRoute", {
      route: { destination: { cidr: "10.0.0.0/8" }, gateway: { address: "192.0.2.1" } },
    });
    expect(r.ok).toBe(false);
    expect(r.error).toMatchObject({ code: 7, reason: "CAPABILITY_MISSING" });
    expect(r.error!.metadata).toEqual({ capability: "routing.write", principal: "matrix-viewer", role: "viewer" });
    expect(r.error!.traceId).toMatch(/^[0-9a-f]{32}$/);
  });

  it("a custom role's WhoAmI lists exactly its capabilities, sorted", async () => {
    const r = await callAs(d.socketPath, 3104, "orbital.user.v1.UserService/WhoAmI");
    expect(r.responses?.[0]).toMatchObject({ user: "matrix-custom", role: CUSTOM_ROLE, capabilities: [...CUSTOM_CAPS].sort(), uid: 3104 });
  });

  it("a change to a custom role takes effect on the next call, without reconnecting or restarting", async () => {
    const before = await callAs(d.socketPath, 3104, "orbital.system.v1.SystemService/GetVersion");
    expect(before.error).toMatchObject({ code: 7, reason: "CAPABILITY_MISSING", metadata: { capability: "system.read", role: CUSTOM_ROLE } });
    await d.client(UserService).updateRole({ role: { name: CUSTOM_ROLE, capabilities: [...CUSTOM_CAPS, "system.read"] }, updateMask: { paths: ["capabilities"] } });
    const after = await callAs(d.socketPath, 3104, "orbital.system.v1.SystemService/GetVersion");
    expect(after.ok, JSON.stringify(after.error)).toBe(true);
    await d.client(UserService).updateRole({ role: { name: CUSTOM_ROLE, capabilities: CUSTOM_CAPS }, updateMask: { paths: ["capabilities"] } });
    const again = await callAs(d.socketPath, 3104, "orbital.system.v1.SystemService/GetVersion");
    expect(again.error).toMatchObject({ code: 7, reason: "CAPABILITY_MISSING" });
  });

  it("a deleted user's uid is unmapped at once", async () => {
    await d.client(UserService).createUser({ user: { name: "short-lived", uid: 3105, role: "admin" } });
    expect((await callAs(d.socketPath, 3105, "orbital.user.v1.UserService/WhoAmI")).ok).toBe(true);
    await d.client(UserService).deleteUser({ name: "short-lived" });
    const r = await callAs(d.socketPath, 3105, "orbital.user.v1.UserService/WhoAmI");
    expect(r.error).toMatchObject({ code: 16, reason: "UNKNOWN_PEER", metadata: { uid: "3105" } });
  });
});
