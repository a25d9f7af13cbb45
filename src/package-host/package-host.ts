// Hosts a package's bundled JavaScript in the runtime of the multi-call executable (`orbital package-host
// FILE [args]`), so that packages written in TypeScript need no Node.js of their own on the image. The
// bundle is CommonJS; its require() resolves "@orbital/sdk" to the SDK built into this executable and
// anything else as Node would from the bundle's own directory.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import vm from "node:vm";
import * as sdk from "../client/index.js";

/** The module name a package bundle imports the SDK by (kept external when the package is bundled). */
export const SDK_MODULE = "@orbital/sdk";

export function runPackage(args: string[]): void {
  const [file, ...rest] = args;
  if (!file) {
    process.stderr.write("usage: orbital package-host FILE [args...]   (runs a package's bundled JavaScript)\n");
    process.exit(2);
  }
  const filename = path.resolve(file);
  const nodeRequire = createRequire(filename);
  const packageRequire = Object.assign((id: string) => (id === SDK_MODULE ? sdk : nodeRequire(id)), { resolve: nodeRequire.resolve, cache: nodeRequire.cache, main: undefined });
  const module = { exports: {} as unknown, filename, id: ".", loaded: false };
  process.argv = [process.argv[0]!, filename, ...rest];
  const wrapper = vm.runInThisContext(`(function (exports, require, module, __filename, __dirname) {${readFileSync(filename, "utf8")}\n})`, { filename });
  (wrapper as (...a: unknown[]) => void).call(module.exports, module.exports, packageRequire, module, filename, path.dirname(filename));
  module.loaded = true;
}
