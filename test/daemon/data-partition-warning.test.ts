// Proves: when the boot left its marker (overlay/etc/init.d/rcS: /data is not the data partition, and why),
// orbitald reports it from its start: ConfigService DEGRADED with the marker's reason, the reason among
// GetHealth's messages, and both in `orbctl system health`; configuration still commits. Without the marker
// nothing of it appears. Topology: daemons on the sim data plane with the marker's path in
// ORBITAL_DATA_MARKER_FILE (a temp file, not /run/orbital); orbctl as a child process.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ConfigService } from "../../src/gen/orbital/config/v1/config_pb.js";
import { HealthStatus, SystemService } from "../../src/gen/orbital/system/v1/system_pb.js";
import { UserService } from "../../src/gen/orbital/user/v1/user_pb.js";
import { startDaemon } from "../support/daemon.js";
import { orbctl, orbctlHome, requireOrbctl } from "../support/orbctl.js";

const REASON =
  "/data is not the data partition: the data partition /dev/vda4 does not mount as ext4 (mount: mounting /dev/vda4 on /data failed: Invalid argument). " +
  "It is a RAM disk: configuration, passwords and the audit log are lost at reboot.";

const scratch = mkdtempSync(path.join(tmpdir(), "orbital-data-marker-"));
const home = orbctlHome();
afterAll(() => {
  rmSync(scratch, { recursive: true, force: true });
  home.remove();
});

describe("a data dir that is not on the data partition", () => {
  it("makes ConfigService DEGRADED with the boot's reason, in GetHealth and in `orbctl system health`", async () => {
    requireOrbctl();
    const marker = path.join(scratch, "data-not-mounted");
    writeFileSync(marker, `${REASON}\n`);
    const d = await startDaemon({ env: { ORBITAL_DATA_MARKER_FILE: marker } });
    try {
      const h = await d.client(SystemService).getHealth({});
      expect(h.services.find((s) => s.service === ConfigService.typeName)).toMatchObject({ status: HealthStatus.DEGRADED, detail: REASON });
      expect(h.services.find((s) => s.service === UserService.typeName)?.status).toBe(HealthStatus.SERVING);
      expect(h.messages).toContain(REASON);

      const r = await orbctl(d.socketPath, ["system", "health"], { env: home.env });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/^config\.v1\.ConfigService\s+degraded\s+\/data is not the data partition: /m);
      // (the table cuts the detail short; the note has it whole, wrapped to the terminal's width)
      expect(r.stdout.replace(/\s+/g, " ")).toContain(`note: ${REASON}`);

      // Degraded, not refusing: the configuration commits (to a data dir that will not last).
      await d.client(UserService).createRole({ role: { name: "ephemeral", capabilities: [] } });
      expect((await d.client(UserService).getRole({ name: "ephemeral" })).role?.name).toBe("ephemeral");
      expect(d.logs().some((l) => l.level === 40 && l.marker === marker)).toBe(true);
    } finally {
      await d.cleanup();
    }
  });

  it("says nothing of it without the marker", async () => {
    const d = await startDaemon({ env: { ORBITAL_DATA_MARKER_FILE: path.join(scratch, "absent") } });
    try {
      const h = await d.client(SystemService).getHealth({});
      expect(h.services.find((s) => s.service === ConfigService.typeName)).toMatchObject({ status: HealthStatus.SERVING, detail: "" });
      expect(h.messages.filter((m) => m.includes("/data"))).toEqual([]);
    } finally {
      await d.cleanup();
    }
  });
});
