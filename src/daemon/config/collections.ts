// The keyed parts of the box configuration ("collections": interfaces by name, routes by table and
// destination, ...) and the three operations built on them: a structured diff, a three-way rebase of a
// transaction onto a newer running configuration, and the printable path of every item (single-message
// sections, settings and the package policy, are one item each).
import { clone, create, toJson, type DescMessage, type JsonValue, type Message } from "@bufbuild/protobuf";
import { ConfigurationSchema, type Configuration } from "../../gen/orbital/config/v1/configuration_pb.js";
import { ChangeKind } from "../../gen/orbital/config/v1/config_pb.js";
import { FastPathListSchema, RuleSchema, PrefixSetSchema, type Rule } from "../../gen/orbital/firewall/v1/firewall_pb.js";
import { InterfaceSchema } from "../../gen/orbital/interface/v1/interface_pb.js";
import { RouteSchema, type Route } from "../../gen/orbital/routing/v1/routing_pb.js";
import { SettingsSchema } from "../../gen/orbital/system/v1/system_pb.js";
import { PackagePolicySchema } from "../../gen/orbital/package/v1/package_pb.js";
import { ApiTokenSchema, RoleSchema, UserSchema } from "../../gen/orbital/user/v1/user_pb.js";

/** Main routing table: a route's table 0 means main. */
export const MAIN_TABLE = 254;

export function routeKey(r: Pick<Route, "table" | "destination">): string {
  return `table=${r.table || MAIN_TABLE},destination=${r.destination?.cidr ?? ""}`;
}

const familyRank = (cidr: string) => (cidr.includes(":") ? 6 : 4);
/** One collator for every comparison: localeCompare with options builds one per call. */
const numeric = new Intl.Collator("en", { numeric: true });

/** The order of the configured routes: table, family, destination (numerically). Compares keys only. */
export function compareRoutes(a: Pick<Route, "table" | "destination">, b: Pick<Route, "table" | "destination">): number {
  return (a.table || MAIN_TABLE) - (b.table || MAIN_TABLE) || familyRank(a.destination!.cidr) - familyRank(b.destination!.cidr) || numeric.compare(a.destination!.cidr, b.destination!.cidr);
}

interface Collection {
  /** Proto field name, used in change paths. */
  name: string;
  schema: DescMessage;
  items(c: Configuration): Message[];
  replace(c: Configuration, items: Message[]): void;
  key(item: Message): string;
  /** The order its list is kept in, by key, when it has one (binary search finds an item by key). */
  order?: (a: Message, b: Message) => number;
}

function listCollection<T>(name: string, schema: DescMessage, field: keyof Configuration, key: (i: T) => string, order?: (a: T, b: T) => number): Collection {
  return {
    ...(order ? { order: order as unknown as Collection["order"] } : {}),
    name,
    schema,
    items: (c) => c[field] as unknown as Message[],
    replace: (c, items) => {
      (c as unknown as Record<string, unknown>)[field as string] = items;
    },
    key: (i) => key(i as unknown as T),
  };
}

const collections: Collection[] = [
  listCollection("interfaces", InterfaceSchema, "interfaces", (i: { name: string }) => i.name),
  listCollection("routes", RouteSchema, "routes", (r: Route) => routeKey(r), compareRoutes),
  listCollection("firewall_rules", RuleSchema, "firewallRules", (r: { name: string }) => r.name),
  listCollection("prefix_sets", PrefixSetSchema, "prefixSets", (s: { name: string }) => s.name),
  listCollection("users", UserSchema, "users", (u: { name: string }) => u.name),
  listCollection("roles", RoleSchema, "roles", (r: { name: string }) => r.name),
  listCollection("api_tokens", ApiTokenSchema, "apiTokens", (t: { id: string }) => t.id),
  listCollection("fast_path_lists", FastPathListSchema, "fastPathLists", (l: { prefixSet: string }) => l.prefixSet),
];

/** Sections that are one message each (path = field name): changed, diffed and rebased whole. */
interface SingleSection {
  name: string;
  schema: DescMessage;
  field: "settings" | "packagePolicy";
}

const singleSections: SingleSection[] = [
  { name: "settings", schema: SettingsSchema, field: "settings" },
  { name: "package_policy", schema: PackagePolicySchema, field: "packagePolicy" },
];

const REDACTED = "(secret hash)";

/** Every keyed item of a configuration as path → canonical JSON, settings and token hashes included. */
function flatten(c: Configuration): Map<string, JsonValue> {
  const out = new Map<string, JsonValue>();
  for (const col of collections) {
    for (const item of col.items(c)) out.set(`${col.name}[${col.key(item)}]`, toJson(col.schema, item as never));
  }
  for (const id of Object.keys(c.apiTokenHashes)) out.set(`api_token_hashes[${id}]`, REDACTED);
  for (const s of singleSections) {
    const value = c[s.field];
    if (value) out.set(s.name, toJson(s.schema, value as never));
  }
  return out;
}

export interface ItemChange {
  path: string;
  kind: ChangeKind;
  before?: JsonValue;
  after?: JsonValue;
}

/** Items that differ between two configurations, in path order. */
export function diffConfigurations(before: Configuration, after: Configuration): ItemChange[] {
  const a = flatten(before);
  const b = flatten(after);
  const paths = [...new Set([...a.keys(), ...b.keys()])].sort();
  const changes: ItemChange[] = [];
  for (const path of paths) {
    const x = a.get(path);
    const y = b.get(path);
    if (x === undefined) changes.push({ path, kind: ChangeKind.ADDED, after: y! });
    else if (y === undefined) changes.push({ path, kind: ChangeKind.REMOVED, before: x });
    else if (JSON.stringify(x) !== JSON.stringify(y) || (x === REDACTED && before.apiTokenHashes[idOf(path)] !== after.apiTokenHashes[idOf(path)])) {
      changes.push({ path, kind: ChangeKind.MODIFIED, before: x, after: y });
    }
  }
  return changes;
}

const idOf = (path: string) => /\[(.*)\]$/.exec(path)?.[1] ?? "";

/** A diff as text for terminals: "+", "-" and "~" lines, wrapped at 80 columns. */
export function diffText(changes: ItemChange[]): string {
  const lines: string[] = [];
  const emit = (prefix: string, text: string) => {
    let rest = `${prefix} ${text}`;
    while (rest.length > 80) {
      lines.push(rest.slice(0, 80));
      rest = `    ${rest.slice(80)}`;
    }
    lines.push(rest);
  };
  for (const c of changes) {
    if (c.kind === ChangeKind.ADDED) emit("+", `${c.path} ${JSON.stringify(c.after)}`);
    else if (c.kind === ChangeKind.REMOVED) emit("-", c.path);
    else {
      emit("~", c.path);
      emit("  -", JSON.stringify(c.before));
      emit("  +", JSON.stringify(c.after));
    }
  }
  return lines.length ? `${lines.join("\n")}\n` : "";
}

export interface RebaseResult {
  config?: Configuration;
  conflicts: string[];
}

/**
 * Replays the changes a transaction made to its base onto the newer running configuration. Items changed on
 * both sides, differently, are conflicts; otherwise the result holds both sides' changes.
 */
export function rebase(base: Configuration, candidate: Configuration, running: Configuration): RebaseResult {
  const ours = new Map(diffConfigurations(base, candidate).map((c) => [c.path, c]));
  const theirs = new Map(diffConfigurations(base, running).map((c) => [c.path, c]));
  const conflicts: string[] = [];
  for (const [path, mine] of ours) {
    const other = theirs.get(path);
    if (other && JSON.stringify(other.after) !== JSON.stringify(mine.after)) conflicts.push(path);
  }
  if (conflicts.length) return { conflicts };
  const result = clone(ConfigurationSchema, running);
  for (const col of collections) {
    const byKey = new Map(col.items(result).map((i) => [col.key(i), i]));
    for (const item of col.items(candidate)) if (ours.has(`${col.name}[${col.key(item)}]`)) byKey.set(col.key(item), clone(col.schema, item as never));
    for (const item of col.items(base)) {
      const k = col.key(item);
      if (ours.get(`${col.name}[${k}]`)?.kind === ChangeKind.REMOVED) byKey.delete(k);
    }
    col.replace(result, [...byKey.values()].sort(col.order ?? ((x, y) => col.key(x).localeCompare(col.key(y)))));
  }
  for (const [path, c] of ours) {
    if (!path.startsWith("api_token_hashes[")) continue;
    const id = idOf(path);
    if (c.kind === ChangeKind.REMOVED) delete result.apiTokenHashes[id];
    else result.apiTokenHashes[id] = candidate.apiTokenHashes[id]!;
  }
  for (const s of singleSections) {
    if (!ours.has(s.name)) continue;
    const value = candidate[s.field];
    (result as unknown as Record<string, unknown>)[s.field] = value ? clone(s.schema, value as never) : undefined;
  }
  return { config: result, conflicts };
}

// ----- item changes: what a commit that changes single items of a collection changes, applied in place

/** The collections whose items a commit may change one by one (ItemChanges): routes, the one that grows large. */
export type ItemCollectionName = "routes";

/** Changed items of one collection by key: the new item, or undefined when it is removed. */
export type ItemChanges = Map<string, Message | undefined>;

function collectionNamed(name: string): Collection {
  const col = collections.find((c) => c.name === name);
  if (!col) throw new Error(`no collection ${name}`);
  return col;
}

/**
 * Where the item with `probe`'s key is in the collection's list (found: true), or where it belongs (found:
 * false): binary search in an ordered list (kept in order: see sortOrderedCollections), a scan otherwise.
 */
function locate(col: Collection, list: Message[], probe: Message): { index: number; found: boolean } {
  const key = col.key(probe);
  if (!col.order) {
    const index = list.findIndex((i) => col.key(i) === key);
    return index >= 0 ? { index, found: true } : { index: list.length, found: false };
  }
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (col.order(list[mid]!, probe) < 0) lo = mid + 1;
    else hi = mid;
  }
  return { index: lo, found: lo < list.length && col.key(list[lo]!) === key };
}

/**
 * Puts the lists of ordered collections in their order where they are not (a rebase or an older build may
 * have written them in key order); returns the names of those it sorted. Sorts in place: `config` must be
 * the caller's own.
 */
export function sortOrderedCollections(config: Configuration): string[] {
  const sorted: string[] = [];
  for (const col of collections) {
    if (!col.order) continue;
    const list = col.items(config);
    for (let i = 1; i < list.length; i++) {
      if (col.order(list[i - 1]!, list[i]!) < 0) continue;
      list.sort(col.order);
      sorted.push(col.name);
      break;
    }
  }
  return sorted;
}

/** The item of collection `name` with this key, if there is one. */
export function findItem<T extends Message>(config: Configuration, name: ItemCollectionName, key: string): T | undefined {
  const col = collectionNamed(name);
  const list = col.items(config);
  const at = locate(col, list, keyProbe(col, key));
  return at.found ? (list[at.index] as T) : undefined;
}

/**
 * Applies item changes to the collection's list IN PLACE (kept in order); returns what undoes them. Callers
 * own the list, or are the config engine updating its running configuration (see ConfigEngine).
 */
export function applyItemChanges(config: Configuration, name: string, changes: ItemChanges): () => void {
  const col = collectionNamed(name);
  const list = col.items(config);
  const undo: ItemChanges = new Map();
  for (const [key, item] of changes) {
    const probe = item ?? keyProbe(col, key);
    const at = locate(col, list, probe);
    undo.set(key, at.found ? list[at.index] : undefined);
    if (item && at.found) list[at.index] = item;
    else if (item) list.splice(at.index, 0, item);
    else if (at.found) list.splice(at.index, 1);
  }
  return () => void applyItemChanges(config, name, new Map([...undo].reverse()));
}

/** A message holding just the key fields of `key` (for locating a removed item). */
function keyProbe(col: Collection, key: string): Message {
  if (col.name !== "routes") throw new Error(`collection ${col.name} has no key probe`);
  const m = /^table=(\d+),destination=(.*)$/.exec(key);
  if (!m) throw new Error(`not a route key: ${key}`);
  return create(RouteSchema, { table: Number(m[1]) === MAIN_TABLE ? 0 : Number(m[1]), destination: { cidr: m[2]! } });
}

/** A copy without secrets, for API responses. */
export function redacted(c: Configuration): Configuration {
  const copy = clone(ConfigurationSchema, c);
  copy.apiTokenHashes = {};
  return copy;
}

/** The prefix sets a firewall rule matches on (source, destination). */
export function rulePrefixSets(r: Rule): string[] {
  return [r.match?.source, r.match?.destination].flatMap((m) => (m?.match.case === "prefixSet" ? [m.match.value] : []));
}

export const emptyConfiguration = (): Configuration => create(ConfigurationSchema);
