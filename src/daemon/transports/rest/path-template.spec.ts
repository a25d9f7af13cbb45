import { describe, expect, it } from "vitest";
import { matchPathTemplate, parsePathTemplate, PathTemplateError, splitRequestPath, templatesOverlap } from "./path-template.js";

const overlap = (a: string, b: string) => templatesOverlap(parsePathTemplate(a), parsePathTemplate(b));

describe("parsePathTemplate", () => {
  it("parses literals, variables with patterns and the verb", () => {
    const t = parsePathTemplate("/v1/routes/{destination.cidr=**}");
    expect(t.segments).toEqual([
      { kind: "literal", value: "v1" },
      { kind: "literal", value: "routes" },
      { kind: "anyMany" },
    ]);
    expect(t.variables).toEqual([{ fieldPath: ["destination", "cidr"], start: 2, end: 3 }]);
    expect(t.verb).toBeUndefined();
    expect(parsePathTemplate("/v1/tokens/{id}:revoke").verb).toBe("revoke");
    expect(parsePathTemplate("/v1/interfaces:watch").segments).toHaveLength(2);
  });

  it.each(["v1/x", "/v1/", "/v1/{a", "/v1/{a-b}", "/v1/**/x", "/v1/a b", "/"])("refuses %s", (t) => {
    expect(() => parsePathTemplate(t)).toThrow(PathTemplateError);
  });
});

describe("templatesOverlap", () => {
  it("finds templates that match the same path", () => {
    expect(overlap("/v1/users/{name}", "/v1/users/{user.name}")).toBe(true);
    expect(overlap("/v1/users/{name}", "/v1/users/root")).toBe(true);
    expect(overlap("/v1/routes/{d=**}", "/v1/routes/x/y")).toBe(true);
  });

  it("separates templates that cannot match the same path", () => {
    expect(overlap("/v1/routes", "/v1/routes/{d=**}")).toBe(false);
    expect(overlap("/v1/interfaces:watch", "/v1/interfaces")).toBe(false);
    expect(overlap("/v1/users/{name}", "/v1/roles/{name}")).toBe(false);
    expect(overlap("/v1/users/{name}", "/v1/users/{name}/tokens")).toBe(false);
  });
});

describe("matchPathTemplate", () => {
  const match = (template: string, path: string) => {
    const t = parsePathTemplate(template);
    for (const reading of splitRequestPath(path) ?? []) {
      const b = matchPathTemplate(t, reading);
      if (b) return Object.fromEntries(b.map((v) => [v.fieldPath.join("."), v.value]));
    }
    return undefined;
  };

  it("binds single-segment variables, percent-decoded", () => {
    expect(match("/v1/users/{name}", "/v1/users/alice")).toEqual({ name: "alice" });
    expect(match("/v1/users/{name}", "/v1/users/a%20b")).toEqual({ name: "a b" });
    expect(match("/v1/users/{token.user}/tokens", "/v1/users/bob/tokens")).toEqual({ "token.user": "bob" });
    expect(match("/v1/users/{name}", "/v1/users/alice/tokens")).toBeUndefined();
    expect(match("/v1/users/{name}", "/v1/roles/alice")).toBeUndefined();
  });

  it("lets ** take one or more segments, joined with '/'", () => {
    expect(match("/v1/routes/{destination.cidr=**}", "/v1/routes/10.0.0.0/8")).toEqual({ "destination.cidr": "10.0.0.0/8" });
    expect(match("/v1/routes/{destination.cidr=**}", "/v1/routes/10.0.0.0%2F8")).toEqual({ "destination.cidr": "10.0.0.0/8" });
    expect(match("/v1/routes/{destination.cidr=**}", "/v1/routes/2001:db8::/32")).toEqual({ "destination.cidr": "2001:db8::/32" });
    expect(match("/v1/routes/{destination.cidr=**}", "/v1/routes")).toBeUndefined();
  });

  it("matches the verb after the last ':' and only then", () => {
    expect(match("/v1/tokens/{id}:revoke", "/v1/tokens/ab12:revoke")).toEqual({ id: "ab12" });
    expect(match("/v1/interfaces:watch", "/v1/interfaces:watch")).toEqual({});
    expect(match("/v1/interfaces:watch", "/v1/interfaces")).toBeUndefined();
    expect(match("/v1/interfaces", "/v1/interfaces:watch")).toBeUndefined();
    // Without a verb in the template, a ':' is part of the value.
    expect(match("/v1/users/{name}", "/v1/users/a:b")).toEqual({ name: "a:b" });
  });

  it("refuses paths that are not absolute, have empty segments or bad escapes", () => {
    expect(splitRequestPath("v1/users")).toBeUndefined();
    expect(splitRequestPath("/v1//users")).toBeUndefined();
    expect(splitRequestPath("/v1/users/%zz")).toBeUndefined();
  });
});
