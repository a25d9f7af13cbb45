// The command that runs a package's bundled JavaScript: the multi-call executable's package host when the
// daemon is that executable, else the package-host bundle beside the daemon's bundle, under the same Node.
// ORBITAL_PACKAGE_HOST (words separated by spaces) overrides both.
import path from "node:path";

export function javascriptHostCommand(env: NodeJS.ProcessEnv): string[] {
  if (env.ORBITAL_PACKAGE_HOST) return env.ORBITAL_PACKAGE_HOST.split(" ").filter((w) => w !== "");
  const script = process.argv[1] ?? "";
  if (/\.[cm]?js$/.test(script)) return [process.execPath, path.join(path.dirname(path.resolve(script)), "package-host.mjs")];
  return [process.execPath, "package-host"];
}
