// Entry point of the orbitald executable.
import { orbitaldMain } from "../daemon/main.js";

await orbitaldMain(process.argv.slice(2));
