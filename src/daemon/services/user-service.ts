// User & RBAC service: users, roles, API tokens and who-am-I, over the running configuration. Validation
// follows the field comments of orbital/user/v1/user.proto.
import { clone, create } from "@bufbuild/protobuf";
import { timestampDate, timestampFromDate, timestampNow } from "@bufbuild/protobuf/wkt";
import { ErrorReason } from "../../gen/orbital/api/v1/error_reason_pb.js";
import { ApiTokenSchema, AuthMethod, RoleSchema, UserSchema, type ApiToken, type Role, type User, type UserService } from "../../gen/orbital/user/v1/user_pb.js";
import type { Configuration } from "../../gen/orbital/config/v1/configuration_pb.js";
import { isCapabilityName } from "../../common/capabilities.js";
import { OrbitalError } from "../../common/errors.js";
import type { ServiceImpl } from "../rpc/service-impl.js";
import type { ConfigEngine } from "../config/config-engine.js";
import { builtinRoleResources, isBuiltinRole, SUPERUSER } from "../users/user-directory.js";
import { mintToken } from "../users/token-secrets.js";
import { applyFieldMask } from "../validation/field-mask.js";
import { paginate } from "../validation/pagination.js";
import { checkDescription, Violations } from "../validation/violations.js";
import { alreadyExists, inUse, notFound } from "./resource-errors.js";

const USER_NAME = /^[a-z_][a-z0-9_-]{0,31}$/;
const ROLE_NAME = /^[a-z][a-z0-9-]{0,31}$/;
const MAX_UID = 4294967294;


function immutable(name: string): OrbitalError {
  return new OrbitalError({ reason: ErrorReason.BUILTIN_IMMUTABLE, message: `"${name}" is built in and cannot be changed`, metadata: { name } });
}

function roleExists(config: Configuration, name: string): boolean {
  return isBuiltinRole(name) || config.roles.some((r) => r.name === name);
}

const rootUser = (): User => create(UserSchema, { name: SUPERUSER, uid: 0, role: "admin", description: "built-in superuser", builtin: true });

/** Checks a user against the rules of its proto comments and the rest of the configuration. */
function validateUser(config: Configuration, user: User, field: string): void {
  const v = new Violations();
  v.check(USER_NAME.test(user.name), `${field}.name`, "1..32 characters matching ^[a-z_][a-z0-9_-]*$");
  if (user.uid !== undefined) {
    v.check(user.uid >= 1 && user.uid <= MAX_UID, `${field}.uid`, `must be 1..${MAX_UID} (uid 0 is the built-in superuser)`);
  }
  v.check(user.role !== "", `${field}.role`, "is required");
  checkDescription(v, `${field}.description`, user.description);
  v.throwIfAny();
  // The proto promises ALREADY_EXISTS when the uid is taken (as for the name), not INVALID_FIELD: the value is
  // valid, it collides with the existing user named in the metadata.
  const owner = user.uid === undefined ? undefined : config.users.find((u) => u.uid === user.uid && u.name !== user.name);
  if (owner) {
    throw new OrbitalError({
      reason: ErrorReason.ALREADY_EXISTS,
      message: `uid ${user.uid} belongs to user "${owner.name}" already`,
      metadata: { resourceType: "user", name: owner.name },
      violations: [{ field: `${field}.uid`, description: `uid ${user.uid} belongs to user "${owner.name}" already`, reason: "ALREADY_EXISTS" }],
    });
  }
  if (!roleExists(config, user.role)) {
    throw new OrbitalError({
      reason: ErrorReason.REFERENCE_MISSING,
      message: `role "${user.role}" does not exist`,
      metadata: { resourceType: "user", name: user.name, referencedType: "role", referencedName: user.role },
    });
  }
}

function validateRole(role: Role, field: string): void {
  const v = new Violations();
  v.check(ROLE_NAME.test(role.name), `${field}.name`, "1..32 characters matching ^[a-z][a-z0-9-]*$");
  role.capabilities.forEach((c, i) => v.check(isCapabilityName(c), `${field}.capabilities[${i}]`, `"${c}" is not a capability of the catalogue`));
  v.check(new Set(role.capabilities).size === role.capabilities.length, `${field}.capabilities`, "must not repeat a capability");
  checkDescription(v, `${field}.description`, role.description);
  v.throwIfAny();
}

/** A token as the API shows it: metadata only. */
const publicToken = (t: ApiToken): ApiToken => clone(ApiTokenSchema, t);

export function userService(engine: ConfigEngine): ServiceImpl<typeof UserService> {
  const findUser = (config: Configuration, name: string) => config.users.find((u) => u.name === name);
  const findRole = (config: Configuration, name: string) => config.roles.find((r) => r.name === name);

  return {
    async whoAmI(_req, ctx) {
      const p = ctx.principal;
      return {
        user: p.user,
        role: p.role,
        capabilities: [...p.capabilities].sort(),
        authMethod: p.method === "peer" ? AuthMethod.PEER_CREDENTIALS : AuthMethod.API_TOKEN,
        ...(p.peer ? { uid: p.peer.uid, pid: p.peer.pid } : {}),
        tokenId: p.tokenId ?? "",
      };
    },

    async listUsers(req) {
      const all = [rootUser(), ...engine.running.users].sort((a, b) => a.name.localeCompare(b.name));
      const { items, page } = paginate(all, req.page, "users");
      return { users: items, page };
    },

    async getUser(req) {
      if (req.name === SUPERUSER) return { user: rootUser() };
      const user = findUser(engine.running, req.name);
      if (!user) throw notFound("user", req.name);
      return { user };
    },

    async createUser(req, ctx) {
      const user = clone(UserSchema, req.user ?? create(UserSchema));
      user.builtin = false;
      user.createTime = timestampNow();
      if (user.name === SUPERUSER) throw alreadyExists("user", SUPERUSER);
      const { revision } = await engine.mutate(ctx, req.transactionId, (config) => {
        validateUser(config, user, "user");
        if (findUser(config, user.name)) throw alreadyExists("user", user.name);
        config.users.push(user);
        config.users.sort((a, b) => a.name.localeCompare(b.name));
      });
      return { user, revision };
    },

    async updateUser(req, ctx) {
      const name = req.user?.name ?? "";
      if (name === SUPERUSER) throw immutable(SUPERUSER);
      const { result, revision } = await engine.mutate(ctx, req.transactionId, (config) => {
        const i = config.users.findIndex((u) => u.name === name);
        if (i < 0) throw notFound("user", name);
        const updated = applyFieldMask(UserSchema, config.users[i]!, req.user!, req.updateMask, ["uid", "role", "description"]);
        validateUser(config, updated, "user");
        config.users[i] = updated;
        return updated;
      });
      return { user: result, revision };
    },

    async deleteUser(req, ctx) {
      if (req.name === SUPERUSER) throw immutable(SUPERUSER);
      const { revision } = await engine.mutate(ctx, req.transactionId, (config) => {
        const i = config.users.findIndex((u) => u.name === req.name);
        if (i < 0) throw notFound("user", req.name);
        config.users.splice(i, 1);
        for (const t of config.apiTokens) if (t.user === req.name && !t.revokeTime) t.revokeTime = timestampNow();
      });
      return { revision };
    },

    async listRoles(req) {
      const custom = [...engine.running.roles].sort((a, b) => a.name.localeCompare(b.name));
      const all = [...builtinRoleResources().map((r) => create(RoleSchema, r)), ...custom];
      const { items, page } = paginate(all, req.page, "roles");
      return { roles: items, page };
    },

    async getRole(req) {
      const builtin = builtinRoleResources().find((r) => r.name === req.name);
      if (builtin) return { role: builtin };
      const role = findRole(engine.running, req.name);
      if (!role) throw notFound("role", req.name);
      return { role };
    },

    async createRole(req, ctx) {
      const role = clone(RoleSchema, req.role ?? create(RoleSchema));
      role.builtin = false;
      if (isBuiltinRole(role.name)) throw alreadyExists("role", role.name);
      validateRole(role, "role");
      const { revision } = await engine.mutate(ctx, req.transactionId, (config) => {
        if (findRole(config, role.name)) throw alreadyExists("role", role.name);
        config.roles.push(role);
        config.roles.sort((a, b) => a.name.localeCompare(b.name));
      });
      return { role, revision };
    },

    async updateRole(req, ctx) {
      const name = req.role?.name ?? "";
      if (isBuiltinRole(name)) throw immutable(name);
      const { result, revision } = await engine.mutate(ctx, req.transactionId, (config) => {
        const i = config.roles.findIndex((r) => r.name === name);
        if (i < 0) throw notFound("role", name);
        const updated = applyFieldMask(RoleSchema, config.roles[i]!, req.role!, req.updateMask, ["capabilities", "description"]);
        validateRole(updated, "role");
        config.roles[i] = updated;
        return updated;
      });
      return { role: result, revision };
    },

    async deleteRole(req, ctx) {
      if (isBuiltinRole(req.name)) throw immutable(req.name);
      const { revision } = await engine.mutate(ctx, req.transactionId, (config) => {
        const i = config.roles.findIndex((r) => r.name === req.name);
        if (i < 0) throw notFound("role", req.name);
        const users = config.users.filter((u) => u.role === req.name).map((u) => u.name);
        if (users.length > 0) throw inUse("role", req.name, users);
        config.roles.splice(i, 1);
      });
      return { revision };
    },

    async createApiToken(req, ctx) {
      const token = clone(ApiTokenSchema, req.token ?? create(ApiTokenSchema));
      const v = new Violations();
      v.check(token.user !== "", "token.user", "is required");
      checkDescription(v, "token.description", token.description);
      if (token.expireTime) v.check(timestampDate(token.expireTime) > new Date(), "token.expire_time", "must be in the future");
      v.throwIfAny();
      // Refuse unknown users before hashing: scrypt costs 16 MiB and tens of ms per call.
      if (token.user !== SUPERUSER && !findUser(engine.running, token.user)) throw notFound("user", token.user);
      const minted = await mintToken();
      const stored = create(ApiTokenSchema, {
        id: minted.id,
        user: token.user,
        description: token.description,
        createTime: timestampNow(),
        ...(token.expireTime ? { expireTime: token.expireTime } : {}),
      });
      await engine.mutate(ctx, "", (config) => {
        if (token.user !== SUPERUSER && !findUser(config, token.user)) throw notFound("user", token.user);
        config.apiTokens.push(stored);
        config.apiTokenHashes[minted.id] = minted.hash;
      });
      return { token: publicToken(stored), secret: minted.secret };
    },

    async listApiTokens(req) {
      const all = engine.running.apiTokens.filter((t) => req.user === "" || t.user === req.user);
      const { items, page } = paginate(all.map(publicToken), req.page, `tokens:${req.user}`);
      return { tokens: items, page };
    },

    async revokeApiToken(req, ctx) {
      const { result } = await engine.mutate(ctx, "", (config) => {
        const t = config.apiTokens.find((x) => x.id === req.id);
        if (!t) throw notFound("token", req.id);
        t.revokeTime ??= timestampFromDate(new Date());
        return publicToken(t);
      });
      return { token: result };
    },
  };
}
