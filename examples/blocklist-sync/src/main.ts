// blocklist-sync, the example package: keeps a firewall prefix set equal to the prefixes listed in
// prefixes.txt in its data dir (one CIDR a line, "#" comments). It creates the set when missing, sends the
// difference as one bulk stream, and logs each prefix the daemon refused. It holds firewall.read and
// firewall.write only; on start it also tries CreateRoute once, to show in its log that anything else is
// refused (CAPABILITY_MISSING). Runs under the multi-call executable's package host (docs/packages.md).
import { readFileSync, statSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { createClient, createTransport, FirewallService, OrbitalError, RoutingService } from "../../../src/client/index.js";

const { values } = parseArgs({ options: { set: { type: "string", default: "blocklist" }, "interval-ms": { type: "string", default: "1000" } } });
const setName = values.set!;
const intervalMs = Number(values["interval-ms"]);
const dataDir = process.env.ORBITAL_PACKAGE_DATA ?? process.cwd();
const listFile = path.join(dataDir, "prefixes.txt");
const BATCH = 1000;

const log = (msg: string, fields: Record<string, unknown> = {}) => process.stdout.write(`${JSON.stringify({ msg, ...fields })}\n`);

const transport = createTransport({ ...(process.env.ORBITAL_SOCKET ? { socketPath: process.env.ORBITAL_SOCKET } : {}), deadlineMs: 10_000 });
const firewall = createClient(FirewallService, transport);

function wantedPrefixes(): string[] {
  return readFileSync(listFile, "utf8")
    .split("\n")
    .map((l) => l.replace(/#.*/, "").trim())
    .filter((l) => l !== "");
}

async function currentPrefixes(): Promise<string[] | undefined> {
  try {
    const { prefixSet } = await firewall.getPrefixSet({ name: setName });
    return (prefixSet?.prefixes ?? []).map((p) => p.cidr);
  } catch (err) {
    if (err instanceof OrbitalError && err.reason === "NOT_FOUND") return undefined;
    throw err;
  }
}

function* batches(prefix: "adds" | "removes", cidrs: string[]) {
  for (let i = 0; i < cidrs.length; i += BATCH) yield { prefixSet: setName, [prefix]: cidrs.slice(i, i + BATCH).map((cidr) => ({ cidr })) };
}

async function sync(): Promise<void> {
  const wanted = [...new Set(wantedPrefixes())];
  let current = await currentPrefixes();
  if (current === undefined) {
    await firewall.createPrefixSet({ prefixSet: { name: setName, family: 1, description: "kept in sync by the blocklist-sync package" } });
    log("prefix set created", { set: setName });
    current = [];
  }
  const have = new Set(current);
  const want = new Set(wanted);
  const adds = wanted.filter((c) => !have.has(c));
  const removes = current.filter((c) => !want.has(c));
  if (adds.length === 0 && removes.length === 0) return;
  const res = await firewall.bulkUpdatePrefixSetEntries([...batches("adds", adds), ...batches("removes", removes)]);
  for (const f of res.failures) log("prefix refused", { index: Number(f.index), cidr: f.cidr, reason: f.reason, description: f.description });
  log("synced", { set: setName, added: Number(res.added), removed: Number(res.removed), failed: res.failures.length, revision: String(res.revision) });
}

async function probeOutsideCapabilities(): Promise<void> {
  try {
    await createClient(RoutingService, transport).createRoute({ route: { destination: { cidr: "198.51.100.0/24" }, type: 1 } });
    log("CreateRoute was allowed (it should not be)");
  } catch (err) {
    log("CreateRoute refused", { reason: err instanceof OrbitalError ? err.reason : String(err) });
  }
}

let lastSeen = "";
let pending = true;
async function tick(): Promise<void> {
  let stamp = "missing";
  try {
    const st = statSync(listFile);
    stamp = `${st.mtimeMs}:${st.size}:${st.ino}`;
  } catch {
    // no list yet: nothing to do
  }
  if (stamp === "missing" || (stamp === lastSeen && !pending)) return;
  try {
    await sync();
    lastSeen = stamp;
    pending = false;
  } catch (err) {
    // The daemon restarting, or a refusal: keep the list pending and try again on the next tick.
    pending = true;
    log("sync failed, retrying", { error: err instanceof OrbitalError ? `${err.reason}: ${err.message}` : String(err) });
  }
}

async function main(): Promise<void> {
  log("started", { set: setName, list: listFile, uid: process.getuid?.() });
  await probeOutsideCapabilities();
  // A tick syncs when the file changed, or when the last sync failed (the daemon was away, say).
  setInterval(() => void tick(), intervalMs);
  await tick();
}

void main();
