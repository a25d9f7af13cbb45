// Validation of a configuration before it is committed: the cross references between items (a user's
// role exists, a token's user exists, a route's interface exists, a firewall rule's or a fast-path list's
// prefix set exists). A commit checks only the references a changed section takes part in (either end), so
// that a change of users does not walk a million routes; a commit of single routes checks just those.
// Rules about single fields are checked when an item is staged, by its service.
import type { Configuration } from "../../gen/orbital/config/v1/configuration_pb.js";
import type { Route } from "../../gen/orbital/routing/v1/routing_pb.js";
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

/**
 * Checks the references of `c`; with `changed` (section names), only those a changed section takes part in
 * (the others held in the configuration it was made from).
 */
export function validateConfiguration(c: Configuration, changed?: ReadonlySet<string>): void {
  const involves = (...sections: string[]) => !changed || sections.some((s) => changed.has(s));
  if (involves("users", "roles", "api_tokens")) validateUsers(c);
  if (involves("interfaces")) {
    const interfaces = new Set(c.interfaces.map((i) => i.name));
    for (const i of c.interfaces) if (i.vlan && !interfaces.has(i.vlan.parent)) throw missing("interface", i.name, "interface", i.vlan.parent);
  }
  if (involves("routes", "interfaces")) validateRoutes(c, c.routes);
  if (involves("firewall_rules", "prefix_sets", "fast_path_lists")) {
    const sets = new Set(c.prefixSets.map((s) => s.name));
    for (const rule of c.firewallRules) {
      for (const set of rulePrefixSets(rule)) if (!sets.has(set)) throw missing("firewall rule", rule.name, "prefix set", set);
    }
    for (const l of c.fastPathLists) if (!sets.has(l.prefixSet)) throw missing("fast-path list", l.prefixSet, "prefix set", l.prefixSet);
  }
}

/** The references of routes put into `c` (their interfaces: a configured one, or none). */
export function validateRoutes(c: Configuration, routes: Iterable<Route>): void {
  let interfaces: Set<string> | undefined;
  for (const r of routes) {
    if (!r.interface) continue;
    interfaces ??= new Set(c.interfaces.map((i) => i.name));
    if (!interfaces.has(r.interface)) throw missing("route", routeKey(r), "interface", r.interface);
  }
}

function validateUsers(c: Configuration): void {
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
}
