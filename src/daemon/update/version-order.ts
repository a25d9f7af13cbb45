// Orders release versions for the downgrade check, the way RAUC's min-bundle-version does (semantic
// versioning): numeric parts compared as numbers, a pre-release ("1.2.0-rc1") before its release, build
// metadata ("+abc") ignored. Non-numeric parts compare as text.

function split(version: string): { core: string[]; pre: string | undefined } {
  const noBuild = version.trim().split("+", 1)[0]!;
  const dash = noBuild.indexOf("-");
  const core = (dash < 0 ? noBuild : noBuild.slice(0, dash)).split(".");
  return { core, pre: dash < 0 ? undefined : noBuild.slice(dash + 1) };
}

function comparePart(a: string, b: string): number {
  const numeric = /^\d+$/;
  if (numeric.test(a) && numeric.test(b)) return Math.sign(Number(a) - Number(b));
  if (numeric.test(a) !== numeric.test(b)) return numeric.test(a) ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Part by part; a missing part counts as "0" in the core ("1.2" = "1.2.0") and as less in a pre-release. */
function compareParts(a: string[], b: string[], missing: "zero" | "less"): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const [x, y] = [a[i], b[i]];
    if (missing === "less" && (x === undefined || y === undefined)) return x === undefined ? -1 : 1;
    const c = comparePart(x ?? "0", y ?? "0");
    if (c !== 0) return c;
  }
  return 0;
}

/** Negative when a is older than b, 0 when they are the same release, positive when a is newer. */
export function compareVersions(a: string, b: string): number {
  const x = split(a);
  const y = split(b);
  const core = compareParts(x.core, y.core, "zero");
  if (core !== 0) return core;
  if (x.pre === undefined || y.pre === undefined) return x.pre === y.pre ? 0 : x.pre === undefined ? 1 : -1;
  return compareParts(x.pre.split("."), y.pre.split("."), "less");
}
