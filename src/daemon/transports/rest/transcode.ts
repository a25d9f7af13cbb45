// Transcoding between HTTP/JSON and the RPC messages, following google/api/http.proto as grpc-gateway does:
// the request message is built from the path variables, the body (`body: "*"` or one named field) and the
// query parameters (the remaining fields: "page.size=10", repeated fields by repeating the key, proto or JSON
// names), in canonical proto3 JSON; the response is canonical proto3 JSON (int64 as strings, enums as names,
// Timestamp as RFC 3339); errors are the JSON form of the same google.rpc.Status gRPC carries.
import {
  create,
  createRegistry,
  fromJson,
  toJson,
  type DescField,
  type DescMessage,
  type JsonObject,
  type JsonValue,
  type Message,
} from "@bufbuild/protobuf";
import { ScalarType } from "@bufbuild/protobuf";
import { FieldMaskSchema } from "@bufbuild/protobuf/wkt";
import { BadRequestSchema, ErrorInfoSchema, RequestInfoSchema, RetryInfoSchema } from "../../../gen/google/rpc/error_details_pb.js";
import { StatusSchema } from "../../../gen/google/rpc/status_pb.js";
import { ErrorReason } from "../../../gen/orbital/api/v1/error_reason_pb.js";
import { invalidField, OrbitalError, toStatus } from "../../../common/errors.js";
import type { HttpBinding } from "./http-rules.js";
import type { Binding } from "./path-template.js";

/** Types an Any may hold in a request or a response (the error details); JSON needs them by name. */
export const jsonRegistry = createRegistry(ErrorInfoSchema, BadRequestSchema, RetryInfoSchema, RequestInfoSchema, StatusSchema);

const isObject = (v: unknown): v is JsonObject => typeof v === "object" && v !== null && !Array.isArray(v);
/** Well-known types have a JSON form of their own (a string, a number, any value): they are leaves here. */
const isWellKnown = (m: DescMessage) => m.typeName.startsWith("google.protobuf.");
const fieldNamed = (m: DescMessage, name: string) => m.fields.find((f) => f.name === name || f.jsonName === name);

function malformed(methodPath: string, why: string): OrbitalError {
  return new OrbitalError({ reason: ErrorReason.MALFORMED_MESSAGE, message: `request is not valid JSON for ${methodPath}: ${why}`, metadata: { method: methodPath } });
}

/** Strips protobuf-es's "cannot decode ... from JSON: " prefix from a decoding error. */
function why(err: unknown): string {
  const m = (err as Error).message ?? String(err);
  return m.replace(/^cannot decode [^:]+ from JSON: /, "");
}

/**
 * Finds the first field of `json` that does not decode as `schema`, with its path in the request
 * ("user.name", "adds[2].destination"), descending into messages and lists of messages.
 */
function locate(schema: DescMessage, json: JsonValue, prefix: string): { field: string; description: string } | undefined {
  if (!isObject(json)) return { field: prefix || "(request)", description: `expected a JSON object for ${schema.typeName}` };
  for (const [key, value] of Object.entries(json)) {
    const field = fieldNamed(schema, key);
    const path = prefix ? `${prefix}.${field?.name ?? key}` : (field?.name ?? key);
    if (!field) return { field: path, description: `unknown field "${key}" in ${schema.typeName}` };
    try {
      fromJson(schema, { [key]: value }, { registry: jsonRegistry });
      continue;
    } catch (err) {
      if (field.fieldKind === "message" && !isWellKnown(field.message) && isObject(value)) {
        return locate(field.message, value, path) ?? { field: path, description: why(err) };
      }
      if (field.fieldKind === "list" && field.listKind === "message" && !isWellKnown(field.message) && Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) {
          try {
            fromJson(field.message, value[i]!, { registry: jsonRegistry });
          } catch (inner) {
            return locate(field.message, value[i]!, `${path}[${i}]`) ?? { field: `${path}[${i}]`, description: why(inner) };
          }
        }
      }
      return { field: path, description: why(err) };
    }
  }
  return undefined;
}

/** Decodes canonical JSON into `schema`; a failure is INVALID_FIELD naming the field, or MALFORMED_MESSAGE. */
export function decodeJson<T extends DescMessage>(schema: T, json: JsonValue, methodPath: string): Message & { $typeName: T["typeName"] } {
  try {
    return fromJson(schema, json, { registry: jsonRegistry }) as Message & { $typeName: T["typeName"] };
  } catch (err) {
    const bad = locate(schema, json, "");
    if (bad) throw invalidField(bad.field, bad.description);
    throw malformed(methodPath, why(err));
  }
}

/** A request field path resolved against the descriptors, proto names: ["route", "destination", "cidr"]. */
function resolvePath(schema: DescMessage, parts: string[]): DescField[] | undefined {
  const out: DescField[] = [];
  let message: DescMessage | undefined = schema;
  for (const part of parts) {
    if (!message) return undefined;
    const f = fieldNamed(message, part);
    if (!f) return undefined;
    out.push(f);
    message = f.fieldKind === "message" && !isWellKnown(f.message) ? f.message : undefined;
  }
  return out;
}

/** The JSON value of a text from the URL (path variable or query parameter) for a scalar-like field. */
function textValue(field: DescField, text: string): JsonValue {
  const scalar = field.fieldKind === "scalar" || (field.fieldKind === "list" && field.listKind === "scalar") ? field.scalar : undefined;
  const isEnum = field.fieldKind === "enum" || (field.fieldKind === "list" && field.listKind === "enum");
  if (isEnum) return /^-?\d+$/.test(text) ? Number(text) : text;
  if (scalar === ScalarType.BOOL) return text === "true" ? true : text === "false" ? false : text;
  if (scalar === ScalarType.FLOAT || scalar === ScalarType.DOUBLE) return text.trim() !== "" && !Number.isNaN(Number(text)) ? Number(text) : text;
  // A FieldMask in a URL may name fields as in the proto ("rest.tls_key_path"); its JSON form is lowerCamel.
  if (field.fieldKind === "message" && field.message.typeName === FieldMaskSchema.typeName) {
    return text
      .split(",")
      .map((p) => p.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase()))
      .join(",");
  }
  return text;
}

/** Sets a value at a field path of a JSON object, keyed by JSON names (a proto-name key is replaced). */
function setAt(root: JsonObject, fields: DescField[], value: JsonValue): void {
  let obj = root;
  fields.forEach((f, i) => {
    if (f.name !== f.jsonName && f.name in obj) {
      obj[f.jsonName] = obj[f.name]!;
      delete obj[f.name];
    }
    if (i === fields.length - 1) {
      obj[f.jsonName] = value;
      return;
    }
    const next = obj[f.jsonName];
    if (!isObject(next)) obj[f.jsonName] = {};
    obj = obj[f.jsonName] as JsonObject;
  });
}

/** update_mask paths for a PATCH body: the fields it holds, down to the leaves of nested messages. */
function maskFromBody(schema: DescMessage, body: JsonObject, prefix = ""): string[] {
  const paths: string[] = [];
  for (const [key, value] of Object.entries(body)) {
    const f = fieldNamed(schema, key);
    if (!f) continue;
    const path = `${prefix}${f.name}`;
    if (f.fieldKind === "message" && !isWellKnown(f.message) && isObject(value) && Object.keys(value).length > 0) {
      paths.push(...maskFromBody(f.message, value, `${path}.`));
    } else {
      paths.push(path);
    }
  }
  return paths;
}

export interface HttpRequestParts {
  binding: HttpBinding;
  variables: Binding[];
  query: URLSearchParams;
  /** The request body as received; empty when there was none. */
  body: Buffer;
}

/** Builds the RPC's request message from an HTTP request. */
export function requestFromHttp(parts: HttpRequestParts): Message {
  const { binding, variables, query } = parts;
  const input = binding.method.input;
  const methodPath = `/${binding.method.parent.typeName}/${binding.method.name}`;
  const text = parts.body.toString("utf8");
  let parsed: JsonValue | undefined;
  if (text.trim() !== "") {
    if (binding.body === "") throw malformed(methodPath, `${binding.httpMethod} ${binding.pattern} takes no request body`);
    try {
      parsed = JSON.parse(text) as JsonValue;
    } catch (err) {
      throw malformed(methodPath, (err as Error).message);
    }
  }
  let json: JsonObject = {};
  if (binding.body === "*") {
    if (parsed !== undefined && !isObject(parsed)) throw malformed(methodPath, `the body must be a JSON object (${input.typeName})`);
    json = parsed === undefined ? {} : structuredClone(parsed as JsonObject);
  } else if (binding.bodyField && parsed !== undefined) {
    // A copy: the path variables are set into it, and the mask is inferred from the body as sent.
    json[binding.bodyField.jsonName] = structuredClone(parsed);
  }

  const bound: string[] = [];
  for (const v of variables) {
    const fields = resolvePath(input, v.fieldPath);
    if (!fields) throw malformed(methodPath, `path variable ${v.fieldPath.join(".")} names no field`);
    setAt(json, fields, textValue(fields[fields.length - 1]!, v.value));
    bound.push(fields.map((f) => f.name).join("."));
  }

  let maskFromQuery = false;
  for (const key of new Set(query.keys())) {
    const fields = resolvePath(input, key.split("."));
    const leaf = fields?.[fields.length - 1];
    if (!fields || !leaf) throw invalidField(key, `unknown query parameter: ${input.typeName} has no field "${key}"`);
    const path = fields.map((f) => f.name).join(".");
    if (binding.body === "*") throw invalidField(path, "the request body binds every field; it cannot be a query parameter");
    if (binding.bodyField && fields[0] === binding.bodyField) throw invalidField(path, "is bound by the request body");
    if (bound.some((b) => b === path || b.startsWith(`${path}.`) || path.startsWith(`${b}.`))) throw invalidField(path, "is bound by the URL path");
    const leafIsValue = leaf.fieldKind === "scalar" || leaf.fieldKind === "enum" || (leaf.fieldKind === "message" && isWellKnown(leaf.message));
    const leafIsList = leaf.fieldKind === "list" && leaf.listKind !== "message";
    if (!leafIsValue && !leafIsList) throw invalidField(path, "cannot be set from a query parameter (it is a message, a map or a list of messages)");
    const values = query.getAll(key);
    if (leafIsValue && values.length > 1) throw invalidField(path, "is not repeated but was given more than once");
    setAt(json, fields, leafIsList ? values.map((t) => textValue(leaf, t)) : textValue(leaf, values[0]!));
    if (path === "update_mask") maskFromQuery = true;
  }

  const message = decodeJson(input, json, methodPath);
  // PATCH without update_mask changes the fields present in the body, as grpc-gateway infers it; with an
  // empty mask the RPC would replace every mutable field.
  const maskField = input.fields.find((f) => f.name === "update_mask");
  if (
    binding.httpMethod === "PATCH" &&
    !maskFromQuery &&
    binding.bodyField?.fieldKind === "message" &&
    maskField?.fieldKind === "message" &&
    maskField.message.typeName === FieldMaskSchema.typeName &&
    isObject(parsed)
  ) {
    const paths = maskFromBody(binding.bodyField.message, parsed);
    if (paths.length > 0) (message as unknown as Record<string, unknown>)[maskField.localName] = create(FieldMaskSchema, { paths });
  }
  return message;
}

/** The JSON body of a response message (or of its response_body field). */
export function responseJson(binding: HttpBinding | undefined, output: DescMessage, message: Message): JsonValue {
  const json = toJson(output, message, { registry: jsonRegistry });
  if (binding?.responseField && isObject(json)) return json[binding.responseField.jsonName] ?? null;
  return json;
}

/** The JSON google.rpc.Status of an error: {"code", "message", "details": [{"@type": ..., ...}]}. */
export function statusJson(err: OrbitalError): JsonValue {
  const json = toJson(StatusSchema, toStatus(err), { registry: jsonRegistry }) as JsonObject;
  // "@type" first, as grpc-gateway and the proto3 JSON examples write it (toJson appends it).
  if (Array.isArray(json.details)) json.details = json.details.map((d) => (isObject(d) ? { "@type": d["@type"] ?? null, ...d } : d));
  return json;
}
