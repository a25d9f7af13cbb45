// Makes the fixture test/fixtures/release-data/: the data dir (configuration revisions, audit log) that the
// built daemon of this release writes for a few ordinary changes, and expected.json with what it served then
// (each revision's configuration as canonical JSON, the daemon's version). A later release's daemon must start
// on that data dir and serve the same (test/update/old-release-revisions.test.ts): what an A/B update
// carries over on /data. Regenerate only when cutting a release whose data the next ones must read:
//   npm run build && npx tsx test/support/release-data.ts test/fixtures/release-data
import { cpSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { toJson } from "@bufbuild/protobuf";
import { AddressFamily } from "../../src/gen/orbital/api/v1/ip_pb.js";
import { ConfigService } from "../../src/gen/orbital/config/v1/config_pb.js";
import { ConfigurationSchema } from "../../src/gen/orbital/config/v1/configuration_pb.js";
import { Action, Chain, FirewallService } from "../../src/gen/orbital/firewall/v1/firewall_pb.js";
import { RouteType, RoutingService } from "../../src/gen/orbital/routing/v1/routing_pb.js";
import { SystemService } from "../../src/gen/orbital/system/v1/system_pb.js";
import { UserService } from "../../src/gen/orbital/user/v1/user_pb.js";
import { startDaemon } from "./daemon.js";

/** The fixture's user, who must still authenticate by uid after the update. */
export const FIXTURE_USER = { name: "fixture-operator", uid: 3401, role: "net-operator" };
export const FIXTURE_HOSTNAME = "edge-fixture";

export interface ReleaseExpectations {
  /** GetVersion of the daemon that wrote the data. */
  version: string;
  /** Revision number -> its comment and configuration (canonical proto3 JSON), as that daemon served them. */
  revisions: Record<string, { comment: string; configuration: unknown }>;
}

async function makeReleaseData(out: string): Promise<void> {
  const d = await startDaemon();
  try {
    const users = d.client(UserService);
    await users.createRole({ role: { name: FIXTURE_USER.role, capabilities: ["routing.read", "routing.write", "session.read"], description: "routes only" } });
    await users.createUser({ user: FIXTURE_USER });
    await users.createApiToken({ token: { user: FIXTURE_USER.name, description: "automation" } });
    await d.client(SystemService).updateSettings({ settings: { hostname: FIXTURE_HOSTNAME }, updateMask: { paths: ["hostname"] } });
    const fw = d.client(FirewallService);
    await fw.createPrefixSet({ prefixSet: { name: "blocked", family: AddressFamily.IPV4, prefixes: [{ cidr: "192.0.2.0/24" }, { cidr: "198.51.100.0/24" }] } });
    // One transaction with several changes: one revision.
    const config = d.client(ConfigService);
    const tx = (await config.begin({})).transaction!.id;
    await fw.createRule({ transactionId: tx, rule: { name: "drop-blocked", chain: Chain.INPUT, sequence: 10, match: { source: { match: { case: "prefixSet", value: "blocked" } } }, action: Action.DROP, counter: true } });
    await d.client(RoutingService).createRoute({ transactionId: tx, route: { destination: { cidr: "203.0.113.0/24" }, type: RouteType.BLACKHOLE } });
    await config.commit({ transactionId: tx, comment: "firewall rule and blackhole route" });

    const revisions: ReleaseExpectations["revisions"] = {};
    for (const info of (await config.listRevisions({})).revisions) {
      const rev = await config.getRevision({ revision: info.revision });
      revisions[info.revision.toString()] = { comment: info.comment, configuration: toJson(ConfigurationSchema, rev.configuration!) };
    }
    const version = (await d.client(SystemService).getVersion({})).build?.version ?? "";
    await d.stop();
    rmSync(out, { recursive: true, force: true });
    mkdirSync(out, { recursive: true });
    cpSync(d.dataDir, path.join(out, "data"), { recursive: true });
    writeFileSync(path.join(out, "expected.json"), `${JSON.stringify({ version, revisions } satisfies ReleaseExpectations, null, 2)}\n`);
  } finally {
    await d.cleanup();
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(import.meta.filename)) {
  const out = process.argv[2];
  if (!out) throw new Error("usage: tsx test/support/release-data.ts OUT_DIR");
  void makeReleaseData(path.resolve(out));
}
