// Answers identity questions from the running configuration: which user owns a uid, which role a user has,
// which capabilities a role holds (built-in roles from the capability catalogue, custom roles from config).
import { BuiltinRole } from "../../gen/orbital/api/v1/capability_pb.js";
import type { User, Role } from "../../gen/orbital/user/v1/user_pb.js";
import { builtinRoleCapabilities, builtinRoleName } from "../../common/capabilities.js";
import type { Configuration } from "../../gen/orbital/config/v1/configuration_pb.js";

export const SUPERUSER = "root";

const builtinRoles = new Map<string, ReadonlySet<string>>(
  [BuiltinRole.ADMIN, BuiltinRole.OPERATOR, BuiltinRole.VIEWER].map((r) => [builtinRoleName(r), new Set(builtinRoleCapabilities(r))]),
);

export function isBuiltinRole(name: string): boolean {
  return builtinRoles.has(name);
}

/** Built-in roles in catalogue order, as API resources. */
export function builtinRoleResources(): { name: string; capabilities: string[]; builtin: true }[] {
  return [...builtinRoles].map(([name, caps]) => ({ name, capabilities: [...caps], builtin: true as const }));
}

export class UserDirectory {
  constructor(private readonly store: { readonly running: Configuration }) {}

  /** The user a uid maps to: uid 0 is the built-in superuser. */
  userByUid(uid: number): Pick<User, "name" | "role"> | undefined {
    if (uid === 0) return { name: SUPERUSER, role: "admin" };
    return this.store.running.users.find((u) => u.uid === uid);
  }

  userByName(name: string): Pick<User, "name" | "role"> | undefined {
    if (name === SUPERUSER) return { name: SUPERUSER, role: "admin" };
    return this.store.running.users.find((u) => u.name === name);
  }

  customRole(name: string): Role | undefined {
    return this.store.running.roles.find((r) => r.name === name);
  }

  /** Capabilities of a role; empty for a role that does not exist (a dangling role grants nothing). */
  capabilitiesOf(role: string): ReadonlySet<string> {
    return builtinRoles.get(role) ?? new Set(this.customRole(role)?.capabilities ?? []);
  }
}
