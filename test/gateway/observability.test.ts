// Proves: one trace id follows a call end to end on both transports (gRPC traceparent metadata as orbctl sends it, REST traceparent header): it is returned in the response, stamps the "configuration committed" log line and the audit record, and is the error's RequestInfo.
// Also: GET /metrics is valid Prometheus text (checked by a strict parser here) whose counters move by exactly the calls made over gRPC and REST, and agrees with SystemService.GetMetrics.
// Topology: one daemon (sim data plane), REST on 127.0.0.1:<free port>; root over gRPC and a root API token over REST.
import { readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SystemService } from "../../src/gen/orbital/system/v1/system_pb.js";
import { UserService } from "../../src/gen/orbital/user/v1/user_pb.js";
import { OrbitalError } from "../../src/common/errors.js";
import { startDaemon, type RunningDaemon } from "../support/daemon.js";
import { enableRest, mintToken, rest, statusParts } from "../support/rest.js";

let d: RunningDaemon;
let base: string;
let token: string;

beforeAll(async () => {
  d = await startDaemon();
  ({ base } = await enableRest(d));
  token = (await mintToken(d, "root")).secret;
});
afterAll(() => d.cleanup());

function audit(): Record<string, string>[] {
  return readFileSync(path.join(d.dataDir, "audit.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as Record<string, string>);
}

const traceparentOf = (traceId: string) => `00-${traceId}-00f067aa0ba902b7-01`;

describe("trace context", () => {
  it("a CLI-like gRPC call's trace id is in the commit log line and in the audit record", async () => {
    const traceId = "0af7651916cd43dd8448eb211c80319c";
    let returned = "";
    const res = await d.client(UserService).createUser({ user: { name: "traced-grpc", role: "viewer" } }, { traceparent: traceparentOf(traceId), onTrace: (t) => (returned = t) });
    expect(returned).toBe(traceId);
    const committed = await d.waitForLog((l) => l.msg === "configuration committed" && l.revision === res.revision.toString());
    expect(committed.traceId).toBe(traceId);
    await expect.poll(() => audit().find((r) => r.traceId === traceId)).toMatchObject({ principal: "root", method: "/orbital.user.v1.UserService/CreateUser", code: "OK" });
    const err = await d.client(UserService).getUser({ name: "nobody" }, { traceparent: traceparentOf(traceId) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OrbitalError);
    expect((err as OrbitalError).traceId).toBe(traceId);
  });

  it("a REST call's traceparent header is continued: response header, commit log line, audit record, RequestInfo", async () => {
    const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    const res = await rest(base, { method: "POST", path: "/v1/users", token, headers: { traceparent: traceparentOf(traceId) }, body: JSON.stringify({ name: "traced-rest", role: "viewer" }) });
    expect(res.status).toBe(200);
    expect(res.headers.get("traceparent")).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));
    const revision = (res.json as { revision: string }).revision;
    const committed = await d.waitForLog((l) => l.msg === "configuration committed" && l.revision === revision);
    expect(committed.traceId).toBe(traceId);
    await expect.poll(() => audit().find((r) => r.traceId === traceId)).toMatchObject({ principal: "root", method: "/orbital.user.v1.UserService/CreateUser", code: "OK" });

    const failed = await rest(base, { method: "DELETE", path: "/v1/users/nobody", token, headers: { traceparent: traceparentOf(traceId) } });
    expect(failed.status).toBe(404);
    expect(statusParts(failed.json).traceId).toBe(traceId);
    await expect.poll(() => audit().filter((r) => r.traceId === traceId).map((r) => r.code)).toEqual(["OK", "NOT_FOUND"]);
    // A refused REST write is audited too, under the token it presented.
    const refusedTrace = "11111111111111111111111111111111";
    await rest(base, { method: "DELETE", path: "/v1/users/traced-rest", token: `orb_0123456789ab_${"c".repeat(32)}`, headers: { traceparent: traceparentOf(refusedTrace) } });
    await expect.poll(() => audit().find((r) => r.traceId === refusedTrace)).toMatchObject({ principal: "token:0123456789ab", code: "UNAUTHENTICATED", reason: "TOKEN_INVALID" });
  });

  it("mints a trace for a REST call without traceparent (or with a malformed one) and returns it", async () => {
    const ids = new Set<string>();
    for (const tp of [undefined, "00-xyz-bad-01"]) {
      const res = await rest(base, { method: "GET", path: "/v1/whoami", token, ...(tp ? { headers: { traceparent: tp } } : {}) });
      const m = /^00-([0-9a-f]{32})-[0-9a-f]{16}-01$/.exec(res.headers.get("traceparent") ?? "");
      expect(m).not.toBeNull();
      ids.add(m![1]!);
    }
    expect(ids.size).toBe(2);
  });
});

// ----- Prometheus text exposition format 0.0.4, parsed strictly enough to catch a malformed exposition.

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

function parsePrometheus(text: string): { types: Map<string, string>; samples: Sample[] } {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
  expect(text.endsWith("\n"), "exposition ends with a newline").toBe(true);
  for (const line of text.split("\n").slice(0, -1)) {
    if (line.startsWith("#")) {
      const m = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line);
      expect(m, line).not.toBeNull();
      expect(m![2]).toMatch(NAME);
      if (m![1] === "TYPE") {
        expect(["counter", "gauge", "histogram", "summary", "untyped"], line).toContain(m![3]);
        expect(types.has(m![2]!), `TYPE twice: ${line}`).toBe(false);
        types.set(m![2]!, m![3]!);
      }
      continue;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: (-?\d+))?$/.exec(line);
    expect(m, `sample line: ${line}`).not.toBeNull();
    const labels: Record<string, string> = {};
    if (m![2]) {
      const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)/gy;
      let rest = m![2];
      let lm: RegExpExecArray | null;
      let consumed = 0;
      while ((lm = re.exec(rest))) {
        labels[lm[1]!] = lm[2]!.replace(/\\n/g, "\n").replace(/\\(["\\])/g, "$1");
        consumed = re.lastIndex;
      }
      expect(consumed, `labels: ${line}`).toBe(rest.length);
      rest = "";
    }
    const value = m![3] === "+Inf" ? Infinity : m![3] === "-Inf" ? -Infinity : Number(m![3]);
    expect(Number.isNaN(value) && m![3] !== "NaN", `value: ${line}`).toBe(false);
    const family = m![1]!.replace(/_(bucket|sum|count)$/, "");
    expect(types.has(m![1]!) || types.has(family), `sample before its TYPE: ${line}`).toBe(true);
    samples.push({ name: m![1]!, labels, value });
  }
  return { types, samples };
}

async function scrape(): Promise<{ types: Map<string, string>; samples: Sample[]; text: string }> {
  const res = await rest(base, { method: "GET", path: "/metrics", token });
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
  return { ...parsePrometheus(res.text), text: res.text };
}

const seriesKey = (s: Sample) => `${s.name}{${Object.entries(s.labels).sort().map(([k, v]) => `${k}=${v}`).join(",")}}`;
const countersOf = (samples: Sample[]) => new Map(samples.filter((s) => s.name === "orbital_rpc_calls_total" || s.name === "orbital_rpc_duration_seconds_count").map((s) => [seriesKey(s), s.value]));

describe("metrics", () => {
  it("serves valid Prometheus text with a well-formed histogram per method and transport", async () => {
    const { types, samples } = await scrape();
    expect(types.get("orbital_rpc_calls_total")).toBe("counter");
    expect(types.get("orbital_rpc_duration_seconds")).toBe("histogram");
    const series = new Set(samples.filter((s) => s.name === "orbital_rpc_duration_seconds_count").map((s) => `${s.labels.method} ${s.labels.transport}`));
    expect(series.size).toBeGreaterThan(0);
    for (const key of series) {
      const [method, transport] = key.split(" ");
      expect(["grpc", "fast", "rest"]).toContain(transport);
      const buckets = samples.filter((s) => s.name === "orbital_rpc_duration_seconds_bucket" && s.labels.method === method && s.labels.transport === transport);
      const les = buckets.map((b) => (b.labels.le === "+Inf" ? Infinity : Number(b.labels.le)));
      expect(les).toEqual([...les].sort((a, b) => a - b));
      expect(les[les.length - 1]).toBe(Infinity);
      for (let i = 1; i < buckets.length; i++) expect(buckets[i]!.value).toBeGreaterThanOrEqual(buckets[i - 1]!.value);
      const count = samples.find((s) => s.name === "orbital_rpc_duration_seconds_count" && s.labels.method === method && s.labels.transport === transport)!.value;
      expect(buckets[buckets.length - 1]!.value).toBe(count);
    }
  });

  it("moves the counters by exactly the calls made, labelled with their transport, and GetMetrics agrees", async () => {
    const before = countersOf((await scrape()).samples);
    const whoami = "/orbital.user.v1.UserService/WhoAmI";
    const listUsers = "/orbital.user.v1.UserService/ListUsers";
    const getUser = "/orbital.user.v1.UserService/GetUser";
    for (let i = 0; i < 3; i++) expect((await rest(base, { method: "GET", path: "/v1/whoami", token })).status).toBe(200);
    for (let i = 0; i < 2; i++) await d.client(UserService, 10_000, i === 0 ? "grpc" : "fast").listUsers({});
    expect((await rest(base, { method: "GET", path: "/v1/users/nobody", token })).status).toBe(404);
    await d.client(UserService, 10_000, "fast").getUser({ name: "nobody" }).catch(() => undefined);
    expect((await rest(base, { method: "GET", path: "/v1/users", token: `orb_0123456789ab_${"d".repeat(32)}` })).status).toBe(401);

    const after = countersOf((await scrape()).samples);
    const delta = new Map<string, number>();
    for (const [k, v] of after) if (v !== (before.get(k) ?? 0)) delta.set(k, v - (before.get(k) ?? 0));
    expect(Object.fromEntries(delta)).toEqual({
      [`orbital_rpc_calls_total{code=OK,method=${whoami},transport=rest}`]: 3,
      [`orbital_rpc_duration_seconds_count{method=${whoami},transport=rest}`]: 3,
      [`orbital_rpc_calls_total{code=OK,method=${listUsers},transport=grpc}`]: 1,
      [`orbital_rpc_calls_total{code=OK,method=${listUsers},transport=fast}`]: 1,
      [`orbital_rpc_calls_total{code=UNAUTHENTICATED,method=${listUsers},transport=rest}`]: 1,
      [`orbital_rpc_duration_seconds_count{method=${listUsers},transport=grpc}`]: 1,
      [`orbital_rpc_duration_seconds_count{method=${listUsers},transport=fast}`]: 1,
      [`orbital_rpc_duration_seconds_count{method=${listUsers},transport=rest}`]: 1,
      [`orbital_rpc_calls_total{code=NOT_FOUND,method=${getUser},transport=rest}`]: 1,
      [`orbital_rpc_calls_total{code=NOT_FOUND,method=${getUser},transport=fast}`]: 1,
      [`orbital_rpc_duration_seconds_count{method=${getUser},transport=rest}`]: 1,
      [`orbital_rpc_duration_seconds_count{method=${getUser},transport=fast}`]: 1,
    });

    // SystemService.GetMetrics serves the same exposition (plus its own call, counted once it finished).
    const viaGrpc = parsePrometheus((await d.client(SystemService).getMetrics({})).text);
    const grpcCounters = countersOf(viaGrpc.samples);
    for (const [k, v] of after) if (!k.includes("GetMetrics")) expect(grpcCounters.get(k), k).toBe(v);
  });
});
