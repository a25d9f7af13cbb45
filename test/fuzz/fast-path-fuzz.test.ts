// Proves: hostile fast-path input (docs/fast-path.md) never takes orbitald down, never gets an unstructured
// answer and never makes it hold memory without bound: truncated frames, lengths up to 4 GiB, unknown frame
// types and method ids, reused and interleaved call ids, messages beyond the window, cancel storms, a reader
// that never reads a stream, 500 idle connections of one uid. Every STATUS carries a catalogue reason, every
// closed connection got a GOAWAY or was cut off for its own fault, well-formed calls keep working throughout,
// and its resting RSS (RunningDaemon.restingRssKiB) grows less than 64 MiB from the idle daemon to the end, with a
// plateau; while it holds the 500 connections' share it is measured as it is.
// Topology: one real orbitald (sim data plane); raw sockets and the SDK in this process (seeded PRNG).
import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { StatusSchema } from "../../src/gen/google/rpc/status_pb.js";
import { CallOpenSchema, GoawayCode, GoawaySchema, HelloSchema } from "../../src/gen/orbital/fastpath/v1/fastpath_pb.js";
import { ConfigService } from "../../src/gen/orbital/config/v1/config_pb.js";
import { GetVersionRequestSchema, SystemService } from "../../src/gen/orbital/system/v1/system_pb.js";
import { UserService } from "../../src/gen/orbital/user/v1/user_pb.js";
import { decodeStatus, isKnownReason } from "../../src/common/errors.js";
import { encodeFrame, END_STREAM, FrameReader, FrameType, PREFACE, type Frame } from "../../src/common/fastpath/frame.js";
import { defaultReceiveCaps } from "../../src/daemon/rpc/receive-budget.js";
import { defaultFastLimits } from "../../src/daemon/transports/fast/fast-transport.js";
import { startDaemon, type RunningDaemon } from "../support/daemon.js";
import { Rng } from "../support/rng.js";

const SEED = process.env.ORBITAL_FUZZ_SEED !== undefined ? Number(process.env.ORBITAL_FUZZ_SEED) >>> 0 : 0xfa57;
const ROUNDS = 3;
const CASES_PER_ROUND = 250;
const IDLE_CONNECTIONS = 500;
const RSS_GROWTH_LIMIT_KIB = 64 * 1024;
const GET_VERSION = "/orbital.system.v1.SystemService/GetVersion";
const WATCH_COMMITS = "/orbital.config.v1.ConfigService/WatchCommits";
const CREATE_ROLE = "/orbital.user.v1.UserService/CreateRole";
/** A client-streaming RPC whose handler the daemon under test never runs (failpoint "hang"). */
const STALLED_STREAM = "/orbital.firewall.v1.FirewallService/BulkUpdatePrefixSetEntries";


/** What a raw connection saw before it ended. */
interface Seen {
  hello: boolean;
  statuses: { callId: number; code: number; reason: string }[];
  messages: number;
  goaway: GoawayCode | undefined;
  closed: boolean;
}

/** A raw fast-path connection: preface sent, frames decoded as they come. */
function raw(socketPath: string): { socket: net.Socket; seen: Seen; ended: Promise<void>; send(b: Buffer): void } {
  const socket = net.connect(socketPath);
  const seen: Seen = { hello: false, statuses: [], messages: 0, goaway: undefined, closed: false };
  const reader = new FrameReader(64 << 20, (f: Frame) => {
    if (f.type === FrameType.HELLO) seen.hello = fromBinary(HelloSchema, f.payload).version === 1;
    if (f.type === FrameType.MESSAGE) seen.messages++;
    if (f.type === FrameType.GOAWAY) seen.goaway = fromBinary(GoawaySchema, f.payload).code;
    if (f.type === FrameType.STATUS) {
      const s = fromBinary(StatusSchema, f.payload);
      const e = s.code === 0 ? undefined : decodeStatus(s.code, s.message, f.payload);
      seen.statuses.push({ callId: f.callId, code: s.code, reason: e?.reason ?? "OK" });
    }
  });
  socket.on("data", (c: Buffer) => reader.push(c));
  socket.on("error", () => undefined);
  const ended = new Promise<void>((r) => socket.once("close", () => ((seen.closed = true), r())));
  socket.write(PREFACE);
  return { socket, seen, ended, send: (b) => socket.write(b) };
}

const declare = (id: number, path: string) => encodeFrame(FrameType.DECLARE, 0, id, Buffer.from(path));
const open = (callId: number, methodId: number, timeoutMs = 0) => encodeFrame(FrameType.OPEN, 0, callId, toBinary(CallOpenSchema, create(CallOpenSchema, { methodId, timeoutMs })));
const message = (callId: number, payload: Uint8Array, flags = END_STREAM) => encodeFrame(FrameType.MESSAGE, flags, callId, payload);
const getVersion = toBinary(GetVersionRequestSchema, create(GetVersionRequestSchema, {}));

/** One hostile case on its own connection; resolves with what the connection saw once it settled. */
async function hostile(socketPath: string, rng: Rng): Promise<{ kind: string; seen: Seen }> {
  const c = raw(socketPath);
  const kinds = ["truncated", "huge-length", "unknown-type", "unknown-method", "reused-call", "beyond-window", "cancel-storm", "garbage-message", "interleaved", "slow-reader"] as const;
  const kind = kinds[rng.int(kinds.length)]!;
  switch (kind) {
    case "truncated":
      c.send(Buffer.concat([declare(1, GET_VERSION), open(1, 1)]).subarray(0, 5 + rng.int(30)));
      break;
    case "huge-length": {
      const b = Buffer.alloc(10);
      b.writeUInt32BE(0xfffffff0 - rng.int(1000), 0);
      b[4] = rng.int(2) ? FrameType.MESSAGE : FrameType.OPEN;
      b.writeUInt32BE(1, 6);
      c.send(Buffer.concat([declare(1, GET_VERSION), open(1, 1), b, rng.bytes(rng.int(4096))]));
      break;
    }
    case "unknown-type":
      c.send(encodeFrame((0x20 + rng.int(200)) as FrameType, 0, rng.int(10), rng.bytes(rng.int(64))));
      break;
    case "unknown-method":
      c.send(Buffer.concat([declare(3, `/orbital.nope.v1.Nope/M${rng.int(9)}`), open(1, 3), message(1, getVersion), open(2, 99), message(2, getVersion)]));
      break;
    case "reused-call":
      c.send(Buffer.concat([declare(1, WATCH_COMMITS), open(5, 1), message(5, new Uint8Array()), open(5, 1)]));
      break;
    case "beyond-window": {
      // A client stream whose handler takes nothing (its failpoint hangs): 300 KiB messages (one unknown
      // field each, valid protobuf) past the 1 MiB window, which nothing ever re-opened.
      const big = Buffer.concat([Buffer.from([0x9a, 0x06, 0x80, 0xe0, 0x12]), rng.bytes(300 << 10)]); // field 99, length 300 KiB (varint)
      c.send(Buffer.concat([declare(1, STALLED_STREAM), open(1, 1), ...Array.from({ length: 5 }, () => message(1, big, 0))]));
      break;
    }
    case "cancel-storm": {
      const frames = [declare(1, GET_VERSION)];
      for (let i = 1; i <= 40; i++) frames.push(open(i, 1), message(i, getVersion), encodeFrame(FrameType.CANCEL, 0, i), encodeFrame(FrameType.CANCEL, 0, i + 1000));
      c.send(Buffer.concat(frames));
      break;
    }
    case "garbage-message":
      c.send(Buffer.concat([declare(1, CREATE_ROLE), open(1, 1), message(1, rng.bytes(1 + rng.int(512)))]));
      break;
    case "interleaved": {
      const frames = [declare(1, GET_VERSION), declare(2, CREATE_ROLE)];
      for (let i = 1; i <= 20; i++) frames.push(open(i, 1 + (i % 2)));
      for (let i = 20; i >= 1; i--) frames.push(message(i, i % 2 ? getVersion : rng.bytes(rng.int(40))));
      c.send(Buffer.concat(frames));
      break;
    }
    case "slow-reader":
      // Opens a stream and never reads: the daemon must stop at the window, holding at most that much.
      c.socket.pause();
      c.send(Buffer.concat([declare(1, WATCH_COMMITS), open(1, 1), message(1, new Uint8Array())]));
      setTimeout(() => c.socket.destroy(), 300);
      break;
  }
  // The daemon's HELLO (or its end of the connection) first, however loaded the machine; then a moment for
  // its answers to the case.
  const deadline = Date.now() + 10_000;
  while (kind !== "slow-reader" && !c.seen.hello && !c.seen.closed && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  await Promise.race([c.ended, new Promise((r) => setTimeout(r, 400))]);
  c.socket.destroy();
  await c.ended;
  return { kind, seen: c.seen };
}

let d: RunningDaemon;
const rss: number[] = [];

beforeAll(async () => {
  d = await startDaemon({ env: { ORBITAL_FAILPOINTS: `${STALLED_STREAM}=hang` } });
});
afterAll(() => d?.cleanup());

/** A well-formed call through the SDK's fast path (one connection for the whole file) must keep working. */
async function healthy(): Promise<void> {
  const v = await d.api(SystemService).getVersion({});
  expect(v.apiPackages.length).toBeGreaterThan(0);
}

describe("fast-path fuzz", () => {
  it(`answers hostile input with structure and keeps serving (seed ${SEED})`, async () => {
    await healthy();
    rss.push(await d.restingRssKiB());
    const rng = new Rng(SEED);
    const tally = new Map<string, number>();
    for (let round = 0; round < ROUNDS; round++) {
      for (let i = 0; i < CASES_PER_ROUND; i += 10) {
        const batch = await Promise.all(Array.from({ length: 10 }, () => hostile(d.socketPath, rng)));
        for (const { kind, seen } of batch) {
          if (kind !== "slow-reader") expect(seen.hello, `${kind} ${JSON.stringify(seen)}`).toBe(true); // the slow reader reads nothing, HELLO included
          for (const s of seen.statuses) expect(isKnownReason(s.reason) || s.reason === "OK", `${kind}: reason ${s.reason}`).toBe(true);
          const outcome = seen.goaway !== undefined ? `goaway-${GoawayCode[seen.goaway]}` : seen.statuses.length ? "statuses" : "nothing";
          tally.set(`${kind}:${outcome}`, (tally.get(`${kind}:${outcome}`) ?? 0) + 1);
          // Breaking the protocol gets a GOAWAY saying so; a well-framed call gets a STATUS.
          if (kind === "unknown-type" || kind === "reused-call" || kind === "beyond-window") expect(seen.goaway, kind).toBe(GoawayCode.PROTOCOL_ERROR);
          if (kind === "unknown-method") expect(seen.statuses.map((s) => s.reason)).toEqual(["UNSUPPORTED", "UNSUPPORTED"]);
          if (kind === "garbage-message") expect(seen.statuses.map((s) => s.reason)).toEqual(["MALFORMED_MESSAGE"]);
        }
        await healthy();
      }
      rss.push(await d.restingRssKiB());
      console.log(`[fast-fuzz] round ${round}: resting RSS ${rss.at(-1)} KiB`);
    }
    console.log(`[fast-fuzz] outcomes: ${[...tally].sort().map(([k, n]) => `${k}=${n}`).join(" ")}`);
  }, 240_000);

  it(`refuses the connections of one uid past the limit and serves the others (${IDLE_CONNECTIONS} idle connections)`, async () => {
    const conns = Array.from({ length: IDLE_CONNECTIONS }, () => raw(d.socketPath));
    try {
      await new Promise((r) => setTimeout(r, 1500));
      // At most 128 are served (defaultFastLimits); the others got GOAWAY (and were closed), or were closed at accept once the
      // daemon held its 256 connections.
      const served = conns.filter((c) => c.seen.hello && !c.seen.closed);
      const refused = conns.filter((c) => c.seen.goaway === GoawayCode.TOO_MANY_CONNECTIONS);
      expect(served.length).toBeLessThanOrEqual(defaultFastLimits.maxConnectionsPerUid);
      expect(refused.length).toBeGreaterThan(0);
      expect(conns.filter((c) => !c.seen.closed && !served.includes(c))).toEqual([]);
      rss.push(d.rssKiB());
    } finally {
      for (const c of conns) c.socket.destroy();
      await Promise.all(conns.map((c) => c.ended));
    }
    await new Promise((r) => setTimeout(r, 200));
    await healthy();
  }, 60_000);

  it("refuses the stream message that takes its connection, or the daemon, over the bytes waiting for handlers", async () => {
    // the message counts below are sized for these caps
    expect(defaultReceiveCaps).toEqual({ perConnection: 8 << 20, total: 16 << 20 });
    // 300 KiB messages (one unknown field each) to a client stream whose handler never takes them: 3 per call
    // stay inside the call's 1 MiB window, so only the receive caps can refuse them.
    const big = Buffer.concat([Buffer.from([0x9a, 0x06, 0x80, 0xe0, 0x12]), Buffer.alloc(300 << 10, 7)]);
    const streams = (calls: number) => {
      const c = raw(d.socketPath);
      const frames = [declare(1, STALLED_STREAM)];
      for (let id = 1; id <= calls; id++) frames.push(open(id, 1), message(id, big, 0), message(id, big, 0), message(id, big, 0));
      c.send(Buffer.concat(frames));
      return c;
    };
    const settled = (cs: ReturnType<typeof raw>[]) => expect.poll(() => cs.every((c) => c.seen.hello), { timeout: 10_000 }).toBe(true);
    // 10 calls x 900 KiB on one connection: the 28th message goes over its 8 MiB, and only its call is refused
    const one = streams(10);
    try {
      await expect.poll(() => one.seen.statuses.length, { timeout: 10_000 }).toBeGreaterThan(0);
      await new Promise((r) => setTimeout(r, 300));
      expect(one.seen.statuses).toEqual([{ callId: 10, code: 8, reason: "RATE_LIMITED" }]);
      expect(one.seen.closed).toBe(false);
    } finally {
      one.socket.destroy();
      await one.ended;
    }
    // its bytes are released with it: two connections of 8 calls (7 MiB each) fit, a third goes over the daemon's 16 MiB
    const fits = [streams(8), streams(8)];
    try {
      await settled(fits);
      await new Promise((r) => setTimeout(r, 500));
      expect(fits.map((c) => c.seen.statuses)).toEqual([[], []]);
      const over = streams(8);
      try {
        await expect.poll(() => over.seen.statuses.length, { timeout: 10_000 }).toBeGreaterThan(0);
        expect(new Set(over.seen.statuses.map((st) => `${st.code} ${st.reason}`))).toEqual(new Set(["8 RATE_LIMITED"]));
        expect(over.seen.statuses.length).toBeLessThan(8); // the calls that fit wait on
      } finally {
        over.socket.destroy();
        await over.ended;
      }
    } finally {
      for (const c of fits) c.socket.destroy();
      await Promise.all(fits.map((c) => c.ended));
    }
    await healthy();
  }, 60_000);

  it("ends with the daemon alive, its data intact, and memory bounded with a plateau", async () => {
    await d.api(UserService).createRole({ role: { name: "after-fuzz", capabilities: [] } });
    expect((await d.client(ConfigService).listRevisions({})).revisions.length).toBeGreaterThan(0);
    rss.push(await d.restingRssKiB());
    const growth = rss.at(-1)! - rss[0]!;
    console.log(`[fast-fuzz] RSS KiB ${rss.join(" → ")}; growth ${growth} KiB (limit ${RSS_GROWTH_LIMIT_KIB})`);
    expect(growth).toBeLessThan(RSS_GROWTH_LIMIT_KIB);
    // A plateau: the last round adds less than a quarter of the limit to the round before it.
    expect(rss[ROUNDS]! - rss[ROUNDS - 1]!).toBeLessThan(RSS_GROWTH_LIMIT_KIB / 4);
  }, 30_000);
});
