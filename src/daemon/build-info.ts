// Build identity baked in by the bundler (esbuild --define); a development build from source says so.
declare const ORBITAL_BUILD: { version: string; commit: string; buildTimeMs: number } | undefined;

export function buildInfo() {
  const b = typeof ORBITAL_BUILD === "undefined" ? { version: "0.0.0-dev", commit: "unknown", buildTimeMs: 0 } : ORBITAL_BUILD;
  return {
    version: b.version,
    commit: b.commit,
    ...(b.buildTimeMs ? { buildTime: { seconds: BigInt(Math.floor(b.buildTimeMs / 1000)), nanos: 0 } } : {}),
  };
}
