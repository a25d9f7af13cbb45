// Proves: the OpenAPI document generated from the descriptors at build time is valid OpenAPI 3.1 (independent validator), has one operation per google.api.http binding with its path/query parameters, body, canonical-JSON schemas, bearer security and google.rpc.Status errors, and is what the daemon serves.
// Also: the run-time fallback generated without proto comments is valid too.
// Topology: dist/openapi.json from `npm run build`, the generator on the runtime descriptors, one daemon (sim) with REST on 127.0.0.1:<free port>.
import { readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Validator } from "@seriousme/openapi-schema-validator";
import { apiServices } from "../../src/common/api-services.js";
import { requiredCapability } from "../../src/common/capabilities.js";
import { httpBindings } from "../../src/daemon/transports/rest/http-rules.js";
import { buildOpenApi, openApiPath } from "../../src/daemon/transports/rest/openapi.js";
import { repoRoot } from "../../scripts/proto-image.js";
import { startDaemon, type RunningDaemon } from "../support/daemon.js";
import { enableRest, mintToken, rest } from "../support/rest.js";

type Doc = {
  openapi: string;
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Record<string, unknown>>; securitySchemes: Record<string, unknown> };
  security: unknown[];
};
type Operation = {
  operationId: string;
  summary: string;
  parameters: { name: string; in: string; required?: boolean; schema: Record<string, unknown> }[];
  requestBody?: { content: Record<string, { schema: unknown }> };
  responses: Record<string, { content?: Record<string, { schema: Record<string, unknown> }> }>;
};

const built = JSON.parse(readFileSync(path.join(repoRoot, "dist", "openapi.json"), "utf8")) as Doc;
const bindings = apiServices.flatMap((s) => s.methods.flatMap((m) => httpBindings(m)));
/** Templates that differ only in variable names share one OpenAPI path: find it by shape. */
const shape = (p: string) => openApiPath(p).replace(/\{[^}]+\}/g, "{}");
const pathFor = (doc: Doc, pattern: string) => Object.keys(doc.paths).find((p) => shape(p) === shape(pattern));

async function validate(doc: unknown): Promise<void> {
  const validator = new Validator();
  // A copy: resolveRefs() dereferences the validator's specification in place.
  const res = await validator.validate(structuredClone(doc) as Record<string, unknown>);
  expect(res.errors ?? [], JSON.stringify(res.errors, null, 1)?.slice(0, 2000)).toEqual([]);
  expect(res.valid).toBe(true);
  expect(validator.version).toBe("3.1");
  // Every $ref resolves.
  expect(() => validator.resolveRefs()).not.toThrow();
}

describe("the generated OpenAPI document", () => {
  it("is valid OpenAPI 3.1 as built (with the proto comments) and as generated at run time (without)", async () => {
    await validate(built);
    await validate(buildOpenApi(apiServices, { version: "0.0.0-test" }));
    // The validator does reject a broken document (a parameter that is neither in path, query, header nor cookie).
    const broken = structuredClone(built);
    broken.paths["/v1/routes"]!.get!.parameters[0]!.in = "body";
    expect((await new Validator().validate(broken as unknown as Record<string, unknown>)).valid).toBe(false);
  });

  it("has one operation per HTTP binding, with its capability, and nothing else but the gateway's own endpoints", () => {
    const ops = Object.entries(built.paths).flatMap(([p, item]) => Object.keys(item).map((verb) => `${verb.toUpperCase()} ${shape(p)}`));
    const expected = [...bindings.map((b) => `${b.httpMethod} ${shape(b.pattern)}`), "GET /v1/openapi.json", "GET /metrics"];
    expect(ops.sort()).toEqual(expected.sort());
    for (const b of bindings) {
      const op = built.paths[pathFor(built, b.pattern)!]![b.httpMethod.toLowerCase()]!;
      expect(op.operationId).toBe(`${b.method.parent.name}_${b.method.name}`);
      expect(op.summary).toContain(requiredCapability(b.method)!);
    }
    const ids = Object.values(built.paths).flatMap((item) => Object.values(item).map((o) => o.operationId));
    expect(new Set(ids).size).toBe(ids.length);
  });

  it("declares exactly the path variables of each path, and query parameters only for fields outside the path and body", () => {
    for (const [p, item] of Object.entries(built.paths)) {
      const vars = [...p.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]).sort();
      for (const op of Object.values(item)) {
        expect(op.parameters?.filter((x) => x.in === "path").map((x) => x.name).sort() ?? [], `${p} ${op.operationId}`).toEqual(vars);
        for (const x of op.parameters?.filter((x) => x.in === "path") ?? []) expect(x.required).toBe(true);
      }
    }
    const listRoutes = built.paths["/v1/routes"]!.get!;
    expect(listRoutes.parameters.map((x) => x.name).sort()).toEqual(["family", "includeUnowned", "origin", "page.size", "page.token", "routeSet", "table"]);
    const updateSettings = built.paths["/v1/system/settings"]!.patch!;
    expect(updateSettings.parameters.map((x) => x.name).sort()).toEqual(["transactionId", "updateMask"]);
    expect(updateSettings.requestBody?.content["application/json"]?.schema).toMatchObject({ $ref: "#/components/schemas/orbital.system.v1.Settings" });
    // body "*": no query parameters at all.
    expect(built.paths["/v1/tokens/{id}:revoke"]!.post!.parameters.map((x) => x.name)).toEqual(["id"]);
  });

  it("describes canonical proto3 JSON: int64 as strings, enums by name, Timestamp RFC 3339, Duration, FieldMask", () => {
    const s = built.components.schemas;
    const revisionInfo = s["orbital.config.v1.RevisionInfo"] as { properties: Record<string, Record<string, unknown>> };
    expect(revisionInfo.properties.revision).toMatchObject({ type: "string", format: "uint64" });
    expect(revisionInfo.properties.commitTime).toMatchObject({ type: "string", format: "date-time" });
    expect(revisionInfo.properties.confirmDeadline).toMatchObject({ format: "date-time" });
    expect(s["orbital.system.v1.HealthStatus"]).toMatchObject({ type: "string", enum: expect.arrayContaining(["HEALTH_STATUS_SERVING"]) });
    const commit = s["orbital.config.v1.CommitRequest"] as { properties: Record<string, Record<string, unknown>> };
    expect(commit.properties.confirmTimeout).toMatchObject({ type: "string", pattern: expect.stringContaining("s$") });
    const user = s["orbital.user.v1.User"] as { properties: Record<string, Record<string, unknown>>; additionalProperties: boolean };
    expect(user.properties.createTime).toMatchObject({ readOnly: true });
    expect(user.additionalProperties).toBe(false);
  });

  it("secures everything with bearer tokens and answers errors as google.rpc.Status; streams as NDJSON", () => {
    expect(built.security).toEqual([{ bearer: [] }]);
    expect(built.components.securitySchemes.bearer).toMatchObject({ type: "http", scheme: "bearer" });
    expect(built.components.schemas["google.rpc.Status"]).toMatchObject({ properties: { code: expect.anything(), message: expect.anything(), details: expect.anything() } });
    for (const item of Object.values(built.paths)) {
      for (const op of Object.values(item)) expect(op.responses.default?.content?.["application/json"]?.schema).toEqual({ $ref: "#/components/schemas/google.rpc.Status" });
    }
    for (const b of bindings.filter((x) => x.method.methodKind === "server_streaming")) {
      const op = built.paths[pathFor(built, b.pattern)!]![b.httpMethod.toLowerCase()]!;
      expect(Object.keys(op.responses["200"]!.content!)).toEqual(["application/x-ndjson"]);
    }
  });

  it("carries the proto comments as descriptions", () => {
    expect(built.paths["/v1/routes"]!.get!).toMatchObject({ description: expect.stringContaining("Lists configured routes") });
    expect(built.components.schemas["orbital.system.v1.RestListener"]).toMatchObject({ description: "Where the REST API listens." });
  });
});

describe("GET /v1/openapi.json", () => {
  let d: RunningDaemon;
  beforeAll(async () => {
    d = await startDaemon();
  });
  afterAll(() => d.cleanup());

  it("serves the document built into the daemon, to any valid token", async () => {
    const { base } = await enableRest(d);
    const viewer = await mintToken(d, "doc-reader", "viewer");
    const res = await rest(base, { method: "GET", path: "/v1/openapi.json", token: viewer.secret });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^application\/json/);
    expect(res.json).toEqual(built);
    await validate(res.json);
  });
});
