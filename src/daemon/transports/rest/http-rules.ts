// The HTTP bindings of the RPCs, read from their google.api.http annotations (the rule and its
// additional_bindings): verb, parsed path template, body and response_body. The router, the OpenAPI
// generator and the tests all take them from here.
import { getOption, hasOption, type DescField, type DescMethod } from "@bufbuild/protobuf";
import { http } from "../../../gen/google/api/annotations_pb.js";
import type { HttpRule } from "../../../gen/google/api/http_pb.js";
import { parsePathTemplate, type PathTemplate } from "./path-template.js";

export interface HttpBinding {
  method: DescMethod;
  /** Upper-case HTTP method: GET, POST, PUT, PATCH, DELETE, or a custom verb. */
  httpMethod: string;
  /** The template as written, e.g. "/v1/routes/{destination.cidr=**}". */
  pattern: string;
  template: PathTemplate;
  /** "" (no body), "*" (the whole request but the path variables) or a top-level request field name. */
  body: string;
  /** The top-level request field the body fills, when `body` names one. */
  bodyField: DescField | undefined;
  /** "" (the whole response) or the response field sent as the body. */
  responseBody: string;
  responseField: DescField | undefined;
  /** 0 for the main rule, 1.. for additional_bindings. */
  index: number;
}

export class HttpRuleError extends Error {
  constructor(method: DescMethod, why: string) {
    super(`${method.parent.typeName}/${method.name}: google.api.http ${why}`);
    this.name = "HttpRuleError";
  }
}

function topField(method: DescMethod, message: DescMethod["input"], name: string, what: string): DescField | undefined {
  if (name === "" || name === "*") return undefined;
  const f = message.fields.find((x) => x.name === name);
  if (!f) throw new HttpRuleError(method, `${what} "${name}" names no field of ${message.typeName}`);
  return f;
}

function binding(method: DescMethod, rule: HttpRule, index: number): HttpBinding {
  const p = rule.pattern;
  if (p.case === undefined) throw new HttpRuleError(method, "rule has no pattern");
  const httpMethod = p.case === "custom" ? p.value.kind.toUpperCase() : p.case.toUpperCase();
  const pattern = p.case === "custom" ? p.value.path : p.value;
  return {
    method,
    httpMethod,
    pattern,
    template: parsePathTemplate(pattern),
    body: rule.body,
    bodyField: topField(method, method.input, rule.body, "body"),
    responseBody: rule.responseBody,
    responseField: topField(method, method.output, rule.responseBody, "response_body"),
    index,
  };
}

/** Every HTTP binding of a method (none for RPCs without the annotation, e.g. client streaming ones). */
export function httpBindings(method: DescMethod): HttpBinding[] {
  if (!hasOption(method, http)) return [];
  const rule = getOption(method, http);
  return [binding(method, rule, 0), ...rule.additionalBindings.map((r, i) => binding(method, r, i + 1))];
}
