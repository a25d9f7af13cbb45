// Validation of a whole configuration before it is committed: the cross references between items (a user's
// role exists, a token's user exists, a route's interface exists, a firewall rule's or a fast-path list's
// prefix set exists).
// Rules about single fields are checked when an item is staged, by its service.
import type { Configuration } from "../../gen/orbital/config/v1/configuration_pb.js";
import { ErrorReason } from "../../gen/orbital/api/v1/error_reason_pb.js";
import { OrbitalError } from "../../common/errors.js";
import { isBuiltinRole, SUPERUSER } from "../users/user-directory.js";
import { routeKey, rulePrefixSets } from "./collections.js";

function missing(resourceType: string, name: string, referencedType: string, referencedName: string): OrbitalError {
  return new OrbitalError({
    reason: ErrorReason.REFERENCE_MISSING,
    message: `${resourceType} "${name}" refers to ${referencedType} "${referencedName}", which does not exist`,
    metadata: { resourceType, name, referencedType, referencedName },
  });
}

export function validateConfiguration(c: Configuration): void {
  // Two transactions may each add a user with the same uid; merged, a uid would map to two principals.
  const uidOwner = new Map<number, string>();
  for (const u of c.users) {
    if (u.uid === undefined) continue;
    const other = uidOwner.get(u.uid);
    if (other !== undefined) {
      throw new OrbitalError({ reason: ErrorReason.ALREADY_EXISTS, message: `uid ${u.uid} belongs to both "${other}" and "${u.name}"`, metadata: { resourceType: "user", name: other } });
    }
    uidOwner.set(u.uid, u.name);
  }
  const roles = new Set(c.roles.map((r) => r.name));
  for (const u of c.users) if (!isBuiltinRole(u.role) && !roles.has(u.role)) throw missing("user", u.name, "role", u.role);
  const users = new Set([SUPERUSER, ...c.users.map((u) => u.name)]);
  for (const t of c.apiTokens) if (!users.has(t.user) && !t.revokeTime) throw missing("token", t.id, "user", t.user);
  const interfaces = new Set(c.interfaces.map((i) => i.name));
  for (const i of c.interfaces) if (i.vlan && !interfaces.has(i.vlan.parent)) throw missing("interface", i.name, "interface", i.vlan.parent);
  for (const r of c.routes) if (r.interface && !interfaces.has(r.interface)) throw missing("route", routeKey(r), "interface", r.interface);
  const sets = new Set(c.prefixSets.map((s) => s.name));
  for (const rule of c.firewallRules) {
    for (const set of rulePrefixSets(rule)) if (!sets.has(set)) throw missing("firewall rule", rule.name, "prefix set", set);
  }
  for (const l of c.fastPathLists) if (!sets.has(l.prefixSet)) throw missing("fast-path list", l.prefixSet, "prefix set", l.prefixSet);
}
