// Parses google.api.http path templates ("/v1/routes/{destination.cidr=**}:watch") into segments, verb and
// variable bindings, and decides whether two templates can match the same request path. The REST
// transcoder routes with these; the contract tests use the overlap check to forbid colliding bindings.

export type Segment = { kind: "literal"; value: string } | { kind: "any" } | { kind: "anyMany" };

export interface Variable {
  /** Request field path the variable binds, e.g. ["destination", "cidr"]. */
  fieldPath: string[];
  /** Index of its first segment in PathTemplate.segments. */
  start: number;
  /** Index after its last segment. */
  end: number;
}

export interface PathTemplate {
  segments: Segment[];
  variables: Variable[];
  verb: string | undefined;
}

export class PathTemplateError extends Error {
  constructor(template: string, why: string) {
    super(`path template "${template}": ${why}`);
    this.name = "PathTemplateError";
  }
}

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;
const LITERAL = /^[A-Za-z0-9._~!$&'()+,;=@-]+$/;

function parseSegment(template: string, text: string): Segment {
  if (text === "*") return { kind: "any" };
  if (text === "**") return { kind: "anyMany" };
  if (!LITERAL.test(text)) throw new PathTemplateError(template, `invalid segment "${text}"`);
  return { kind: "literal", value: text };
}

/** Parses a template; throws PathTemplateError when it breaks the grammar of google/api/http.proto. */
export function parsePathTemplate(template: string): PathTemplate {
  if (!template.startsWith("/")) throw new PathTemplateError(template, "must start with '/'");
  let body = template.slice(1);
  let verb: string | undefined;
  // The verb is a ':' after the last segment, outside any braces.
  const lastSlash = body.lastIndexOf("/");
  const lastColon = body.lastIndexOf(":");
  if (lastColon > lastSlash && lastColon > body.lastIndexOf("}")) {
    verb = body.slice(lastColon + 1);
    body = body.slice(0, lastColon);
    if (!LITERAL.test(verb)) throw new PathTemplateError(template, `invalid verb "${verb}"`);
  }
  const segments: Segment[] = [];
  const variables: Variable[] = [];
  let rest = body;
  while (rest.length > 0) {
    if (rest.startsWith("{")) {
      const close = rest.indexOf("}");
      if (close < 0) throw new PathTemplateError(template, "unclosed '{'");
      const inner = rest.slice(1, close);
      const eq = inner.indexOf("=");
      const fieldPath = (eq < 0 ? inner : inner.slice(0, eq)).split(".");
      if (!fieldPath.every((p) => IDENT.test(p))) throw new PathTemplateError(template, `invalid field path "${inner}"`);
      const start = segments.length;
      const pattern = eq < 0 ? "*" : inner.slice(eq + 1);
      for (const part of pattern.split("/")) segments.push(parseSegment(template, part));
      variables.push({ fieldPath, start, end: segments.length });
      rest = rest.slice(close + 1);
    } else {
      const slash = rest.indexOf("/");
      const text = slash < 0 ? rest : rest.slice(0, slash);
      segments.push(parseSegment(template, text));
      rest = slash < 0 ? "" : rest.slice(slash);
    }
    if (rest.startsWith("/")) {
      rest = rest.slice(1);
      if (rest.length === 0) throw new PathTemplateError(template, "trailing '/'");
    } else if (rest.length > 0) {
      throw new PathTemplateError(template, `expected '/' before "${rest}"`);
    }
  }
  if (segments.length === 0) throw new PathTemplateError(template, "no segments");
  const manyAt = segments.findIndex((s) => s.kind === "anyMany");
  if (manyAt >= 0 && manyAt !== segments.length - 1) {
    throw new PathTemplateError(template, "'**' must be the last segment");
  }
  return { segments, variables, verb };
}

/** Whether some request path matches both templates (same verb and overlapping segments). */
export function templatesOverlap(a: PathTemplate, b: PathTemplate): boolean {
  if (a.verb !== b.verb) return false;
  const seen = new Map<string, boolean>();
  const overlap = (i: number, j: number): boolean => {
    const key = `${i},${j}`;
    const known = seen.get(key);
    if (known !== undefined) return known;
    let result: boolean;
    const sa = a.segments[i];
    const sb = b.segments[j];
    if (sa === undefined && sb === undefined) result = true;
    // "**" matches one or more segments in the transcoder; as the last segment it swallows the rest.
    else if (sa?.kind === "anyMany") result = sb !== undefined;
    else if (sb?.kind === "anyMany") result = sa !== undefined;
    else if (sa === undefined || sb === undefined) result = false;
    else if (sa.kind === "literal" && sb.kind === "literal") result = sa.value === sb.value && overlap(i + 1, j + 1);
    else result = overlap(i + 1, j + 1);
    seen.set(key, result);
    return result;
  };
  return overlap(0, 0);
}

/** A request path split for matching: decoded segments and the verb after the last ':' of the last segment. */
export interface RequestPath {
  /** Percent-decoded segments; "/v1/routes/10.0.0.0%2F8" has ["v1", "routes", "10.0.0.0/8"]. */
  segments: string[];
  verb: string | undefined;
}

/**
 * The ways a request path can be read: without a verb, and, when its last segment holds a ':', with the text
 * after the last ':' as the verb ("/v1/tokens/ab12:revoke"). Returns undefined for a path that is not
 * absolute, has an empty segment or a bad percent escape.
 */
export function splitRequestPath(rawPath: string): RequestPath[] | undefined {
  if (!rawPath.startsWith("/") || rawPath.length < 2) return undefined;
  const raw = rawPath.slice(1).split("/");
  if (raw.some((s) => s === "")) return undefined;
  const decode = (parts: string[]) => {
    try {
      return parts.map((p) => decodeURIComponent(p));
    } catch {
      return undefined;
    }
  };
  const out: RequestPath[] = [];
  const last = raw[raw.length - 1]!;
  const colon = last.lastIndexOf(":");
  if (colon > 0 && colon < last.length - 1) {
    const segments = decode([...raw.slice(0, -1), last.slice(0, colon)]);
    const verb = decode([last.slice(colon + 1)]);
    if (segments && verb) out.push({ segments, verb: verb[0] });
  }
  const plain = decode(raw);
  if (plain) out.push({ segments: plain, verb: undefined });
  return out.length > 0 ? out : undefined;
}

/** A variable bound by a match: the request field path and its value. */
export interface Binding {
  fieldPath: string[];
  value: string;
}

/**
 * Matches a split request path against a template. "*" takes one segment, "**" one or more (the rest of the
 * path: it is always last). Returns the variable bindings (a "**" variable's segments joined with "/"), or
 * undefined when the path does not match.
 */
export function matchPathTemplate(template: PathTemplate, path: RequestPath): Binding[] | undefined {
  if (template.verb !== path.verb) return undefined;
  const { segments } = path;
  const last = template.segments[template.segments.length - 1];
  const many = last?.kind === "anyMany";
  if (many ? segments.length < template.segments.length : segments.length !== template.segments.length) return undefined;
  for (let i = 0; i < template.segments.length; i++) {
    const s = template.segments[i]!;
    if (s.kind === "literal" && s.value !== segments[i]) return undefined;
  }
  return template.variables.map((v) => {
    const end = many && v.end === template.segments.length ? segments.length : v.end;
    return { fieldPath: v.fieldPath, value: segments.slice(v.start, end).join("/") };
  });
}
