// Proves: a configuration as large as a router's biggest (a 1,000,000-prefix set) commits, reads back and loads
// again at start on the production Node.js under the executable's heap limits (EXEC_ARGV): the heap is sized for
// the data, so a large commit never aborts the daemon, and the supervisor never restarts it into a crash loop.
// Topology: one real orbitald (sim data plane) on the image's Node.js; the SDK in this process.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { AddressFamily } from "../../src/gen/orbital/api/v1/ip_pb.js";
import { FirewallService } from "../../src/gen/orbital/firewall/v1/firewall_pb.js";
import { startDaemon } from "../support/daemon.js";

const PREFIXES = 1_000_000;
const BATCH = 10_000; // the API's largest batch
const dataDir = mkdtempSync(path.join(tmpdir(), "orbital-large-"));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

/** The n-th distinct /24, from 10.0.0.0/24 on. */
const prefixOf = (n: number) => `${10 + (n >> 16)}.${(n >> 8) & 255}.${n & 255}.0/24`;

async function* batches() {
  for (let first = 0; first < PREFIXES; first += BATCH) {
    yield { prefixSet: "big", adds: Array.from({ length: BATCH }, (_, i) => ({ cidr: prefixOf(first + i) })) };
  }
}

describe("a large configuration", () => {
  it(`commits a ${PREFIXES.toLocaleString("en")}-prefix set and loads it again after a restart`, async () => {
    const first = await startDaemon({ dataDir, runtime: "production" });
    try {
      const fw = first.api(FirewallService);
      await fw.createPrefixSet({ prefixSet: { name: "big", family: AddressFamily.IPV4, prefixes: [] } });
      const r = await fw.bulkUpdatePrefixSetEntries(batches(), { deadlineMs: 600_000 });
      expect(r.failures).toEqual([]);
      const set = (await fw.getPrefixSet({ name: "big" })).prefixSet!;
      expect(set.prefixes).toHaveLength(PREFIXES);
      expect(set.prefixes.at(-1)!.cidr).toBe(prefixOf(PREFIXES - 1));
      console.log(`[large] RSS ${first.rssKiB()} KiB after the commit, peak ${first.peakRssKiB()} KiB`);
      expect(await first.stop()).toBe(0);
    } finally {
      await first.cleanup();
    }
    const again = await startDaemon({ dataDir, runtime: "production" });
    try {
      expect((await again.api(FirewallService).getPrefixSet({ name: "big" })).prefixSet!.prefixes).toHaveLength(PREFIXES);
    } finally {
      await again.cleanup();
    }
  }, 600_000);
});
