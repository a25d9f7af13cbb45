// Finds and loads orbitald's native addons (<name>.node, built by native/Makefile, never by node-gyp). They are
// looked up, in order, in ORBITAL_NATIVE_DIR, in native/ beside the entry script (dist/native beside
// dist/orbitald.mjs), and in ../lib/orbital beside the Node executable (the image layout).
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";

export type NativeAddon<T> = { loaded: true; addon: T; file: string } | { loaded: false; cause: string };

/** Where the addons may be: ORBITAL_NATIVE_DIR, beside the entry script, beside the executable. */
export function nativeAddonDirs(): string[] {
  const dirs: string[] = [];
  if (process.env.ORBITAL_NATIVE_DIR) dirs.push(process.env.ORBITAL_NATIVE_DIR);
  if (process.argv[1]) dirs.push(path.join(path.dirname(process.argv[1]), "native"));
  dirs.push(path.join(path.dirname(process.execPath), "..", "lib", "orbital"));
  return dirs;
}

/**
 * Loads `<name>.node` from the first of `dirs` where it exists and loads; otherwise says why not, per file
 * ("<name> addon not loadable (<file>: missing; <file>: <error>)").
 */
export function loadNativeAddon<T>(name: string, dirs: string[] = nativeAddonDirs()): NativeAddon<T> {
  // Based on execPath, not import.meta.url: the single executable is CommonJS (no import.meta) and its own require
  // loads only built-ins. The base does not matter here: the addons are required by absolute path.
  const require = createRequire(process.execPath);
  const tried: string[] = [];
  for (const dir of dirs) {
    const file = path.join(dir, `${name}.node`);
    if (!existsSync(file)) {
      tried.push(`${file}: missing`);
      continue;
    }
    try {
      return { loaded: true, addon: require(file) as T, file };
    } catch (err) {
      tried.push(`${file}: ${(err as Error).message}`);
    }
  }
  return { loaded: false, cause: `${name} addon not loadable (${tried.join("; ")})` };
}
