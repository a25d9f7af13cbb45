// Bundles the executables with esbuild into dist/, stamping the build identity (version, commit, time).
// SOURCE_DATE_EPOCH, when set, fixes the build time so that the same inputs give the same bytes.
import { execFileSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { build } from "esbuild";

const pkg = JSON.parse(readFileSync("package.json", "utf8"));
let commit = "unknown";
try {
  commit = execFileSync("git", ["rev-parse", "--short=12", "HEAD"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
} catch {
  // not a git checkout
}
const buildTimeMs = process.env.SOURCE_DATE_EPOCH ? Number(process.env.SOURCE_DATE_EPOCH) * 1000 : Date.now();

const common = {
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
};
// The OpenAPI document (dist/openapi.json, written just before by scripts/gen-openapi.ts) is embedded in the
// daemon, which serves it at GET /v1/openapi.json; without it the daemon generates one from the descriptors.
const openapi = existsSync("dist/openapi.json") ? JSON.stringify(JSON.parse(readFileSync("dist/openapi.json", "utf8"))) : undefined;
const daemonDefine = { ...common.define, ...(openapi ? { ORBITAL_OPENAPI: JSON.stringify(openapi) } : {}) };
await build({ ...common, define: daemonDefine, entryPoints: { orbitald: "src/bin/orbitald.ts", client: "src/client/index.ts", "package-host": "src/bin/package-host.ts" } });
// orbctl starts once per command. dist/orbctl.mjs is a small loader; the CLI itself, dist/orbctl-core.cjs, is
// CommonJS so that the loader can run it through node:vm with a V8 code cache (Node 20 has no compile cache
// for ES modules). It is minified (less to parse), and its command handlers are imported on demand, which
// esbuild keeps as lazily evaluated modules: a command evaluates only the services it calls.
await build({ ...common, entryPoints: { "orbctl-core": "src/cli/main.ts" }, outExtension: { ".js": ".cjs" }, format: "cjs", banner: {}, minify: true });
await build({ ...common, entryPoints: { orbctl: "src/bin/orbctl.ts" }, banner: {}, minify: true });
chmodSync("dist/orbctl.mjs", 0o755);
// The bash completion script is generated from the command table, never kept as a second copy.
mkdirSync("dist/completion", { recursive: true });
writeFileSync(
  "dist/completion/orbctl.bash",
  execFileSync(process.execPath, ["dist/orbctl.mjs", "completion", "bash"], { encoding: "utf8", env: { ...process.env, ORBCTL_CODE_CACHE: "0" } }),
);
console.log("build: dist/orbitald.mjs dist/client.mjs dist/package-host.mjs dist/orbctl.mjs dist/orbctl-core.cjs dist/completion/orbctl.bash");
