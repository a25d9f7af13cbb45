// Generates the OpenAPI 3.1 document of the REST API from the service descriptors: one operation per
// google.api.http binding (path and query parameters, request body, JSON or NDJSON response), schemas of the
// messages in their canonical proto3 JSON form, bearer-token security and google.rpc.Status as the error
// schema. `npm run build` runs it over the proto source (comments become descriptions) and embeds the result
// in the daemon bundle; without that (running from source) the daemon generates it from the descriptors.
import type { DescEnum, DescField, DescMessage, DescService } from "@bufbuild/protobuf";
import { getOption, hasOption } from "@bufbuild/protobuf";
import { ScalarType } from "@bufbuild/protobuf";
import { field_behavior } from "../../../gen/google/api/field_behavior_pb.js";
import { FieldBehavior } from "../../../gen/google/api/field_behavior_pb.js";
import { BadRequestSchema, ErrorInfoSchema, RequestInfoSchema, RetryInfoSchema } from "../../../gen/google/rpc/error_details_pb.js";
import { StatusSchema } from "../../../gen/google/rpc/status_pb.js";
import { requiredCapability } from "../../../common/capabilities.js";
import { httpBindings, type HttpBinding } from "./http-rules.js";

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Schema = { [k: string]: Json };

export interface OpenApiOptions {
  /** Version of the document (the release). */
  version: string;
  /** Leading comment of a descriptor, when the descriptors carry source info (build time). */
  describe?: (desc: DescService | DescMessage | DescField | DescEnum | HttpBinding["method"]) => string | undefined;
}

const INT64 = new Set([ScalarType.INT64, ScalarType.SINT64, ScalarType.SFIXED64]);
const UINT64 = new Set([ScalarType.UINT64, ScalarType.FIXED64]);

/** The component name of a message or enum: its fully qualified proto name. */
const ref = (typeName: string): Schema => ({ $ref: `#/components/schemas/${typeName}` });

function scalarSchema(t: ScalarType): Schema {
  switch (t) {
    case ScalarType.BOOL:
      return { type: "boolean" };
    case ScalarType.STRING:
      return { type: "string" };
    case ScalarType.BYTES:
      return { type: "string", format: "byte", contentEncoding: "base64" };
    case ScalarType.FLOAT:
      return { type: "number", format: "float" };
    case ScalarType.DOUBLE:
      return { type: "number", format: "double" };
    case ScalarType.INT32:
    case ScalarType.SINT32:
    case ScalarType.SFIXED32:
      return { type: "integer", format: "int32" };
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      return { type: "integer", format: "int64", minimum: 0, maximum: 4294967295 };
    default:
      // 64-bit integers are strings in canonical JSON (numbers are accepted on input).
      if (INT64.has(t)) return { type: "string", format: "int64", pattern: "^-?[0-9]+$" };
      if (UINT64.has(t)) return { type: "string", format: "uint64", pattern: "^[0-9]+$" };
      return { type: "string" };
  }
}

/** Canonical JSON forms of the well-known types used by the API; undefined for other messages. */
function wellKnownSchema(typeName: string): Schema | undefined {
  switch (typeName) {
    case "google.protobuf.Timestamp":
      return { type: "string", format: "date-time", description: "RFC 3339, e.g. 2024-05-01T12:00:00Z" };
    case "google.protobuf.Duration":
      return { type: "string", pattern: "^-?[0-9]+(\\.[0-9]{1,9})?s$", description: 'seconds with an "s" suffix, e.g. "30s", "1.5s"' };
    case "google.protobuf.FieldMask":
      return { type: "string", description: 'comma-separated lowerCamel field paths, e.g. "rest.enabled,hostname"' };
    case "google.protobuf.Any":
      return { type: "object", properties: { "@type": { type: "string" } }, required: ["@type"], additionalProperties: true };
    case "google.protobuf.Struct":
      return { type: "object", additionalProperties: true };
    case "google.protobuf.Value":
      return { description: "any JSON value" };
    case "google.protobuf.ListValue":
      return { type: "array", items: {} };
    case "google.protobuf.Empty":
      return { type: "object", additionalProperties: false };
    case "google.protobuf.BoolValue":
      return { type: ["boolean", "null"] };
    case "google.protobuf.StringValue":
      return { type: ["string", "null"] };
    case "google.protobuf.BytesValue":
      return { type: ["string", "null"], format: "byte" };
    case "google.protobuf.Int32Value":
    case "google.protobuf.UInt32Value":
      return { type: ["integer", "null"] };
    case "google.protobuf.FloatValue":
    case "google.protobuf.DoubleValue":
      return { type: ["number", "null"] };
    case "google.protobuf.Int64Value":
    case "google.protobuf.UInt64Value":
      return { type: ["string", "null"], pattern: "^-?[0-9]+$" };
    default:
      return undefined;
  }
}

class SchemaBuilder {
  readonly schemas: Record<string, Schema> = {};

  constructor(private readonly describe: OpenApiOptions["describe"]) {}

  private withDescription(s: Schema, desc: Parameters<NonNullable<OpenApiOptions["describe"]>>[0]): Schema {
    const d = this.describe?.(desc)?.trim();
    return d ? { ...s, description: d } : s;
  }

  enumRef(e: DescEnum): Schema {
    if (!this.schemas[e.typeName]) {
      this.schemas[e.typeName] = this.withDescription({ type: "string", enum: e.values.map((v) => v.name) }, e);
    }
    return ref(e.typeName);
  }

  /** A schema for a message type: an inline one for well-known types, a $ref otherwise. */
  messageRef(m: DescMessage): Schema {
    const wk = wellKnownSchema(m.typeName);
    if (wk) return wk;
    if (!this.schemas[m.typeName]) {
      this.schemas[m.typeName] = {}; // placeholder first: recursive messages refer to themselves
      const properties: Record<string, Json> = {};
      for (const f of m.fields) properties[f.jsonName] = this.fieldSchema(f);
      this.schemas[m.typeName] = this.withDescription({ type: "object", properties, additionalProperties: false }, m);
    }
    return ref(m.typeName);
  }

  /** A field's value schema, without its list or map wrapping. */
  private valueSchema(f: DescField): Schema {
    if (f.enum) return this.enumRef(f.enum);
    if (f.message) return this.messageRef(f.message);
    return f.scalar !== undefined ? scalarSchema(f.scalar) : {};
  }

  fieldSchema(f: DescField): Schema {
    let s: Schema;
    if (f.fieldKind === "list") s = { type: "array", items: this.valueSchema(f) };
    else if (f.fieldKind === "map") s = { type: "object", additionalProperties: this.valueSchema(f) };
    else s = this.valueSchema(f);
    const behaviors = hasOption(f, field_behavior) ? getOption(f, field_behavior) : [];
    const notes: string[] = [];
    if (behaviors.includes(FieldBehavior.REQUIRED)) notes.push("Required.");
    if (behaviors.includes(FieldBehavior.OUTPUT_ONLY)) notes.push("Output only.");
    if (behaviors.includes(FieldBehavior.IMMUTABLE)) notes.push("Immutable.");
    if (f.oneof && !f.proto.proto3Optional) notes.push(`One of ${f.oneof.name}.`);
    const described = this.describe?.(f)?.trim();
    const text = [described, ...notes].filter(Boolean).join(" ");
    // A $ref cannot carry siblings in OpenAPI 3.0; 3.1 allows them, and tools show them.
    const out: Schema = text ? { ...s, description: text } : { ...s };
    if (behaviors.includes(FieldBehavior.OUTPUT_ONLY)) out.readOnly = true;
    return out;
  }
}

/** The query parameters of a binding: scalar-like leaves of the request not bound by the path or the body. */
function queryParameters(b: HttpBinding, builder: SchemaBuilder): Json[] {
  if (b.body === "*") return [];
  const bound = new Set(b.template.variables.map((v) => v.fieldPath.join(".")));
  const out: Json[] = [];
  const walk = (m: DescMessage, prefix: string, jsonPrefix: string, depth: number) => {
    for (const f of m.fields) {
      const path = `${prefix}${f.name}`;
      const jsonPath = `${jsonPrefix}${f.jsonName}`;
      if (bound.has(path) || (prefix === "" && f === b.bodyField)) continue;
      if (f.fieldKind === "message" && !wellKnownSchema(f.message.typeName)) {
        if (depth < 3) walk(f.message, `${path}.`, `${jsonPath}.`, depth + 1);
        continue;
      }
      if (f.fieldKind === "map" || (f.fieldKind === "list" && f.listKind === "message")) continue;
      const schema = builder.fieldSchema(f);
      out.push({
        name: jsonPath,
        in: "query",
        required: false,
        ...(f.fieldKind === "list" ? { style: "form", explode: true } : {}),
        schema,
        ...(path !== jsonPath ? { description: `Also accepted as "${path}".` } : {}),
      });
    }
  };
  walk(b.method.input, "", "", 0);
  return out;
}

/** Path parameters of a binding, named as in `names` (the OpenAPI path they are listed under). */
function pathParameters(b: HttpBinding, names: string[]): Json[] {
  return b.template.variables.map((v, i) => {
    const many = b.template.segments[v.end - 1]?.kind === "anyMany";
    const field = v.fieldPath.join(".");
    const name = names[i] ?? field;
    const notes = [
      ...(name !== field ? [`Binds the request field ${field}.`] : []),
      ...(many ? ['Spans the rest of the path, "/" included (e.g. a prefix "10.0.0.0/8").'] : []),
    ];
    return { name, in: "path", required: true, schema: { type: "string" }, ...(notes.length ? { description: notes.join(" ") } : {}) };
  });
}

const variableNames = (path: string) => [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]!);

/** The OpenAPI path of a template: variables as "{field.path}", the verb kept (":watch"). */
export function openApiPath(pattern: string): string {
  return pattern.replace(/\{([^}=]+)(=[^}]*)?\}/g, "{$1}");
}

export function buildOpenApi(services: readonly DescService[], opts: OpenApiOptions): Record<string, Json> {
  const builder = new SchemaBuilder(opts.describe);
  const paths: Record<string, Record<string, Json>> = {};
  const pathByShape: Record<string, string> = {};
  const statusRef = builder.messageRef(StatusSchema);
  for (const d of [ErrorInfoSchema, BadRequestSchema, RetryInfoSchema, RequestInfoSchema]) builder.messageRef(d);
  const errorResponse = {
    description: "The call failed: a google.rpc.Status with ErrorInfo (reason, domain \"orbital\", metadata), BadRequest field violations and RequestInfo (the trace id). The HTTP status follows from the gRPC code as in grpc-gateway.",
    content: { "application/json": { schema: statusRef } },
  };
  const tags: Json[] = [];
  for (const service of services) {
    const serviceDoc = opts.describe?.(service)?.trim();
    tags.push({ name: service.name, ...(serviceDoc ? { description: serviceDoc } : {}) });
    for (const method of service.methods) {
      for (const b of httpBindings(method)) {
        // Templates that differ only in their variable names ("/v1/users/{name}", "/v1/users/{user.name}") are
        // one OpenAPI path: the first one names the variables, the others' parameters say what they bind.
        const own = openApiPath(b.pattern);
        const shape = own.replace(/\{[^}]+\}/g, "{}");
        const p = (pathByShape[shape] ??= own);
        const item = (paths[p] ??= {});
        const streaming = method.methodKind === "server_streaming";
        const output = b.responseField?.message ? builder.messageRef(b.responseField.message) : builder.messageRef(method.output);
        const capability = requiredCapability(method);
        const doc = opts.describe?.(method)?.trim();
        const body = b.body === "*" ? builder.messageRef(method.input) : b.bodyField ? builder.fieldSchema(b.bodyField) : undefined;
        item[b.httpMethod.toLowerCase()] = {
          operationId: `${service.name}_${method.name}${b.index > 0 ? `_${b.index}` : ""}`,
          tags: [service.name],
          summary: `${method.name}${capability ? ` (${capability})` : ""}`,
          description: `${doc ? `${doc}\n\n` : ""}gRPC: /${service.typeName}/${method.name}. Requires capability \`${capability ?? "none (denied)"}\`.${
            streaming ? ' Server streaming: newline-delimited JSON, one {"result": …} object per message; a failure after the first line is an {"error": google.rpc.Status} line.' : ""
          }`,
          parameters: [...pathParameters(b, variableNames(p)), ...queryParameters(b, builder)],
          ...(body ? { requestBody: { required: b.body === "*" ? false : true, content: { "application/json": { schema: body } } } } : {}),
          responses: {
            "200": streaming
              ? {
                  description: "A stream of messages, one JSON object per line.",
                  content: {
                    "application/x-ndjson": {
                      schema: { type: "object", properties: { result: output, error: statusRef }, additionalProperties: false },
                    },
                  },
                }
              : { description: "OK", content: { "application/json": { schema: output } } },
            default: errorResponse,
          },
        };
      }
    }
  }
  paths["/v1/openapi.json"] = {
    get: {
      operationId: "Gateway_OpenApi",
      tags: ["Gateway"],
      summary: "This document (any valid API token)",
      responses: { "200": { description: "The OpenAPI document", content: { "application/json": { schema: { type: "object" } } } }, default: errorResponse },
    },
  };
  paths["/metrics"] = {
    get: {
      operationId: "Gateway_Metrics",
      tags: ["Gateway"],
      summary: "Prometheus metrics (system.read)",
      description: "Per-method call counters by status code and latency histograms, both transports, in Prometheus text exposition format 0.0.4.",
      responses: { "200": { description: "Prometheus text", content: { "text/plain": { schema: { type: "string" } } } }, default: errorResponse },
    },
  };
  tags.push({ name: "Gateway", description: "Endpoints of the REST gateway itself." });
  return {
    openapi: "3.1.0",
    info: {
      title: "Orbital OS API",
      version: opts.version,
      description:
        "The REST/JSON form of the Orbital OS gRPC API: the same RPCs and handlers, transcoded by google.api.http bindings. Bodies are canonical proto3 JSON. Every request needs an API token (Authorization: Bearer orb_<id>_<secret>).",
      license: { name: "Apache-2.0", identifier: "Apache-2.0" },
    },
    tags,
    security: [{ bearer: [] }],
    paths,
    components: {
      securitySchemes: { bearer: { type: "http", scheme: "bearer", description: "An API token from UserService.CreateApiToken." } },
      schemas: builder.schemas,
    },
  };
}
