// REST test helpers: enables the daemon's REST listener on 127.0.0.1 and a free port (UpdateSettings over
// gRPC as root), mints API tokens, and calls RPCs over HTTP from their google.api.http binding, building the
// path, query and body from a request message the way a REST client would (independently of the gateway).
import net from "node:net";
import { create, toJson, type DescMethod, type JsonObject, type JsonValue, type MessageInitShape } from "@bufbuild/protobuf";
import { SystemService } from "../../src/gen/orbital/system/v1/system_pb.js";
import { UserService } from "../../src/gen/orbital/user/v1/user_pb.js";
import { httpBindings } from "../../src/daemon/transports/rest/http-rules.js";
import type { RunningDaemon } from "./daemon.js";

/** A TCP port nobody listens on right now (bound then released). */
export function freePort(host = "127.0.0.1"): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, host, () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** Whether something accepts TCP connections on host:port. */
export function accepts(port: number, host = "127.0.0.1"): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host });
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

export async function waitFor(cond: () => Promise<boolean> | boolean, timeoutMs = 10_000, what = "condition"): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Turns REST on (or moves it) with UpdateSettings over gRPC as root, and waits until it accepts. */
export async function enableRest(d: RunningDaemon, opts: { port?: number; address?: string; tls?: { cert: string; key: string } } = {}): Promise<{ port: number; base: string }> {
  const port = opts.port ?? (await freePort());
  const address = opts.address ?? "127.0.0.1";
  await d.client(SystemService).updateSettings({
    settings: { rest: { enabled: true, address, port, tlsCertificatePath: opts.tls?.cert ?? "", tlsKeyPath: opts.tls?.key ?? "" } },
    updateMask: { paths: ["rest"] },
  });
  await waitFor(() => accepts(port, address), 10_000, `REST on ${address}:${port}`);
  return { port, base: `${opts.tls ? "https" : "http"}://${address.includes(":") ? `[${address}]` : address}:${port}` };
}

export async function disableRest(d: RunningDaemon): Promise<void> {
  await d.client(SystemService).updateSettings({ settings: { rest: { enabled: false } }, updateMask: { paths: ["rest.enabled"] } });
}

/** Mints an API token for `user` (created with `role` first unless it exists) and returns its secret. */
export async function mintToken(d: RunningDaemon, user: string, role?: string, expireInMs?: number): Promise<{ id: string; secret: string }> {
  const users = d.client(UserService);
  if (role) await users.createUser({ user: { name: user, role } });
  const res = await users.createApiToken({
    token: { user, description: "test", ...(expireInMs !== undefined ? { expireTime: { seconds: BigInt(Math.floor((Date.now() + expireInMs) / 1000)), nanos: ((Date.now() + expireInMs) % 1000) * 1e6 } } : {}) },
  });
  return { id: res.token!.id, secret: res.secret };
}

export interface RestRequest {
  method: string;
  path: string;
  body?: string;
}

const isObject = (v: unknown): v is JsonObject => typeof v === "object" && v !== null && !Array.isArray(v);

function take(json: JsonObject, fieldPath: string[], method: DescMethod): JsonValue | undefined {
  // Path variables are named by proto names; the JSON has lowerCamel names.
  let obj: JsonValue | undefined = json;
  let message = method.input;
  const parents: [JsonObject, string][] = [];
  for (const part of fieldPath) {
    const f = message.fields.find((x) => x.name === part)!;
    if (!isObject(obj)) return undefined;
    parents.push([obj, f.jsonName]);
    obj = obj[f.jsonName];
    if (f.fieldKind === "message") message = f.message;
  }
  const [holder, key] = parents[parents.length - 1]!;
  delete holder[key];
  return obj;
}

function flatten(json: JsonValue, prefix: string, out: [string, string][]): void {
  if (isObject(json)) {
    for (const [k, v] of Object.entries(json)) flatten(v, prefix ? `${prefix}.${k}` : k, out);
  } else if (Array.isArray(json)) {
    for (const v of json) out.push([prefix, String(v)]);
  } else if (json !== null) {
    out.push([prefix, String(json)]);
  }
}

/**
 * The HTTP request a REST client sends for an RPC call: the main binding, path variables filled from the
 * request (a "**" variable keeps its "/"), the body per the binding, everything else as query parameters.
 */
export function restRequestFor<M extends DescMethod>(method: M, request: MessageInitShape<M["input"]>): RestRequest {
  const binding = httpBindings(method)[0];
  if (!binding) throw new Error(`${method.name} has no HTTP binding`);
  const json = toJson(method.input, create(method.input, request as never)) as JsonObject;
  let path = binding.pattern;
  for (const v of binding.template.variables) {
    const value = String(take(json, v.fieldPath, method) ?? "");
    const many = binding.template.segments[v.end - 1]?.kind === "anyMany";
    const encoded = many ? value.split("/").map(encodeURIComponent).join("/") : encodeURIComponent(value);
    path = path.replace(/\{[^}]+\}/, encoded);
  }
  let body: string | undefined;
  if (binding.body === "*") {
    body = JSON.stringify(json);
  } else if (binding.bodyField) {
    const value = json[binding.bodyField.jsonName];
    delete json[binding.bodyField.jsonName];
    // An unset body field is no body at all ("{}" would set it, to an empty message).
    if (value !== undefined) body = JSON.stringify(value);
  }
  if (binding.body !== "*") {
    const pairs: [string, string][] = [];
    flatten(json, "", pairs);
    if (pairs.length > 0) path += `?${new URLSearchParams(pairs).toString()}`;
  }
  return { method: binding.httpMethod, path, ...(body !== undefined ? { body } : {}) };
}

export interface RestResponse {
  status: number;
  headers: Headers;
  text: string;
  json: unknown;
}

/** One HTTP request with fetch; the body parsed as JSON when it is. */
export async function rest(base: string, req: RestRequest & { token?: string; headers?: Record<string, string> }): Promise<RestResponse> {
  const res = await fetch(`${base}${req.path}`, {
    method: req.method,
    headers: {
      ...(req.token ? { authorization: `Bearer ${req.token}` } : {}),
      ...(req.body !== undefined ? { "content-type": "application/json" } : {}),
      ...req.headers,
    },
    ...(req.body !== undefined ? { body: req.body } : {}),
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

/** An RPC over REST: the request built by restRequestFor, sent with the token. */
export function restCall<M extends DescMethod>(base: string, token: string, method: M, request: MessageInitShape<M["input"]>, headers?: Record<string, string>): Promise<RestResponse> {
  return rest(base, { ...restRequestFor(method, request), token, ...(headers ? { headers } : {}) });
}

/** The structured parts of a JSON google.rpc.Status, as the SDK's OrbitalError has them. */
export interface StatusParts {
  code: number;
  reason: string;
  metadata: Record<string, string>;
  violations: { field: string; description: string; reason?: string }[];
  traceId?: string;
  retryDelay?: string;
}

export function statusParts(json: unknown): StatusParts {
  const s = json as { code?: number; message?: string; details?: Record<string, unknown>[] };
  const out: StatusParts = { code: s.code ?? 0, reason: "", metadata: {}, violations: [] };
  for (const d of s.details ?? []) {
    const type = d["@type"];
    if (type === "type.googleapis.com/google.rpc.ErrorInfo") {
      out.reason = String(d.reason ?? "");
      out.metadata = (d.metadata as Record<string, string>) ?? {};
    } else if (type === "type.googleapis.com/google.rpc.BadRequest") {
      out.violations = ((d.fieldViolations as { field: string; description: string; reason?: string }[]) ?? []).map((v) => ({
        field: v.field,
        description: v.description,
        ...(v.reason ? { reason: v.reason } : {}),
      }));
    } else if (type === "type.googleapis.com/google.rpc.RequestInfo") {
      out.traceId = String(d.requestId ?? "");
    } else if (type === "type.googleapis.com/google.rpc.RetryInfo") {
      out.retryDelay = String(d.retryDelay ?? "");
    }
  }
  return out;
}

/** A raw HTTP/1.1 exchange over one socket, for what fetch hides (slow clients, oversized bodies). */
export function rawRequest(port: number, text: string | Buffer, host = "127.0.0.1"): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host }, () => s.write(text));
    let out = "";
    s.setEncoding("utf8");
    s.on("data", (d: string) => (out += d));
    s.on("close", () => resolve(out));
    s.on("error", reject);
  });
}

