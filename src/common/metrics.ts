// Per-method call metrics shared by every transport: a latency histogram per method and transport (buckets
// from 25 µs to 10 s) and a counter per method, transport and status code, rendered in Prometheus text
// exposition format 0.0.4. The transport is a label: "grpc", "fast" (the fast path) or "rest". Then the lines
// of registered collectors (figures read when scraped, such as the XDP fast path's counters).
import { Code } from "../gen/google/rpc/code_pb.js";

const BUCKETS_S = [0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

interface Histogram {
  counts: number[];
  sum: number;
  count: number;
}

export class Metrics {
  private readonly latency = new Map<string, Histogram>();
  private readonly calls = new Map<string, number>();
  private readonly collectors: (() => string[])[] = [];

  /** Adds lines (HELP, TYPE and samples, in exposition format) computed at every render; one that throws is left out. */
  addCollector(collect: () => string[]): void {
    this.collectors.push(collect);
  }

  /** Records one finished call of `method` ("/pkg.Service/Method") over `transport` with its code and duration. */
  observe(method: string, transport: string, code: Code, seconds: number): void {
    const series = `${method}\u0000${transport}`;
    let h = this.latency.get(series);
    if (!h) this.latency.set(series, (h = { counts: BUCKETS_S.map(() => 0), sum: 0, count: 0 }));
    for (let i = 0; i < BUCKETS_S.length; i++) if (seconds <= BUCKETS_S[i]!) h.counts[i]!++;
    h.sum += seconds;
    h.count++;
    const key = `${series}\u0000${Code[code] ?? String(code)}`;
    this.calls.set(key, (this.calls.get(key) ?? 0) + 1);
  }

  render(): string {
    const out = [
      "# HELP orbital_rpc_calls_total Finished calls by method, transport and status code.",
      "# TYPE orbital_rpc_calls_total counter",
    ];
    for (const [key, n] of [...this.calls].sort()) {
      const [method, transport, code] = key.split("\u0000");
      out.push(`orbital_rpc_calls_total{method="${method}",transport="${transport}",code="${code}"} ${n}`);
    }
    out.push("# HELP orbital_rpc_duration_seconds Call latency by method and transport.", "# TYPE orbital_rpc_duration_seconds histogram");
    for (const [series, h] of [...this.latency].sort(([a], [b]) => a.localeCompare(b))) {
      const [method, transport] = series.split("\u0000");
      const labels = `method="${method}",transport="${transport}"`;
      BUCKETS_S.forEach((le, i) => out.push(`orbital_rpc_duration_seconds_bucket{${labels},le="${le}"} ${h.counts[i]}`));
      out.push(`orbital_rpc_duration_seconds_bucket{${labels},le="+Inf"} ${h.count}`);
      out.push(`orbital_rpc_duration_seconds_sum{${labels}} ${h.sum}`);
      out.push(`orbital_rpc_duration_seconds_count{${labels}} ${h.count}`);
    }
    for (const collect of this.collectors) {
      try {
        out.push(...collect());
      } catch {
        // a source that cannot be read now (its backend failing) shows nothing rather than break the scrape
      }
    }
    return `${out.join("\n")}\n`;
  }
}
