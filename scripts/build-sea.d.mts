// Types of what the TypeScript tests import from scripts/build-sea.mjs (plain JavaScript, run by node).
/** The command prefix that runs a binary of `arch` here: [] for the host arch, qemu-user for another, undefined when missing. */
export function runnerFor(arch: string): string[] | undefined;
