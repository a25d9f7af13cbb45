// Writes dist/openapi.json, the OpenAPI 3.1 document of the REST API, from the proto source (so that the
// proto comments become its descriptions). `npm run build` runs it before bundling; the bundler embeds the
// file in dist/orbitald.mjs, which serves it at GET /v1/openapi.json.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { DescService } from "@bufbuild/protobuf";
import { getComments } from "@bufbuild/protoplugin";
import { apiServices } from "../src/common/api-services.js";
import { buildOpenApi } from "../src/daemon/transports/rest/openapi.js";
import { loadProtoImage, repoRoot } from "./proto-image.js";

const image = loadProtoImage();
// The services as the daemon serves them (apiServices), taken from the image that carries the comments.
const services: DescService[] = apiServices.map((s) => {
  const withComments = image.getService(s.typeName);
  if (!withComments) throw new Error(`${s.typeName} is not in the proto source`);
  return withComments;
});
const pkg = JSON.parse(readFileSync(path.join(repoRoot, "package.json"), "utf8")) as { version: string };
const doc = buildOpenApi(services, {
  version: pkg.version,
  describe: (desc) => {
    const text = getComments(desc).leading?.trim();
    return text ? text.replace(/\s*\n\s*/g, " ") : undefined;
  },
});
const out = path.join(repoRoot, "dist", "openapi.json");
mkdirSync(path.dirname(out), { recursive: true });
writeFileSync(out, `${JSON.stringify(doc, null, 1)}\n`);
console.log(`openapi: ${path.relative(repoRoot, out)} (${Object.keys(doc.paths as object).length} paths)`);
