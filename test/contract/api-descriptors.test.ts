// Contract test: every RPC of the proto declares a capability and (unless client streaming) an HTTP binding,
// no two bindings collide, and the catalogues of capabilities, roles and reasons are well formed. It reads
// the proto source through buf (comments included) and the generated code, so it fails when either drifts.
import { describe, expect, it } from "vitest";
import { getOption, hasOption, type DescMethod, type DescService } from "@bufbuild/protobuf";
import { getComments } from "@bufbuild/protoplugin";
import { http } from "../../src/gen/google/api/annotations_pb.js";
import type { HttpRule } from "../../src/gen/google/api/http_pb.js";
import { BuiltinRole } from "../../src/gen/orbital/api/v1/capability_pb.js";
import { apiServices } from "../../src/common/api-services.js";
import { builtinRoleCapabilities, capabilityCatalogue, requiredCapability, sectionWriteCapability } from "../../src/common/capabilities.js";
import { configSections } from "../../src/daemon/config/section-authorization.js";
import { reasonCatalogue } from "../../src/common/error-reasons.js";
import { parsePathTemplate, templatesOverlap } from "../../src/daemon/transports/rest/path-template.js";
import { readFileSync } from "node:fs";
import path from "node:path";
import { createFileRegistry, fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { loadProtoImage, repoRoot } from "../../scripts/proto-image.js";

const image = loadProtoImage();
const sourceServices: DescService[] = [];
for (const file of image.files) {
  if (file.proto.package.startsWith("orbital.")) sourceServices.push(...file.services);
}
const sourceMethods = sourceServices.flatMap((s) => s.methods);

function bindingsOf(method: DescMethod): { verb: string; path: string }[] {
  if (!hasOption(method, http)) return [];
  const rules: HttpRule[] = [getOption(method, http)];
  rules.push(...rules[0]!.additionalBindings);
  return rules.map((r) => {
    const p = r.pattern;
    if (p.case === "custom") return { verb: p.value.kind, path: p.value.path };
    if (p.case === undefined) throw new Error(`${method.toString()}: HTTP rule without a pattern`);
    return { verb: p.case.toUpperCase(), path: p.value };
  });
}

describe("API v1 descriptors", () => {
  it("serves every service defined in proto/orbital", () => {
    expect(apiServices.map((s) => s.typeName).sort()).toEqual(sourceServices.map((s) => s.typeName).sort());
    expect(sourceServices.length).toBe(8);
  });

  it("gives every RPC a capability from the catalogue", () => {
    const missing = sourceMethods.filter((m) => requiredCapability(m) === undefined).map((m) => m.toString());
    expect(missing).toEqual([]);
  });

  it("gives every configuration section the write capability a commit, rollback or confirm needs for it", () => {
    const configuration = image.getMessage("orbital.config.v1.Configuration")!;
    const missing = configuration.fields.filter((f) => sectionWriteCapability(f) === undefined).map((f) => f.name);
    expect(missing).toEqual([]);
    // Each section's capability is the one its own mutation RPCs require (a role that may change the items
    // one by one may roll them back, and no more).
    expect(Object.fromEntries(configSections.map((s) => [s.name, s.capability]))).toEqual({
      interfaces: "interface.write",
      routes: "routing.write",
      firewall_rules: "firewall.write",
      prefix_sets: "firewall.write",
      users: "user.write",
      roles: "user.write",
      api_tokens: "user.write",
      api_token_hashes: "user.write",
      settings: "system.write",
      fast_path_lists: "firewall.write",
      package_policy: "package.write",
    });
  });

  it("gives every RPC an HTTP binding unless it is client streaming, which says so in its comment", () => {
    for (const m of sourceMethods) {
      const clientStreaming = m.methodKind === "client_streaming" || m.methodKind === "bidi_streaming";
      if (clientStreaming) {
        expect(bindingsOf(m), m.toString()).toEqual([]);
        expect(getComments(m).leading ?? "", m.toString()).toMatch(/No HTTP binding/);
      } else {
        expect(bindingsOf(m).length, m.toString()).toBeGreaterThan(0);
      }
    }
  });

  it("has no two HTTP bindings that can match the same request", () => {
    const all = sourceMethods.flatMap((m) =>
      bindingsOf(m).map((b) => ({ ...b, method: m.toString(), template: parsePathTemplate(b.path) })),
    );
    const collisions: string[] = [];
    for (let i = 0; i < all.length; i++) {
      for (let j = i + 1; j < all.length; j++) {
        const a = all[i]!;
        const b = all[j]!;
        if (a.verb === b.verb && templatesOverlap(a.template, b.template)) {
          collisions.push(`${a.verb} ${a.path} (${a.method}) vs ${b.path} (${b.method})`);
        }
      }
    }
    expect(collisions).toEqual([]);
  });

  it("binds only request fields that exist and are strings or integers", () => {
    for (const m of sourceMethods) {
      for (const b of bindingsOf(m)) {
        for (const v of parsePathTemplate(b.path).variables) {
          let message = m.input;
          let leaf;
          for (const part of v.fieldPath) {
            leaf = message.fields.find((f) => f.name === part);
            expect(leaf, `${m.toString()} binds unknown field ${v.fieldPath.join(".")}`).toBeDefined();
            if (leaf!.fieldKind === "message") message = leaf!.message;
          }
          expect(leaf!.fieldKind, `${m.toString()} ${v.fieldPath.join(".")}`).toBe("scalar");
        }
      }
    }
  });

  it("keeps the HTTP bindings and capability of every RPC of the frozen v1 baseline", () => {
    // buf breaking does not compare options, so the gate for bindings and capabilities is here.
    const baseline = createFileRegistry(
      fromBinary(FileDescriptorSetSchema, readFileSync(path.join(repoRoot, "proto-baseline/v1.binpb"))),
    );
    const current = new Map(sourceMethods.map((m) => [m.toString(), m]));
    let compared = 0;
    for (const file of baseline.files) {
      for (const service of file.services) {
        for (const old of service.methods) {
          const now = current.get(old.toString());
          expect(now, `${old.toString()} was removed`).toBeDefined();
          expect(bindingsOf(now!), old.toString()).toEqual(bindingsOf(old));
          expect(requiredCapability(now!), old.toString()).toBe(requiredCapability(old));
          compared++;
        }
      }
    }
    expect(compared).toBeGreaterThan(50);
  });

  it("names request and response messages after their RPC", () => {
    for (const m of sourceMethods) {
      expect(m.input.name).toBe(`${m.name}Request`);
      expect(m.output.name).toBe(`${m.name}Response`);
    }
  });

  it("pages every List RPC the same way and masks every Update RPC", () => {
    for (const m of sourceMethods) {
      if (m.name.startsWith("List")) {
        expect(m.input.fields.find((f) => f.name === "page")?.message?.typeName, m.toString()).toBe(
          "orbital.api.v1.PageRequest",
        );
        expect(m.output.fields.find((f) => f.name === "page")?.message?.typeName, m.toString()).toBe(
          "orbital.api.v1.PageResponse",
        );
      }
      if (m.name.startsWith("Update") && m.parent.name !== "UpdateService") {
        expect(m.input.fields.find((f) => f.name === "update_mask")?.message?.typeName, m.toString()).toBe(
          "google.protobuf.FieldMask",
        );
      }
    }
  });

  it("lets every configuration mutation join a transaction", () => {
    const configBacked = ["SystemService", "InterfaceService", "RoutingService", "FirewallService", "UserService"];
    const mutations = sourceMethods.filter(
      (m) => configBacked.includes(m.parent.name) && /^(Create|Update|Delete|BulkUpdate)/.test(m.name) && !/ApiToken/.test(m.name),
    );
    expect(mutations.length).toBeGreaterThan(20);
    for (const m of mutations) {
      expect(m.input.fields.some((f) => f.name === "transaction_id"), m.toString()).toBe(true);
    }
  });
});

describe("capability catalogue", () => {
  const names = capabilityCatalogue.map((c) => c.name);
  const reads = names.filter((n) => n.endsWith(".read"));

  it("has unique <area>.<verb> names with a description", () => {
    expect(new Set(names).size).toBe(names.length);
    for (const c of capabilityCatalogue) {
      expect(c.name).toMatch(/^[a-z]+\.[a-z]+$/);
      expect(c.description.length).toBeGreaterThan(10);
    }
  });

  it("gives admin every capability", () => {
    expect(builtinRoleCapabilities(BuiltinRole.ADMIN)).toEqual([...names].sort());
  });

  it("gives operator every read plus interface, routing, firewall and config writes", () => {
    const writes = ["config.write", "firewall.write", "interface.write", "routing.write"];
    expect(builtinRoleCapabilities(BuiltinRole.OPERATOR)).toEqual([...reads, ...writes].sort());
  });

  it("gives viewer reads only", () => {
    expect(builtinRoleCapabilities(BuiltinRole.VIEWER)).toEqual([...reads].sort());
  });

  it("uses every capability on at least one RPC", () => {
    const used = new Set(sourceMethods.map((m) => requiredCapability(m)));
    expect(names.filter((n) => !used.has(n))).toEqual([]);
  });
});

describe("error reason catalogue", () => {
  it("has a unique UPPER_SNAKE wire reason, a non-OK code and a description for every reason", () => {
    const wires = reasonCatalogue.map((r) => r.wire);
    expect(new Set(wires).size).toBe(wires.length);
    for (const r of reasonCatalogue) {
      expect(r.wire).toMatch(/^[A-Z][A-Z0-9_]+$/);
      expect(r.code, r.wire).not.toBe(0);
      expect(r.description.length, r.wire).toBeGreaterThan(10);
      for (const key of r.metadataKeys) expect(key, r.wire).toMatch(/^[a-z][A-Za-z0-9]*$/);
    }
  });
});
