// Routes an HTTP request to the RPC whose google.api.http binding matches its method and path, binding the
// path variables. The contract tests guarantee that no two bindings can match the same request, so the first
// match is the only one.
import type { MethodEntry } from "../../rpc/call-pipeline.js";
import { httpBindings, type HttpBinding } from "./http-rules.js";
import { matchPathTemplate, splitRequestPath, type Binding } from "./path-template.js";

export interface Route {
  entry: MethodEntry;
  binding: HttpBinding;
  variables: Binding[];
}

export type RouteResult =
  | { kind: "route"; route: Route }
  /** The path exists, but not for this HTTP method. */
  | { kind: "method-not-allowed"; allow: string[] }
  | { kind: "not-found" };

export class Router {
  private readonly routes: { entry: MethodEntry; binding: HttpBinding }[] = [];

  /** Routes every RPC of `entries` that has an HTTP binding. */
  constructor(entries: readonly MethodEntry[]) {
    for (const entry of entries) for (const binding of httpBindings(entry.method)) this.routes.push({ entry, binding });
  }

  get bindings(): HttpBinding[] {
    return this.routes.map((r) => r.binding);
  }

  match(httpMethod: string, rawPath: string): RouteResult {
    const readings = splitRequestPath(rawPath);
    if (!readings) return { kind: "not-found" };
    const allow = new Set<string>();
    for (const reading of readings) {
      for (const r of this.routes) {
        const variables = matchPathTemplate(r.binding.template, reading);
        if (!variables) continue;
        if (r.binding.httpMethod === httpMethod) return { kind: "route", route: { ...r, variables } };
        allow.add(r.binding.httpMethod);
      }
    }
    return allow.size > 0 ? { kind: "method-not-allowed", allow: [...allow].sort() } : { kind: "not-found" };
  }
}
