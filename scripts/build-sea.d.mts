// Types of what the TypeScript tests import from scripts/build-sea.mjs (plain JavaScript, run by node).
/** The command prefix that runs a binary of `arch` here: [] for the host arch, qemu-user for another, undefined when missing. */
export function runnerFor(arch: string): string[] | undefined;
/** The executable's Node.js options (its SEA execArgv). */
export const EXEC_ARGV: readonly string[];
/** Fetches the pinned Node of `arch` (x86_64 or aarch64) into build/sea-cache/ when missing; returns its bin/node. */
export function fetchNode(arch: string): string;
