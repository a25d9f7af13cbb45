// The XDP fast path's counters as Prometheus metrics (registered with Metrics, read at each scrape):
// orbital_xdp_packets_total and orbital_xdp_bytes_total by interface and verdict (dropped, allowed, passed;
// allowed packets are counted in passed too).
import type { Dataplane } from "../dataplane/dataplane.js";

const VERDICTS = [
  ["dropped", "droppedPackets", "droppedBytes"],
  ["allowed", "allowedPackets", "allowedBytes"],
  ["passed", "passedPackets", "passedBytes"],
] as const;

export function fastPathMetricLines(dataplane: Pick<Dataplane, "fastPathCounters">): string[] {
  const counters = [...dataplane.fastPathCounters()].sort(([a], [b]) => a.localeCompare(b));
  if (counters.length === 0) return [];
  const out: string[] = [];
  for (const [metric, field, help] of [
    ["orbital_xdp_packets_total", 1, "Packets seen by the XDP fast path, by interface and verdict."],
    ["orbital_xdp_bytes_total", 2, "Bytes seen by the XDP fast path, by interface and verdict."],
  ] as const) {
    out.push(`# HELP ${metric} ${help}`, `# TYPE ${metric} counter`);
    for (const [name, c] of counters) for (const v of VERDICTS) out.push(`${metric}{interface="${name}",verdict="${v[0]}"} ${c[v[field]]}`);
  }
  return out;
}
