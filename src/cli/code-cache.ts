// Starts the CLI core (CommonJS) through node:vm with a per-user V8 code cache ($XDG_CACHE_HOME/orbctl), so
// that a run skips most compiling; Node 20 has no compile cache for ES modules. ORBCTL_CODE_CACHE=0: off.
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { homedir } from "node:os";
import path from "node:path";
import vm from "node:vm";

export interface LoadedCore<T> {
  readonly exports: T;
  /**
   * Writes the cache after the run, when none was used or when this run compiled the daemon code path and
   * the cache used did not hold it ("full" vs "lite"), so later runs find the code they need.
   */
  saveCache(full: boolean): void;
}

function cacheDirFrom(env: NodeJS.ProcessEnv): string | undefined {
  if (env.ORBCTL_CODE_CACHE === "0") return undefined;
  if (env.XDG_CACHE_HOME) return path.join(env.XDG_CACHE_HOME, "orbctl");
  try {
    const home = env.HOME || homedir();
    return home ? path.join(home, ".cache", "orbctl") : undefined;
  } catch {
    return undefined;
  }
}

/**
 * V8 trusts a code cache: use only a directory that this user owns and nobody else may write to (one that
 * does not exist yet is made so).
 */
function ownedByUs(dir: string): boolean {
  try {
    const st = statSync(dir);
    return st.uid === process.getuid?.() && (st.mode & 0o022) === 0;
  } catch {
    return true;
  }
}

export function loadWithCodeCache<T>(file: string, env: NodeJS.ProcessEnv): LoadedCore<T> {
  const source = readFileSync(file, "utf8");
  let dir = cacheDirFrom(env);
  // V8 checks a cache against the source length only: the key names the exact file (size and mtime) and V8.
  const st = statSync(file);
  const key = `core-${process.versions.v8}-${process.arch}-${st.size}-${Math.floor(st.mtimeMs)}`;
  let used: "full" | "lite" | undefined;
  let cachedData: Buffer | undefined;
  if (dir && !ownedByUs(dir)) dir = undefined;
  if (dir) {
    for (const tier of ["full", "lite"] as const) {
      try {
        cachedData = readFileSync(path.join(dir, `${key}-${tier}.cache`));
        used = tier;
        break;
      } catch {
        // no cache of this tier
      }
    }
  }
  const wrapper = `(function (exports, require, module, __filename, __dirname) {${source}\n})`;
  const script = new vm.Script(wrapper, { filename: file, ...(cachedData ? { cachedData } : {}) });
  if (script.cachedDataRejected) used = undefined;
  const module = { exports: {} as T };
  (script.runInThisContext() as (...a: unknown[]) => void)(module.exports, createRequire(file), module, file, path.dirname(file));

  return {
    exports: module.exports,
    saveCache(full) {
      if (!dir || used === "full" || (used === "lite" && !full)) return;
      try {
        mkdirSync(dir, { recursive: true, mode: 0o700 });
        const target = path.join(dir, `${key}-${full ? "full" : "lite"}.cache`);
        const tmp = `${target}.${process.pid}.tmp`;
        writeFileSync(tmp, script.createCachedData(), { mode: 0o600 });
        renameSync(tmp, target);
        for (const f of readdirSync(dir)) if (f.startsWith("core-") && !f.startsWith(key)) rmSync(path.join(dir, f), { force: true });
      } catch {
        // an unwritable cache directory only costs speed
      }
    },
  };
}
