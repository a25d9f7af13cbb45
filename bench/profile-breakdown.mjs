#!/usr/bin/env node
// Where the CPU time of a process goes, from a V8 .cpuprofile (node --cpu-prof): self time grouped by package
// and file, with bundled code (dist/*.mjs) mapped back to its sources (node_modules/…, src/…) through the
// bundle's source map. Two views:
//   self   each sample goes to the function that was running (native frames — C++ bindings, builtins — to the
//          JS function that called them);
//   owner  each sample goes to the innermost frame of a package or of our code on the stack, so node:http2
//          work started by grpc-js counts for grpc-js, and an AbortController made by our pipeline for the
//          pipeline. Work the event loop starts with no such frame on the stack stays with node.
//
// Usage: node bench/profile-breakdown.mjs PROFILE.cpuprofile [--by group|file|function] [--top N]
//          [--calls N] [--window START_US,END_US] [--weight samples|deltas] [--json]
//   --calls N     also print µs per call (the profile covers N calls, or the window does)
//   --window A,B  only samples between these CLOCK_MONOTONIC µs (what the bench clients report), to leave out
//                 start-up, warm-up and shutdown
//   --weight      samples (default): every sample counts one median sampling interval, so a busy machine
//                 (the process descheduled between two samples) does not inflate whatever ran last;
//                 deltas: the time until the next sample, as Chrome DevTools counts
// Also importable: analyzeProfile(path, opts) and formatBreakdown(result, opts).
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

// ---- source maps (VLQ "mappings" of source map v3), no dependencies ----

const B64 = new Map([..."ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"].map((c, i) => [c.charCodeAt(0), i]));

function decodeMappings(mappings) {
  const lines = [];
  let src = 0;
  let srcLine = 0;
  let srcCol = 0;
  let i = 0;
  const n = mappings.length;
  let line = [];
  let genCol = 0;
  const vlq = () => {
    let result = 0;
    let shift = 0;
    for (;;) {
      const d = B64.get(mappings.charCodeAt(i++));
      result += (d & 31) << shift;
      if (!(d & 32)) break;
      shift += 5;
    }
    return result & 1 ? -(result >>> 1) : result >>> 1;
  };
  while (i <= n) {
    const c = mappings.charCodeAt(i);
    if (i === n || c === 59 /* ; */) {
      lines.push(line);
      line = [];
      genCol = 0;
      i++;
      continue;
    }
    if (c === 44 /* , */) {
      i++;
      continue;
    }
    genCol += vlq();
    const seg = [genCol];
    const next = mappings.charCodeAt(i);
    if (i < n && next !== 44 && next !== 59) {
      src += vlq();
      srcLine += vlq();
      srcCol += vlq();
      seg.push(src, srcLine, srcCol);
      const after = mappings.charCodeAt(i);
      if (i < n && after !== 44 && after !== 59) vlq(); // name index
    }
    line.push(seg);
  }
  return lines;
}

const sourceMaps = new Map();

/** The source map of a bundle file (path.map next to it), or null. */
function sourceMapFor(file) {
  if (sourceMaps.has(file)) return sourceMaps.get(file);
  let sm = null;
  const mapFile = `${file}.map`;
  if (existsSync(mapFile)) {
    const raw = JSON.parse(readFileSync(mapFile, "utf8"));
    const base = path.dirname(mapFile);
    sm = { lines: decodeMappings(raw.mappings), sources: raw.sources.map((s) => path.resolve(base, raw.sourceRoot ?? "", s)) };
  }
  sourceMaps.set(file, sm);
  return sm;
}

/** Original source file of a 0-based generated position, or undefined. */
function originalSource(sm, line, col) {
  const segs = sm.lines[line];
  if (!segs || segs.length === 0) return undefined;
  let lo = 0;
  let hi = segs.length - 1;
  let best = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (segs[mid][0] <= col) {
      best = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  for (let k = Math.max(best, 0); k >= 0; k--) if (segs[k].length > 1) return sm.sources[segs[k][1]];
  return segs[0].length > 1 ? sm.sources[segs[0][1]] : undefined;
}

// ---- classification ----

/** Files (relative to the repository when inside it, node_modules paths from the package on). */
function shortFile(file) {
  const nm = file.lastIndexOf("node_modules/");
  if (nm >= 0) return file.slice(nm + "node_modules/".length);
  const m = /(?:^|\/)((?:src|bench|test|scripts)\/.*)$/.exec(file);
  return m ? m[1] : file;
}

function packageOf(file) {
  const rest = file.slice(file.lastIndexOf("node_modules/") + "node_modules/".length);
  const parts = rest.split("/");
  return parts[0].startsWith("@") ? `${parts[0]}/${parts[1]}` : parts[0];
}

const PINO_FAMILY = new Set(["pino", "sonic-boom", "pino-std-serializers", "quick-format-unescaped", "safe-stable-stringify", "atomic-sleep", "on-exit-leak-free", "thread-stream", "pino-abstract-transport", "real-require"]);

/** Coarse group of a frame; `owner` marks groups that the owner view stops at. */
function classify(frame) {
  const { functionName: fn, url } = frame.callFrame;
  if (fn === "(idle)") return { group: "(idle)", file: "(idle)" };
  if (fn === "(garbage collector)") return { group: "V8: garbage collector", file: "(garbage collector)" };
  if (fn === "(program)") return { group: "V8/native: (program)", file: "(program)" };
  if (fn === "(root)") return { group: "(root)", file: "(root)" };
  if (url === "") return { group: "native", file: "(native)", native: true };
  if (url.startsWith("node:")) {
    const f = url.slice(5);
    let group = "node: other internals";
    if (f.startsWith("internal/http2/")) group = "node: http2";
    else if (/^(net|stream|internal\/stream_base_commons|internal\/streams\/|internal\/net)/.test(f)) group = "node: net & streams";
    else if (/^(async_hooks|internal\/async_hooks|internal\/async_local_storage|internal\/process\/task_queues|internal\/process\/promises)/.test(f)) group = "node: async hooks, ALS & task queues";
    else if (/^(timers|internal\/timers)/.test(f)) group = "node: timers";
    else if (/^(events|internal\/event_target|internal\/abort_controller)/.test(f)) group = "node: events, EventTarget & AbortController";
    else if (/^(buffer|internal\/buffer)/.test(f)) group = "node: buffer";
    else if (/^internal\/(modules|bootstrap|main|process\/pre_execution|vm)/.test(f)) group = "node: module loading & start-up";
    return { group, file: url };
  }
  let file = url.startsWith("file://") ? fileURLToPath(url) : url;
  const sm = sourceMapFor(file);
  if (sm) file = originalSource(sm, frame.callFrame.lineNumber, frame.callFrame.columnNumber) ?? file;
  const short = shortFile(file);
  if (file.includes("node_modules/")) {
    const pkg = packageOf(file);
    if (pkg === "@grpc/grpc-js") return { group: "grpc-js", file: short, owner: true };
    if (pkg === "@bufbuild/protobuf") return { group: "protobuf-es (@bufbuild/protobuf)", file: short, owner: true };
    if (PINO_FAMILY.has(pkg)) return { group: "pino (logging)", file: short, owner: true };
    return { group: `npm: ${pkg}`, file: short, owner: true };
  }
  if (short === "src/daemon/rpc/grpc-server.ts") return { group: "orbital: rpc pipeline (grpc-server.ts)", file: short, owner: true };
  if (short.startsWith("src/daemon/rpc/") || short.startsWith("src/daemon/auth/")) return { group: "orbital: rpc pipeline (auth, connections)", file: short, owner: true };
  if (short === "src/common/trace.ts") return { group: "orbital: trace (ALS, ids)", file: short, owner: true };
  if (short === "src/common/metrics.ts") return { group: "orbital: metrics", file: short, owner: true };
  if (short === "src/common/logger.ts") return { group: "pino (logging)", file: short, owner: true };
  if (short.startsWith("src/daemon/services/") || short.startsWith("src/daemon/users/") || short.startsWith("src/daemon/store/")) return { group: "orbital: services (handlers)", file: short, owner: true };
  if (short.startsWith("src/client/")) return { group: "orbital: SDK client", file: short, owner: true };
  if (short.startsWith("src/")) return { group: "orbital: other src", file: short, owner: true };
  if (short.startsWith("bench/")) return { group: "bench harness", file: short, owner: true };
  return { group: "other JS", file: short, owner: true };
}

// ---- analysis ----

function median(xs) {
  const s = Float64Array.from(xs).sort();
  return s.length ? s[s.length >> 1] : 0;
}

/**
 * Reads a .cpuprofile and returns self and owner time (µs) by group, file and function, plus totals.
 * opts: { window?: [startUs, endUs], weight?: "samples" | "deltas" }
 */
export function analyzeProfile(file, opts = {}) {
  const prof = JSON.parse(readFileSync(file, "utf8"));
  const byId = new Map();
  for (const node of prof.nodes) byId.set(node.id, node);
  for (const node of prof.nodes) for (const c of node.children ?? []) byId.get(c).parent = node;
  for (const node of prof.nodes) node.cls = classify(node);

  // The JS frame a native frame is charged to (self view), and the owner frame (owner view).
  const selfFrame = (node) => {
    let n = node;
    while (n.cls.native && n.parent && n.parent.cls.group !== "(root)") n = n.parent;
    return n;
  };
  const ownerFrame = (node) => {
    for (let n = node; n && n.cls.group !== "(root)"; n = n.parent) if (n.cls.owner) return n;
    return selfFrame(node);
  };

  const views = { self: new Map(), owner: new Map() };
  const add = (view, key, us) => view.set(key, (view.get(key) ?? 0) + us);
  const [w0, w1] = opts.window ?? [-Infinity, Infinity];
  let t = prof.startTime;
  let busy = 0;
  let idle = 0;
  const { samples, timeDeltas } = prof;
  // Weight of a sample: by default the median sampling interval, so that each sample counts alike. The time
  // until the next sample (DevTools' way, --weight deltas) also counts the time the process sat descheduled on
  // a busy machine, and charges it to whatever ran last.
  const interval = median(timeDeltas.slice(1));
  for (let i = 0; i < samples.length; i++) {
    t += timeDeltas[i];
    const dur = opts.weight === "deltas" ? (i + 1 < samples.length ? timeDeltas[i + 1] : Math.max(0, prof.endTime - t)) : interval;
    if (t < w0 || t >= w1) continue;
    const node = byId.get(samples[i]);
    if (node.cls.group === "(idle)") {
      idle += dur;
      continue;
    }
    busy += dur;
    for (const [name, pick] of [["self", selfFrame], ["owner", ownerFrame]]) {
      const f = pick(node);
      const fnName = `${f.callFrame.functionName || "(anonymous)"}  ${f.cls.file}`;
      add(views[name], `group\u0000${f.cls.group}`, dur);
      add(views[name], `file\u0000${f.cls.group}\u0000${f.cls.file}`, dur);
      add(views[name], `function\u0000${f.cls.group}\u0000${fnName}`, dur);
    }
  }
  const pick = (view, kind) =>
    [...view]
      .filter(([k]) => k.startsWith(`${kind}\u0000`))
      .map(([k, us]) => {
        const parts = k.split("\u0000");
        return { group: parts[1], name: parts[parts.length - 1], us };
      })
      .sort((a, b) => b.us - a.us);
  const result = { file, busyUs: busy, idleUs: idle, samples: samples.length };
  for (const v of ["self", "owner"]) result[v] = { group: pick(views[v], "group"), file: pick(views[v], "file"), function: pick(views[v], "function") };
  return result;
}

/** Text tables of a result: by `by` (group|file|function), top `top` rows, µs per call when `calls` is given. */
export function formatBreakdown(result, { by = "group", top = 15, calls, views = ["self", "owner"] } = {}) {
  const out = [];
  const busyMs = result.busyUs / 1000;
  out.push(`${path.basename(result.file)}: busy ${busyMs.toFixed(0)} ms, idle ${(result.idleUs / 1000).toFixed(0)} ms${calls ? `, ${calls} calls → ${(result.busyUs / calls).toFixed(1)} µs CPU per call` : ""}`);
  for (const v of views) {
    const rows = result[v][by].slice(0, top);
    const w = Math.max(10, ...rows.map((r) => (by === "group" ? r.name : `${r.name}`).length));
    out.push(`  ${v === "self" ? "self time" : "owner time"} by ${by}:`);
    for (const r of rows) {
      const label = by === "group" ? r.name : `${r.name}`;
      const perCall = calls ? `${(r.us / calls).toFixed(2).padStart(8)} µs/call` : "";
      out.push(`    ${label.padEnd(w)}  ${((100 * r.us) / result.busyUs).toFixed(1).padStart(5)}%  ${(r.us / 1000).toFixed(1).padStart(8)} ms ${perCall}`);
    }
  }
  return out.join("\n");
}

// ---- command line ----

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const files = [];
  const opts = { by: "group", top: 15 };
  let json = false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--by") opts.by = args[++i];
    else if (a === "--top") opts.top = Number(args[++i]);
    else if (a === "--calls") opts.calls = Number(args[++i]);
    else if (a === "--window") opts.window = args[++i].split(",").map(Number);
    else if (a === "--weight") opts.weight = args[++i];
    else if (a === "--json") json = true;
    else if (a === "-h" || a === "--help") {
      console.log("usage: node bench/profile-breakdown.mjs PROFILE.cpuprofile… [--by group|file|function] [--top N] [--calls N] [--window START_US,END_US] [--weight samples|deltas] [--json]");
      process.exit(0);
    } else files.push(a);
  }
  if (!["group", "file", "function"].includes(opts.by) || files.length === 0) {
    console.error("usage: node bench/profile-breakdown.mjs PROFILE.cpuprofile… [--by group|file|function] [--top N] [--calls N] [--window START_US,END_US] [--weight samples|deltas] [--json]");
    process.exit(2);
  }
  for (const f of files) {
    const r = analyzeProfile(f, opts);
    console.log(json ? JSON.stringify(r) : `${formatBreakdown(r, opts)}\n`);
  }
}
