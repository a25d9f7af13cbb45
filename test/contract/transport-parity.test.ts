// Proves: every unary RPC with an HTTP binding (walked from the descriptors, so a new RPC is covered by itself) gives the same result over the three transports, gRPC, the fast path and REST — same canonical JSON, or same error code/reason/metadata/violations — and server streams give the same messages over each (NDJSON lines for REST, ended when the HTTP client leaves).
// Inputs: a table of sample requests (fresh names per transport where the call has effects; default {}), empty requests, invalid requests.
// Topology: one daemon (sim data plane), REST on 127.0.0.1:<free port>; root over gRPC and over the fast path (peer credentials, one SDK transport each) and a root API token over REST.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { toJson, type DescMethod, type JsonValue } from "@bufbuild/protobuf";
import { FirewallService } from "../../src/gen/orbital/firewall/v1/firewall_pb.js";
import { InterfaceKind, InterfaceService } from "../../src/gen/orbital/interface/v1/interface_pb.js";
import { RoutingService } from "../../src/gen/orbital/routing/v1/routing_pb.js";
import { SystemService } from "../../src/gen/orbital/system/v1/system_pb.js";
import { ConfigService } from "../../src/gen/orbital/config/v1/config_pb.js";
import { UserService } from "../../src/gen/orbital/user/v1/user_pb.js";
import { apiServices } from "../../src/common/api-services.js";
import { OrbitalError } from "../../src/common/errors.js";
import { httpStatusFromCode } from "../../src/common/http-status.js";
import { httpBindings } from "../../src/daemon/transports/rest/http-rules.js";
import { startDaemon, type RunningDaemon } from "../support/daemon.js";
import { enableRest, mintToken, restCall, statusParts } from "../support/rest.js";

type Tag = "grpc" | "fast" | "rest";
/** Each transport's share of the numbers that must differ between the transports' requests. */
const offset: Record<Tag, number> = { grpc: 0, rest: 1, fast: 2 };

interface Sample {
  /** The request for one transport; both must be equivalent (fresh names where the call has effects). */
  request: (tag: Tag) => unknown | Promise<unknown>;
  /** Strings that differ between the transports' requests, per tag, replaced by "<v>" (numbers by 0) before comparing. */
  vary?: (tag: Tag) => string[];
  /** Response keys that legitimately differ (how the caller authenticated, kernel indexes of new links). */
  ignore?: string[];
  /** The sample is expected to fail (on every transport); otherwise it must succeed, so that results are compared. */
  fails?: true;
  /** Undoes what a successful call left behind that would pile up over three transports (open transactions). */
  cleanup?: (response: JsonValue) => Promise<void>;
}

/** Keys whose values differ from call to call by nature: times, ids, trace ids, revision numbers. */
const VOLATILE = new Set([
  "createTime",
  "commitTime",
  "expireTime",
  "startTime",
  "uptime",
  "traceId",
  "requestId",
  "id",
  "secret",
  "transactionId",
  "revision",
  "baseRevision",
  "runningRevision",
  "activeRevision",
  "rolledBackTo",
  "revokeTime",
]);

let d: RunningDaemon;
let base: string;
let token: string;
type SdkTag = Exclude<Tag, "rest">;
const clients = new Map<string, Record<string, (req: unknown) => Promise<unknown>>>();
const sdkCall = (tag: SdkTag, m: DescMethod, req: unknown) => {
  const key = `${tag} ${m.parent.typeName}`;
  let c = clients.get(key);
  if (!c) clients.set(key, (c = d.client(m.parent, 10_000, tag) as unknown as Record<string, (req: unknown) => Promise<unknown>>));
  return c[m.localName]!(req);
};
/** Set-up calls, over gRPC. */
const call = <S extends (typeof apiServices)[number]>(s: S, name: string, req: unknown) => sdkCall("grpc", s.methods.find((m) => m.name === name)!, req);
const currentRevision = async () => ((await call(SystemService, "GetHealth", {})) as { activeRevision: bigint }).activeRevision;
/** Transactions the samples left open (root may hold 8). */
const openTransactions: string[] = [];
const discardOpen = async () => {
  for (const id of openTransactions.splice(0)) await call(ConfigService, "Discard", { transactionId: id }).catch(() => undefined);
};
/** A transaction of root's with one staged change, for the RPCs that need one. */
async function stagedTransaction(hostname: string): Promise<string> {
  const { transaction } = (await call(ConfigService, "Begin", {})) as { transaction: { id: string } };
  openTransactions.push(transaction.id);
  await call(SystemService, "UpdateSettings", { settings: { hostname }, updateMask: { paths: ["hostname"] }, transactionId: transaction.id });
  return transaction.id;
}
const n = (tag: Tag, base: number) => base + offset[tag];

const samples: Record<string, Sample> = {
  "SystemService.GetMetrics": { request: () => ({}), ignore: ["text"] },
  "SystemService.UpdateSettings": { request: (t) => ({ settings: { hostname: `parity-${t}` }, updateMask: { paths: ["hostname"] } }), vary: (t) => [`parity-${t}`] },
  "ConfigService.Begin": { request: () => ({}), cleanup: async (r) => void openTransactions.push((r as { transaction: { id: string } }).transaction.id) },
  "ConfigService.Diff": { request: async (t) => ({ transactionId: await stagedTransaction(`diff-${t}`) }), vary: (t) => [`diff-${t}`], cleanup: discardOpen },
  "ConfigService.Commit": { request: async (t) => ({ transactionId: await stagedTransaction(`commit-${t}`), comment: "parity" }) },
  "ConfigService.Discard": { request: async (t) => ({ transactionId: await stagedTransaction(`discard-${t}`) }) },
  "ConfigService.Rollback": { request: async () => ({ revision: await currentRevision(), comment: "parity: to the running revision" }) },
  "ConfigService.ListRevisions": { request: () => ({ page: { size: 3 } }) },
  "ConfigService.GetRevision": { request: () => ({ revision: 1n }) },
  "InterfaceService.GetInterface": { request: () => ({ name: "eth0" }) },
  "InterfaceService.CreateInterface": {
    request: (t) => ({ interface: { name: `eth0.${n(t, 3901)}`, kind: InterfaceKind.VLAN, vlan: { parent: "eth0", vlanId: n(t, 3901) }, description: "vlan" } }),
    vary: (t) => [String(n(t, 3901))],
    ignore: ["ifIndex", "macAddress"],
  },
  "InterfaceService.UpdateInterface": {
    request: (t) => ({ interface: { name: "eth1", description: `d-${t}`, mtu: 1400 }, updateMask: { paths: ["description", "mtu"] } }),
    vary: (t) => [`d-${t}`],
  },
  "InterfaceService.DeleteInterface": {
    request: async (t) => {
      const vlan = n(t, 3911);
      await call(InterfaceService, "CreateInterface", { interface: { name: `eth0.${vlan}`, kind: InterfaceKind.VLAN, vlan: { parent: "eth0", vlanId: vlan } } });
      return { name: `eth0.${vlan}` };
    },
    vary: (t) => [String(n(t, 3911))],
  },
  "RoutingService.ListRoutes": { request: () => ({ page: { size: 10 }, includeUnowned: true }) },
  "RoutingService.GetRoute": { request: () => ({ destination: { cidr: "10.200.0.0/16" } }) },
  "RoutingService.WithdrawRouteSet": { request: () => ({ name: "no-such-set" }), fails: true },
  "RoutingService.CreateRoute": {
    request: (t) => ({ route: { destination: { cidr: `10.${n(t, 201)}.0.0/24` }, interface: "eth0", metric: 5, description: "parity" } }),
    vary: (t) => [`10.${n(t, 201)}.`],
  },
  "RoutingService.UpdateRoute": {
    request: async (t) => {
      const cidr = `10.${n(t, 211)}.0.0/24`;
      await call(RoutingService, "CreateRoute", { route: { destination: { cidr }, interface: "eth0" } });
      return { route: { destination: { cidr }, metric: 42 }, updateMask: { paths: ["metric"] } };
    },
    vary: (t) => [`10.${n(t, 211)}.`],
  },
  "RoutingService.DeleteRoute": {
    request: async (t) => {
      const cidr = `2001:db8:${n(t, 221)}::/48`;
      await call(RoutingService, "CreateRoute", { route: { destination: { cidr }, interface: "eth0" } });
      return { destination: { cidr } };
    },
    vary: (t) => [`:${n(t, 221)}:`],
  },
  "FirewallService.GetRule": { request: () => ({ name: "parity-base" }) },
  "FirewallService.CreateRule": {
    request: (t) => ({ rule: { name: `fw-${t}`, chain: 1, sequence: n(t, 3901), action: 2, description: "parity" } }),
    vary: (t) => [`fw-${t}`, String(n(t, 3901))],
  },
  "FirewallService.UpdateRule": {
    request: async (t) => {
      await call(FirewallService, "CreateRule", { rule: { name: `fwu-${t}`, chain: 1, sequence: n(t, 3911), action: 1 } });
      return { rule: { name: `fwu-${t}`, action: 3, counter: true }, updateMask: { paths: ["action", "counter"] } };
    },
    vary: (t) => [`fwu-${t}`, String(n(t, 3911))],
  },
  "FirewallService.DeleteRule": {
    request: async (t) => {
      await call(FirewallService, "CreateRule", { rule: { name: `fwd-${t}`, chain: 3, sequence: n(t, 3921), action: 1 } });
      return { name: `fwd-${t}` };
    },
  },
  "FirewallService.GetPrefixSet": { request: () => ({ name: "parity-set" }) },
  "FirewallService.CreatePrefixSet": {
    request: (t) => ({ prefixSet: { name: `ps-${t}`, family: 1, prefixes: [{ cidr: "192.0.2.0/24" }, { cidr: "198.51.100.0/24" }] } }),
    vary: (t) => [`ps-${t}`],
  },
  "FirewallService.UpdatePrefixSet": {
    request: async (t) => {
      await call(FirewallService, "CreatePrefixSet", { prefixSet: { name: `psu-${t}`, family: 1, prefixes: [{ cidr: "192.0.2.0/24" }] } });
      return { prefixSet: { name: `psu-${t}`, prefixes: [{ cidr: "203.0.113.0/24" }], description: "replaced" }, updateMask: { paths: ["prefixes", "description"] } };
    },
    vary: (t) => [`psu-${t}`],
  },
  "FirewallService.DeletePrefixSet": {
    request: async (t) => {
      await call(FirewallService, "CreatePrefixSet", { prefixSet: { name: `psd-${t}`, family: 2 } });
      return { name: `psd-${t}` };
    },
  },
  "FirewallService.ListFastPathLists": { request: () => ({ page: { size: 10 } }) },
  "FirewallService.AttachFastPathList": {
    request: async (t) => {
      await call(FirewallService, "CreatePrefixSet", { prefixSet: { name: `fpa-${t}`, family: 1, prefixes: [{ cidr: "198.51.100.0/24" }] } });
      return { fastPathList: { prefixSet: `fpa-${t}`, action: 1, interfaces: ["eth0"] } };
    },
    vary: (t) => [`fpa-${t}`],
  },
  "FirewallService.DetachFastPathList": {
    request: async (t) => {
      await call(FirewallService, "CreatePrefixSet", { prefixSet: { name: `fpd-${t}`, family: 1, prefixes: [{ cidr: "203.0.113.0/24" }] } });
      await call(FirewallService, "AttachFastPathList", { fastPathList: { prefixSet: `fpd-${t}`, action: 2, interfaces: ["eth0"] } });
      return { prefixSet: `fpd-${t}` };
    },
  },
  "FirewallService.GetFastPathStatus": { request: () => ({}) },
  "UserService.WhoAmI": { request: () => ({}), ignore: ["authMethod", "uid", "pid", "tokenId"] },
  "UserService.GetUser": { request: () => ({ name: "parity-base" }) },
  "UserService.CreateUser": {
    request: (t) => ({ user: { name: `par-${t}`, role: "viewer", uid: n(t, 39001), description: "parity" } }),
    vary: (t) => [`par-${t}`, String(n(t, 39001))],
  },
  "UserService.UpdateUser": {
    request: async (t) => {
      await call(UserService, "CreateUser", { user: { name: `paru-${t}`, role: "viewer" } });
      return { user: { name: `paru-${t}`, role: "operator" }, updateMask: { paths: ["role"] } };
    },
    vary: (t) => [`paru-${t}`],
  },
  "UserService.DeleteUser": {
    request: async (t) => {
      await call(UserService, "CreateUser", { user: { name: `pard-${t}`, role: "viewer" } });
      return { name: `pard-${t}` };
    },
  },
  "UserService.GetRole": { request: () => ({ name: "operator" }) },
  "UserService.CreateRole": {
    request: (t) => ({ role: { name: `role-${t}`, capabilities: ["routing.read", "session.read"], description: "parity" } }),
    vary: (t) => [`role-${t}`],
  },
  "UserService.UpdateRole": {
    request: async (t) => {
      await call(UserService, "CreateRole", { role: { name: `roleu-${t}`, capabilities: ["routing.read"] } });
      return { role: { name: `roleu-${t}`, capabilities: ["routing.read", "firewall.read"] }, updateMask: { paths: ["capabilities"] } };
    },
    vary: (t) => [`roleu-${t}`],
  },
  "UserService.DeleteRole": {
    request: async (t) => {
      await call(UserService, "CreateRole", { role: { name: `roled-${t}`, capabilities: [] } });
      return { name: `roled-${t}` };
    },
  },
  "UserService.CreateApiToken": { request: () => ({ token: { user: "parity-base", description: "parity" } }) },
  "UserService.ListApiTokens": { request: () => ({ user: "parity-base" }) },
  "UserService.RevokeApiToken": {
    request: async () => {
      const { token: t } = (await call(UserService, "CreateApiToken", { token: { user: "parity-base" } })) as { token: { id: string } };
      return { id: t.id };
    },
  },
  "PackageService.GetPackage": { request: () => ({ name: "nginx" }), fails: true },
  "PackageService.DeletePackage": { request: () => ({ name: "nginx" }), fails: true },
  "PackageService.GetPackageLogs": { request: () => ({ name: "nginx" }), fails: true },
  "UpdateService.MarkSlot": { request: () => ({ slot: "b", mark: 1 }), fails: true },
};

type Outcome = { ok: true; json: JsonValue } | { ok: false; code: number; reason: string; metadata: Record<string, string>; violations: unknown[]; traceId: string | undefined };

function normalize(json: unknown, sample: Sample | undefined, tag: Tag): unknown {
  let text = JSON.stringify(json);
  // Numbers become 0 (valid JSON inside strings and as numbers), other strings "<v>".
  for (const s of sample?.vary?.(tag) ?? []) text = text.split(s).join(/^\d+$/.test(s) ? "0" : "<v>");
  const ignore = new Set([...VOLATILE, ...(sample?.ignore ?? [])]);
  const strip = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(strip);
    if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).filter(([k]) => !ignore.has(k)).map(([k, x]) => [k, strip(x)]));
    return v;
  };
  return strip(JSON.parse(text));
}

async function overSdk(tag: SdkTag, m: DescMethod, request: unknown): Promise<Outcome> {
  try {
    return { ok: true, json: toJson(m.output, (await sdkCall(tag, m, request)) as never) };
  } catch (err) {
    if (!(err instanceof OrbitalError)) throw err;
    return { ok: false, code: err.code, reason: err.reason, metadata: err.metadata, violations: err.violations, traceId: err.traceId };
  }
}

async function overRest(m: DescMethod, request: unknown): Promise<Outcome> {
  const res = await restCall(base, token, m, request as never);
  if (res.status === 200) return { ok: true, json: res.json as JsonValue };
  const s = statusParts(res.json);
  expect(res.status, `${m.name}: HTTP status of ${s.reason}`).toBe(httpStatusFromCode(s.code));
  return { ok: false, code: s.code, reason: s.reason, metadata: s.metadata, violations: s.violations, traceId: s.traceId };
}

/** Outcome `r` over transport `tag` is the same as `g` over gRPC. */
function expectSame(m: DescMethod, sample: Sample | undefined, g: Outcome, r: Outcome, tag: Exclude<Tag, "grpc">): void {
  const label = `${m.parent.name}.${m.name} over ${tag}`;
  if (g.ok && r.ok) {
    expect(normalize(r.json, sample, tag), label).toEqual(normalize(g.json, sample, "grpc"));
    return;
  }
  expect({ ok: r.ok }, `${label}: gRPC ${JSON.stringify(g)} vs ${tag} ${JSON.stringify(r)}`).toEqual({ ok: g.ok });
  if (!g.ok && !r.ok) {
    const strip = (o: typeof g) => normalize({ code: o.code, reason: o.reason, metadata: o.metadata, violations: o.violations }, sample, o === g ? "grpc" : tag);
    expect(strip(r), label).toEqual(strip(g));
    expect(g.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(r.traceId).toMatch(/^[0-9a-f]{32}$/);
  }
}

/** Calls `m` over the three transports (each with its own request) and compares fast and REST with gRPC. */
async function expectParity(m: DescMethod, sample: Sample | undefined, request: (tag: Tag) => unknown): Promise<Outcome> {
  const outcomes: Outcome[] = [];
  const run = async (o: Promise<Outcome>) => {
    const outcome = await o;
    outcomes.push(outcome);
    if (outcome.ok) await sample?.cleanup?.(outcome.json);
    return outcome;
  };
  const g = await run(overSdk("grpc", m, await request("grpc")));
  expectSame(m, sample, g, await run(overSdk("fast", m, await request("fast"))), "fast");
  expectSame(m, sample, g, await run(overRest(m, await request("rest"))), "rest");
  await discardOpen();
  return g;
}

const unary = apiServices.flatMap((s) => s.methods).filter((m) => m.methodKind === "unary" && httpBindings(m).length > 0);
const keyOf = (m: DescMethod) => `${m.parent.name}.${m.name}`;

beforeAll(async () => {
  d = await startDaemon();
  ({ base } = await enableRest(d));
  token = (await mintToken(d, "root")).secret;
  // What the samples refer to: a configured eth0 (parent of VLANs, interface of routes), a route, a rule, a
  // prefix set and a user of their own.
  await call(InterfaceService, "UpdateInterface", { interface: { name: "eth0", description: "uplink" }, updateMask: { paths: ["description"] } });
  await call(RoutingService, "CreateRoute", { route: { destination: { cidr: "10.200.0.0/16" }, interface: "eth0" } });
  await call(FirewallService, "CreateRule", { rule: { name: "parity-base", chain: 1, sequence: 10, action: 1 } });
  await call(FirewallService, "CreatePrefixSet", { prefixSet: { name: "parity-set", family: 1, prefixes: [{ cidr: "192.0.2.0/24" }] } });
  await call(UserService, "CreateUser", { user: { name: "parity-base", role: "viewer" } });
});
afterAll(() => d.cleanup());

describe("gRPC, the fast path and REST give the same result", () => {
  it("covers every unary RPC with an HTTP binding, and every sample names one", () => {
    expect(unary.length).toBeGreaterThan(45);
    for (const k of Object.keys(samples)) expect(unary.map(keyOf), k).toContain(k);
  });

  it.each(unary.map((m) => ({ rpc: keyOf(m), m })))("$rpc", async ({ m }) => {
    const sample = samples[keyOf(m)];
    const g = await expectParity(m, sample, async (t) => (await sample?.request(t)) ?? {});
    if (sample) expect(g.ok, `${keyOf(m)} sample: ${JSON.stringify(g)}`).toBe(!sample.fails);
  });
});

describe("gRPC, the fast path and REST refuse the same requests the same way", () => {
  // The empty request of every RPC whose binding has no path variable (an empty variable cannot be written
  // in a URL), and invalid requests with field violations.
  const empties = unary.filter((m) => httpBindings(m)[0]!.template.variables.length === 0);
  const invalid: [DescMethod, unknown][] = [
    [UserService.method.createUser, { user: { name: "Bad Name", role: "nobody", uid: 0, description: "x".repeat(300) } }],
    [RoutingService.method.createRoute, { route: { destination: { cidr: "10.0.0.1/8" }, interface: "eth0" } }],
    [RoutingService.method.getRoute, { destination: { cidr: "10.250.0.0/16" } }],
    [FirewallService.method.createPrefixSet, { prefixSet: { name: "bad", family: 1, prefixes: [{ cidr: "2001:db8::/32" }, { cidr: "nonsense" }] } }],
    [SystemService.method.updateSettings, { settings: { rest: { address: "not-an-ip" } }, updateMask: { paths: ["rest.address"] } }],
    [ConfigService.method.commit, { transactionId: "0000000000000000" }],
    [UserService.method.getUser, { name: "nobody" }],
    [UserService.method.deleteRole, { name: "admin" }],
    [InterfaceService.method.createInterface, { interface: { name: "eth9" } }],
  ];

  it.each(empties.map((m) => ({ rpc: keyOf(m), m })))("$rpc with the empty request", async ({ m }) => {
    await expectParity(m, samples[keyOf(m)], () => ({}));
  });

  it.each(invalid.map(([m, req]) => ({ rpc: keyOf(m), m, req })))("$rpc with an invalid request", async ({ m, req }) => {
    expect((await expectParity(m, undefined, () => req)).ok).toBe(false);
  });
});

describe("server streams over the fast path and as newline-delimited JSON", () => {
  /** Reads NDJSON lines from a streaming fetch until `count` lines arrived. */
  async function lines(res: Response, count: number): Promise<unknown[]> {
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let text = "";
    while (text.split("\n").length - 1 < count) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
    reader.releaseLock();
    return text.split("\n").slice(0, count).map((l) => JSON.parse(l) as unknown);
  }

  async function take<T>(stream: AsyncIterable<T>, count: number): Promise<T[]> {
    const out: T[] = [];
    for await (const item of stream) {
      out.push(item);
      if (out.length === count) break;
    }
    return out;
  }

  const metric = async (method: string) => {
    const res = await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${token}` } });
    const series = new RegExp(`^orbital_rpc_duration_seconds_count\\{method="${method.replace(/[.]/g, "\\.")}",transport="\\w+"\\} (\\d+)$`, "gm");
    return [...(await res.text()).matchAll(series)].reduce((n, m) => n + Number(m[1]), 0);
  };

  it("WatchInterfaces: the same snapshot as over gRPC, one {\"result\": …} per line", async () => {
    const grpcItems = await take(d.client(InterfaceService, 10_000, "grpc").watchInterfaces({}), 4);
    expect(await take(d.client(InterfaceService, 10_000, "fast").watchInterfaces({}), 4)).toEqual(grpcItems);
    const ac = new AbortController();
    const res = await fetch(`${base}/v1/interfaces:watch`, { headers: { authorization: `Bearer ${token}` }, signal: ac.signal });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^application\/x-ndjson/);
    const restItems = await lines(res, 4);
    ac.abort();
    expect(restItems).toEqual(grpcItems.map((i) => ({ result: toJson(InterfaceService.method.watchInterfaces.output, i) })));
  });

  it("WatchCommits: the same events on both transports, and the call ends when the HTTP client disconnects", async () => {
    const path = "/orbital.config.v1.ConfigService/WatchCommits";
    const finishedBefore = await metric(path);
    const ac = new AbortController();
    const res = await fetch(`${base}/v1/config/commits:watch`, { headers: { authorization: `Bearer ${token}` }, signal: ac.signal });
    expect(res.status).toBe(200);
    const grpcWatch = take(d.client(ConfigService, 10_000, "grpc").watchCommits({}), 2);
    const fastWatch = take(d.client(ConfigService, 10_000, "fast").watchCommits({}), 2);
    await new Promise((r) => setTimeout(r, 300)); // all three subscribed
    for (const h of ["watch-1", "watch-2"]) await call(SystemService, "UpdateSettings", { settings: { hostname: h }, updateMask: { paths: ["hostname"] } });
    const restItems = await lines(res, 2);
    const grpcItems = await grpcWatch;
    expect(await fastWatch).toEqual(grpcItems);
    expect(restItems).toEqual(grpcItems.map((e) => ({ result: toJson(ConfigService.method.watchCommits.output, e) })));
    expect(restItems[0]).toMatchObject({ result: { type: "COMMIT_EVENT_TYPE_COMMITTED", revision: { author: "root", revision: expect.stringMatching(/^\d+$/) } } });
    // The watches are gone once their clients are: each one finished call more.
    ac.abort();
    await waitUntil(async () => (await metric(path)) === finishedBefore + 3);
  });
});

async function waitUntil(cond: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 50));
  }
}
