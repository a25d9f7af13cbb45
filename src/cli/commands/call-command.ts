// Handler of `orbctl call METHOD JSON`: any unary or server-streaming RPC of the contract, found in the
// service descriptors and called with a canonical proto3 JSON request through the SDK's callJson.
import { fromJson, toJson, type DescMethod, type JsonValue } from "@bufbuild/protobuf";
import { callJson, findMethod } from "../../client/call-json.js";
import { apiServices } from "../../common/api-services.js";
import { CliError, UsageError } from "../cli-error.js";
import type { Handler } from "../command-context.js";
import { ExitCode } from "../exit-codes.js";

/** Every callable method as "package.Service/Method" (for completion). */
export function methodNames(): string[] {
  return apiServices.flatMap((s) => s.methods.filter((m) => m.methodKind === "unary" || m.methodKind === "server_streaming").map((m) => `${s.typeName}/${m.name}`));
}

/** A full name, or a unique suffix such as "UserService/WhoAmI". */
export function resolveMethod(name: string): DescMethod {
  const exact = findMethod(name);
  if (exact) return exact;
  const all = apiServices.flatMap((s) => s.methods.map((m) => ({ m, full: `${s.typeName}/${m.name}` })));
  const hits = all.filter((x) => x.full.endsWith(`.${name}`) || x.full.endsWith(`/${name}`) || x.full === name);
  if (hits.length === 1) return hits[0]!.m;
  if (hits.length > 1) throw new UsageError(`"${name}" is ambiguous: ${hits.map((h) => h.full).join(", ")}`);
  throw new UsageError(`no method "${name}" in the API (e.g. orbital.user.v1.UserService/WhoAmI)`);
}

export const handlers: Record<string, Handler> = {
  async call(ctx, inv) {
    const method = resolveMethod(inv.arg("METHOD")!);
    if (method.methodKind !== "unary" && method.methodKind !== "server_streaming") {
      throw new UsageError(`${method.parent.typeName}/${method.name} is ${method.methodKind.replace("_", " ")}; orbctl call takes unary and server-streaming methods`);
    }
    let request: JsonValue;
    try {
      request = JSON.parse(inv.arg("JSON") ?? "{}") as JsonValue;
    } catch (e) {
      throw new UsageError(`JSON: ${(e as Error).message}`);
    }
    if (method.methodKind === "unary") {
      let responses: JsonValue[];
      try {
        responses = await callJson(ctx.transport(), method, request, ctx.call);
      } catch (e) {
        if (e instanceof Error && /cannot decode/.test(e.message)) throw new CliError(e.message, ExitCode.INVALID, "MALFORMED_MESSAGE");
        throw e;
      }
      for (const r of responses) ctx.out.document(r);
      return;
    }
    // Server streams print each message as it arrives (callJson would wait for the end of the stream).
    let input;
    try {
      input = fromJson(method.input, request);
    } catch (e) {
      throw new CliError((e as Error).message, ExitCode.INVALID, "MALFORMED_MESSAGE");
    }
    await ctx.waitConnected();
    const client = ctx.client(method.parent) as unknown as Record<string, (r: unknown, o: object) => AsyncIterable<never>>;
    try {
      for await (const m of client[method.localName]!(input, { ...ctx.call, deadlineMs: ctx.call.deadlineMs ?? Infinity })) {
        const json = toJson(method.output, m);
        if (ctx.out.format === "yaml") ctx.out.document(json);
        else ctx.out.line(JSON.stringify(json));
      }
    } catch (err) {
      if (!ctx.call.signal?.aborted) throw err;
    }
  },
};
