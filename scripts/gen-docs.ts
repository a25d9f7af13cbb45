// Regenerates the catalogue sections of docs/api.md from the proto (`npm run docs`); with --check it only
// reports whether they are stale (run by `npm run proto:check`). Hand-written prose outside the
// GENERATED markers is left alone.
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { getOption, hasOption } from "@bufbuild/protobuf";
import { getComments } from "@bufbuild/protoplugin";
import { http } from "../src/gen/google/api/annotations_pb.js";
import { Code } from "../src/gen/google/rpc/code_pb.js";
import { BuiltinRole } from "../src/gen/orbital/api/v1/capability_pb.js";
import { builtinRoleName, capabilityCatalogue, requiredCapability } from "../src/common/capabilities.js";
import { reasonCatalogue } from "../src/common/error-reasons.js";
import { httpStatusFromCode } from "../src/common/http-status.js";
import { loadProtoImage, repoRoot } from "./proto-image.js";

const roles = [BuiltinRole.ADMIN, BuiltinRole.OPERATOR, BuiltinRole.VIEWER];

function capabilityTable(): string {
  const head = `| capability | ${roles.map(builtinRoleName).join(" | ")} | meaning |`;
  const rule = `|---|${roles.map(() => ":-:").join("|")}|---|`;
  const rows = capabilityCatalogue.map(
    (c) => `| \`${c.name}\` | ${roles.map((r) => (c.grantedTo.includes(r) ? "yes" : "")).join(" | ")} | ${c.description} |`,
  );
  return [head, rule, ...rows].join("\n");
}

function errorTable(): string {
  const rows = reasonCatalogue.map((r) => {
    const keys = r.metadataKeys.length ? r.metadataKeys.map((k) => `\`${k}\``).join(", ") : "none";
    return `| \`${r.wire}\` | ${Code[r.code]} | ${httpStatusFromCode(r.code)} | ${keys} | ${r.description} |`;
  });
  return ["| reason | gRPC code | HTTP | metadata keys | meaning |", "|---|---|---|---|---|", ...rows].join("\n");
}

function rpcTable(): string {
  const out: string[] = [];
  const image = loadProtoImage();
  for (const file of image.files) {
    if (!file.proto.package.startsWith("orbital.")) continue;
    for (const service of file.services) {
      out.push(`### ${service.typeName}`, "", "| RPC | kind | capability | HTTP | what it does |", "|---|---|---|---|---|");
      for (const m of service.methods) {
        let binding = `none (${m.methodKind.replace("_", " ")})`;
        if (hasOption(m, http)) {
          const p = getOption(m, http).pattern;
          if (p.case === "custom") binding = `\`${p.value.kind} ${p.value.path}\``;
          else if (p.case !== undefined) binding = `\`${p.case.toUpperCase()} ${p.value}\``;
        }
        const what = (getComments(m).leading ?? "").replace(/\s+/g, " ").trim().replace(/\|/g, "\\|");
        out.push(`| ${m.name} | ${m.methodKind.replace("_", " ")} | \`${requiredCapability(m)}\` | ${binding} | ${what} |`);
      }
      out.push("");
    }
  }
  return out.join("\n").trimEnd();
}

const sections: Record<string, () => string> = {
  capabilities: capabilityTable,
  errors: errorTable,
  rpcs: rpcTable,
};

function render(doc: string): string {
  let result = doc;
  for (const [name, make] of Object.entries(sections)) {
    const begin = `<!-- BEGIN GENERATED ${name}: npm run docs -->`;
    const end = `<!-- END GENERATED ${name} -->`;
    const from = result.indexOf(begin);
    const to = result.indexOf(end);
    if (from < 0 || to < from) throw new Error(`docs/api.md lacks the markers of section "${name}"`);
    result = `${result.slice(0, from + begin.length)}\n${make()}\n${result.slice(to)}`;
  }
  return result;
}

const file = path.join(repoRoot, "docs", "api.md");
const current = readFileSync(file, "utf8");
const wanted = render(current);
if (process.argv.includes("--check")) {
  if (current !== wanted) {
    console.error("docs/api.md catalogues are stale; run 'npm run docs' and commit the result");
    process.exit(1);
  }
} else if (current !== wanted) {
  writeFileSync(file, wanted);
  console.log("updated docs/api.md");
}
