// Bundles the executables with esbuild into dist/, stamping the build identity (version, commit, time).
// SOURCE_DATE_EPOCH, when set, fixes the build time so that the same inputs give the same bytes.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { build } from "esbuild";

const pkg = JSON.parse(readFileSync("package.json", "utf8"));
let commit = "unknown";
try {
  commit = execFileSync("git", ["rev-parse", "--short=12", "HEAD"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
} catch {
  // not a git checkout
}
const buildTimeMs = process.env.SOURCE_DATE_EPOCH ? Number(process.env.SOURCE_DATE_EPOCH) * 1000 : Date.now();

await build({
  entryPoints: { orbitald: "src/bin/orbitald.ts", client: "src/client/index.ts" },
  outdir: "dist",
  outExtension: { ".js": ".mjs" },
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  sourcemap: "linked",
  legalComments: "none",
  define: { ORBITAL_BUILD: JSON.stringify({ version: pkg.version, commit, buildTimeMs }) },
  // CommonJS dependencies (grpc-js, pino) call require(); give the ESM bundle one.
  banner: { js: "import { createRequire as __orbitalCreateRequire } from 'node:module'; const require = __orbitalCreateRequire(import.meta.url);" },
  logLevel: "warning",
});
console.log("build: dist/orbitald.mjs dist/client.mjs");
