// Calls any RPC by its name with a JSON request (canonical proto3 JSON; for client and bidirectional streams a
// JSON array of request messages, sent in order, then the stream ends), for
// `orbctl call`, scripts and tests: the method is found in the service descriptors, not hard-coded.
import { fromJson, toJson, type DescMethod, type JsonValue } from "@bufbuild/protobuf";
import { apiServices } from "../common/api-services.js";
import { createClient, type CallOptions } from "./client.js";
import type { Transport } from "./transport.js";

/** Finds "orbital.user.v1.UserService/WhoAmI" (a leading "/" and "." separator are accepted too). */
export function findMethod(name: string): DescMethod | undefined {
  const m = /^\/?([\w.]+)[/.](\w+)$/.exec(name);
  if (!m) return undefined;
  return apiServices.find((s) => s.typeName === m[1])?.methods.find((x) => x.name === m[2]);
}

export async function callJson(transport: Transport, method: DescMethod, request: JsonValue, options?: CallOptions): Promise<JsonValue[]> {
  const client = createClient(method.parent, transport) as unknown as Record<string, (r: unknown, o?: CallOptions) => unknown>;
  const call = client[method.localName]!;
  if (method.methodKind === "unary") {
    const res = await (call(fromJson(method.input, request), options) as Promise<never>);
    return [toJson(method.output, res)];
  }
  if (method.methodKind === "server_streaming") {
    const out: JsonValue[] = [];
    for await (const res of call(fromJson(method.input, request), options) as AsyncIterable<never>) out.push(toJson(method.output, res));
    return out;
  }
  if (!Array.isArray(request)) throw new Error(`${method.parent.typeName}/${method.name} is ${method.methodKind.replace("_", " ")}: pass a JSON array of request messages`);
  const requests = request.map((r) => fromJson(method.input, r));
  if (method.methodKind === "client_streaming") return [toJson(method.output, await (call(requests, options) as Promise<never>))];
  const out: JsonValue[] = [];
  for await (const res of call(requests, options) as AsyncIterable<never>) out.push(toJson(method.output, res));
  return out;
}
