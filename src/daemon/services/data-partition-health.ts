// What the boot found about the data partition, in the daemon's health: when /data is not the data
// partition (missing, or it does not mount), rcS leaves why in a marker file, and /data is a RAM disk whose
// configuration, passwords and audit log vanish at reboot. Read once at start-up: ConfigService DEGRADED with
// that reason, and the reason among GetHealth's messages. Mounting /data is rcS's business, not this module's.
import { readFileSync } from "node:fs";
import { ConfigService } from "../../gen/orbital/config/v1/config_pb.js";
import { HealthStatus } from "../../gen/orbital/system/v1/system_pb.js";
import type { Logger } from "../../common/logger.js";
import type { HealthState } from "./health-state.js";

/** Where overlay/etc/init.d/rcS writes its finding (one line); ORBITAL_DATA_MARKER_FILE overrides it. */
export const DATA_MARKER_FILE = "/run/orbital/data-not-mounted";

/** The HealthState condition source, on ConfigService. */
const SOURCE = "data-partition";

/** Reports the marker's finding, if there is a marker; nothing otherwise. */
export function reportDataPartition(health: HealthState, log: Logger, env: NodeJS.ProcessEnv): void {
  const file = env.ORBITAL_DATA_MARKER_FILE || DATA_MARKER_FILE;
  let finding: string;
  try {
    finding = readFileSync(file, "utf8").trim() || `/data is not the data partition (${file} gives no reason)`;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return;
    // The marker is there, so the boot found a fault, even if it cannot be read.
    finding = `/data is not the data partition (${file} cannot be read: ${(err as Error).message})`;
  }
  log.warn({ marker: file, finding }, "the data dir is not on the data partition: nothing persists across a reboot");
  health.setCondition(ConfigService.typeName, SOURCE, HealthStatus.DEGRADED, finding);
  health.messages.push(finding);
}
