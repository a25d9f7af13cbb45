#!/usr/bin/env node
// Entry point of the orbctl executable (dist/orbctl.mjs): starts the CLI core, dist/orbctl-core.cjs, with a
// per-user V8 code cache, runs the command line given and exits with its status.
import { fileURLToPath } from "node:url";
import { loadWithCodeCache } from "../cli/code-cache.js";
import type * as Core from "../cli/main.js";

const core = loadWithCodeCache<typeof Core>(fileURLToPath(new URL("./orbctl-core.cjs", import.meta.url)), process.env);
const code = await core.exports.main(process.argv.slice(2));
core.saveCache(core.exports.usedDaemon());
// Exit at once: the connection's timers must not keep a finished command alive.
process.exit(code);
