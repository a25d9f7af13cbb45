import { describe, expect, it } from "vitest";
import { toJson, type DescMethod } from "@bufbuild/protobuf";
import { RoutingService } from "../../../gen/orbital/routing/v1/routing_pb.js";
import { SystemService } from "../../../gen/orbital/system/v1/system_pb.js";
import { UserService } from "../../../gen/orbital/user/v1/user_pb.js";
import { OrbitalError } from "../../../common/errors.js";
import { httpBindings } from "./http-rules.js";
import { matchPathTemplate, splitRequestPath } from "./path-template.js";
import { requestFromHttp } from "./transcode.js";

function transcode(method: DescMethod, url: string, body = "") {
  const binding = httpBindings(method)[0]!;
  const [path, query = ""] = url.split("?");
  const variables = (splitRequestPath(path!) ?? []).map((r) => matchPathTemplate(binding.template, r)).find(Boolean)!;
  expect(variables, url).toBeDefined();
  const msg = requestFromHttp({ binding, variables, query: new URLSearchParams(query), body: Buffer.from(body) });
  return toJson(method.input, msg as never);
}

function failure(fn: () => unknown): OrbitalError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(OrbitalError);
    return err as OrbitalError;
  }
  throw new Error("did not fail");
}

describe("requestFromHttp", () => {
  it("fills path variables, nested and repeated query parameters (JSON or proto names), enums by name or number", () => {
    expect(transcode(RoutingService.method.listRoutes, "/v1/routes?page.size=5&page.token=x&include_unowned=true&family=2&table=254")).toEqual({
      page: { size: 5, token: "x" },
      includeUnowned: true,
      family: "ADDRESS_FAMILY_IPV6",
      table: 254,
    });
    expect(transcode(RoutingService.method.getRoute, "/v1/routes/10.0.0.0/8?table=100")).toEqual({ destination: { cidr: "10.0.0.0/8" }, table: 100 });
  });

  it("puts the body in the named field, lets the path override, and infers a PATCH update_mask from the body", () => {
    expect(transcode(UserService.method.updateUser, "/v1/users/alice", '{"role":"viewer","description":"d"}')).toEqual({
      user: { name: "alice", role: "viewer", description: "d" },
      updateMask: "role,description",
    });
    expect(transcode(SystemService.method.updateSettings, "/v1/system/settings", '{"rest":{"enabled":true,"port":8080}}')).toEqual({
      settings: { rest: { enabled: true, port: 8080 } },
      updateMask: "rest.enabled,rest.port",
    });
    // An explicit mask (snake_case accepted in the URL) wins.
    expect(transcode(SystemService.method.updateSettings, "/v1/system/settings?update_mask=rest.tls_key_path", '{"rest":{"enabled":true}}')).toEqual({
      settings: { rest: { enabled: true } },
      updateMask: "rest.tlsKeyPath",
    });
  });

  it("takes the whole body for body \"*\" and refuses query parameters then", () => {
    expect(transcode(UserService.method.revokeApiToken, "/v1/tokens/ab12:revoke", "{}")).toEqual({ id: "ab12" });
    expect(failure(() => transcode(UserService.method.revokeApiToken, "/v1/tokens/ab12:revoke?id=x", "{}")).reason).toBe("INVALID_FIELD");
  });

  it("answers INVALID_FIELD with the field's path for unknown or mistyped fields, MALFORMED_MESSAGE for bad JSON", () => {
    const unknown = failure(() => transcode(UserService.method.createUser, "/v1/users", '{"name":"x","bogus":1}'));
    expect(unknown).toMatchObject({ reason: "INVALID_FIELD", metadata: { field: "user.bogus" } });
    expect(unknown.violations[0]).toMatchObject({ field: "user.bogus", reason: "INVALID_FIELD" });
    expect(failure(() => transcode(UserService.method.createUser, "/v1/users", '{"uid":"many"}'))).toMatchObject({ reason: "INVALID_FIELD", metadata: { field: "user.uid" } });
    expect(failure(() => transcode(RoutingService.method.listRoutes, "/v1/routes?nope=1"))).toMatchObject({ reason: "INVALID_FIELD", metadata: { field: "nope" } });
    expect(failure(() => transcode(RoutingService.method.listRoutes, "/v1/routes?table=1&table=2"))).toMatchObject({ reason: "INVALID_FIELD", metadata: { field: "table" } });
    expect(failure(() => transcode(UserService.method.createUser, "/v1/users", '{"name":'))).toMatchObject({ reason: "MALFORMED_MESSAGE" });
    expect(failure(() => transcode(UserService.method.getUser, "/v1/users/x", '{"a":1}'))).toMatchObject({ reason: "MALFORMED_MESSAGE" });
  });
});
