// Entry point of the multi-call executable `orbital` (the single executable made by scripts/build-sea.mjs, or
// `node dist/orbital.cjs`): runs orbitald or orbctl by the name it was called by (the symlinks), else by its
// first argument (`orbital orbctl system version`, `orbital package-host main.js`). The name is argv[1]: in a single executable Node puts the
// name called there (argv[0] and execPath are the resolved binary, "orbital"); under node it is the script.
import path from "node:path";

const usage =
  "usage: orbital orbitald [options]   (or call it as orbitald)\n       orbital orbctl [command...]   (or call it as orbctl)\n       orbital package-host FILE [args...]   (runs a package's bundled JavaScript)";

async function run(name: string, args: string[]): Promise<void> {
  if (name === "orbitald") return (await import("../daemon/main.js")).orbitaldMain(args);
  if (name === "orbctl") process.exit(await (await import("../cli/main.js")).main(args));
  if (name === "package-host") return (await import("../package-host/package-host.js")).runPackage(args);
  if (name === "--help" || name === "-h") return void process.stdout.write(`${usage}\n`);
  process.stderr.write(`orbital: ${name ? `unknown command "${name}"` : "no command given"}\n${usage}\n`);
  process.exit(2);
}

const called = path.basename(process.argv[1] ?? "").replace(/\.[cm]?[jt]s$/, "");
const [name, args] = called === "orbitald" || called === "orbctl" ? [called, process.argv.slice(2)] : [process.argv[2] ?? "", process.argv.slice(3)];
run(name, args).catch((err: unknown) => {
  process.stderr.write(`${name}: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(1);
});
