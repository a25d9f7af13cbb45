// Proves: bad input of any kind (garbage bytes, malformed HTTP/2 frames, undecodable, lying or oversized gRPC messages,
// wrong-typed fields) gets a structured error with a catalogue reason, and orbitald keeps running with its data intact;
// under hostile connections (requests near the size limit on many streams, CONTINUATION floods, rapid reset, 200 idle
// connections) its memory stays within 64 MiB of the idle daemon's and stops growing.
// Topology: one real orbitald child process on the production Node.js with the executable's options; raw sockets,
// node:http2 sessions and the SDK in this process (seeded PRNG).
import { readdirSync, readlinkSync } from "node:fs";
import http2 from "node:http2";
import net from "node:net";
import zlib from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { create, equals, fromBinary, ScalarType, toBinary, type DescField, type DescMessage, type DescMethod, type DescService } from "@bufbuild/protobuf";
import { apiServices } from "../../src/common/api-services.js";
import { reasonByWire } from "../../src/common/error-reasons.js";
import { decodeStatus, isKnownReason, OrbitalError, STATUS_DETAILS_KEY } from "../../src/common/errors.js";
import { StatusSchema } from "../../src/gen/google/rpc/status_pb.js";
import { Health } from "../../src/gen/grpc/health/v1/health_pb.js";
import { ServerReflection as ReflectionV1 } from "../../src/gen/grpc/reflection/v1/reflection_pb.js";
import { ServerReflection as ReflectionV1Alpha } from "../../src/gen/grpc/reflection/v1alpha/reflection_pb.js";
import { SystemService } from "../../src/gen/orbital/system/v1/system_pb.js";
import { UserService, UserSchema, type User } from "../../src/gen/orbital/user/v1/user_pb.js";
import { startDaemon, type RunningDaemon } from "../support/daemon.js";
import { Rng } from "../support/rng.js";

// ---------------------------------------------------------------------------------------------------------
// Budget. The numbers are case counts, not times: the file must stay well under 2 minutes on 2 cores.

const SEED = process.env.ORBITAL_FUZZ_SEED !== undefined ? Number(process.env.ORBITAL_FUZZ_SEED) >>> 0 : 0x0b17a1d;
/** A first pass over the three levels, before the main rounds. */
const WARMUP = { raw: 400, grpc: 2400, typed: 100 };
const ROUNDS = { raw: 800, grpc: 2400, typed: 600 };
/** Over-limit bodies cost 4 MiB each on the wire: a few per round, one at a time (see grpcRound). */
const HUGE_BODIES = 8;
/**
 * The memory defect's hostile mix, 1,000 connections a round, repeated: each round holds `idle` connections open
 * while the others (so many of each kind, in a seeded order) run `concurrency` at a time.
 */
const HOSTILE = { rounds: 4, idle: 200, concurrency: 16, kinds: { oversized: 50, "continuation-flood": 350, "rapid-reset": 400 } };
/** Resting RSS after any round may exceed the idle daemon's by less than this. */
const RSS_GROWTH_LIMIT_KIB = 64 * 1024;
/**
 * The plateau: the lesser resting RSS of the last two hostile rounds may exceed the first round's by less than this.
 * The rounds repeat one mix (other cases of the same kinds), so what a round leaves behind adds up at least
 * (HOSTILE.rounds - 2) times in that difference: 6 KiB kept per connection (6 MiB a round) fails it. The lesser of
 * two, because a bounded daemon's resting RSS sometimes steps once by up to 9 MiB (a heap growth step, measured on
 * a loaded 2-core machine) and stays there: six rounds here rested within 91.5-94 MiB.
 */
const PLATEAU_LIMIT_KIB = 12 * 1024;
/** Connections the daemon may hold open for us at once: well under its maxConnections (256). */
const OPEN_SOCKETS_HEADROOM = 200;
/** A dead session must be closed by the daemon within this (its keepalive PING and timeout are 5 s each). */
const RECLAIM_MS = 30_000;
const MAX_MESSAGE = 4 << 20; // the daemon's defaultLimits.maxMessageBytes
const KEEPER = { name: "fuzz-keeper", uid: 2741, role: "viewer", description: "created before the fuzz rounds; must survive them" };

// ---------------------------------------------------------------------------------------------------------
// Deterministic PRNG (test/support/rng.ts); each case gets its own stream derived from (seed, round, index).

function flipBit(r: Rng, b: Buffer, from: number): void {
  const i = r.range(from, b.length - 1);
  b[i] = b[i]! ^ (1 << r.int(8));
}

function caseRng(round: string, i: number): Rng {
  let h = SEED ^ 0x9e3779b9;
  for (const c of `${round}#${i}`) h = Math.imul(h ^ c.charCodeAt(0), 0x01000193) >>> 0;
  return new Rng(h);
}

async function pool(n: number, concurrency: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, n) }, async () => {
      while (next < n) await fn(next++);
    }),
  );
}

/** Failures of one round, kept short; the round asserts there are none. */
class Findings {
  readonly list: string[] = [];
  count = 0;
  constructor(readonly round: string) {}
  fail(i: number, what: string, detail: string): void {
    this.count++;
    if (this.list.length < 25) this.list.push(`seed=${SEED} round=${this.round} case=${i} ${what}: ${detail}`);
  }
}

class Tally {
  private readonly m = new Map<string, number>();
  add(key: string): void {
    this.m.set(key, (this.m.get(key) ?? 0) + 1);
  }
  toString(): string {
    return [...this.m].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k}=${v}`).join(" ");
  }
}

// ---------------------------------------------------------------------------------------------------------
// Protobuf wire helpers and a random, valid message builder driven by the descriptors.

function varint(v: number | bigint): Buffer {
  let n = BigInt.asUintN(64, BigInt(v));
  const out: number[] = [];
  do {
    const b = Number(n & 0x7fn);
    n >>= 7n;
    out.push(n > 0n ? b | 0x80 : b);
  } while (n > 0n);
  return Buffer.from(out);
}
const tag = (field: number, wt: number) => varint((BigInt(field) << 3n) | BigInt(wt));

const UNICODE = ["a", "Z", "0", "-", "_", " ", ".", "/", "é", "ß", "日本", "🚀", "\u0000", "\u001f", "\u007f", "\u200b", "\ufeff", "'", '"', "\\", "%s", "${x}", "<b>"];
function randString(r: Rng, max = 24): string {
  let s = "";
  const n = r.size(max);
  for (let i = 0; i < n; i++) s += r.chance(0.5) ? String.fromCharCode(r.range(0x61, 0x7a)) : r.pick(UNICODE);
  return s;
}

function randScalar(r: Rng, t: ScalarType): unknown {
  switch (t) {
    case ScalarType.DOUBLE:
    case ScalarType.FLOAT:
      return r.pick([0, -0, 1.5, -1e300, Number.NaN, Number.POSITIVE_INFINITY, r.u32() / 7]);
    case ScalarType.INT64:
    case ScalarType.SINT64:
    case ScalarType.SFIXED64:
      return BigInt.asIntN(64, (BigInt(r.u32()) << 32n) | BigInt(r.u32()));
    case ScalarType.UINT64:
    case ScalarType.FIXED64:
      return BigInt.asUintN(64, (BigInt(r.u32()) << 32n) | BigInt(r.u32()));
    case ScalarType.INT32:
    case ScalarType.SINT32:
    case ScalarType.SFIXED32:
      return r.pick([0, -1, 2147483647, -2147483648, r.u32() | 0]);
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      return r.pick([0, 1, 4294967295, r.u32()]);
    case ScalarType.BOOL:
      return r.chance(0.5);
    case ScalarType.STRING:
      return randString(r);
    case ScalarType.BYTES:
      return new Uint8Array(r.bytes(r.size(64)));
  }
  return 0;
}

function randValue(r: Rng, f: DescField, kind: "scalar" | "enum" | "message", depth: number): unknown {
  if (kind === "scalar") return randScalar(r, f.scalar!);
  if (kind === "enum") return r.chance(0.8) ? r.pick(f.enum!.values).number : r.range(-5, 1000);
  return randInit(r, f.message!, depth + 1);
}

function randInit(r: Rng, schema: DescMessage, depth = 0): Record<string, unknown> {
  const init: Record<string, unknown> = {};
  if (depth > 3) return init;
  for (const f of schema.fields) {
    if (!r.chance(0.6)) continue;
    try {
      let v: unknown;
      if (f.fieldKind === "list") v = Array.from({ length: r.int(4) }, () => randValue(r, f, f.listKind, depth));
      else if (f.fieldKind === "map") {
        const m: Record<string, unknown> = {};
        for (let k = r.int(3); k > 0; k--) m[String(randScalar(r, f.mapKey))] = randValue(r, f, f.mapKind, depth);
        v = m;
      } else v = randValue(r, f, f.fieldKind, depth);
      if (f.oneof) init[f.oneof.localName] = { case: f.localName, value: f.fieldKind === "message" ? create(f.message!, v as never) : v };
      else init[f.localName] = f.fieldKind === "message" ? create(f.message!, v as never) : v;
    } catch {
      // a value protobuf-es refuses: leave the field unset
    }
  }
  return init;
}

function randomValidEncoding(r: Rng, schema: DescMessage): Buffer {
  try {
    return Buffer.from(toBinary(schema, create(schema, randInit(r, schema) as never)));
  } catch {
    return Buffer.alloc(0);
  }
}

/** Top-level fields of an encoding: offsets of the tag and the end of each field. */
function topLevelFields(b: Buffer): { start: number; tagEnd: number; end: number; field: number; wt: number }[] {
  const out = [];
  let i = 0;
  const readVarint = () => {
    let v = 0n;
    let shift = 0n;
    for (;;) {
      if (i >= b.length) throw new Error("eof");
      const byte = b[i++]!;
      v |= BigInt(byte & 0x7f) << shift;
      shift += 7n;
      if (!(byte & 0x80)) return v;
    }
  };
  try {
    while (i < b.length) {
      const start = i;
      const t = readVarint();
      const tagEnd = i;
      const wt = Number(t & 7n);
      if (wt === 0) readVarint();
      else if (wt === 1) i += 8;
      else if (wt === 2) i += Number(readVarint());
      else if (wt === 5) i += 4;
      else break;
      if (i > b.length) break;
      out.push({ start, tagEnd, end: i, field: Number(t >> 3n), wt });
    }
  } catch {
    // a truncated tail: the fields read so far are enough
  }
  return out;
}

/** Bytes that protobuf-es must refuse whatever the schema: appended after a valid encoding. */
function malformedTail(r: Rng, schema: DescMessage): { name: string; bytes: Buffer } {
  const unknownField = r.range(1000, 536870911);
  const strings = schema.fields.filter((f) => f.fieldKind === "scalar" && f.scalar === ScalarType.STRING);
  const choices: (() => { name: string; bytes: Buffer })[] = [
    () => ({ name: "illegal-wire-type", bytes: Buffer.concat([tag(r.range(1, 5000), r.pick([6, 7])), r.bytes(r.int(8))]) }),
    () => ({ name: "field-zero", bytes: Buffer.concat([tag(0, r.pick([0, 1, 2, 5])), r.bytes(r.range(1, 8))]) }),
    () => ({ name: "truncated-varint", bytes: Buffer.concat([tag(unknownField, 0), Buffer.alloc(r.range(1, 9), 0xff)]) }),
    () => {
      const payload = r.bytes(r.int(16));
      return { name: "length-overrun", bytes: Buffer.concat([tag(unknownField, 2), varint(payload.length + r.range(1, 1 << 20)), payload]) };
    },
    () => ({ name: "lone-end-group", bytes: tag(unknownField, 4) }),
    () => ({ name: "unterminated-group", bytes: Buffer.concat([tag(unknownField, 3), tag(1, 0), varint(r.u32())]) }),
    () => ({ name: "mismatched-end-group", bytes: Buffer.concat([tag(unknownField, 3), tag(unknownField + 1, 4)]) }),
    () => ({ name: "tag-overflow", bytes: Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0x00]) }),
    () => ({ name: "short-fixed", bytes: Buffer.concat([tag(unknownField, r.pick([1, 5])), r.bytes(r.int(3))]) }),
  ];
  if (strings.length > 0) {
    choices.push(() => {
      const bad = r.pick([Buffer.from([0xc0]), Buffer.from([0xff, 0xfe]), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from([0xe2, 0x82])]);
      return { name: "invalid-utf8", bytes: Buffer.concat([tag(r.pick(strings).number, 2), varint(bad.length), bad]) };
    });
  }
  return r.pick(choices)();
}

// ---------------------------------------------------------------------------------------------------------
// gRPC framing and methods.

function grpcFrame(msg: Buffer, flag = 0, declared = msg.length): Buffer {
  const h = Buffer.alloc(5);
  h[0] = flag;
  h.writeUInt32BE(declared >>> 0, 1);
  return Buffer.concat([h, msg]);
}

interface Method {
  path: string;
  input: DescMessage;
  kind: DescMethod["methodKind"];
}

/** Every RPC the daemon serves: the v1 contract plus health and both reflection packages. */
const methods: Method[] = [...apiServices, Health, ReflectionV1, ReflectionV1Alpha].flatMap((s: DescService) =>
  s.methods.map((m) => ({ path: `/${s.typeName}/${m.name}`, input: m.input, kind: m.methodKind })),
);

// ---------------------------------------------------------------------------------------------------------
// HTTP/2 framing for raw sockets.

const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");
const F = { DATA: 0, HEADERS: 1, PRIORITY: 2, RST_STREAM: 3, SETTINGS: 4, PUSH_PROMISE: 5, PING: 6, GOAWAY: 7, WINDOW_UPDATE: 8, CONTINUATION: 9 };
const END_STREAM = 0x1;
const END_HEADERS = 0x4;
const PADDED = 0x8;

function h2Frame(type: number, flags: number, stream: number, payload: Buffer, length = payload.length): Buffer {
  const h = Buffer.alloc(9);
  h.writeUIntBE(length & 0xffffff, 0, 3);
  h[3] = type;
  h[4] = flags;
  h.writeUInt32BE(stream >>> 0, 5);
  return Buffer.concat([h, payload]);
}

function hpackInt(value: number, prefixBits: number, first: number): Buffer {
  const max = (1 << prefixBits) - 1;
  if (value < max) return Buffer.from([first | value]);
  const out = [first | max];
  value -= max;
  while (value >= 128) {
    out.push((value % 128) + 128);
    value = Math.floor(value / 128);
  }
  out.push(value);
  return Buffer.from(out);
}

/** A header block of literal fields without indexing (no Huffman): valid HPACK. */
function hpack(headers: [string, string][]): Buffer {
  return Buffer.concat(
    headers.flatMap(([k, v]) => {
      const kb = Buffer.from(k, "latin1");
      const vb = Buffer.from(v, "latin1");
      return [Buffer.from([0x00]), hpackInt(kb.length, 7, 0), kb, hpackInt(vb.length, 7, 0), vb];
    }),
  );
}

const requestHeaders = (path: string): [string, string][] => [
  [":method", "POST"],
  [":scheme", "http"],
  [":path", path],
  [":authority", "localhost"],
  ["content-type", "application/grpc"],
  ["te", "trailers"],
];

const settings = (pairs: [number, number][]) => Buffer.concat(pairs.map(([id, v]) => Buffer.from([id >> 8, id & 0xff, v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff])));
const u32 = (v: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v >>> 0);
  return b;
};
const CLIENT_START = () => Buffer.concat([PREFACE, h2Frame(F.SETTINGS, 0, 0, Buffer.alloc(0))]);

/** The complete frames in what the daemon sent. */
function parseH2(b: Buffer): { type: number; flags: number; stream: number; payload: Buffer }[] {
  const out = [];
  let i = 0;
  while (i + 9 <= b.length) {
    const len = b.readUIntBE(i, 3);
    if (i + 9 + len > b.length) break;
    out.push({ type: b[i + 3]!, flags: b[i + 4]!, stream: b.readUInt32BE(i + 5) & 0x7fffffff, payload: b.subarray(i + 9, i + 9 + len) });
    i += 9 + len;
  }
  return out;
}

interface RawCase {
  name: string;
  chunks: Buffer[];
  /** Leave the connection open (idle) for this long, then close it ourselves. */
  idleMs?: number;
}

function rawCase(r: Rng): RawCase {
  const path = r.pick(methods).path;
  const valid = () => {
    const msg = grpcFrame(Buffer.alloc(0));
    return [h2Frame(F.HEADERS, END_HEADERS, 1, hpack(requestHeaders(path))), h2Frame(F.DATA, END_STREAM, 1, msg)];
  };
  const gens: (() => RawCase)[] = [
    () => ({ name: "garbage", chunks: [r.bytes(r.size(4096))] }),
    () => ({ name: "garbage-then-preface", chunks: [r.bytes(r.range(1, 64)), PREFACE] }),
    () => ({ name: "partial-preface", chunks: [PREFACE.subarray(0, r.int(PREFACE.length)), r.bytes(r.size(256))] }),
    () => ({ name: "http1-request", chunks: [Buffer.from(`GET ${path} HTTP/1.1\r\nHost: x\r\nUpgrade: h2c\r\n\r\n`)] }),
    () => ({ name: "preface-garbage", chunks: [CLIENT_START(), r.bytes(r.size(2048))] }),
    () => ({ name: "preface-only-idle", chunks: [CLIENT_START()], idleMs: 150 }),
    () => ({ name: "truncated-frame-idle", chunks: [CLIENT_START(), h2Frame(F.HEADERS, END_HEADERS, 1, hpack(requestHeaders(path))).subarray(0, r.range(1, 20))], idleMs: 150 }),
    () => ({ name: "frame-length-lies", chunks: [CLIENT_START(), h2Frame(r.int(10), r.int(256), r.int(8), r.bytes(r.int(32)), r.range(33, 16384))] }),
    () => ({ name: "frame-too-large", chunks: [CLIENT_START(), h2Frame(r.int(10), 0, r.int(4), r.bytes(64), r.range(16385, 0xffffff))] }),
    () => ({ name: "unknown-frame-types", chunks: [CLIENT_START(), ...Array.from({ length: r.range(1, 20) }, () => h2Frame(r.range(10, 255), r.int(256), r.int(100), r.bytes(r.size(128)))), ...valid()] }),
    () => ({ name: "settings-bad-length", chunks: [PREFACE, h2Frame(F.SETTINGS, 0, 0, r.bytes(r.pick([1, 5, 7, 11, 13])))] }),
    () => ({
      name: "settings-bad-values",
      chunks: [PREFACE, h2Frame(F.SETTINGS, 0, 0, settings([r.pick<[number, number]>([[2, r.range(2, 1000)], [4, 0x80000000 + r.int(1000)], [5, r.int(16383)], [5, 0x1000000 + r.int(1000)]])]))],
    }),
    () => ({ name: "settings-ack-with-payload", chunks: [CLIENT_START(), h2Frame(F.SETTINGS, 0x1, 0, settings([[3, 100]]))] }),
    () => ({ name: "settings-on-stream", chunks: [PREFACE, h2Frame(F.SETTINGS, 0, r.range(1, 99), settings([[3, 100]]))] }),
    () => ({ name: "headers-broken-hpack", chunks: [CLIENT_START(), h2Frame(F.HEADERS, END_HEADERS | (r.chance(0.5) ? END_STREAM : 0), 1, r.bytes(r.range(1, 200)))] }),
    () => ({ name: "headers-index-out-of-range", chunks: [CLIENT_START(), h2Frame(F.HEADERS, END_HEADERS, 1, Buffer.concat([hpackInt(r.range(62, 5000), 7, 0x80)]))] }),
    () => ({ name: "headers-table-size-too-big", chunks: [CLIENT_START(), h2Frame(F.HEADERS, END_HEADERS, 1, Buffer.concat([hpackInt(r.range(1 << 20, 1 << 30), 5, 0x20), hpack(requestHeaders(path))]))] }),
    () => {
      const block = hpack(requestHeaders(path));
      return { name: "headers-truncated-hpack", chunks: [CLIENT_START(), h2Frame(F.HEADERS, END_HEADERS, 1, block.subarray(0, r.int(block.length)))] };
    },
    () => ({ name: "headers-bad-huffman", chunks: [CLIENT_START(), h2Frame(F.HEADERS, END_HEADERS, 1, Buffer.concat([Buffer.from([0x00]), hpackInt(4, 7, 0x80), Buffer.from([0xff, 0xff, 0xff, 0xff]), hpackInt(1, 7, 0), Buffer.from("x")]))] }),
    () => ({ name: "headers-even-stream", chunks: [CLIENT_START(), h2Frame(F.HEADERS, END_HEADERS, 2 * r.range(1, 1000), hpack(requestHeaders(path)))] }),
    () => ({ name: "headers-stream-zero", chunks: [CLIENT_START(), h2Frame(F.HEADERS, END_HEADERS, 0, hpack(requestHeaders(path)))] }),
    () => ({ name: "headers-decreasing-ids", chunks: [CLIENT_START(), h2Frame(F.HEADERS, END_HEADERS, 7, hpack(requestHeaders(path))), h2Frame(F.HEADERS, END_HEADERS, 3, hpack(requestHeaders(path)))] }),
    () => ({ name: "headers-missing-pseudo", chunks: [CLIENT_START(), h2Frame(F.HEADERS, END_HEADERS | END_STREAM, 1, hpack([["content-type", "application/grpc"], [":path", path]]))] }),
    () => ({ name: "headers-uppercase-name", chunks: [CLIENT_START(), h2Frame(F.HEADERS, END_HEADERS | END_STREAM, 1, hpack([...requestHeaders(path), ["X-Bad", "1"]]))] }),
    () => ({ name: "continuation-without-headers", chunks: [CLIENT_START(), h2Frame(F.CONTINUATION, END_HEADERS, 1, hpack(requestHeaders(path)))] }),
    () => ({
      name: "continuation-flood",
      chunks: [CLIENT_START(), h2Frame(F.HEADERS, 0, 1, hpack(requestHeaders(path))), ...Array.from({ length: r.range(50, 400) }, () => h2Frame(F.CONTINUATION, 0, 1, hpack([["x-flood", "y".repeat(r.range(1, 100))]])))],
    }),
    () => ({ name: "data-on-stream-zero", chunks: [CLIENT_START(), h2Frame(F.DATA, 0, 0, r.bytes(r.size(100)))] }),
    () => ({ name: "data-on-idle-stream", chunks: [CLIENT_START(), h2Frame(F.DATA, END_STREAM, r.range(1, 99) | 1, grpcFrame(Buffer.alloc(0)))] }),
    () => ({ name: "data-bad-padding", chunks: [CLIENT_START(), h2Frame(F.HEADERS, END_HEADERS, 1, hpack(requestHeaders(path))), h2Frame(F.DATA, PADDED | END_STREAM, 1, Buffer.from([200, 1, 2, 3]))] }),
    () => ({ name: "data-after-end-stream", chunks: [CLIENT_START(), ...valid(), h2Frame(F.DATA, 0, 1, grpcFrame(r.bytes(8)))] }),
    () => ({ name: "window-update-zero", chunks: [CLIENT_START(), h2Frame(F.WINDOW_UPDATE, 0, r.chance(0.5) ? 0 : 1, u32(0))] }),
    () => ({ name: "window-update-overflow", chunks: [CLIENT_START(), h2Frame(F.WINDOW_UPDATE, 0, 0, u32(0x7fffffff)), h2Frame(F.WINDOW_UPDATE, 0, 0, u32(0x7fffffff))] }),
    () => ({
      name: "window-update-stream-overflow",
      chunks: [CLIENT_START(), h2Frame(F.HEADERS, END_HEADERS, 1, hpack(requestHeaders(path))), h2Frame(F.WINDOW_UPDATE, 0, 1, u32(0x7fffffff)), h2Frame(F.WINDOW_UPDATE, 0, 1, u32(0x7fffffff))],
    }),
    () => ({ name: "window-update-bad-length", chunks: [CLIENT_START(), h2Frame(F.WINDOW_UPDATE, 0, 0, r.bytes(r.pick([0, 3, 5, 8])))] }),
    () => ({
      name: "rst-flood",
      chunks: [CLIENT_START(), ...Array.from({ length: r.range(20, 300) }, (_, k) => [h2Frame(F.HEADERS, END_HEADERS, 2 * k + 1, hpack(requestHeaders(path))), h2Frame(F.RST_STREAM, 0, 2 * k + 1, u32(8))]).flat()],
    }),
    () => ({ name: "rst-stream-zero", chunks: [CLIENT_START(), h2Frame(F.RST_STREAM, 0, 0, u32(r.int(14)))] }),
    () => ({ name: "rst-idle-stream", chunks: [CLIENT_START(), h2Frame(F.RST_STREAM, 0, r.range(1, 999) | 1, u32(r.int(14)))] }),
    () => ({ name: "rst-bad-length", chunks: [CLIENT_START(), h2Frame(F.RST_STREAM, 0, 1, r.bytes(r.pick([0, 3, 5])))] }),
    () => ({ name: "ping-bad-length", chunks: [CLIENT_START(), h2Frame(F.PING, 0, 0, r.bytes(r.pick([0, 7, 9, 64])))] }),
    () => ({ name: "ping-on-stream", chunks: [CLIENT_START(), h2Frame(F.PING, 0, r.range(1, 9), r.bytes(8))] }),
    () => ({ name: "ping-flood", chunks: [CLIENT_START(), ...Array.from({ length: r.range(100, 2000) }, () => h2Frame(F.PING, 0, 0, r.bytes(8)))] }),
    () => ({ name: "settings-flood", chunks: [CLIENT_START(), ...Array.from({ length: r.range(100, 2000) }, () => h2Frame(F.SETTINGS, 0, 0, settings([[3, r.range(1, 100)]])))] }),
    () => ({ name: "priority-self-dependency", chunks: [CLIENT_START(), h2Frame(F.PRIORITY, 0, 3, Buffer.concat([u32(3), Buffer.from([16])]))] }),
    () => ({ name: "push-promise-from-client", chunks: [CLIENT_START(), h2Frame(F.PUSH_PROMISE, END_HEADERS, 1, Buffer.concat([u32(2), hpack(requestHeaders(path))]))] }),
    () => ({ name: "goaway-garbage", chunks: [CLIENT_START(), h2Frame(F.GOAWAY, 0, r.int(3), r.bytes(r.size(64)))] }),
    () => {
      // a complete, valid request, with random bytes flipped
      const b = Buffer.concat([CLIENT_START(), ...valid()]);
      for (let k = r.range(1, 8); k > 0; k--) flipBit(r, b, PREFACE.length);
      return { name: "valid-request-bitflips", chunks: [b] };
    },
    () => ({ name: "valid-request-then-garbage", chunks: [CLIENT_START(), ...valid(), r.bytes(r.size(512))] }),
  ];
  const c = r.pick(gens)();
  // sometimes dribble the bytes in small writes, so that frame parsing crosses read boundaries
  if (r.chance(0.2)) {
    const all = Buffer.concat(c.chunks);
    const parts: Buffer[] = [];
    for (let i = 0; i < all.length; ) {
      const n = r.range(1, 64);
      parts.push(all.subarray(i, i + n));
      i += n;
    }
    c.chunks = parts;
  }
  return c;
}

interface RawOutcome {
  received: Buffer;
  /** The daemon closed its side within the linger time. */
  closedByDaemon: boolean;
}

/**
 * Writes the case, half-closes (unless it is an idle case), and gives the daemon `lingerMs` to close its side;
 * then closes ours. A connection the daemon leaves open must be reclaimed later: the round checks that.
 */
function runRaw(socketPath: string, c: RawCase, lingerMs = 150): Promise<RawOutcome> {
  return new Promise((resolve) => {
    const got: Buffer[] = [];
    let size = 0;
    let closedByDaemon = false;
    const sock = net.connect(socketPath);
    const timer = setTimeout(() => sock.destroy(), c.idleMs ?? lingerMs);
    sock.on("data", (d: Buffer) => {
      if (size < 1 << 20) got.push(d);
      size += d.length;
    });
    sock.on("end", () => (closedByDaemon = true));
    sock.on("error", () => (closedByDaemon = true)); // EPIPE/ECONNRESET: the daemon closed first
    sock.on("close", () => {
      clearTimeout(timer);
      resolve({ received: Buffer.concat(got), closedByDaemon });
    });
    sock.on("connect", () => {
      for (const chunk of c.chunks) sock.write(chunk);
      if (c.idleMs === undefined) sock.end();
    });
  });
}

/** Sockets the daemon process holds open (its listener, client connections, zombies). */
function daemonSockets(pid: number): number {
  let n = 0;
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      if (readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith("socket:")) n++;
    } catch {
      // closed meanwhile
    }
  }
  return n;
}

async function waitForSockets(pid: number, atMost: number, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const n = daemonSockets(pid);
    if (n <= atMost || Date.now() > deadline) return n;
    await new Promise((r) => setTimeout(r, 100));
  }
}

// ---------------------------------------------------------------------------------------------------------
// gRPC-level cases over a valid HTTP/2 connection.

type Expect =
  /** Must fail with one of these reasons (a protobuf that cannot decode, a message over the limit). */
  | { kind: "reasons"; reasons: string[] }
  /** Must fail; any catalogue reason. */
  | { kind: "fail" }
  /** May succeed (the bytes happen to decode); a failure needs a catalogue reason. */
  | { kind: "any" }
  /** No such method: grpc-js answers UNIMPLEMENTED itself, before any handler. */
  | { kind: "unimplemented-path" }
  /** Not gRPC at all: HTTP 415 (gRPC over HTTP/2 spec). */
  | { kind: "http-415" }
  /** We reset the stream ourselves: nothing to check but that the daemon copes. */
  | { kind: "cancelled" };

interface GrpcCase {
  name: string;
  path: string;
  headers: Record<string, string>;
  body: Buffer;
  expect: Expect;
  /** Reset the stream after writing this many bytes of the body. */
  cancelAfter?: number;
}

function decodeExpectation(m: Method, reason: string): Expect {
  // an unimplemented client-streaming method may fail before it reads a single message
  return { kind: "reasons", reasons: m.kind === "client_streaming" ? [reason, "SERVICE_NOT_IMPLEMENTED"] : [reason] };
}

/**
 * RPCs that a few random bytes can legitimately turn into a valid, destructive request: Rollback restores an old
 * revision (revision numbers are small), which would undo the state the final check compares. They only get
 * requests that must fail before their handler runs.
 */
const DESTRUCTIVE = new Set(["/orbital.config.v1.ConfigService/Rollback"]);

function grpcCase(r: Rng): GrpcCase {
  const m = r.pick(methods);
  const headers: Record<string, string> = { "content-type": "application/grpc", te: "trailers", "grpc-timeout": "2S" };
  const valid = () => randomValidEncoding(r, m.input);
  const gens: (() => GrpcCase)[] = [
    () => ({ name: "random-bytes", path: m.path, headers, body: grpcFrame(r.bytes(r.size(512))), expect: { kind: "any" } }),
    () => ({ name: "valid-random-message", path: m.path, headers, body: grpcFrame(valid()), expect: { kind: "any" } }),
    () => {
      const v = valid();
      return { name: "truncated-valid", path: m.path, headers, body: grpcFrame(v.subarray(0, r.int(v.length + 1))), expect: { kind: "any" } };
    },
    () => {
      const v = valid();
      for (let k = r.range(1, 4); k > 0 && v.length > 0; k--) flipBit(r, v, 0);
      return { name: "bitflipped-valid", path: m.path, headers, body: grpcFrame(v), expect: { kind: "any" } };
    },
    () => {
      // a known field with its wire type swapped: protobuf-es reads by the declared type, so this either fails
      // to decode or yields some value; both must come back structured
      const v = valid();
      const fields = topLevelFields(v);
      if (fields.length === 0) return { name: "wrong-wire-type", path: m.path, headers, body: grpcFrame(Buffer.concat([tag(1, r.pick([0, 1, 5])), r.bytes(8)])), expect: { kind: "any" } };
      const f = r.pick(fields);
      const wt = r.pick([0, 1, 2, 5].filter((w) => w !== f.wt));
      const body = Buffer.concat([v.subarray(0, f.start), tag(f.field, wt), v.subarray(f.tagEnd)]);
      return { name: "wrong-wire-type", path: m.path, headers, body: grpcFrame(body), expect: { kind: "any" } };
    },
    () => {
      const t = malformedTail(r, m.input);
      return { name: `malformed:${t.name}`, path: m.path, headers, body: grpcFrame(Buffer.concat([valid(), t.bytes])), expect: decodeExpectation(m, "MALFORMED_MESSAGE") };
    },
    () => {
      // the 5-byte prefix claims more than is sent: the message never completes before the half-close
      const v = valid();
      return { name: "length-prefix-longer", path: m.path, headers, body: grpcFrame(v, 0, v.length + r.range(1, 4096)), expect: { kind: "any" } };
    },
    () => {
      const v = Buffer.concat([valid(), r.bytes(r.range(1, 64))]);
      return { name: "length-prefix-shorter", path: m.path, headers, body: grpcFrame(v, 0, r.int(v.length)), expect: { kind: "any" } };
    },
    () => ({ name: "length-prefix-over-limit", path: m.path, headers, body: grpcFrame(r.bytes(r.size(64)), 0, r.range(MAX_MESSAGE + 1, 0xffffffff)), expect: decodeExpectation(m, "MESSAGE_TOO_LARGE") }),
    () => ({ name: "truncated-prefix", path: m.path, headers, body: grpcFrame(Buffer.alloc(0)).subarray(0, r.range(1, 4)), expect: { kind: "any" } }),
    () => ({ name: "no-message", path: m.path, headers, body: Buffer.alloc(0), expect: { kind: "any" } }),
    () => ({ name: "several-messages", path: m.path, headers, body: Buffer.concat(Array.from({ length: r.range(2, 5) }, () => grpcFrame(valid()))), expect: { kind: "any" } }),
    () => ({ name: "compressed-flag-no-encoding", path: m.path, headers, body: grpcFrame(valid(), r.range(1, 255)), expect: { kind: "any" } }),
    () => ({ name: "compressed-garbage-gzip", path: m.path, headers: { ...headers, "grpc-encoding": r.pick(["gzip", "deflate"]) }, body: grpcFrame(r.bytes(r.range(1, 256)), 1), expect: { kind: "fail" } }),
    () => ({ name: "compressed-unknown-encoding", path: m.path, headers: { ...headers, "grpc-encoding": r.pick(["br", "snappy", "zstd", "x-" + r.u32()]) }, body: grpcFrame(valid(), 1), expect: { kind: "fail" } }),
    () => {
      const gz = r.chance(0.5);
      const b = (gz ? zlib.gzipSync : zlib.deflateSync)(valid());
      return { name: "compressed-valid", path: m.path, headers: { ...headers, "grpc-encoding": gz ? "gzip" : "deflate" }, body: grpcFrame(b, 1), expect: { kind: "any" } };
    },
    () => ({ name: "bad-grpc-timeout", path: m.path, headers: { ...headers, "grpc-timeout": r.pick(["xx", "1", "S", "1s", "1h", "abcS", "9x"]) }, body: grpcFrame(valid()), expect: { kind: "fail" } }),
    // grpc-js takes the first /\d{1,8}[HMSmun]/ anywhere in the value: "-1S" is 1 s; all of these are short
    () => ({ name: "odd-grpc-timeout", path: m.path, headers: { ...headers, "grpc-timeout": r.pick(["1n", "1u", "1m", "0S", "-1S", "x1S", "00000001S"]) }, body: grpcFrame(valid()), expect: { kind: "any" } }),
    () => ({
      name: "junk-metadata",
      path: m.path,
      headers: { ...headers, traceparent: r.pick(["", "00-zz-zz-01", "ff-" + "0".repeat(32) + "-" + "0".repeat(16) + "-01", randString(r, 64).replace(/[^\x20-\x7e]/g, "x")]), "x-junk-bin": r.bytes(r.size(64)).toString("base64").slice(1) },
      body: grpcFrame(valid()),
      expect: { kind: "any" },
    }),
    () => ({ name: "get-method", path: m.path, headers: { ...headers, ":method": "GET" }, body: grpcFrame(valid()), expect: { kind: "any" } }),
    () => ({ name: "unknown-path", path: r.pick([`/${randString(r, 12)}/${randString(r, 12)}`.replace(/[^\x21-\x7e]/g, "x"), `${m.path}X`, m.path.toLowerCase() + "_", "/", "/x", m.path.split("/").slice(0, 2).join("/") + "/"]), headers, body: grpcFrame(valid()), expect: { kind: "unimplemented-path" } }),
    () => ({ name: "bad-content-type", path: m.path, headers: { ...headers, "content-type": r.pick(["text/plain", "application/json", "application/proto", "grpc", "application/x-www-form-urlencoded"]) }, body: grpcFrame(valid()), expect: { kind: "http-415" } }),
    () => ({ name: "grpc-content-subtype", path: m.path, headers: { ...headers, "content-type": r.pick(["application/grpc+proto", "application/grpc+json", "application/grpc-web", "application/grpcx"]) }, body: grpcFrame(valid()), expect: { kind: "any" } }),
    () => {
      const body = grpcFrame(valid());
      return { name: "client-reset", path: m.path, headers, body, expect: { kind: "cancelled" }, cancelAfter: r.int(body.length + 1) };
    },
  ];
  if (DESTRUCTIVE.has(m.path)) {
    const t = malformedTail(r, m.input);
    return r.chance(0.8)
      ? { name: `malformed:${t.name}`, path: m.path, headers, body: grpcFrame(Buffer.concat([valid(), t.bytes])), expect: decodeExpectation(m, "MALFORMED_MESSAGE") }
      : { name: "length-prefix-over-limit", path: m.path, headers, body: grpcFrame(r.bytes(8), 0, r.range(MAX_MESSAGE + 1, 0xffffffff)), expect: decodeExpectation(m, "MESSAGE_TOO_LARGE") };
  }
  return r.pick(gens)();
}

/** A body just over the 4 MiB limit, plain or as a small gzip body that inflates past it. */
function hugeCase(r: Rng): GrpcCase {
  const m = r.pick(methods);
  const headers: Record<string, string> = { "content-type": "application/grpc", te: "trailers", "grpc-timeout": "2S" };
  const over = r.range(1, 64);
  if (r.chance(0.5)) {
    return { name: "body-just-over-limit", path: m.path, headers, body: grpcFrame(Buffer.alloc(MAX_MESSAGE + over, 0x0a)), expect: decodeExpectation(m, "MESSAGE_TOO_LARGE") };
  }
  const bomb = zlib.gzipSync(Buffer.alloc(MAX_MESSAGE + over));
  return { name: "gzip-over-limit", path: m.path, headers: { ...headers, "grpc-encoding": "gzip" }, body: grpcFrame(bomb, 1), expect: decodeExpectation(m, "MESSAGE_TOO_LARGE") };
}

interface GrpcOutcome {
  httpStatus?: number;
  grpcStatus?: number;
  message?: string;
  details?: Buffer;
  timedOut?: boolean;
  streamError?: string;
}

class Sessions {
  private readonly list: (http2.ClientHttp2Session | undefined)[];
  reconnects = 0;
  constructor(
    private readonly socketPath: string,
    n: number,
  ) {
    this.list = new Array(n).fill(undefined);
  }
  get(i: number): http2.ClientHttp2Session {
    const k = i % this.list.length;
    const s = this.list[k];
    if (s && !s.closed && !s.destroyed) return s;
    if (s) this.reconnects++;
    // 4 MiB bodies the daemon refuses stay queued in the session: with Node's default 10 MB session budget
    // this client would itself reset responses with ENHANCE_YOUR_CALM
    const fresh = http2.connect("http://localhost", { createConnection: () => net.connect(this.socketPath), maxSessionMemory: 256 });
    fresh.on("error", () => {});
    this.list[k] = fresh;
    return fresh;
  }
  close(): void {
    for (const s of this.list) s?.destroy();
  }
}

/** grpc-message is percent-encoded; a message quoting a request's bytes may not decode. */
function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

function runGrpc(session: http2.ClientHttp2Session, c: GrpcCase): Promise<GrpcOutcome> {
  return new Promise((resolve) => {
    const out: GrpcOutcome = {};
    let req: http2.ClientHttp2Stream;
    try {
      req = session.request({ ":method": "POST", ":path": c.path, ...c.headers }, { endStream: false });
    } catch (err) {
      resolve({ streamError: `request refused locally: ${(err as Error).message}` });
      return;
    }
    const take = (h: http2.IncomingHttpHeaders) => {
      if (h[":status"] !== undefined) out.httpStatus = Number(h[":status"]);
      if (h["grpc-status"] !== undefined) {
        out.grpcStatus = Number(h["grpc-status"]);
        out.message = safeDecode(String(h["grpc-message"] ?? ""));
        const d = h[STATUS_DETAILS_KEY];
        if (d !== undefined) out.details = Buffer.from(String(d), "base64");
      }
    };
    const timer = setTimeout(() => {
      out.timedOut = true;
      req.close(http2.constants.NGHTTP2_CANCEL);
    }, 6000);
    req.on("response", take);
    req.on("trailers", take);
    req.on("error", (err) => (out.streamError = err.message));
    req.on("data", () => {});
    req.on("close", () => {
      clearTimeout(timer);
      resolve(out);
    });
    if (c.cancelAfter !== undefined) {
      req.write(c.body.subarray(0, c.cancelAfter), () => req.close(http2.constants.NGHTTP2_CANCEL));
    } else {
      req.end(c.body);
    }
  });
}

/** Checks one gRPC-level outcome; returns a complaint, or undefined when it is as the spec says. */
function judge(c: GrpcCase, o: GrpcOutcome, tally: Tally): string | undefined {
  const e = c.expect;
  if (e.kind === "cancelled") {
    tally.add(`cancelled:${o.grpcStatus ?? "reset"}`);
    return o.timedOut ? "a reset stream never closed" : undefined;
  }
  if (o.timedOut) return `no status within 6 s (http ${o.httpStatus ?? "-"})`;
  if (e.kind === "http-415") {
    tally.add(`http-${o.httpStatus}`);
    return o.httpStatus === 415 ? undefined : `expected HTTP 415, got ${o.httpStatus} grpc-status ${o.grpcStatus}`;
  }
  if (o.grpcStatus === undefined || Number.isNaN(o.grpcStatus)) return `no grpc-status (http ${o.httpStatus ?? "-"}, ${o.streamError ?? "no stream error"})`;
  if (o.grpcStatus === 0) {
    tally.add("OK");
    return e.kind === "any" ? undefined : `expected a failure, got OK`;
  }
  if (e.kind === "unimplemented-path") {
    tally.add(`path:${o.grpcStatus}`);
    return o.grpcStatus === 12 ? undefined : `unknown path: expected UNIMPLEMENTED, got ${o.grpcStatus}`;
  }
  // a failure from the daemon's pipeline: it must carry a decodable google.rpc.Status with a catalogue reason
  if (!o.details || o.details.length === 0) return `grpc-status ${o.grpcStatus} without ${STATUS_DETAILS_KEY} ("${o.message}")`;
  let statusCode: number;
  try {
    statusCode = fromBinary(StatusSchema, o.details).code;
  } catch (err) {
    return `undecodable ${STATUS_DETAILS_KEY}: ${(err as Error).message}`;
  }
  const err = decodeStatus(o.grpcStatus, o.message ?? "", o.details);
  tally.add(err.reason);
  if (!isKnownReason(err.reason)) return `reason "${err.reason}" is not in the catalogue (grpc-status ${o.grpcStatus}, "${o.message}")`;
  if (statusCode !== o.grpcStatus) return `google.rpc.Status.code ${statusCode} differs from grpc-status ${o.grpcStatus} (${err.reason})`;
  if (reasonByWire(err.reason)!.code !== o.grpcStatus) return `reason ${err.reason} belongs to code ${reasonByWire(err.reason)!.code}, sent with grpc-status ${o.grpcStatus}`;
  if (!/^[0-9a-f]{32}$/.test(err.traceId ?? "")) return `no trace id in the details of ${err.reason}`;
  if (e.kind === "reasons" && !e.reasons.includes(err.reason)) return `expected ${e.reasons.join("|")}, got ${err.reason} ("${o.message}")`;
  return undefined;
}

// ---------------------------------------------------------------------------------------------------------
// The hostile connections of the memory defect: requests near the size limit on many streams at once,
// CONTINUATION floods, rapid reset, and idle connections held open meanwhile.

type HostileKind = keyof typeof HOSTILE.kinds;

/** The kinds of one round's connections, HOSTILE.kinds of each, shuffled. */
function hostileSchedule(r: Rng): HostileKind[] {
  const kinds = (Object.entries(HOSTILE.kinds) as [HostileKind, number][]).flatMap(([kind, n]) => new Array<HostileKind>(n).fill(kind));
  for (let i = kinds.length - 1; i > 0; i--) {
    const j = r.int(i + 1);
    [kinds[i], kinds[j]] = [kinds[j]!, kinds[i]!];
  }
  return kinds;
}

/** A HEADERS frame without END_HEADERS, then CONTINUATION frames of ~4 KiB each: a header block that never ends. */
function continuationFlood(r: Rng): RawCase {
  const path = r.pick(methods).path;
  const frames: Buffer[] = [CLIENT_START(), h2Frame(F.HEADERS, 0, 1, hpack(requestHeaders(path)))];
  for (let k = r.range(64, 256); k > 0; k--) frames.push(h2Frame(F.CONTINUATION, 0, 1, hpack([[`x-flood-${k}`, "y".repeat(r.range(3000, 4000))]])));
  return { name: "continuation-flood", chunks: frames };
}

/** HEADERS and at once RST_STREAM(CANCEL), stream after stream (CVE-2023-44487). */
function rapidReset(r: Rng): RawCase {
  const path = r.pick(methods).path;
  const block = hpack(requestHeaders(path));
  const frames: Buffer[] = [CLIENT_START()];
  for (let k = 0, n = r.range(50, 150); k < n; k++) frames.push(h2Frame(F.HEADERS, END_HEADERS, 2 * k + 1, block), h2Frame(F.RST_STREAM, 0, 2 * k + 1, u32(8)));
  return { name: "rapid-reset", chunks: [Buffer.concat(frames)] };
}

/** How one oversized connection ended, stream by stream. */
interface OversizedOutcome {
  /** Catalogue reasons of the statuses the daemon sent. */
  reasons: string[];
  /** Complaints about statuses that are not structured. */
  complaints: string[];
}

/**
 * One connection with OVERSIZED.streams requests that each declare just under the maximum message size and send
 * OVERSIZED.sendBytes of it (more than the connection may hold at once), and one that declares more than the
 * maximum. All go to methods with a unary request, whose handler gets nothing before the whole request: the daemon
 * must refuse some of the first RATE_LIMITED (the receive budget) and the last MESSAGE_TOO_LARGE, while the rest
 * wait for bytes that never come until this closes the connection. The refusal comes once the connection's bytes
 * are in, which takes a few seconds on a busy machine (every 64 KiB waits for an HTTP/2 WINDOW_UPDATE): hence a
 * generous settleMs, which only a daemon that never refuses reaches.
 */
const OVERSIZED = { streams: 6, sendBytes: 1536 << 10, settleMs: 30_000 };
const unaryRequestMethods = methods.filter((m) => (m.kind === "unary" || m.kind === "server_streaming") && !DESTRUCTIVE.has(m.path));
function runOversized(socketPath: string, r: Rng): Promise<OversizedOutcome> {
  return new Promise((resolve) => {
    const out: OversizedOutcome = { reasons: [], complaints: [] };
    const session = http2.connect("http://localhost", { createConnection: () => net.connect(socketPath), maxSessionMemory: 256 });
    session.on("error", () => {});
    let waiting = OVERSIZED.streams + 1;
    const finish = () => {
      clearTimeout(timer);
      // not from inside a stream's event: node:http2 (Node 20) corrupts its heap when a session is destroyed there
      setImmediate(() => session.destroy());
      resolve(out);
    };
    const timer = setTimeout(finish, OVERSIZED.settleMs);
    const take = (h: http2.IncomingHttpHeaders) => {
      if (h["grpc-status"] === undefined) return;
      const message = safeDecode(String(h["grpc-message"] ?? ""));
      const details = h[STATUS_DETAILS_KEY];
      if (details === undefined) out.complaints.push(`grpc-status ${h["grpc-status"]} without ${STATUS_DETAILS_KEY} ("${message}")`);
      else {
        const err = decodeStatus(Number(h["grpc-status"]), message, Buffer.from(String(details), "base64"));
        if (!isKnownReason(err.reason)) out.complaints.push(`reason "${err.reason}" is not in the catalogue`);
        out.reasons.push(err.reason);
      }
      // refused on both counts: the requests still waiting would wait for good
      if (--waiting === 0 || (out.reasons.includes("RATE_LIMITED") && out.reasons.includes("MESSAGE_TOO_LARGE"))) finish();
    };
    const open = (declared: number, body: Buffer) => {
      let req: http2.ClientHttp2Stream;
      try {
        req = session.request({ ":method": "POST", ":path": r.pick(unaryRequestMethods).path, "content-type": "application/grpc", te: "trailers" }, { endStream: false });
      } catch {
        return;
      }
      req.on("response", take);
      req.on("trailers", take);
      req.on("error", () => {});
      req.on("data", () => {});
      req.write(Buffer.concat([grpcFrame(Buffer.alloc(0), 0, declared), body]));
    };
    for (let k = 0; k < OVERSIZED.streams; k++) open(MAX_MESSAGE - 1, Buffer.alloc(OVERSIZED.sendBytes, 0x0a));
    open(MAX_MESSAGE + r.range(1, 1 << 20), Buffer.alloc(64 << 10));
  });
}

/** Idle HTTP/2 connections (node:http2 answers the daemon's keepalive PINGs, so they stay open), closed by close(). */
function idleConnections(socketPath: string, n: number): Promise<{ close(): void }> {
  const sessions = Array.from({ length: n }, () => {
    const s = http2.connect("http://localhost", { createConnection: () => net.connect(socketPath) });
    s.on("error", () => {});
    return s;
  });
  return Promise.all(sessions.map((s) => new Promise((resolve) => (s.connecting ? s.once("connect", resolve) : resolve(undefined))))).then(() => ({
    close: () => {
      for (const s of sessions) s.destroy();
    },
  }));
}

// ---------------------------------------------------------------------------------------------------------
// Typed-client cases: the SDK, wrong-typed and out-of-range values.

interface TypedCase {
  name: string;
  call: () => Promise<unknown>;
  /** The reasons the daemon may answer with; "local" when the SDK must refuse to encode the request. */
  reasons: string[];
}

const badName = (r: Rng): string =>
  r.pick([
    () => "",
    () => "a".repeat(r.range(33, 200)),
    () => String(r.int(10)) + "abc",
    () => "Upper" + r.u32(),
    () => "bad name",
    () => "x." + r.u32(),
    () => "-lead",
    () => "ü" + r.u32(),
    () => "a/b",
    () => "a\u0000b",
    () => randString(r, 40) + "!",
  ])();

function typedCase(r: Rng, { users: u, system: s }: Clients): TypedCase {
  const fresh = () => `fz-${r.u32().toString(36)}`;
  const gens: (() => TypedCase)[] = [
    () => ({ name: "createUser-bad-name", call: () => u.createUser({ user: { name: badName(r), role: "viewer" } }), reasons: ["INVALID_FIELD"] }),
    () => ({ name: "createUser-uid-zero", call: () => u.createUser({ user: { name: fresh(), uid: 0, role: "viewer" } }), reasons: ["INVALID_FIELD"] }),
    () => ({ name: "createUser-uid-max", call: () => u.createUser({ user: { name: fresh(), uid: 4294967295, role: "viewer" } }), reasons: ["INVALID_FIELD"] }),
    () => ({ name: "createUser-uid-taken", call: () => u.createUser({ user: { name: fresh(), uid: KEEPER.uid, role: "viewer" } }), reasons: ["ALREADY_EXISTS", "INVALID_FIELD"] }),
    () => ({ name: "createUser-no-role", call: () => u.createUser({ user: { name: fresh() } }), reasons: ["INVALID_FIELD"] }),
    () => ({ name: "createUser-unknown-role", call: () => u.createUser({ user: { name: fresh(), role: `no-such-role-${r.u32()}` } }), reasons: ["REFERENCE_MISSING"] }),
    () => ({ name: "createUser-root", call: () => u.createUser({ user: { name: "root", role: "viewer" } }), reasons: ["ALREADY_EXISTS"] }),
    () => ({ name: "createUser-existing", call: () => u.createUser({ user: { name: KEEPER.name, role: "viewer" } }), reasons: ["ALREADY_EXISTS"] }),
    () => ({ name: "createUser-long-description", call: () => u.createUser({ user: { name: fresh(), role: "viewer", description: "d".repeat(r.range(256, 64 << 10)) } }), reasons: ["INVALID_FIELD"] }),
    () => ({ name: "createUser-control-chars", call: () => u.createUser({ user: { name: fresh(), role: "viewer", description: `a${String.fromCharCode(r.int(32))}b` } }), reasons: ["INVALID_FIELD"] }),
    () => ({ name: "createUser-unknown-transaction", call: () => u.createUser({ user: { name: fresh(), role: "viewer" }, transactionId: `tx-${r.u32()}` }), reasons: ["TRANSACTION_NOT_FOUND", "INVALID_FIELD"] }),
    () => ({ name: "getUser-missing", call: () => u.getUser({ name: fresh() }), reasons: ["NOT_FOUND"] }),
    () => ({ name: "getUser-garbage-name", call: () => u.getUser({ name: randString(r, 200) + "#" }), reasons: ["NOT_FOUND", "INVALID_FIELD"] }),
    () => ({ name: "deleteUser-missing", call: () => u.deleteUser({ name: fresh() }), reasons: ["NOT_FOUND"] }),
    () => ({ name: "deleteUser-root", call: () => u.deleteUser({ name: "root" }), reasons: ["BUILTIN_IMMUTABLE"] }),
    () => ({ name: "updateUser-root", call: () => u.updateUser({ user: { name: "root", role: "viewer" } }), reasons: ["BUILTIN_IMMUTABLE"] }),
    () => ({ name: "updateUser-missing", call: () => u.updateUser({ user: { name: fresh(), role: "viewer" } }), reasons: ["NOT_FOUND"] }),
    () => ({ name: "listUsers-page-size", call: () => u.listUsers({ page: { size: r.pick([-1, -2147483648, 1001, 2147483647]) } }), reasons: ["INVALID_FIELD"] }),
    () => ({ name: "listUsers-page-token", call: () => u.listUsers({ page: { token: randString(r, 40) + "!" } }), reasons: ["INVALID_PAGE_TOKEN"] }),
    () => ({ name: "createRole-bad-capability", call: () => u.createRole({ role: { name: `r-${r.u32().toString(36)}`, capabilities: [`nope.${r.u32()}`] } }), reasons: ["INVALID_FIELD"] }),
    () => ({ name: "createRole-bad-name", call: () => u.createRole({ role: { name: badName(r) + "_", capabilities: [] } }), reasons: ["INVALID_FIELD"] }),
    () => ({ name: "createRole-builtin", call: () => u.createRole({ role: { name: "admin" } }), reasons: ["ALREADY_EXISTS"] }),
    () => ({ name: "deleteRole-builtin", call: () => u.deleteRole({ name: r.pick(["admin", "viewer"]) }), reasons: ["BUILTIN_IMMUTABLE"] }),
    () => ({ name: "createApiToken-missing-user", call: () => u.createApiToken({ token: { user: fresh() } }), reasons: ["NOT_FOUND"] }),
    () => ({ name: "createApiToken-no-user", call: () => u.createApiToken({ token: {} }), reasons: ["INVALID_FIELD"] }),
    () => ({ name: "createApiToken-expired", call: () => u.createApiToken({ token: { user: KEEPER.name, expireTime: { seconds: BigInt(r.range(1, 1_000_000_000)) } } }), reasons: ["INVALID_FIELD"] }),
    () => ({ name: "revokeApiToken-missing", call: () => u.revokeApiToken({ id: randString(r, 30) }), reasons: ["NOT_FOUND"] }),
    () => ({ name: "updateSettings-bad-hostname", call: () => s.updateSettings({ settings: { hostname: r.pick(["-lead", "trail-", "a".repeat(64), "bad host", "ünï"]) }, updateMask: { paths: ["hostname"] } }), reasons: ["INVALID_FIELD"] }),
    () => ({ name: "updateSettings-bad-port", call: () => s.updateSettings({ settings: { rest: { port: r.range(65536, 4294967295) } }, updateMask: { paths: ["rest"] } }), reasons: ["INVALID_FIELD"] }),
    () => ({ name: "updateSettings-bad-mask", call: () => s.updateSettings({ settings: {}, updateMask: { paths: [randString(r, 20) + "!"] } }), reasons: ["INVALID_FIELD_MASK"] }),
    // wrong JS types: the SDK must refuse to encode them, and nothing reaches the daemon
    () => ({ name: "sdk-uid-negative", call: () => u.createUser({ user: { name: fresh(), uid: -r.range(1, 1000), role: "viewer" } }), reasons: ["local"] }),
    () => ({ name: "sdk-uid-fraction", call: () => u.createUser({ user: { name: fresh(), uid: 1.5, role: "viewer" } }), reasons: ["local"] }),
    () => ({ name: "sdk-uid-too-big", call: () => u.createUser({ user: { name: fresh(), uid: 2 ** 32 + r.int(1000), role: "viewer" } }), reasons: ["local"] }),
  ];
  return r.pick(gens)();
}

function clientsOf(d: RunningDaemon) {
  return { users: d.client(UserService, 10_000), system: d.client(SystemService, 10_000) };
}
type Clients = ReturnType<typeof clientsOf>;

async function runTyped(c: TypedCase, tally: Tally): Promise<string | undefined> {
  try {
    await c.call();
    tally.add("OK");
    return "succeeded";
  } catch (err) {
    tally.add(err instanceof OrbitalError ? err.reason : "local");
    if (!(err instanceof OrbitalError)) return c.reasons.includes("local") ? undefined : `not an OrbitalError: ${(err as Error).message}`;
    if (c.reasons.includes("local")) {
      // grpc-js turns an encoder exception into a local INTERNAL status; nothing was sent
      return err.code === 13 && /serialization failure/.test(err.message) ? undefined : `the SDK sent a wrong-typed value; the daemon said ${err.reason}`;
    }
    if (!isKnownReason(err.reason)) return `reason "${err.reason}" is not in the catalogue (code ${err.code}, "${err.message}")`;
    if (!c.reasons.includes(err.reason)) return `expected ${c.reasons.join("|")}, got ${err.reason} ("${err.message}")`;
    if (!/^[0-9a-f]{32}$/.test(err.traceId ?? "")) return `no trace id (${err.reason})`;
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------------------

let d: RunningDaemon;
let clients: Clients;
let keeperBefore: User;
let versionBefore: { apiPackages: string[]; version: string };
let total = 0;
/** Sockets of the daemon with only the SDK clients connected. */
let socketBaseline = 0;

async function alive(label: string): Promise<void> {
  expect(d.proc.exitCode, `orbitald exited during ${label}:\n${d.rawStderr.slice(-4000)}`).toBeNull();
  expect(d.proc.signalCode, `orbitald was killed during ${label}`).toBeNull();
  const v = await clients.system.getVersion({});
  expect(v.apiPackages).toEqual(versionBefore.apiPackages);
}

async function rawRound(round: string, n: number, waitForReclaim = true): Promise<void> {
  const findings = new Findings(round);
  const tally = new Tally();
  const pid = d.proc.pid!;
  const baseline = socketBaseline;
  let peak = baseline;
  let stalled = false;
  await pool(n, 16, async (i) => {
    if (stalled) return;
    // stay under the daemon's connection limit: wait for it to close what earlier cases left behind
    const open = await waitForSockets(pid, baseline + OPEN_SOCKETS_HEADROOM, RECLAIM_MS);
    peak = Math.max(peak, open);
    if (open > baseline + OPEN_SOCKETS_HEADROOM) {
      if (!stalled) findings.fail(i, "throttle", `${open - baseline} connections not reclaimed by the daemon within ${RECLAIM_MS} ms`);
      stalled = true;
      return;
    }
    const r = caseRng(round, i);
    const c = rawCase(r);
    const o = await runRaw(d.socketPath, c);
    const frames = parseH2(o.received);
    // whatever it answers is HTTP/2: first its SETTINGS, and a GOAWAY (if any) with a defined error code
    if (frames.length > 0 && frames[0]!.type !== F.SETTINGS) findings.fail(i, c.name, `first frame from the daemon is type ${frames[0]!.type}, not SETTINGS`);
    if (o.received.length >= 9 && frames.length === 0) findings.fail(i, c.name, `the daemon sent ${o.received.length} bytes that are not HTTP/2 frames`);
    const goaway = frames.find((f) => f.type === F.GOAWAY);
    if (goaway && goaway.payload.length >= 8) {
      const code = goaway.payload.readUInt32BE(4);
      if (code > 0xd) findings.fail(i, c.name, `GOAWAY with undefined error code ${code}`);
      tally.add(`goaway-${code}`);
    } else tally.add("no-goaway");
    tally.add(c.idleMs !== undefined ? "idle-closed-by-us" : o.closedByDaemon ? "closed-by-daemon" : "left-open");
    if (i % 200 === 199) await alive(`${round} #${i}`);
  });
  if (waitForReclaim && !stalled) await reclaimed(findings, round);
  total += n;
  console.log(`[fuzz] ${round}: ${n} raw connections; outcomes: ${tally}; daemon sockets: baseline ${baseline}, peak ${peak}; daemon RSS ${d.rssKiB()} KiB`);
  expect(findings.list, `${findings.count} failures`).toEqual([]);
  await alive(round);
}

/** Every connection the cases left behind is closed by the daemon, dead HTTP/2 sessions included. */
async function reclaimed(findings: Findings, round: string): Promise<void> {
  const left = (await waitForSockets(d.proc.pid!, socketBaseline, RECLAIM_MS)) - socketBaseline;
  if (left > 0) findings.fail(-1, "reclaim", `${left} connections still open ${RECLAIM_MS} ms after ${round}`);
}

async function grpcRound(round: string, n: number): Promise<void> {
  const findings = new Findings(round);
  const tally = new Tally();
  const sessions = new Sessions(d.socketPath, 4);
  try {
    await pool(n, 16, async (i) => {
      const r = caseRng(round, i);
      const c = grpcCase(r);
      const o = await runGrpc(sessions.get(i), c);
      const complaint = judge(c, o, tally);
      if (complaint) findings.fail(i, `${c.name} ${c.path}`, complaint);
      if (i % 400 === 399) await alive(`${round} #${i}`);
    });
    // over-limit bodies one at a time: how many overlap would otherwise decide the allocator's high-water mark,
    // and the RSS comparison would measure the seed instead of a leak
    for (let k = 0; k < HUGE_BODIES; k++) {
      const c = hugeCase(caseRng(`${round}-huge`, k));
      const complaint = judge(c, await runGrpc(sessions.get(k), c), tally);
      if (complaint) findings.fail(n + k, `${c.name} ${c.path}`, complaint);
    }
  } finally {
    sessions.close();
  }
  total += n + HUGE_BODIES;
  console.log(`[fuzz] ${round}: ${n + HUGE_BODIES} gRPC calls (${HUGE_BODIES} over 4 MiB, ${sessions.reconnects} reconnects); results: ${tally}; daemon RSS ${d.rssKiB()} KiB`);
  expect(findings.list, `${findings.count} failures`).toEqual([]);
  await alive(round);
}

/** One round of the memory defect's hostile mix (HOSTILE). */
async function hostileRound(round: string): Promise<void> {
  const findings = new Findings(round);
  const tally = new Tally();
  const pid = d.proc.pid!;
  const idle = await idleConnections(d.socketPath, HOSTILE.idle);
  const baseline = socketBaseline + HOSTILE.idle;
  // the daemon accepts them from its listen backlog a little after they connected
  for (const until = Date.now() + RECLAIM_MS; daemonSockets(pid) < baseline && Date.now() < until; ) await new Promise((r) => setTimeout(r, 50));
  let peak = baseline;
  const schedule = hostileSchedule(caseRng(round, -1));
  try {
    await pool(schedule.length, HOSTILE.concurrency, async (i) => {
      // the idle connections and these stay under the daemon's connection limit (256)
      const open = await waitForSockets(pid, baseline + HOSTILE.concurrency, RECLAIM_MS);
      peak = Math.max(peak, open);
      const r = caseRng(round, i);
      const kind = schedule[i]!;
      if (kind === "oversized") {
        const o = await runOversized(d.socketPath, r);
        for (const reason of o.reasons) tally.add(`oversized:${reason}`);
        for (const complaint of o.complaints) findings.fail(i, kind, complaint);
        const unexpected = o.reasons.filter((reason) => reason !== "RATE_LIMITED" && reason !== "MESSAGE_TOO_LARGE");
        if (unexpected.length > 0) findings.fail(i, kind, `expected RATE_LIMITED or MESSAGE_TOO_LARGE, got ${unexpected.join(", ")}`);
        // the connection sends more than it may hold: the receive budget must refuse part of it
        if (!o.reasons.includes("RATE_LIMITED")) findings.fail(i, kind, `no request refused RATE_LIMITED within ${OVERSIZED.settleMs} ms (got ${o.reasons.join(", ") || "no status"})`);
      } else {
        const c = kind === "rapid-reset" ? rapidReset(r) : continuationFlood(r);
        const o = await runRaw(d.socketPath, c, 100);
        const goaway = parseH2(o.received).find((f) => f.type === F.GOAWAY);
        tally.add(`${kind}:${goaway && goaway.payload.length >= 8 ? `goaway-${goaway.payload.readUInt32BE(4)}` : o.closedByDaemon ? "closed" : "no-goaway"}`);
      }
      if (i % 200 === 199) await alive(`${round} #${i}`);
    });
  } finally {
    idle.close();
  }
  await reclaimed(findings, round);
  total += HOSTILE.idle + schedule.length;
  console.log(`[fuzz] ${round}: ${HOSTILE.idle} idle + ${schedule.length} hostile connections; outcomes: ${tally}; daemon sockets: baseline ${baseline}, peak ${peak}`);
  expect(findings.list, `${findings.count} failures`).toEqual([]);
  await alive(round);
}

/** The daemon's RSS once it is at rest after a round: every connection reclaimed, then RunningDaemon.restingRssKiB. */
async function restingRssKiB(): Promise<number> {
  await waitForSockets(d.proc.pid!, socketBaseline, RECLAIM_MS);
  return d.restingRssKiB();
}

/** Resting RSS after each round, from the idle daemon on. */
const memory: { round: string; rssKiB: number }[] = [];

async function measure(round: string): Promise<void> {
  const rssKiB = await restingRssKiB();
  memory.push({ round, rssKiB });
  const reductions = d.logs().filter((l) => l.msg === "memory reduced").length;
  console.log(`[fuzz] resting RSS after ${round}: ${rssKiB} KiB (${rssKiB - memory[0]!.rssKiB >= 0 ? "+" : ""}${rssKiB - memory[0]!.rssKiB} KiB since idle; the daemon reduced its memory ${reductions} times so far)`);
}

async function typedRound(round: string, n: number, warmup: boolean): Promise<void> {
  const findings = new Findings(round);
  const tally = new Tally();
  await pool(n, 8, async (i) => {
    const r = caseRng(round, i);
    const c = typedCase(r, clients);
    const complaint = await runTyped(c, tally);
    if (complaint) findings.fail(i, c.name, complaint);
  });
  // requests near and just over the 4 MiB limit, through the SDK. Only in the warm-up: the daemon decodes the
  // ones under the limit in full, and how much of that stays resident depends on GC timing, not on leaks
  const sizes = warmup ? [MAX_MESSAGE - 4096, MAX_MESSAGE - 64, MAX_MESSAGE + 1, MAX_MESSAGE + 4096] : [];
  for (const [k, size] of sizes.entries()) {
    const over = size > MAX_MESSAGE;
    const c: TypedCase = { name: over ? "huge-over-limit" : "huge-under-limit", call: () => clients.users.createUser({ user: { name: "fz-huge", role: "viewer", description: "h".repeat(size) } }), reasons: [over ? "MESSAGE_TOO_LARGE" : "INVALID_FIELD"] };
    const complaint = await runTyped(c, tally);
    if (complaint) findings.fail(n + k, c.name, complaint);
  }
  // CreateApiToken hashes with scrypt (16 MiB) on every libuv worker thread, even for a user that does not
  // exist: run several at once in the warm-up, so that each thread's allocator arena is at its working size
  // before the baseline (otherwise the first overlap in a later round adds up to 4 x 16 MiB of RSS)
  const burst = warmup ? 16 : 0;
  await pool(burst, 8, async (k) => {
    const c: TypedCase = { name: "createApiToken-burst", call: () => clients.users.createApiToken({ token: { user: `fz-nobody-${k}` } }), reasons: ["NOT_FOUND"] };
    const complaint = await runTyped(c, tally);
    if (complaint) findings.fail(n + sizes.length + k, c.name, complaint);
  });
  total += n + sizes.length + burst;
  console.log(`[fuzz] ${round}: ${n + sizes.length + burst} SDK calls; results: ${tally}; daemon RSS ${d.rssKiB()} KiB`);
  expect(findings.list, `${findings.count} failures`).toEqual([]);
  await alive(round);
}

describe("IPC fuzz: bad input gets a structured error and orbitald keeps running", () => {
  beforeAll(async () => {
    console.log(`[fuzz] seed ${SEED} (replay: ORBITAL_FUZZ_SEED=${SEED})`);
    // the image's Node.js (fetched once into build/sea-cache/): its V8 keeps memory differently from the test's
    d = await startDaemon({ runtime: "production" });
    clients = clientsOf(d);
    keeperBefore = (await clients.users.createUser({ user: KEEPER })).user!;
    const v = await clients.system.getVersion({});
    versionBefore = { apiPackages: v.apiPackages, version: v.build?.version ?? "" };
    socketBaseline = daemonSockets(d.proc.pid!);
    await measure("idle");
  }, 120_000);
  afterAll(async () => {
    await d?.cleanup();
  });

  it("warm-up round (all three levels)", async () => {
    await rawRound("warmup-raw", WARMUP.raw, false); // reclaimed below, while the other levels run
    await grpcRound("warmup-grpc", WARMUP.grpc);
    await typedRound("warmup-typed", WARMUP.typed, true);
    const findings = new Findings("warmup");
    await reclaimed(findings, "the warm-up");
    expect(findings.list).toEqual([]);
    await measure("warm-up");
  }, 120_000);

  it("raw socket: garbage bytes and malformed HTTP/2 frames", async () => {
    await rawRound("raw", ROUNDS.raw);
    await measure("raw");
  }, 120_000);

  it("gRPC over valid HTTP/2: undecodable, lying, oversized and misaddressed requests", async () => {
    await grpcRound("grpc", ROUNDS.grpc);
    await measure("grpc");
  }, 120_000);

  it("typed SDK: wrong-typed and out-of-range values", async () => {
    await typedRound("typed", ROUNDS.typed, false);
    await measure("typed");
  });

  it(`hostile connections, ${HOSTILE.rounds} rounds: near-limit requests on many streams, CONTINUATION floods, rapid reset, ${HOSTILE.idle} idle`, async () => {
    for (let k = 1; k <= HOSTILE.rounds; k++) {
      await hostileRound(`hostile-${k}`);
      await measure(`hostile-${k}`);
    }
  }, 300_000);

  it("afterwards the daemon is alive, its data intact and its memory bounded", async () => {
    await alive("the final check");
    const keeper = (await clients.users.getUser({ name: KEEPER.name })).user!;
    expect(equals(UserSchema, keeper, keeperBefore), "the user created before the fuzz rounds changed").toBe(true);
    const v = await clients.system.getVersion({});
    expect({ apiPackages: v.apiPackages, version: v.build?.version ?? "" }).toEqual(versionBefore);
    const names = (await clients.users.listUsers({})).users.map((u) => u.name);
    expect(names).toContain(KEEPER.name);
    expect(names).toContain("root");
    const idle = memory[0]!.rssKiB;
    const hostile = memory.filter((m) => m.round.startsWith("hostile-"));
    const growth = Math.max(...memory.map((m) => m.rssKiB)) - idle;
    const plateau = Math.min(...hostile.slice(-2).map((m) => m.rssKiB)) - hostile[0]!.rssKiB;
    console.log(
      `[fuzz] ${total} cases; resting RSS (KiB): ${memory.map((m) => `${m.round} ${m.rssKiB}`).join(", ")}; ` +
        `growth since idle ${growth} KiB (limit ${RSS_GROWTH_LIMIT_KIB}), end ${memory.at(-1)!.rssKiB - idle} KiB, ` +
        `lesser of the last two hostile rounds vs the first ${plateau} KiB (limit ${PLATEAU_LIMIT_KIB}); peak RSS ${d.peakRssKiB()} KiB (+${d.peakRssKiB() - idle} KiB)`,
    );
    for (const m of memory) expect(m.rssKiB - idle, `resting RSS after ${m.round} minus the idle daemon's, KiB`).toBeLessThan(RSS_GROWTH_LIMIT_KIB);
    expect(plateau, "the lesser resting RSS of the last two hostile rounds minus the first's, KiB").toBeLessThan(PLATEAU_LIMIT_KIB);
    expect(total).toBeGreaterThanOrEqual(3000);
  });
});
