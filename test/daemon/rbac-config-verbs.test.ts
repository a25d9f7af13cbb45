// Proves: the config verbs are authorized for every section they change, not only by config.write (the RBAC
// matrix of rbac-matrix.test.ts, extended to Commit, Rollback, Confirm and the automatic rollback of an
// unconfirmed commit): for each role and each configuration section, a commit staged before a demotion, a
// rollback and a confirmation succeed exactly when the role holds the section's write capability
// (PERMISSION_DENIED / CAPABILITY_MISSING naming `section` otherwise, and nothing changes); an expiring
// confirmed commit restores exactly the sections it changed. Then the cases: a demoted admin cannot
// roll back to admin, a revoked token stays dead through any rollback and a restart, REST stays on.
// Topology: daemons on the simulated data plane; each acting user is a child process under its own uid with
// one connection (callSession); root sets things up in-process.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Action, Chain, FastPathAction, FirewallService } from "../../src/gen/orbital/firewall/v1/firewall_pb.js";
import { AddressFamily } from "../../src/gen/orbital/api/v1/ip_pb.js";
import { ConfigService } from "../../src/gen/orbital/config/v1/config_pb.js";
import type { Configuration } from "../../src/gen/orbital/config/v1/configuration_pb.js";
import { InterfaceService } from "../../src/gen/orbital/interface/v1/interface_pb.js";
import { RouteType, RoutingService } from "../../src/gen/orbital/routing/v1/routing_pb.js";
import { SystemService } from "../../src/gen/orbital/system/v1/system_pb.js";
import { UserService } from "../../src/gen/orbital/user/v1/user_pb.js";
import { PackageService } from "../../src/gen/orbital/package/v1/package_pb.js";
import { generateKeyPairSync } from "node:crypto";
import { BuiltinRole } from "../../src/gen/orbital/api/v1/capability_pb.js";
import { builtinRoleCapabilities } from "../../src/common/capabilities.js";
import { configSections } from "../../src/daemon/config/section-authorization.js";
import { callSession, startDaemon, type CallResult, type CallSession, type RunningDaemon } from "../support/daemon.js";
import { accepts, enableRest, mintToken, rest, waitFor } from "../support/rest.js";

const READS = ["config.read", "session.read", "system.read", "interface.read", "routing.read", "firewall.read", "user.read"];
interface RoleRow {
  role: string;
  caps: string[];
  custom: boolean;
}
const roles: RoleRow[] = [
  { role: "admin", caps: builtinRoleCapabilities(BuiltinRole.ADMIN), custom: false },
  { role: "operator", caps: builtinRoleCapabilities(BuiltinRole.OPERATOR), custom: false },
  { role: "viewer", caps: builtinRoleCapabilities(BuiltinRole.VIEWER), custom: false },
  { role: "fw-only", caps: [...READS, "config.write", "firewall.write"], custom: true },
  { role: "accounts", caps: [...READS, "config.write", "user.write"], custom: true },
  { role: "settings-only", caps: [...READS, "config.write", "system.write"], custom: true },
];

/** Root's clients of a daemon, one connection each for the whole file (the daemon caps connections). */
const rootClients = new WeakMap<RunningDaemon, ReturnType<typeof makeRootClients>>();
function makeRootClients(d: RunningDaemon) {
  return {
    ifs: d.client(InterfaceService),
    routes: d.client(RoutingService),
    fw: d.client(FirewallService),
    users: d.client(UserService),
    system: d.client(SystemService),
    config: d.client(ConfigService),
    packages: d.client(PackageService),
  };
}
function root(d: RunningDaemon): ReturnType<typeof makeRootClients> {
  let c = rootClients.get(d);
  if (!c) rootClients.set(d, (c = makeRootClients(d)));
  return c;
}

/** The prefix set the fast-path list changes attach (created before them, so that they change only the list). */
const FAST_PATH_SET = "fast-path-base";

function createFastPathSet(d: RunningDaemon): Promise<unknown> {
  return root(d).fw.createPrefixSet({ prefixSet: { name: FAST_PATH_SET, family: AddressFamily.IPV4, prefixes: [{ cidr: "198.51.100.0/24" }] } });
}

/** A package signing key that the package-policy changes trust under a new name each. */
const POLICY_KEY_PEM = generateKeyPairSync("ed25519").publicKey.export({ type: "spki", format: "pem" }) as string;
const packagePolicy = (n: number) => ({ allowedCapabilities: ["firewall.read"], trustedKeys: [{ name: `key-${n}`, publicKeyPem: POLICY_KEY_PEM }] });

/** A change confined to one kind of item, made by root; `sections` are what it changes. */
interface SectionChange {
  label: string;
  sections: string[];
  /**
   * The same change as a JSON request staged in transaction `transactionId`, for a user's own session; absent
   * when its RPC commits at once and cannot be staged (CreateApiToken).
   */
  staged?: (n: number, transactionId: string) => [method: string, request: unknown];
  apply(d: RunningDaemon, n: number, transactionId: string): Promise<unknown>;
  /** Whether configuration `c` holds the change number `n`. */
  present(c: Configuration, n: number): boolean;
}

const changes: SectionChange[] = [
  {
    label: "an interface description",
    sections: ["interfaces"],
    staged: (n, transactionId) => ["orbital.interface.v1.InterfaceService/UpdateInterface", { transactionId, interface: { name: "eth1", description: `change ${n}` }, updateMask: "description" }],
    apply: (d, n, transactionId) => root(d).ifs.updateInterface({ transactionId, interface: { name: "eth1", description: `change ${n}` }, updateMask: { paths: ["description"] } }),
    present: (c, n) => c.interfaces.some((i) => i.name === "eth1" && i.description === `change ${n}`),
  },
  {
    label: "a static route",
    sections: ["routes"],
    staged: (n, transactionId) => ["orbital.routing.v1.RoutingService/CreateRoute", { transactionId, route: { destination: { cidr: `10.${n}.0.0/16` }, type: "ROUTE_TYPE_BLACKHOLE" } }],
    apply: (d, n, transactionId) => root(d).routes.createRoute({ transactionId, route: { destination: { cidr: `10.${n}.0.0/16` }, type: RouteType.BLACKHOLE } }),
    present: (c, n) => c.routes.some((r) => r.destination?.cidr === `10.${n}.0.0/16`),
  },
  {
    label: "a firewall rule",
    sections: ["firewall_rules"],
    staged: (n, transactionId) => ["orbital.firewall.v1.FirewallService/CreateRule", { transactionId, rule: { name: `rule-${n}`, chain: "CHAIN_INPUT", sequence: n, action: "ACTION_ACCEPT" } }],
    apply: (d, n, transactionId) => root(d).fw.createRule({ transactionId, rule: { name: `rule-${n}`, chain: Chain.INPUT, sequence: n, action: Action.ACCEPT } }),
    present: (c, n) => c.firewallRules.some((r) => r.name === `rule-${n}`),
  },
  {
    label: "a prefix set",
    sections: ["prefix_sets"],
    staged: (n, transactionId) => ["orbital.firewall.v1.FirewallService/CreatePrefixSet", { transactionId, prefixSet: { name: `set-${n}`, family: "ADDRESS_FAMILY_IPV4", prefixes: [{ cidr: `192.0.2.${n % 250}/32` }] } }],
    apply: (d, n, transactionId) => root(d).fw.createPrefixSet({ transactionId, prefixSet: { name: `set-${n}`, family: AddressFamily.IPV4, prefixes: [{ cidr: `192.0.2.${n % 250}/32` }] } }),
    present: (c, n) => c.prefixSets.some((s) => s.name === `set-${n}`),
  },
  {
    label: "a fast-path list",
    sections: ["fast_path_lists"],
    staged: (n, transactionId) => ["orbital.firewall.v1.FirewallService/AttachFastPathList", { transactionId, fastPathList: { prefixSet: FAST_PATH_SET, action: "FAST_PATH_ACTION_DROP", interfaces: [`fp${n}`] } }],
    // the set exists from the start (beforeAll): the change is the list alone
    apply: (d, n, transactionId) => root(d).fw.attachFastPathList({ transactionId, fastPathList: { prefixSet: FAST_PATH_SET, action: FastPathAction.DROP, interfaces: [`fp${n}`] } }),
    present: (c, n) => c.fastPathLists.some((l) => l.prefixSet === FAST_PATH_SET && l.interfaces.includes(`fp${n}`)),
  },
  {
    label: "a user",
    sections: ["users"],
    staged: (n, transactionId) => ["orbital.user.v1.UserService/CreateUser", { transactionId, user: { name: `someone-${n}`, uid: 40_000 + n, role: "viewer" } }],
    apply: (d, n, transactionId) => root(d).users.createUser({ transactionId, user: { name: `someone-${n}`, uid: 40_000 + n, role: "viewer" } }),
    present: (c, n) => c.users.some((u) => u.name === `someone-${n}`),
  },
  {
    label: "a role",
    sections: ["roles"],
    staged: (n, transactionId) => ["orbital.user.v1.UserService/CreateRole", { transactionId, role: { name: `role-${n}`, capabilities: ["system.read"] } }],
    apply: (d, n, transactionId) => root(d).users.createRole({ transactionId, role: { name: `role-${n}`, capabilities: ["system.read"] } }),
    present: (c, n) => c.roles.some((r) => r.name === `role-${n}`),
  },
  {
    label: "an API token",
    sections: ["api_tokens", "api_token_hashes"],
    apply: (d, n) => root(d).users.createApiToken({ token: { user: "root", description: `token ${n}` } }),
    present: (c, n) => c.apiTokens.some((t) => t.description === `token ${n}` && !t.revokeTime),
  },
  {
    label: "the host name",
    sections: ["settings"],
    staged: (n, transactionId) => ["orbital.system.v1.SystemService/UpdateSettings", { transactionId, settings: { hostname: `box-${n}` }, updateMask: "hostname" }],
    apply: (d, n, transactionId) => root(d).system.updateSettings({ transactionId, settings: { hostname: `box-${n}` }, updateMask: { paths: ["hostname"] } }),
    present: (c, n) => c.settings?.hostname === `box-${n}`,
  },
  {
    label: "the package policy",
    sections: ["package_policy"],
    staged: (n, transactionId) => ["orbital.package.v1.PackageService/UpdatePackagePolicy", { transactionId, policy: packagePolicy(n) }],
    apply: (d, n, transactionId) => root(d).packages.updatePackagePolicy({ transactionId, policy: packagePolicy(n) }),
    present: (c, n) => c.packagePolicy?.trustedKeys.some((k) => k.name === `key-${n}`) ?? false,
  },
];

const capabilityOf = (section: string) => configSections.find((s) => s.name === section)!.capability!;
/** The verdict for `row` on a change to `sections` through a config verb: the capability it lacks, if any. */
function lacking(row: RoleRow, sections: string[]): string | undefined {
  if (!row.caps.includes("config.write")) return "config.write";
  return sections.map(capabilityOf).find((c) => !row.caps.includes(c));
}

const MOVER = { name: "mover", uid: 3300 };
let n = 0;
let d: RunningDaemon;
let mover: CallSession;

async function running(): Promise<{ revision: bigint; config: Configuration; pending: boolean }> {
  const r = await root(d).config.getRevision({ revision: 0n });
  return { revision: r.info!.revision, config: r.configuration!, pending: r.info!.confirmDeadline !== undefined };
}

async function setMoverRole(role: string): Promise<void> {
  const { user } = await root(d).users.getUser({ name: MOVER.name });
  if (user?.role !== role) await root(d).users.updateUser({ user: { name: MOVER.name, role }, updateMask: { paths: ["role"] } });
}

/**
 * Asserts a refusal for lacking `capability`: by a section of `sections` (named in `section`) when given and
 * the capability is not the RPC's own config.write; by the RPC itself otherwise.
 */
function expectDenied(r: CallResult, capability: string, sections?: string[]): void {
  expect(r.ok, JSON.stringify(r)).toBe(false);
  expect(r.error).toMatchObject({ code: 7, reason: "CAPABILITY_MISSING", metadata: expect.objectContaining({ capability, principal: MOVER.name }) });
  if (sections && capability !== "config.write") expect(sections).toContain(r.error!.metadata.section);
  else expect(r.error!.metadata.section).toBeUndefined();
}

beforeAll(async () => {
  d = await startDaemon();
  const users = root(d).users;
  for (const r of roles.filter((x) => x.custom)) await users.createRole({ role: { name: r.role, capabilities: r.caps } });
  await createFastPathSet(d);
  await users.createUser({ user: { name: MOVER.name, uid: MOVER.uid, role: "admin" } });
  mover = callSession(d.socketPath, MOVER.uid);
});
afterAll(async () => {
  await mover?.close();
  await d?.cleanup();
});

it("has a change for every configuration section (a new section gets its row here)", () => {
  expect(new Set(changes.flatMap((c) => c.sections))).toEqual(new Set(configSections.map((s) => s.name)));
});

const cases = (stageableOnly: boolean) =>
  roles.flatMap((row) =>
    changes
      .filter((c) => !stageableOnly || c.staged)
      .map((change) => ({ role: row.role, row, change, label: change.label, verdict: lacking(row, change.sections) ? `denied (${lacking(row, change.sections)})` : "allowed" })),
  );

describe("Commit: a transaction staged before a demotion commits only what the new role may write", () => {
  it.each(cases(true))("$role commits $label: $verdict", async ({ row, change }) => {
    const k = ++n;
    await setMoverRole("admin");
    const begun = await mover.call("orbital.config.v1.ConfigService/Begin");
    expect(begun.ok, JSON.stringify(begun)).toBe(true);
    const tx = (begun.responses![0] as { transaction: { id: string } }).transaction.id;
    // Staged over the mover's own connection while it is admin: the staging RPC's capability held then.
    const staged = await stage(mover, change, k, tx);
    expect(staged.ok, JSON.stringify(staged)).toBe(true);
    await setMoverRole(row.role);
    const before = await running();
    const r = await mover.call("orbital.config.v1.ConfigService/Commit", { transactionId: tx, comment: `case ${k}` });
    const after = await running();
    const missing = lacking(row, change.sections);
    if (missing) {
      expectDenied(r, missing, change.sections);
      expect(after.revision).toBe(before.revision);
      expect(change.present(after.config, k)).toBe(false);
      // discarded as admin: a viewer may not discard, and its open transactions would reach the cap of 8
      await setMoverRole("admin");
      const discarded = await mover.call("orbital.config.v1.ConfigService/Discard", { transactionId: tx });
      expect(discarded.ok, JSON.stringify(discarded)).toBe(true);
    } else {
      expect(r.ok, JSON.stringify(r)).toBe(true);
      expect(change.present(after.config, k)).toBe(true);
      const info = (await root(d).config.getRevision({ revision: after.revision })).info!;
      expect(info.changedSections).toEqual(change.sections);
    }
  });
});

describe("Rollback: allowed exactly when the role may write every section it changes", () => {
  it.each(cases(false))("$role rolls back $label: $verdict", async ({ row, change }) => {
    const k = ++n;
    await setMoverRole(row.role);
    const r0 = (await running()).revision;
    await change.apply(d, k, "");
    const before = await running();
    expect(change.present(before.config, k)).toBe(true);
    const r = await mover.call("orbital.config.v1.ConfigService/Rollback", { revision: r0.toString() });
    const after = await running();
    const missing = lacking(row, change.sections);
    if (missing) {
      expectDenied(r, missing, change.sections);
      expect(after.revision).toBe(before.revision);
      expect(change.present(after.config, k)).toBe(true);
    } else {
      expect(r.ok, JSON.stringify(r)).toBe(true);
      expect(after.revision).toBe(before.revision + 1n);
      expect(change.present(after.config, k)).toBe(false);
      expect((await root(d).config.getRevision({ revision: after.revision })).info!.changedSections).toEqual(change.sections);
    }
  });
});

describe("Confirm: making a pending commit permanent needs the sections it changed", () => {
  it.each(cases(true))("$role confirms $label: $verdict", async ({ row, change }) => {
    const k = ++n;
    await setMoverRole(row.role);
    const config = root(d).config;
    const { transaction } = await config.begin({});
    await change.apply(d, k, transaction!.id);
    await config.commit({ transactionId: transaction!.id, confirmTimeout: { seconds: 600n } });
    expect((await running()).pending).toBe(true);
    const r = await mover.call("orbital.config.v1.ConfigService/Confirm");
    const missing = lacking(row, change.sections);
    if (missing) {
      expectDenied(r, missing, change.sections);
      expect((await running()).pending).toBe(true);
      await config.confirm({});
    } else {
      expect(r.ok, JSON.stringify(r)).toBe(true);
    }
    const after = await running();
    expect(after.pending).toBe(false);
    expect(change.present(after.config, k)).toBe(true);
  });
});

/** Stages change `k` in transaction `tx` over an acting user's connection (so with that user's role). */
async function stage(session: CallSession, change: SectionChange, k: number, tx: string): Promise<CallResult> {
  const [method, request] = change.staged!(k, tx);
  return session.call(method, request);
}

describe("the automatic rollback of an unconfirmed commit restores exactly the sections it changed", () => {
  const writers = roles.filter((r) => r.caps.includes("config.write"));
  it.each(writers.map((row) => ({ role: row.role, row })))(
    "$role's confirmed commit of every section it may write expires back to the revision before",
    async ({ row }) => {
      const own = await startDaemon();
      try {
        const users = root(own).users;
        if (row.custom) await users.createRole({ role: { name: row.role, capabilities: row.caps } });
        await users.createUser({ user: { name: MOVER.name, uid: MOVER.uid, role: row.role } });
        await createFastPathSet(own);
        const session = callSession(own.socketPath, MOVER.uid);
        try {
          const begun = await session.call("orbital.config.v1.ConfigService/Begin");
          const tx = (begun.responses![0] as { transaction: { id: string } }).transaction.id;
          const mine = changes.filter((c) => c.staged && !lacking(row, c.sections));
          for (const [i, c] of mine.entries()) expect((await stage(session, c, 200 + i, tx)).ok).toBe(true);
          // A section it may not write is refused at staging already.
          const other = changes.find((c) => c.staged && lacking(row, c.sections));
          if (other) expectDenied(await stage(session, other, 250, tx), lacking(row, other.sections)!);
          const committed = await session.call("orbital.config.v1.ConfigService/Commit", { transactionId: tx, confirmTimeout: "10s" });
          expect(committed.ok, JSON.stringify(committed)).toBe(true);
          const pending = BigInt((committed.responses![0] as { revision: { revision: string } }).revision.revision);
          const config = root(own).config;
          const pendingInfo = (await config.getRevision({ revision: pending })).info!;
          expect(pendingInfo.changedSections).toEqual(configSections.map((s) => s.name).filter((s) => mine.some((c) => c.sections.includes(s))));
          await waitFor(async () => (await config.getRevision({ revision: 0n })).info!.revision > pending, 30_000, "the automatic rollback");
          const expired = await config.getRevision({ revision: 0n });
          expect(expired.info).toMatchObject({ author: "system", rolledBackTo: pending - 1n, changedSections: pendingInfo.changedSections });
          const before = (await config.getRevision({ revision: pending - 1n })).configuration!;
          for (const [i, c] of mine.entries()) expect(c.present(expired.configuration!, 200 + i), c.label).toBe(false);
          expect(expired.configuration).toEqual(before);
        } finally {
          await session.close();
        }
      } finally {
        await own.cleanup();
      }
    },
    60_000,
  );
});

describe("the issue's cases", () => {
  it("a demoted admin cannot roll back to the revision where it was admin", async () => {
    await setMoverRole("admin");
    const asAdmin = (await running()).revision;
    await setMoverRole("operator");
    const r = await mover.call("orbital.config.v1.ConfigService/Rollback", { revision: asAdmin.toString() });
    expectDenied(r, "user.write", ["users"]);
    const who = await mover.call("orbital.user.v1.UserService/WhoAmI");
    expect(who.responses?.[0]).toMatchObject({ role: "operator" });
    const token = await mover.call("orbital.user.v1.UserService/CreateApiToken", { token: { user: MOVER.name } });
    expect(token.error).toMatchObject({ code: 7, reason: "CAPABILITY_MISSING", metadata: { capability: "user.write" } });
  });

  it("a revoked token stays dead through rollbacks by root, a rollback to before it existed, and a restart", async () => {
    await setMoverRole("operator");
    const { base, port } = await enableRest(d);
    const token = await mintToken(d, "root");
    const whoami = async () => (await rest(base, { method: "GET", path: "/v1/whoami", token: token.secret })).status;
    expect(await whoami()).toBe(200);
    const alive = (await running()).revision;
    await root(d).users.revokeApiToken({ id: token.id });
    expect(await whoami()).toBe(401);
    // An operator's rollback to before the revocation changes no token (it cannot undo a revocation), so it
    // needs no user.write, and the token stays dead.
    const byOperator = await mover.call("orbital.config.v1.ConfigService/Rollback", { revision: alive.toString() });
    expect(byOperator.ok, JSON.stringify(byOperator)).toBe(true);
    expect(await whoami()).toBe(401);
    // Root's neither: the token stays revoked and its secret's hash stays gone.
    const byRoot = await root(d).config.rollback({ revision: alive });
    expect(byRoot.revision!.changedSections).not.toContain("api_tokens");
    const r401 = await rest(base, { method: "GET", path: "/v1/whoami", token: token.secret });
    expect(r401.status).toBe(401);
    expect(JSON.stringify(r401.json)).toContain("TOKEN_REVOKED");
    const t = (await root(d).users.listApiTokens({})).tokens.find((x) => x.id === token.id);
    expect(t?.revokeTime).toBeDefined();
    // To before the token existed (REST already on: minting it was the next commit), then forward again: it
    // comes back as a tombstone only.
    await root(d).config.rollback({ revision: alive - 1n });
    await root(d).config.rollback({ revision: alive });
    expect(await whoami()).toBe(401);
    // A restart (which could fall back to an older revision) keeps it dead too: the ledger outlives revisions.
    await d.stop();
    await mover.close();
    d = await startDaemon({ dataDir: d.dataDir });
    mover = callSession(d.socketPath, MOVER.uid);
    await waitFor(() => accepts(port), 10_000, "REST after the restart");
    await root(d).config.rollback({ revision: alive });
    expect(await whoami()).toBe(401);
    expect(Object.keys((await root(d).config.getRevision({ revision: alive })).configuration!.apiTokenHashes)).toEqual([]);
  });

  it("an operator cannot roll back past the revision that enabled REST: the listener stays on", async () => {
    const { port } = await enableRest(d);
    await setMoverRole("operator");
    const revisions = (await root(d).config.listRevisions({ page: { size: 1000 } })).revisions;
    const beforeRest = revisions.find((r) => r.changedSections.includes("settings"))!.revision - 1n;
    const r = await mover.call("orbital.config.v1.ConfigService/Rollback", { revision: beforeRest.toString() });
    expect(r.ok).toBe(false);
    expect(r.error).toMatchObject({ code: 7, reason: "CAPABILITY_MISSING" });
    expect(await accepts(port)).toBe(true);
  });
});
