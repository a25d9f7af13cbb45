// Proves: a daemon of this build starts on the data dir an earlier release wrote (the committed fixture
// test/fixtures/release-data/, made by release 0.1.0's own code) and serves it: every revision as that release
// served it, the newest one active with no fallback, the hostname, the fixture's user authenticating by uid,
// an intact audit chain that goes on, and new commits and a rollback on top. This is what an A/B update
// carries over on /data: the new slot's orbitald reads the old slot's revisions.
// Topology: no network; one daemon (sim data plane) on a copy of the fixture.
import { cpSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { toJson } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigService } from "../../src/gen/orbital/config/v1/config_pb.js";
import { ConfigurationSchema } from "../../src/gen/orbital/config/v1/configuration_pb.js";
import { HealthStatus, SystemService, VerifyAuditLogResponseSchema } from "../../src/gen/orbital/system/v1/system_pb.js";
import { repoRoot } from "../../scripts/proto-image.js";
import { callAs, startDaemon, type RunningDaemon } from "../support/daemon.js";
import { FIXTURE_HOSTNAME, FIXTURE_USER, type ReleaseExpectations } from "../support/release-data.js";

const FIXTURE = path.join(repoRoot, "test", "fixtures", "release-data");
const expected = JSON.parse(readFileSync(path.join(FIXTURE, "expected.json"), "utf8")) as ReleaseExpectations;
const numbers = Object.keys(expected.revisions).map(BigInt).sort((a, b) => (a < b ? -1 : 1));
const newest = numbers.at(-1)!;

let scratch: string;
let d: RunningDaemon;

describe(`a daemon of this build on the data of release ${expected.version}`, () => {
  beforeAll(async () => {
    scratch = mkdtempSync(path.join(tmpdir(), "orbital-release-data-"));
    cpSync(path.join(FIXTURE, "data"), path.join(scratch, "data"), { recursive: true });
    d = await startDaemon({ dataDir: path.join(scratch, "data") });
  });
  afterAll(async () => {
    await d?.cleanup();
    rmSync(scratch, { recursive: true, force: true });
  });

  it("starts on the newest revision with no fallback", async () => {
    const health = await d.api(SystemService).getHealth({});
    expect(health.activeRevision).toBe(newest);
    expect(health.services.find((s) => s.service === ConfigService.typeName)?.status).toBe(HealthStatus.SERVING);
    expect(d.logs().filter((l) => /skipped|fallback|unreadable/i.test(String(l.msg)))).toEqual([]);
  });

  it("serves every revision as the old release served it", async () => {
    const config = d.api(ConfigService);
    const listed = (await config.listRevisions({})).revisions.map((r) => r.revision).sort((a, b) => (a < b ? -1 : 1));
    expect(listed).toEqual(numbers);
    for (const n of numbers) {
      const rev = await config.getRevision({ revision: n });
      expect(rev.info?.comment, `revision ${n}`).toBe(expected.revisions[n.toString()]!.comment);
      expect(toJson(ConfigurationSchema, rev.configuration!), `revision ${n}`).toEqual(expected.revisions[n.toString()]!.configuration);
    }
  });

  it("applies it: the hostname, and the old user authenticates by uid", async () => {
    expect((await d.api(SystemService).getSettings({})).settings?.hostname).toBe(FIXTURE_HOSTNAME);
    const who = await callAs(d.socketPath, FIXTURE_USER.uid, "orbital.user.v1.UserService/WhoAmI", {});
    expect(who.ok, JSON.stringify(who.error)).toBe(true);
    expect(who.responses![0]).toMatchObject({ user: FIXTURE_USER.name, role: FIXTURE_USER.role });
  });

  it("keeps the old audit chain verifiable, and commits and rolls back on top of the old revisions", async () => {
    const config = d.api(ConfigService);
    await d.api(SystemService).updateSettings({ settings: { hostname: "edge-after-update" }, updateMask: { paths: ["hostname"] } });
    expect((await d.api(SystemService).getHealth({})).activeRevision).toBe(newest + 1n);
    const rolled = await config.rollback({ revision: newest, comment: "back to the old release's configuration" });
    expect(rolled.revision?.revision).toBe(newest + 2n);
    expect(toJson(ConfigurationSchema, (await config.getRevision({ revision: newest + 2n })).configuration!)).toEqual(expected.revisions[newest.toString()]!.configuration);
    const audit = await d.api(SystemService).verifyAuditLog({});
    expect(audit.ok, JSON.stringify(toJson(VerifyAuditLogResponseSchema, audit))).toBe(true);
    expect(audit.recordsChecked).toBeGreaterThan(BigInt(numbers.length));
  });
});
