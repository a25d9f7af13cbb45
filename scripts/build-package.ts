// Builds and signs a package file from a folder holding manifest.json and files/ (docs/packages.md):
//   tsx scripts/build-package.ts DIR [--bundle SRC.ts] [--key KEY.pem] [--out FILE]
// --bundle bundles a TypeScript entry (and what it imports) with esbuild into the manifest's entry file,
// leaving the SDK to the package host. Without --key the development key build/package-keys/dev.key.pem is
// used, generated on first use with its public half dev.pem beside it (trust that one in a test daemon).
import { generateKeyPairSync, createPrivateKey, type KeyObject } from "node:crypto";
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { build, type Plugin } from "esbuild";
import { makeContent, makePackageFile } from "../src/common/package-format/package-file.js";
import { parseManifest } from "../src/common/package-format/package-manifest.js";
import type { NewTarEntry } from "../src/common/package-format/ustar.js";
import { SDK_MODULE } from "../src/package-host/package-host.js";
import { repoRoot } from "./proto-image.js";

export const DEV_KEY_DIR = path.join(repoRoot, "build", "package-keys");
export const DEV_PRIVATE_KEY = path.join(DEV_KEY_DIR, "dev.key.pem");
export const DEV_PUBLIC_KEY = path.join(DEV_KEY_DIR, "dev.pem");

/** The development signing key, generated into build/package-keys/ when missing (never committed). */
export function developmentKey(): KeyObject {
  if (!existsSync(DEV_PRIVATE_KEY)) {
    const { privateKey, publicKey } = generateKeyPairSync("ed25519");
    mkdirSync(DEV_KEY_DIR, { recursive: true, mode: 0o700 });
    writeFileSync(DEV_PRIVATE_KEY, privateKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600 });
    writeFileSync(DEV_PUBLIC_KEY, publicKey.export({ type: "spki", format: "pem" }), { mode: 0o644 });
  }
  return createPrivateKey(readFileSync(DEV_PRIVATE_KEY));
}

/** The entries of a folder, names relative to it, sorted (the same folder gives the same archive). */
export function folderEntries(dir: string, prefix = ""): NewTarEntry[] {
  const out: NewTarEntry[] = [];
  for (const name of readdirSync(dir).sort()) {
    const full = path.join(dir, name);
    const rel = prefix ? `${prefix}/${name}` : name;
    const st = lstatSync(full);
    if (st.isSymbolicLink()) out.push({ name: rel, type: "symlink", mode: 0o777, linkName: readlinkSync(full) });
    else if (st.isDirectory()) out.push({ name: rel, type: "directory", mode: st.mode & 0o7777 }, ...folderEntries(full, rel));
    else if (st.isFile()) out.push({ name: rel, type: "file", mode: st.mode & 0o7777, data: readFileSync(full) });
    else throw new Error(`${full} is neither a file, a directory nor a symlink`);
  }
  return out;
}

/** The SDK stays out of the bundle: the package host provides it under SDK_MODULE. */
const sdkExternal: Plugin = {
  name: "orbital-sdk-external",
  setup(b) {
    b.onResolve({ filter: /(^@orbital\/sdk$)|(src\/client\/index\.js$)/ }, () => ({ path: SDK_MODULE, external: true }));
  },
};

export interface BuildPackageOptions {
  dir: string;
  bundle?: string;
  key?: KeyObject;
  out?: string;
}

/** Builds the package file; returns its path. */
export async function buildPackage(opts: BuildPackageOptions): Promise<string> {
  const manifestJson = readFileSync(path.join(opts.dir, "manifest.json"), "utf8");
  const manifest = parseManifest(manifestJson);
  const files = existsSync(path.join(opts.dir, "files")) ? folderEntries(path.join(opts.dir, "files")) : [];
  if (opts.bundle) {
    const result = await build({ entryPoints: [opts.bundle], bundle: true, platform: "node", format: "cjs", target: "node20", write: false, plugins: [sdkExternal], logLevel: "warning", legalComments: "none" });
    const code = Buffer.from(result.outputFiles[0]!.contents);
    const at = files.findIndex((f) => f.name === manifest.entry[0]);
    const entry: NewTarEntry = { name: manifest.entry[0]!, type: "file", mode: 0o644, data: code };
    if (at >= 0) files[at] = entry;
    else files.push(entry);
  }
  const out = opts.out ?? path.join(repoRoot, "dist", "packages", `${manifest.name}-${manifest.version}.opkg`);
  mkdirSync(path.dirname(out), { recursive: true });
  writeFileSync(out, makePackageFile(makeContent(manifestJson, files), opts.key ?? developmentKey()));
  return out;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const { values, positionals } = parseArgs({ options: { bundle: { type: "string" }, key: { type: "string" }, out: { type: "string" } }, allowPositionals: true });
  if (positionals.length !== 1) {
    process.stderr.write("usage: tsx scripts/build-package.ts DIR [--bundle SRC.ts] [--key KEY.pem] [--out FILE]\n");
    process.exit(2);
  }
  const out = await buildPackage({
    dir: positionals[0]!,
    ...(values.bundle ? { bundle: values.bundle } : {}),
    ...(values.key ? { key: createPrivateKey(readFileSync(values.key)) } : {}),
    ...(values.out ? { out: values.out } : {}),
  });
  console.log(`package: ${path.relative(process.cwd(), out)}`);
}
