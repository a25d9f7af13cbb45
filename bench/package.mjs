#!/usr/bin/env node
// Add-on packages: the example package's file size, its install time (InstallPackage to
// DONE, which includes runsvdir's scan of up to 5 s and the 2 s the process must stay up) next to the install
// of a one-line shell package measured in the same run (the floor of verification, unpacking and supervision),
// and the calls per second a package makes to the daemon (as its own uid, through the package host) next to
// an in-tree client's (plain Node, the SDK bundle, as root) running the same loop. Real daemon (simulated
// data plane), real runit; needs root. Prints figures and ratios; asserts nothing.
//
// Usage: node bench/package.mjs [--rounds 3] [--calls 3000] [--json FILE]
import { spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { appendResults, benchDir, clientBundle, distDir, ensureBuild, fmtRatio, fmtRate, median, repoRoot, startDaemon, table, tempDir } from "./support/common.mjs";

const { values: args } = parseArgs({ options: { rounds: { type: "string", default: "3" }, calls: { type: "string", default: "3000" }, json: { type: "string" } }, strict: false });
const rounds = Number(args.rounds);
const calls = Number(args.calls);
if (process.getuid?.() !== 0) {
  console.log("package: skipped (needs root: packages get their own uid and run under runit)");
  process.exit(0);
}
ensureBuild();
const example = path.join(distDir, "packages", "blocklist-sync-1.0.0.opkg");
const keysDir = path.join(repoRoot, "build", "package-keys");
const tsx = path.join(repoRoot, "node_modules", ".bin", "tsx");
const tmp = tempDir("orbital-bench-package-");
chmodSync(tmp.dir, 0o755); // the packages' uids must reach their files under it

/** Builds a package from a manifest and files with the build tool (signed with the development key). */
function buildPackage(name, manifest, files) {
  const dir = path.join(tmp.dir, `src-${name}`);
  mkdirSync(path.join(dir, "files"), { recursive: true });
  writeFileSync(path.join(dir, "manifest.json"), JSON.stringify(manifest));
  for (const [file, text, mode] of files) writeFileSync(path.join(dir, "files", file), text, { mode });
  const out = path.join(tmp.dir, `${name}.opkg`);
  const r = spawnSync(tsx, [path.join(repoRoot, "scripts", "build-package.ts"), dir, "--out", out], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`build-package failed: ${r.stderr}`);
  return out;
}

const sdk = await import(clientBundle);
const daemon = await startDaemon(tmp.dir, { env: { ORBITAL_PACKAGE_KEYS_DIR: keysDir } });
const transport = sdk.createTransport({ socketPath: daemon.socketPath, deadlineMs: 120_000 });
const packages = sdk.createClient(sdk.PackageService, transport);

async function timedInstall(file) {
  const bundle = path.join(tmp.dir, `in-${path.basename(file)}`);
  copyFileSync(file, bundle);
  const t0 = performance.now();
  let verified = 0;
  let last;
  for await (const p of packages.installPackage({ bundlePath: bundle })) {
    if (p.stage === 3 && !verified) verified = performance.now() - t0; // STARTING: verified and unpacked
    last = p;
  }
  return { totalMs: performance.now() - t0, beforeStartMs: verified, name: last.package.name };
}

const rows = [];
try {
  const shell = buildPackage("floor", { name: "floor", version: "1.0.0", architecture: "any", entry: ["run.sh"], capabilities: [] }, [["run.sh", "#!/bin/sh\nexec sleep 100000\n", 0o755]]);
  const samples = { example: [], floor: [] };
  for (let r = 0; r < rounds; r++) {
    for (const [label, file] of [["example", example], ["floor", shell]]) {
      const s = await timedInstall(file);
      samples[label].push(s);
      await packages.deletePackage({ name: s.name });
    }
  }
  const med = (label, key) => median(samples[label].map((s) => s[key]));
  const sizeBytes = statSync(example).size;
  console.log(
    table(
      ["package", "file", "install (median)", "verify+unpack", "ratio"],
      [
        ["blocklist-sync", `${(sizeBytes / 1024).toFixed(1)} KiB`, `${med("example", "totalMs").toFixed(0)} ms`, `${med("example", "beforeStartMs").toFixed(0)} ms`, fmtRatio(med("example", "totalMs") / med("floor", "totalMs"))],
        ["shell floor", `${(statSync(shell).size / 1024).toFixed(1)} KiB`, `${med("floor", "totalMs").toFixed(0)} ms`, `${med("floor", "beforeStartMs").toFixed(0)} ms`, "1.00x"],
      ],
    ),
  );
  rows.push({ bench: "package", scenario: `install blocklist-sync (${(sizeBytes / 1024).toFixed(1)} KiB file)`, p50Us: med("example", "totalMs") * 1000, ratio: med("example", "totalMs") / med("floor", "totalMs"), ratioOf: "install of a 1-line shell package" });

  // Calls per second: the same loop as a package and as an in-tree client.
  const loop = readFileSync(path.join(benchDir, "support", "package-call-loop.cjs"), "utf8");
  const caller = buildPackage("caller", { name: "caller", version: "1.0.0", architecture: "any", runtime: "javascript", entry: ["main.js", String(calls), "3000"], capabilities: ["firewall.read"] }, [["main.js", loop, 0o644]]);
  const packageRates = [];
  const treeRates = [];
  for (let r = 0; r < rounds; r++) {
    await timedInstall(caller);
    let line;
    for (let i = 0; i < 600 && !line; i++) {
      line = (await packages.getPackageLogs({ name: "caller" })).lines.map((l) => /(\{.*\})$/.exec(l)?.[1]).find((j) => j && j.includes("perSec"));
      if (!line) await new Promise((res) => setTimeout(res, 100));
    }
    packageRates.push(JSON.parse(line).perSec);
    await packages.deletePackage({ name: "caller" });
    const inTree = spawnSync(process.execPath, [path.join(benchDir, "support", "package-call-loop.cjs"), String(calls)], { encoding: "utf8", env: { ...process.env, ORBITAL_SOCKET: daemon.socketPath, ORBITAL_SDK_BUNDLE: clientBundle } });
    treeRates.push(JSON.parse(inTree.stdout.trim().split("\n").pop()).perSec);
  }
  const pkgRate = median(packageRates);
  const treeRate = median(treeRates);
  console.log(
    table(
      ["client", "ListPrefixSets calls/s (median)", "ratio"],
      [
        ["package (own uid, package host)", fmtRate(pkgRate), fmtRatio(pkgRate / treeRate)],
        ["in-tree client (root, dist/client.mjs)", fmtRate(treeRate), "1.00x"],
      ],
    ),
  );
  rows.push({ bench: "package", scenario: "package calls/s (ListPrefixSets)", perSec: pkgRate, ratio: pkgRate / treeRate, ratioOf: "in-tree client, same loop" });
} finally {
  transport.close();
  const pid = Number(readFileSync(path.join(tmp.dir, "packages", ".runsvdir.pid"), "utf8"));
  try {
    process.kill(pid, "SIGHUP");
  } catch {
    // not running
  }
  await daemon.stop?.();
  tmp.remove();
}
appendResults(args.json, rows);
