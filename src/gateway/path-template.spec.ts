import { describe, expect, it } from "vitest";
import { parsePathTemplate, PathTemplateError, templatesOverlap } from "./path-template.js";

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
