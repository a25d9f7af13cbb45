// Proves: every implemented UserService and SystemService RPC keeps the contract of its proto comments and docs/api.md, on
// success and on failure (code, catalogue reason with exactly its metadata keys, BadRequest field paths, 32-hex trace id).
// Topology: one daemon for most blocks, fresh ones for paging and a restart on the same data dir; root in-process, other uids as children.
import { UpdateService } from "../../src/gen/orbital/update/v1/update_pb.js";
import os from "node:os";
import { readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DescMethod, DescService } from "@bufbuild/protobuf";
import { timestampDate, timestampFromDate, type Timestamp } from "@bufbuild/protobuf/wkt";
import { Code } from "../../src/gen/google/rpc/code_pb.js";
import { ConfigService } from "../../src/gen/orbital/config/v1/config_pb.js";
import { BuiltinRole } from "../../src/gen/orbital/api/v1/capability_pb.js";
import { RoutingService } from "../../src/gen/orbital/routing/v1/routing_pb.js";
import { HealthStatus, SystemService } from "../../src/gen/orbital/system/v1/system_pb.js";
import { ApiTokenSchema, AuthMethod, UserService } from "../../src/gen/orbital/user/v1/user_pb.js";
import { apiServices } from "../../src/common/api-services.js";
import { builtinRoleCapabilities, capabilityCatalogue, requiredCapability } from "../../src/common/capabilities.js";
import { reasonByWire } from "../../src/common/error-reasons.js";
import { OrbitalError } from "../../src/common/errors.js";
import type { Client } from "../../src/client/client.js";
import { repoRoot } from "../../scripts/proto-image.js";
import { callAs, startDaemon, type CallResult, type RunningDaemon } from "../support/daemon.js";

type Failure = Pick<OrbitalError, "code" | "reason" | "metadata" | "violations" | "traceId"> | NonNullable<CallResult["error"]>;
interface Expected {
  code: Code;
  reason: string;
  /** Values of some metadata keys; the set of keys is always checked against the catalogue. */
  metadata?: Record<string, string>;
  /** BadRequest field paths, in order; none when omitted. */
  fields?: string[];
}

/** Checks a failure against the catalogue: code of the reason, exactly its metadata keys, violations, trace id. */
function expectFailure(e: Failure | undefined, x: Expected): void {
  const entry = reasonByWire(x.reason);
  expect(entry, `${x.reason} is not in the catalogue`).toBeDefined();
  expect(entry!.code, `catalogue code of ${x.reason}`).toBe(x.code);
  expect(e, "the call succeeded").toBeDefined();
  expect({ code: e!.code, reason: e!.reason }, JSON.stringify(e)).toEqual({ code: x.code, reason: x.reason });
  expect(Object.keys(e!.metadata).sort()).toEqual([...entry!.metadataKeys].sort());
  if (x.metadata) expect(e!.metadata).toMatchObject(x.metadata);
  expect(e!.violations.map((v) => v.field)).toEqual(x.fields ?? []);
  for (const v of e!.violations) expect(reasonByWire(v.reason ?? ""), `violation reason of ${v.field}`).toBeDefined();
  expect(e!.traceId).toMatch(/^[0-9a-f]{32}$/);
}

async function rejects(call: Promise<unknown>, x: Expected): Promise<OrbitalError> {
  const outcome = await call.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
  if (!("error" in outcome)) throw new Error(`expected ${x.reason}, the call succeeded`);
  expect(outcome.error).toBeInstanceOf(OrbitalError);
  expectFailure(outcome.error as OrbitalError, x);
  return outcome.error as OrbitalError;
}

const ms = (t: Timestamp | undefined) => (t ? timestampDate(t).getTime() : NaN);
const minutesFromNow = (m: number) => timestampFromDate(new Date(Date.now() + m * 60_000));
const NO_TX = "7f3e2d1c0b4a5968"; // a transaction id nobody opened
const VIEWER_UID = 3210; // user "vic", role viewer, for calls as another uid
/** The credential part of a secret "orb_<id>_<random>" (the random part may itself contain "_"). */
const secretRandom = (secret: string) => secret.replace(/^orb_[0-9a-f]{12}_/, "");

let d: RunningDaemon;
let users: Client<typeof UserService>;
let system: Client<typeof SystemService>;
function clientsOf(daemon: RunningDaemon) {
  return { users: daemon.client(UserService), system: daemon.client(SystemService) };
}
const revisionNow = async () => (await system.getHealth({})).activeRevision;

beforeAll(async () => {
  // Every service is built; one is turned off (--disable-service) so the not-served path is exercised.
  d = await startDaemon({ env: { ORBITAL_DISABLE_SERVICES: UpdateService.typeName } });
  ({ users, system } = clientsOf(d));
  await users.createUser({ user: { name: "vic", uid: VIEWER_UID, role: "viewer" } });
});
afterAll(() => d.cleanup());

describe("UserService.WhoAmI", () => {
  it("tells root who it is: admin, every capability sorted, peer credentials with uid 0 and its pid", async () => {
    const me = await users.whoAmI({});
    expect(me.user).toBe("root");
    expect(me.role).toBe("admin");
    expect(me.capabilities).toEqual(capabilityCatalogue.map((c) => c.name).sort());
    expect(me.authMethod).toBe(AuthMethod.PEER_CREDENTIALS);
    expect(me.uid).toBe(0);
    expect(me.pid).toBe(process.pid);
    expect(me.tokenId).toBe("");
  });

  it("tells a mapped uid its user, role and that role's capabilities", async () => {
    const r = await callAs(d.socketPath, VIEWER_UID, "orbital.user.v1.UserService/WhoAmI");
    expect(r.error).toBeUndefined();
    expect(r.responses?.[0]).toEqual({
      user: "vic",
      role: "viewer",
      capabilities: builtinRoleCapabilities(BuiltinRole.VIEWER),
      authMethod: "AUTH_METHOD_PEER_CREDENTIALS",
      uid: VIEWER_UID,
      pid: expect.any(Number),
    });
  });
});

describe("UserService users", () => {
  it("shows root as the built-in superuser: uid 0, admin", async () => {
    const { user } = await users.getUser({ name: "root" });
    expect(user).toMatchObject({ name: "root", uid: 0, role: "admin", builtin: true });
    expect((await users.listUsers({})).users.map((u) => u.name)).toContain("root");
  });

  it("creates a user with a server-set create_time, builtin false, and commits one revision", async () => {
    const before = await revisionNow();
    const res = await users.createUser({ user: { name: "ulla", uid: 3211, role: "operator", description: "night shift", builtin: true, createTime: minutesFromNow(-600) } });
    expect(res.revision).toBe(before + 1n);
    expect(res.user).toMatchObject({ name: "ulla", uid: 3211, role: "operator", description: "night shift", builtin: false });
    expect(Math.abs(ms(res.user!.createTime) - Date.now())).toBeLessThan(60_000);
    const got = (await users.getUser({ name: "ulla" })).user!;
    expect(got).toMatchObject({ name: "ulla", uid: 3211, role: "operator", builtin: false });
    expect(ms(got.createTime)).toBe(ms(res.user!.createTime));
    expect(await revisionNow()).toBe(res.revision);
  });

  it("accepts names at the edges of ^[a-z_][a-z0-9_-]*$, 1..32 characters, and users without a uid", async () => {
    for (const name of ["_svc", "a", "a-b_c9", "n".repeat(32)]) {
      const { user } = await users.createUser({ user: { name, role: "viewer" } });
      expect(user?.name).toBe(name);
      expect(user?.uid).toBeUndefined();
    }
  });

  it.each(["", "Alice", "9lives", "-dash", "n".repeat(33), "has space", "dot.name", "ünï", "tab\tname"])("refuses the user name %j: INVALID_FIELD user.name", async (name) => {
    await rejects(users.createUser({ user: { name, uid: 3299, role: "viewer" } }), {
      code: Code.INVALID_ARGUMENT,
      reason: "INVALID_FIELD",
      metadata: { field: "user.name" },
      fields: ["user.name"],
    });
  });

  it.each([0, 4294967295])("refuses uid %d: INVALID_FIELD user.uid", async (uid) => {
    await rejects(users.createUser({ user: { name: `uid${uid}`, uid, role: "viewer" } }), {
      code: Code.INVALID_ARGUMENT,
      reason: "INVALID_FIELD",
      metadata: { field: "user.uid" },
      fields: ["user.uid"],
    });
  });

  it("accepts the largest uid, 4294967294", async () => {
    expect((await users.createUser({ user: { name: "maxuid", uid: 4294967294, role: "viewer" } })).user?.uid).toBe(4294967294);
  });

  it("refuses a uid another user has: ALREADY_EXISTS naming that user (the proto's promise)", async () => {
    await rejects(users.createUser({ user: { name: "copycat", uid: 3211, role: "viewer" } }), {
      code: Code.ALREADY_EXISTS,
      reason: "ALREADY_EXISTS",
      metadata: { resourceType: "user", name: "ulla" },
      fields: ["user.uid"],
    });
    await rejects(users.getUser({ name: "copycat" }), { code: Code.NOT_FOUND, reason: "NOT_FOUND", metadata: { resourceType: "user", name: "copycat" } });
  });

  it("reports every invalid field of a request at once, the first one in metadata.field", async () => {
    await rejects(users.createUser({ user: { name: "Bad", uid: 0, role: "", description: "x".repeat(256) } }), {
      code: Code.INVALID_ARGUMENT,
      reason: "INVALID_FIELD",
      metadata: { field: "user.name" },
      fields: ["user.name", "user.uid", "user.role", "user.description"],
    });
  });

  it("limits descriptions to 255 bytes of UTF-8 without control characters", async () => {
    expect((await users.createUser({ user: { name: "desc-ok", role: "viewer", description: `${"é".repeat(127)}a` } })).user?.description).toHaveLength(128);
    for (const description of ["é".repeat(128), "two\nlines", "bell\u0007"]) {
      await rejects(users.createUser({ user: { name: "desc-bad", role: "viewer", description } }), {
        code: Code.INVALID_ARGUMENT,
        reason: "INVALID_FIELD",
        metadata: { field: "user.description" },
        fields: ["user.description"],
      });
    }
  });

  it("refuses a role that does not exist: REFERENCE_MISSING", async () => {
    await rejects(users.createUser({ user: { name: "ghosted", uid: 3212, role: "ghost" } }), {
      code: Code.FAILED_PRECONDITION,
      reason: "REFERENCE_MISSING",
      metadata: { resourceType: "user", name: "ghosted", referencedType: "role", referencedName: "ghost" },
    });
  });

  it("refuses a second user of the same name, and root: ALREADY_EXISTS", async () => {
    for (const name of ["ulla", "root"]) {
      await rejects(users.createUser({ user: { name, role: "viewer" } }), {
        code: Code.ALREADY_EXISTS,
        reason: "ALREADY_EXISTS",
        metadata: { resourceType: "user", name },
      });
    }
  });

  it("answers NOT_FOUND for a user that does not exist", async () => {
    await rejects(users.getUser({ name: "nobody" }), { code: Code.NOT_FOUND, reason: "NOT_FOUND", metadata: { resourceType: "user", name: "nobody" } });
    await rejects(users.updateUser({ user: { name: "nobody", role: "viewer" } }), { code: Code.NOT_FOUND, reason: "NOT_FOUND", metadata: { resourceType: "user", name: "nobody" } });
    await rejects(users.deleteUser({ name: "nobody" }), { code: Code.NOT_FOUND, reason: "NOT_FOUND", metadata: { resourceType: "user", name: "nobody" } });
  });

  it("keeps root immutable: UpdateUser and DeleteUser answer BUILTIN_IMMUTABLE", async () => {
    const x = { code: Code.PERMISSION_DENIED, reason: "BUILTIN_IMMUTABLE", metadata: { name: "root" } };
    await rejects(users.updateUser({ user: { name: "root", role: "viewer" }, updateMask: { paths: ["role"] } }), x);
    await rejects(users.deleteUser({ name: "root" }), x);
    expect((await users.getUser({ name: "root" })).user).toMatchObject({ uid: 0, role: "admin" });
  });

  describe("UpdateUser masks", () => {
    beforeAll(async () => {
      await users.createUser({ user: { name: "uma", uid: 3220, role: "viewer", description: "first" } });
    });

    it("changes only the fields named in update_mask", async () => {
      const before = await revisionNow();
      const res = await users.updateUser({ user: { name: "uma", uid: 9999, role: "admin", description: "second" }, updateMask: { paths: ["description"] } });
      expect(res.revision).toBe(before + 1n);
      expect(res.user).toMatchObject({ name: "uma", uid: 3220, role: "viewer", description: "second" });
      expect((await users.getUser({ name: "uma" })).user).toMatchObject({ uid: 3220, role: "viewer", description: "second" });
      expect((await users.updateUser({ user: { name: "uma", role: "operator" }, updateMask: { paths: ["role"] } })).user).toMatchObject({ uid: 3220, role: "operator", description: "second" });
    });

    it("validates the result: unknown role, bad uid, a uid someone else has", async () => {
      const before = await revisionNow();
      await rejects(users.updateUser({ user: { name: "uma", role: "ghost" }, updateMask: { paths: ["role"] } }), {
        code: Code.FAILED_PRECONDITION,
        reason: "REFERENCE_MISSING",
        metadata: { resourceType: "user", name: "uma", referencedType: "role", referencedName: "ghost" },
      });
      await rejects(users.updateUser({ user: { name: "uma", uid: 0 }, updateMask: { paths: ["uid"] } }), {
        code: Code.INVALID_ARGUMENT,
        reason: "INVALID_FIELD",
        metadata: { field: "user.uid" },
        fields: ["user.uid"],
      });
      await rejects(users.updateUser({ user: { name: "uma", uid: 3211 }, updateMask: { paths: ["uid"] } }), {
        code: Code.ALREADY_EXISTS,
        reason: "ALREADY_EXISTS",
        metadata: { resourceType: "user", name: "ulla" },
        fields: ["user.uid"],
      });
      expect(await revisionNow()).toBe(before);
    });

    it.each([["name"], ["bogus"], ["create_time"], ["builtin"], ["uid.value"], ["description", "nope"]].map((paths) => ({ paths })))("refuses update_mask $paths: INVALID_FIELD_MASK", async ({ paths }) => {
      const bad = paths.find((p) => p !== "description")!;
      await rejects(users.updateUser({ user: { name: "uma", description: "x" }, updateMask: { paths } }), {
        code: Code.INVALID_ARGUMENT,
        reason: "INVALID_FIELD_MASK",
        metadata: { path: bad },
        fields: ["update_mask"],
      });
      expect((await users.getUser({ name: "uma" })).user?.description).toBe("second");
    });

    it("treats an empty mask as every mutable field (an unset uid makes a token-only user)", async () => {
      const { user } = await users.updateUser({ user: { name: "uma", role: "viewer" } });
      expect(user).toMatchObject({ name: "uma", role: "viewer", description: "" });
      expect(user?.uid).toBeUndefined();
      const r = await callAs(d.socketPath, 3220, "orbital.user.v1.UserService/WhoAmI");
      expectFailure(r.error, { code: Code.UNAUTHENTICATED, reason: "UNKNOWN_PEER", metadata: { uid: "3220" } });
    });
  });

  it("deletes a user: it is gone, its uid is unmapped, its tokens are revoked", async () => {
    await users.createUser({ user: { name: "dora", uid: 3230, role: "viewer" } });
    const { token } = await users.createApiToken({ token: { user: "dora", description: "ci" } });
    const before = await revisionNow();
    expect((await users.deleteUser({ name: "dora" })).revision).toBe(before + 1n);
    await rejects(users.getUser({ name: "dora" }), { code: Code.NOT_FOUND, reason: "NOT_FOUND", metadata: { resourceType: "user", name: "dora" } });
    expectFailure((await callAs(d.socketPath, 3230, "orbital.user.v1.UserService/WhoAmI")).error, { code: Code.UNAUTHENTICATED, reason: "UNKNOWN_PEER" });
    const listed = (await users.listApiTokens({ user: "dora" })).tokens.find((t) => t.id === token!.id);
    expect(listed?.revokeTime).toBeDefined();
  });
});

describe("UserService roles", () => {
  it("lists the built-in roles first with their catalogue capabilities, then custom roles in name order", async () => {
    await users.createRole({ role: { name: "zeta", capabilities: ["session.read"] } });
    await users.createRole({ role: { name: "alpha", capabilities: ["routing.read", "session.read"], description: "routes" } });
    const { roles } = await users.listRoles({});
    expect(roles.map((r) => r.name)).toEqual(["admin", "operator", "viewer", ...roles.slice(3).map((r) => r.name).sort()]);
    expect(roles.map((r) => r.name)).toEqual(expect.arrayContaining(["alpha", "zeta"]));
    for (const [i, b] of [BuiltinRole.ADMIN, BuiltinRole.OPERATOR, BuiltinRole.VIEWER].entries()) {
      expect(roles[i]).toMatchObject({ builtin: true, capabilities: builtinRoleCapabilities(b) });
    }
    expect(roles.find((r) => r.name === "alpha")).toMatchObject({ builtin: false, capabilities: ["routing.read", "session.read"], description: "routes" });
  });

  it("gets built-in and custom roles; NOT_FOUND for others", async () => {
    expect((await users.getRole({ name: "viewer" })).role).toMatchObject({ name: "viewer", builtin: true });
    expect((await users.getRole({ name: "alpha" })).role).toMatchObject({ name: "alpha", builtin: false });
    await rejects(users.getRole({ name: "omega" }), { code: Code.NOT_FOUND, reason: "NOT_FOUND", metadata: { resourceType: "role", name: "omega" } });
  });

  it("creates a role and commits one revision", async () => {
    const before = await revisionNow();
    const res = await users.createRole({ role: { name: "auditors", capabilities: ["user.read", "session.read"], builtin: true } });
    expect(res.revision).toBe(before + 1n);
    expect(res.role).toMatchObject({ name: "auditors", capabilities: ["user.read", "session.read"], builtin: false });
  });

  it("refuses capabilities outside the catalogue, naming the index", async () => {
    await rejects(users.createRole({ role: { name: "pilots", capabilities: ["routing.read", "routing.fly"] } }), {
      code: Code.INVALID_ARGUMENT,
      reason: "INVALID_FIELD",
      metadata: { field: "role.capabilities[1]" },
      fields: ["role.capabilities[1]"],
    });
    await rejects(users.createRole({ role: { name: "pilots", capabilities: ["ROUTING.READ"] } }), {
      code: Code.INVALID_ARGUMENT,
      reason: "INVALID_FIELD",
      fields: ["role.capabilities[0]"],
    });
  });

  it("limits a role's description like a user's: INVALID_FIELD role.description", async () => {
    await rejects(users.createRole({ role: { name: "wordy", capabilities: [], description: "é".repeat(128) } }), {
      code: Code.INVALID_ARGUMENT,
      reason: "INVALID_FIELD",
      metadata: { field: "role.description" },
      fields: ["role.description"],
    });
  });

  it("refuses a repeated capability", async () => {
    await rejects(users.createRole({ role: { name: "pilots", capabilities: ["routing.read", "routing.read"] } }), {
      code: Code.INVALID_ARGUMENT,
      reason: "INVALID_FIELD",
      metadata: { field: "role.capabilities" },
      fields: ["role.capabilities"],
    });
  });

  it.each(["", "Ops", "1ops", "ops_team", "-ops", "r".repeat(33)])("refuses the role name %j: INVALID_FIELD role.name", async (name) => {
    await rejects(users.createRole({ role: { name, capabilities: ["session.read"] } }), {
      code: Code.INVALID_ARGUMENT,
      reason: "INVALID_FIELD",
      metadata: { field: "role.name" },
      fields: ["role.name"],
    });
  });

  it("refuses the name of a built-in or existing role: ALREADY_EXISTS", async () => {
    for (const name of ["admin", "viewer", "alpha"]) {
      await rejects(users.createRole({ role: { name, capabilities: ["session.read"] } }), {
        code: Code.ALREADY_EXISTS,
        reason: "ALREADY_EXISTS",
        metadata: { resourceType: "role", name },
      });
    }
  });

  it("keeps built-in roles immutable: UpdateRole and DeleteRole answer BUILTIN_IMMUTABLE", async () => {
    await rejects(users.updateRole({ role: { name: "viewer", capabilities: ["user.write"] }, updateMask: { paths: ["capabilities"] } }), {
      code: Code.PERMISSION_DENIED,
      reason: "BUILTIN_IMMUTABLE",
      metadata: { name: "viewer" },
    });
    for (const name of ["admin", "operator", "viewer"]) {
      await rejects(users.deleteRole({ name }), { code: Code.PERMISSION_DENIED, reason: "BUILTIN_IMMUTABLE", metadata: { name } });
    }
    expect((await users.getRole({ name: "viewer" })).role?.capabilities).toEqual(builtinRoleCapabilities(BuiltinRole.VIEWER));
  });

  it("updates the masked fields of a custom role", async () => {
    const r1 = await users.updateRole({ role: { name: "alpha", capabilities: ["routing.read", "routing.write"], description: "ignored" }, updateMask: { paths: ["capabilities"] } });
    expect(r1.role).toMatchObject({ capabilities: ["routing.read", "routing.write"], description: "routes" });
    const r2 = await users.updateRole({ role: { name: "alpha", description: "routes, rw" }, updateMask: { paths: ["description"] } });
    expect(r2.role).toMatchObject({ capabilities: ["routing.read", "routing.write"], description: "routes, rw" });
    expect(r2.revision).toBe(r1.revision + 1n);
  });

  it("validates updates: unknown capability, bad mask paths, unknown role", async () => {
    await rejects(users.updateRole({ role: { name: "alpha", capabilities: ["firewall.burn"] }, updateMask: { paths: ["capabilities"] } }), {
      code: Code.INVALID_ARGUMENT,
      reason: "INVALID_FIELD",
      metadata: { field: "role.capabilities[0]" },
      fields: ["role.capabilities[0]"],
    });
    for (const p of ["name", "builtin", "colour"]) {
      await rejects(users.updateRole({ role: { name: "alpha" }, updateMask: { paths: [p] } }), {
        code: Code.INVALID_ARGUMENT,
        reason: "INVALID_FIELD_MASK",
        metadata: { path: p },
        fields: ["update_mask"],
      });
    }
    await rejects(users.updateRole({ role: { name: "omega", capabilities: [] } }), { code: Code.NOT_FOUND, reason: "NOT_FOUND", metadata: { resourceType: "role", name: "omega" } });
    expect((await users.getRole({ name: "alpha" })).role?.capabilities).toEqual(["routing.read", "routing.write"]);
  });

  it("refuses to delete a role while users hold it (RESOURCE_IN_USE), then deletes it", async () => {
    await users.createRole({ role: { name: "inuse", capabilities: ["session.read"] } });
    await users.createUser({ user: { name: "iu1", role: "inuse" } });
    await users.createUser({ user: { name: "iu2", role: "inuse" } });
    await rejects(users.deleteRole({ name: "inuse" }), {
      code: Code.FAILED_PRECONDITION,
      reason: "RESOURCE_IN_USE",
      metadata: { resourceType: "role", name: "inuse", usedBy: "iu1,iu2" },
    });
    await users.deleteUser({ name: "iu1" });
    await rejects(users.deleteRole({ name: "inuse" }), { code: Code.FAILED_PRECONDITION, reason: "RESOURCE_IN_USE", metadata: { usedBy: "iu2" } });
    await users.updateUser({ user: { name: "iu2", role: "viewer" }, updateMask: { paths: ["role"] } });
    const before = await revisionNow();
    expect((await users.deleteRole({ name: "inuse" })).revision).toBe(before + 1n);
    await rejects(users.getRole({ name: "inuse" }), { code: Code.NOT_FOUND, reason: "NOT_FOUND", metadata: { resourceType: "role", name: "inuse" } });
    await rejects(users.deleteRole({ name: "inuse" }), { code: Code.NOT_FOUND, reason: "NOT_FOUND", metadata: { resourceType: "role", name: "inuse" } });
  });
});

describe("UserService API tokens", () => {
  const SECRET = /^orb_([0-9a-f]{12})_[A-Za-z0-9_-]{32}$/;

  beforeAll(async () => {
    await users.createUser({ user: { name: "tess", uid: 3240, role: "operator" } });
  });

  it("returns the secret once, at creation, with the token's metadata", async () => {
    const expireTime = minutesFromNow(60);
    const res = await users.createApiToken({ token: { user: "tess", description: "grafana", expireTime } });
    expect(res.secret).toMatch(SECRET);
    expect(SECRET.exec(res.secret)?.[1]).toBe(res.token?.id);
    expect(res.token).toMatchObject({ user: "tess", description: "grafana" });
    expect(ms(res.token?.expireTime)).toBe(ms(expireTime));
    expect(Math.abs(ms(res.token?.createTime) - Date.now())).toBeLessThan(60_000);
    expect(res.token?.revokeTime).toBeUndefined();
    // Output-only fields from the client are ignored: the daemon assigns the id and times, nothing starts revoked.
    const again = await users.createApiToken({ token: { user: "tess", id: "aaaaaaaaaaaa", createTime: minutesFromNow(-60), revokeTime: minutesFromNow(-1) } });
    expect(again.token?.id).not.toBe("aaaaaaaaaaaa");
    expect(again.token?.revokeTime).toBeUndefined();
    expect(Math.abs(ms(again.token?.createTime) - Date.now())).toBeLessThan(60_000);
    expect(again.secret).not.toBe(res.secret);
    expect(again.token?.id).not.toBe(res.token?.id);
  });

  it("never shows a secret or hash again: ListApiTokens carries metadata only, also as JSON to a viewer", async () => {
    const { token, secret } = await users.createApiToken({ token: { user: "tess", description: "listed" } });
    expect(ApiTokenSchema.fields.map((f) => f.name).sort()).toEqual(["create_time", "description", "expire_time", "id", "revoke_time", "user"]);
    const r = await callAs(d.socketPath, VIEWER_UID, "orbital.user.v1.UserService/ListApiTokens", { user: "tess" });
    expect(r.error).toBeUndefined();
    const text = JSON.stringify(r.responses);
    expect(text).toContain(token!.id);
    expect(text).not.toContain(secret);
    expect(secretRandom(secret)).toHaveLength(32);
    expect(text).not.toContain(secretRandom(secret));
    expect(text).not.toMatch(/scrypt|hash|secret/i);
    const listed = (r.responses?.[0] as { tokens: Record<string, unknown>[] }).tokens;
    expect(listed.map((t) => t.id)).toContain(token!.id);
    for (const t of listed) expect(Object.keys(t).every((k) => ["id", "user", "description", "expireTime", "createTime", "revokeTime"].includes(k))).toBe(true);
    // The configuration holds the hashes; reading it (config.read, which viewers have) must not show them either.
    const rev = await callAs(d.socketPath, VIEWER_UID, "orbital.config.v1.ConfigService/GetRevision", {});
    expect(rev.error).toBeUndefined();
    const revText = JSON.stringify(rev.responses);
    expect(revText).toContain(token!.id);
    expect(revText).not.toContain(secretRandom(secret));
    expect(revText).not.toMatch(/scrypt/i);
    const revoked = await users.revokeApiToken({ id: token!.id });
    expect(JSON.stringify(revoked, (_k, v: unknown) => (typeof v === "bigint" ? String(v) : v))).not.toContain(secretRandom(secret));
  });

  it("filters by user", async () => {
    await users.createApiToken({ token: { user: "root", description: "root's" } });
    const { tokens } = await users.listApiTokens({ user: "root" });
    expect(tokens.length).toBeGreaterThan(0);
    expect(tokens.every((t) => t.user === "root")).toBe(true);
  });

  it("refuses an expire_time in the past, an empty user, a long description: INVALID_FIELD", async () => {
    await rejects(users.createApiToken({ token: { user: "tess", expireTime: minutesFromNow(-1) } }), {
      code: Code.INVALID_ARGUMENT,
      reason: "INVALID_FIELD",
      metadata: { field: "token.expire_time" },
      fields: ["token.expire_time"],
    });
    await rejects(users.createApiToken({ token: { user: "", description: "d".repeat(256) } }), {
      code: Code.INVALID_ARGUMENT,
      reason: "INVALID_FIELD",
      metadata: { field: "token.user" },
      fields: ["token.user", "token.description"],
    });
  });

  it("refuses a token for a user that does not exist: NOT_FOUND", async () => {
    await rejects(users.createApiToken({ token: { user: "nobody" } }), { code: Code.NOT_FOUND, reason: "NOT_FOUND", metadata: { resourceType: "user", name: "nobody" } });
  });

  it("revokes at once; revoking twice is not an error and keeps the first revoke_time", async () => {
    const { token } = await users.createApiToken({ token: { user: "tess", description: "revoke me" } });
    const first = await users.revokeApiToken({ id: token!.id });
    expect(first.token).toMatchObject({ id: token!.id, user: "tess" });
    expect(Math.abs(ms(first.token?.revokeTime) - Date.now())).toBeLessThan(60_000);
    const second = await users.revokeApiToken({ id: token!.id });
    expect(ms(second.token?.revokeTime)).toBe(ms(first.token?.revokeTime));
    const listed = (await users.listApiTokens({ user: "tess" })).tokens.find((t) => t.id === token!.id);
    expect(ms(listed?.revokeTime)).toBe(ms(first.token?.revokeTime));
  });

  it("answers NOT_FOUND for revoking a token that does not exist", async () => {
    await rejects(users.revokeApiToken({ id: "0123456789ab" }), { code: Code.NOT_FOUND, reason: "NOT_FOUND", metadata: { resourceType: "token", name: "0123456789ab" } });
  });
});

describe("transaction_id on mutations (no such transaction): TRANSACTION_NOT_FOUND, nothing changes", () => {
  beforeAll(async () => {
    await users.createUser({ user: { name: "txu", uid: 3250, role: "viewer" } });
    await users.createRole({ role: { name: "txr", capabilities: ["session.read"] } });
  });

  const cases: [string, () => Promise<unknown>][] = [
    ["CreateUser", () => users.createUser({ user: { name: "txnew", role: "viewer" }, transactionId: NO_TX })],
    ["UpdateUser", () => users.updateUser({ user: { name: "txu", role: "admin" }, updateMask: { paths: ["role"] }, transactionId: NO_TX })],
    ["DeleteUser", () => users.deleteUser({ name: "txu", transactionId: NO_TX })],
    ["CreateRole", () => users.createRole({ role: { name: "txnew", capabilities: [] }, transactionId: NO_TX })],
    ["UpdateRole", () => users.updateRole({ role: { name: "txr", capabilities: ["user.write"] }, transactionId: NO_TX })],
    ["DeleteRole", () => users.deleteRole({ name: "txr", transactionId: NO_TX })],
    ["UpdateSettings", () => system.updateSettings({ settings: { hostname: "txhost" }, updateMask: { paths: ["hostname"] }, transactionId: NO_TX })],
  ];
  it.each(cases)("%s", async (_name, call) => {
    const before = await revisionNow();
    await rejects(call(), { code: Code.NOT_FOUND, reason: "TRANSACTION_NOT_FOUND", metadata: { transactionId: NO_TX } });
    expect(await revisionNow()).toBe(before);
    expect((await users.getUser({ name: "txu" })).user?.role).toBe("viewer");
    expect((await users.getRole({ name: "txr" })).role?.capabilities).toEqual(["session.read"]);
    await rejects(users.getUser({ name: "txnew" }), { code: Code.NOT_FOUND, reason: "NOT_FOUND", metadata: { name: "txnew" } });
    expect((await system.getSettings({})).settings?.hostname).not.toBe("txhost");
  });
});

describe("UserService mutations inside a transaction", () => {
  it("stage with revision 0, stay invisible until Commit, then land as one revision", async () => {
    const config = d.client(ConfigService);
    const tx = (await config.begin({})).transaction!.id;
    const before = await revisionNow();
    const staged = await users.createUser({ user: { name: "stan", uid: 3270, role: "viewer" }, transactionId: tx });
    expect(staged.revision).toBe(0n);
    expect(staged.user).toMatchObject({ name: "stan", uid: 3270 });
    await rejects(users.getUser({ name: "stan" }), { code: Code.NOT_FOUND, reason: "NOT_FOUND", metadata: { resourceType: "user", name: "stan" } });
    expectFailure((await callAs(d.socketPath, 3270, "orbital.user.v1.UserService/WhoAmI")).error, { code: Code.UNAUTHENTICATED, reason: "UNKNOWN_PEER" });
    // Staged changes are validated against the candidate: the same name twice in one transaction is refused.
    await rejects(users.createUser({ user: { name: "stan", role: "viewer" }, transactionId: tx }), {
      code: Code.ALREADY_EXISTS,
      reason: "ALREADY_EXISTS",
      metadata: { resourceType: "user", name: "stan" },
    });
    expect(await revisionNow()).toBe(before);
    expect((await config.commit({ transactionId: tx })).revision?.revision).toBe(before + 1n);
    expect((await users.getUser({ name: "stan" })).user).toMatchObject({ uid: 3270, role: "viewer" });
    expect((await callAs(d.socketPath, 3270, "orbital.user.v1.UserService/WhoAmI")).responses?.[0]).toMatchObject({ user: "stan" });
  });

  it("refuses another principal's transaction: TRANSACTION_NOT_OWNED", async () => {
    await users.createUser({ user: { name: "ada", uid: 3271, role: "admin" } });
    const tx = (await d.client(ConfigService).begin({})).transaction!.id;
    const r = await callAs(d.socketPath, 3271, "orbital.user.v1.UserService/CreateUser", { user: { name: "sneaky", role: "admin" }, transactionId: tx });
    expectFailure(r.error, { code: Code.PERMISSION_DENIED, reason: "TRANSACTION_NOT_OWNED", metadata: { transactionId: tx, owner: "root" } });
    await d.client(ConfigService).discard({ transactionId: tx });
  });

  it("never lets two users share a uid, even when two transactions each add one and commit in turn", async () => {
    const config = d.client(ConfigService);
    const t1 = (await config.begin({})).transaction!.id;
    const t2 = (await config.begin({})).transaction!.id;
    await users.createUser({ user: { name: "twin-a", uid: 3280, role: "viewer" }, transactionId: t1 });
    await users.createUser({ user: { name: "twin-b", uid: 3280, role: "admin" }, transactionId: t2 });
    await config.commit({ transactionId: t1 });
    const second = await config.commit({ transactionId: t2 }).then(
      () => undefined,
      (e: OrbitalError) => e,
    );
    const holders = (await users.listUsers({})).users.filter((u) => u.uid === 3280).map((u) => u.name);
    expect(holders).toEqual(["twin-a"]);
    // Either reason tells the truth: the uid is taken, or the running configuration moved under the transaction.
    expect(["ALREADY_EXISTS", "CONFIG_CONFLICT"]).toContain(second?.reason);
  });
});

describe("SystemService", () => {
  it("GetVersion: build information, the 8 API packages served, uptime and start time", async () => {
    const pkg = JSON.parse(readFileSync(path.join(repoRoot, "package.json"), "utf8")) as { version: string };
    const v = await system.getVersion({});
    expect(v.apiPackages).toEqual([
      "orbital.config.v1",
      "orbital.firewall.v1",
      "orbital.interface.v1",
      "orbital.package.v1",
      "orbital.routing.v1",
      "orbital.system.v1",
      "orbital.update.v1",
      "orbital.user.v1",
    ]);
    expect(v.build).toMatchObject({ version: pkg.version, runtimeVersion: process.version, architecture: os.machine(), kernelRelease: os.release() });
    expect(v.build?.commit).toMatch(/^([0-9a-f]{12}|unknown)$/);
    expect(v.build?.buildTime).toBeDefined();
    const uptimeMs = Number(v.uptime!.seconds) * 1000 + v.uptime!.nanos / 1e6;
    expect(uptimeMs).toBeGreaterThan(0);
    expect(Math.abs(ms(v.startTime) + uptimeMs - Date.now())).toBeLessThan(5_000);
    await new Promise((r) => setTimeout(r, 20));
    const later = await system.getVersion({});
    expect(Number(later.uptime!.seconds) * 1000 + later.uptime!.nanos / 1e6).toBeGreaterThan(uptimeMs);
    expect(ms(later.startTime)).toBe(ms(v.startTime));
  });

  /** A read RPC of each service, called as root with {}: SERVICE_NOT_IMPLEMENTED tells an unbuilt service. */
  async function notImplementedServices(): Promise<Set<string>> {
    const out = new Set<string>();
    for (const s of apiServices) {
      const m = s.methods.find((x) => x.methodKind === "unary" && requiredCapability(x)?.endsWith(".read"))!;
      const client = d.client(s) as unknown as Record<string, (r: unknown) => Promise<unknown>>;
      const err = await client[m.localName]!({}).then(
        () => undefined,
        (e: OrbitalError) => e,
      );
      if (err?.reason === "SERVICE_NOT_IMPLEMENTED") out.add(s.typeName);
    }
    return out;
  }

  it("GetHealth: one entry per contract service, NOT_SERVING exactly for the unimplemented ones, SERVING for user and system", async () => {
    const missing = await notImplementedServices();
    const h = await system.getHealth({});
    expect(h.services.map((s) => s.service)).toEqual(apiServices.map((s) => s.typeName).sort());
    for (const s of h.services) {
      if (missing.has(s.service)) {
        expect(s.status, s.service).toBe(HealthStatus.NOT_SERVING);
        expect(s.detail, s.service).not.toBe("");
      } else {
        expect({ service: s.service, status: s.status, detail: s.detail }).toEqual({ service: s.service, status: HealthStatus.SERVING, detail: "" });
      }
    }
    expect(missing.has(UserService.typeName) || missing.has(SystemService.typeName)).toBe(false);
    expect(h.status).toBe(missing.size > 0 ? HealthStatus.NOT_SERVING : HealthStatus.SERVING);
    expect(h.activeRevision).toBeGreaterThan(0n);
    expect(h.configFallback).toBe(false);
  });

  it("answers UNIMPLEMENTED/SERVICE_NOT_IMPLEMENTED on every RPC of a service not served, e.g. RoutingService.ListRoutes", async () => {
    const missing = await notImplementedServices();
    expect(missing).toEqual(new Set([UpdateService.typeName])); // the one this daemon was told to turn off
    if (missing.has(RoutingService.typeName)) {
      await rejects(d.client(RoutingService).listRoutes({}), { code: Code.UNIMPLEMENTED, reason: "SERVICE_NOT_IMPLEMENTED", metadata: { service: RoutingService.typeName } });
    }
    for (const s of apiServices.filter((x: DescService) => missing.has(x.typeName))) {
      const client = d.client(s) as unknown as Record<string, (r: unknown) => unknown>;
      for (const m of s.methods as readonly DescMethod[]) {
        const call = client[m.localName]!;
        const p =
          m.methodKind === "server_streaming"
            ? (async () => {
                for await (const _ of call({}) as AsyncIterable<unknown>) throw new Error(`${m.name} streamed a message`);
              })()
            : (call(m.methodKind === "client_streaming" ? [] : {}) as Promise<unknown>);
        await rejects(p, { code: Code.UNIMPLEMENTED, reason: "SERVICE_NOT_IMPLEMENTED", metadata: { service: s.typeName } });
      }
    }
  });

  describe("GetMetrics", () => {
    /** The value of a series, summed over the transports (a label of every series). */
    const sum = (text: string, prefix: string, suffix: string) =>
      text
        .split("\n")
        .filter((l) => l.startsWith(prefix) && /transport="(grpc|fast|rest)"/.test(l) && l.includes(`${suffix} `))
        .reduce((n, l) => n + Number(l.split(" ").at(-1)), 0);
    const counter = (text: string, method: string, code: string) => sum(text, `orbital_rpc_calls_total{method="${method}",`, `code="${code}"}`);
    const histogramCount = (text: string, method: string) => sum(text, `orbital_rpc_duration_seconds_count{method="${method}",`, `"}`);

    it("counts each finished call once, by method and code, in Prometheus text format", async () => {
      const getRole = "/orbital.user.v1.UserService/GetRole";
      const updateSettings = "/orbital.system.v1.SystemService/UpdateSettings";
      const before = (await system.getMetrics({})).text;
      expect(before).toMatch(/^# HELP orbital_rpc_calls_total .+\n# TYPE orbital_rpc_calls_total counter\n/);
      for (let i = 0; i < 3; i++) await users.getRole({ name: "viewer" });
      for (let i = 0; i < 2; i++) await users.getRole({ name: "absent" }).catch(() => undefined);
      for (let i = 0; i < 2; i++) expect((await callAs(d.socketPath, VIEWER_UID, `orbital.system.v1.SystemService/UpdateSettings`, { settings: {} })).error?.code).toBe(Code.PERMISSION_DENIED);
      const after = (await system.getMetrics({})).text;
      expect(counter(after, getRole, "OK") - counter(before, getRole, "OK")).toBe(3);
      expect(counter(after, getRole, "NOT_FOUND") - counter(before, getRole, "NOT_FOUND")).toBe(2);
      expect(histogramCount(after, getRole) - histogramCount(before, getRole)).toBe(5);
      expect(counter(after, updateSettings, "PERMISSION_DENIED") - counter(before, updateSettings, "PERMISSION_DENIED")).toBe(2);
      // The SDK's calls went over the fast path: its +Inf bucket holds them all.
      expect(after).toContain(`orbital_rpc_duration_seconds_bucket{method="${getRole}",transport="fast",le="+Inf"} ${histogramCount(after, getRole)}`);
    });
  });

  describe("settings", () => {
    it("GetSettings starts empty: no hostname, REST off", async () => {
      const { settings } = await system.getSettings({});
      expect(settings?.hostname).toBe("");
      expect(settings?.rest?.enabled ?? false).toBe(false);
    });

    it("UpdateSettings changes the masked fields, commits a revision, and GetSettings shows it", async () => {
      const before = await revisionNow();
      const a = await system.updateSettings({ settings: { hostname: "edge-1", rest: { enabled: true, port: 1 } }, updateMask: { paths: ["hostname"] } });
      expect(a.revision).toBe(before + 1n);
      expect(a.settings?.hostname).toBe("edge-1");
      expect(a.settings?.rest).toBeUndefined();
      const b = await system.updateSettings({ settings: { rest: { enabled: true, port: 8080, address: "::1" } }, updateMask: { paths: ["rest.enabled", "rest.port"] } });
      expect(b.settings).toMatchObject({ hostname: "edge-1", rest: { enabled: true, port: 8080, address: "" } });
      expect((await system.getSettings({})).settings).toMatchObject({ hostname: "edge-1", rest: { enabled: true, port: 8080 } });
      expect(await revisionNow()).toBe(b.revision);
    });

    it("treats an empty mask as every field", async () => {
      const { settings } = await system.updateSettings({ settings: { hostname: "edge-2" } });
      expect(settings?.hostname).toBe("edge-2");
      expect(settings?.rest).toBeUndefined();
    });

    it("refuses a request without settings instead of resetting everything: INVALID_FIELD settings", async () => {
      const before = await revisionNow();
      await rejects(system.updateSettings({}), { code: Code.INVALID_ARGUMENT, reason: "INVALID_FIELD", metadata: { field: "settings" }, fields: ["settings"] });
      expect(await revisionNow()).toBe(before);
      expect((await system.getSettings({})).settings?.hostname).toBe("edge-2");
    });

    it.each(["-edge", "edge-", "h".repeat(64), "under_score", "dot.ted"])("refuses the hostname %j: INVALID_FIELD settings.hostname", async (hostname) => {
      await rejects(system.updateSettings({ settings: { hostname }, updateMask: { paths: ["hostname"] } }), {
        code: Code.INVALID_ARGUMENT,
        reason: "INVALID_FIELD",
        metadata: { field: "settings.hostname" },
        fields: ["settings.hostname"],
      });
    });

    it("validates the REST listener: port range, certificate and key together, the address", async () => {
      await rejects(system.updateSettings({ settings: { rest: { enabled: true, port: 70000 } }, updateMask: { paths: ["rest"] } }), {
        code: Code.INVALID_ARGUMENT,
        reason: "INVALID_FIELD",
        metadata: { field: "settings.rest.port" },
        fields: ["settings.rest.port"],
      });
      await rejects(system.updateSettings({ settings: { rest: { enabled: true, tlsCertificatePath: "/data/tls/cert.pem" } }, updateMask: { paths: ["rest"] } }), {
        code: Code.INVALID_ARGUMENT,
        reason: "INVALID_FIELD",
        metadata: { field: "settings.rest.tls_key_path" },
        fields: ["settings.rest.tls_key_path"],
      });
      await rejects(system.updateSettings({ settings: { rest: { enabled: true, address: "not-an-ip" } }, updateMask: { paths: ["rest"] } }), {
        code: Code.INVALID_ARGUMENT,
        reason: "INVALID_ADDRESS",
        metadata: { field: "settings.rest.address", value: "not-an-ip" },
        fields: ["settings.rest.address"],
      });
      for (const address of ["", "192.0.2.1", "2001:db8::1"]) {
        expect((await system.updateSettings({ settings: { rest: { enabled: true, address } }, updateMask: { paths: ["rest"] } })).settings?.rest?.address).toBe(address);
      }
    });

    it.each(["bogus", "rest.bogus", "hostname.x", "rest.port.x"])("refuses update_mask %j: INVALID_FIELD_MASK", async (p) => {
      const before = (await system.getSettings({})).settings;
      await rejects(system.updateSettings({ settings: { hostname: "mask-test" }, updateMask: { paths: [p] } }), {
        code: Code.INVALID_ARGUMENT,
        reason: "INVALID_FIELD_MASK",
        metadata: { path: p },
        fields: ["update_mask"],
      });
      expect((await system.getSettings({})).settings).toEqual(before);
    });
  });
});

describe("paging (fresh daemon: root and 4 users)", () => {
  let p: RunningDaemon;
  let pu: Client<typeof UserService>;
  beforeAll(async () => {
    p = await startDaemon();
    pu = p.client(UserService);
    for (const name of ["dan", "ana", "cyd", "bob"]) await pu.createUser({ user: { name, role: "viewer" } });
    for (let i = 0; i < 3; i++) await pu.createApiToken({ token: { user: "ana", description: `t${i}` } });
    await pu.createApiToken({ token: { user: "bob" } });
  });
  afterAll(() => p.cleanup());

  it("walks 5 users 2 at a time with next tokens; total_size on every page; empty token on the last", async () => {
    const pages: string[][] = [];
    let token = "";
    do {
      const { users: page, page: info } = await pu.listUsers({ page: { size: 2, token } });
      expect(info?.totalSize).toBe(5);
      pages.push(page.map((u) => u.name));
      token = info?.nextToken ?? "";
    } while (token !== "" && pages.length < 10);
    expect(pages).toEqual([["ana", "bob"], ["cyd", "dan"], ["root"]]);
    const all = await pu.listUsers({});
    expect(all.users.map((u) => u.name)).toEqual(["ana", "bob", "cyd", "dan", "root"]);
    expect(all.page).toMatchObject({ nextToken: "", totalSize: 5 });
  });

  it("pages roles the same way", async () => {
    const first = await pu.listRoles({ page: { size: 2 } });
    expect(first.roles.map((r) => r.name)).toEqual(["admin", "operator"]);
    const second = await pu.listRoles({ page: { size: 2, token: first.page!.nextToken } });
    expect(second.roles.map((r) => r.name)).toEqual(["viewer"]);
    expect(second.page).toMatchObject({ nextToken: "", totalSize: 3 });
  });

  it("refuses a token issued for another query, or made up: INVALID_PAGE_TOKEN (no metadata)", async () => {
    const x = { code: Code.INVALID_ARGUMENT, reason: "INVALID_PAGE_TOKEN" };
    const rolesToken = (await pu.listRoles({ page: { size: 1 } })).page!.nextToken;
    expect(rolesToken).not.toBe("");
    await rejects(pu.listUsers({ page: { size: 1, token: rolesToken } }), x);
    const anaToken = (await pu.listApiTokens({ user: "ana", page: { size: 2 } })).page!.nextToken;
    expect(anaToken).not.toBe("");
    expect((await pu.listApiTokens({ user: "ana", page: { size: 2, token: anaToken } })).tokens).toHaveLength(1);
    await rejects(pu.listApiTokens({ user: "bob", page: { size: 2, token: anaToken } }), x);
    await rejects(pu.listUsers({ page: { token: "not-a-token" } }), x);
  });

  it.each([1001, -1])("refuses page.size %d: INVALID_FIELD page.size", async (size) => {
    await rejects(pu.listUsers({ page: { size } }), { code: Code.INVALID_ARGUMENT, reason: "INVALID_FIELD", metadata: { field: "page.size" }, fields: ["page.size"] });
  });

  it("accepts page.size 1000", async () => {
    expect((await pu.listUsers({ page: { size: 1000 } })).users).toHaveLength(5);
  });
});

describe("persistence across a restart on the same data dir", () => {
  it("keeps users, roles, tokens, settings and the revision; uids map again", async () => {
    const d1 = await startDaemon();
    let d2: RunningDaemon | undefined;
    try {
      const c1 = clientsOf(d1);
      await c1.users.createRole({ role: { name: "keeper", capabilities: ["session.read", "user.read"] } });
      const created = (await c1.users.createUser({ user: { name: "perry", uid: 3260, role: "keeper", description: "persists" } })).user!;
      const { token } = await c1.users.createApiToken({ token: { user: "perry", description: "survives" } });
      await c1.system.updateSettings({ settings: { hostname: "keep-1" }, updateMask: { paths: ["hostname"] } });
      const revision = (await c1.system.getHealth({})).activeRevision;
      await d1.stop();

      d2 = await startDaemon({ dataDir: d1.dataDir });
      const c2 = clientsOf(d2);
      const user = (await c2.users.getUser({ name: "perry" })).user!;
      expect(user).toMatchObject({ name: "perry", uid: 3260, role: "keeper", description: "persists" });
      expect(ms(user.createTime)).toBe(ms(created.createTime));
      expect((await c2.users.getRole({ name: "keeper" })).role?.capabilities).toEqual(["session.read", "user.read"]);
      expect((await c2.users.listApiTokens({ user: "perry" })).tokens.map((t) => [t.id, t.description])).toEqual([[token!.id, "survives"]]);
      expect((await c2.system.getSettings({})).settings?.hostname).toBe("keep-1");
      expect((await c2.system.getHealth({})).activeRevision).toBe(revision);
      const who = await callAs(d2.socketPath, 3260, "orbital.user.v1.UserService/WhoAmI");
      expect(who.responses?.[0]).toMatchObject({ user: "perry", role: "keeper", capabilities: ["session.read", "user.read"] });
      const next = await c2.users.createUser({ user: { name: "after", role: "viewer" } });
      expect(next.revision).toBe(revision + 1n);
    } finally {
      await d2?.cleanup();
      await d1.cleanup();
    }
  });
});
