// Entry point of the package host when run from the bundles (node dist/package-host.mjs FILE): what
// `orbital package-host FILE` is inside the single executable.
import { runPackage } from "../package-host/package-host.js";

runPackage(process.argv.slice(2));
