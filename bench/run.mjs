#!/usr/bin/env node
// `npm run bench`: runs every benchmark file of bench/ (each *.mjs here except this runner and the tools
// below; helpers live in bench/support/) one after the other, passing on the command line arguments, and
// prints a summary table of what they reported. Benchmarks report figures and ratios against a baseline
// measured in the same run; nothing here asserts a threshold. Exit status is non-zero only when a benchmark
// crashed. Builds dist/ first when it is missing.
//
// Usage: npm run bench [-- --rounds 3 --profile …]    (arguments go to every benchmark)
//        node bench/run.mjs [--only NAME] [benchmark args…]
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { benchDir, ensureBuild, fmtRate, fmtRatio, fmtUs, table, tempDir } from "./support/common.mjs";

const TOOLS = new Set(["run.mjs", "profile-breakdown.mjs"]);

const argv = process.argv.slice(2);
let only;
const i = argv.indexOf("--only");
if (i >= 0) [, only] = argv.splice(i, 2);

const benches = readdirSync(benchDir)
  .filter((f) => f.endsWith(".mjs") && !TOOLS.has(f))
  .filter((f) => !only || f === only || f === `${only}.mjs`)
  .sort();
if (benches.length === 0) {
  console.error(`bench: no benchmark${only ? ` named ${only}` : ""} in ${benchDir}`);
  process.exit(2);
}

ensureBuild();
const tmp = tempDir("orbital-bench-run-");
const rows = [];
const failed = [];
const t0 = Date.now();
try {
  for (const file of benches) {
    const resultFile = path.join(tmp.dir, `${file}.json`);
    console.log(`\n=== ${file}`);
    const r = spawnSync(process.execPath, [path.join(benchDir, file), ...argv], { stdio: "inherit", env: { ...process.env, BENCH_RESULT_FILE: resultFile } });
    if (r.status !== 0) {
      failed.push(`${file} (exit ${r.status ?? r.signal})`);
      continue;
    }
    try {
      rows.push(...JSON.parse(readFileSync(resultFile, "utf8")).rows);
    } catch {
      // a benchmark that reports no rows
    }
  }
} finally {
  tmp.remove();
}

console.log(`\n=== summary (${benches.length} benchmark file(s), ${((Date.now() - t0) / 1000).toFixed(0)} s)`);
if (rows.length > 0) {
  console.log(
    table(
      ["bench", "scenario", "p50", "p99", "calls/s", "ratio", "ratio of"],
      rows.map((r) => [r.bench, r.scenario, fmtUs(r.p50Us), fmtUs(r.p99Us), fmtRate(r.perSec), fmtRatio(r.ratio), r.ratioOf]),
      "llrrrrl",
    ),
  );
}
if (failed.length > 0) {
  console.log(`\nfailed: ${failed.join(", ")}`);
  process.exit(1);
}
