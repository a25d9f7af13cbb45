// The running root's release version: VERSION_ID of its os-release (the image writes the release there),
// the booted version for the downgrade check when RAUC has none for the booted slot (a factory-flashed one).
import { readFileSync } from "node:fs";

/** VERSION_ID of the os-release file, or undefined when it has none or cannot be read. */
export function runningReleaseVersion(osReleasePath: string): string | undefined {
  let text: string;
  try {
    text = readFileSync(osReleasePath, "utf8");
  } catch {
    return undefined;
  }
  const raw = /^VERSION_ID=(.*)$/m.exec(text)?.[1]?.trim();
  const value = raw?.replace(/^(["'])(.*)\1$/, "$2");
  return value ? value : undefined;
}
