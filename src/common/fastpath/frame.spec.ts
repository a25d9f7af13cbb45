// The fast path's framing: frames come out as they went in however the stream is cut, and a stream that
// breaks the framing is a ProtocolError, never a crash or an unbounded buffer.
import { describe, expect, it } from "vitest";
import { encodeFrame, END_STREAM, FrameReader, FrameType, HEADER_BYTES, ProtocolError, type Frame } from "./frame.js";

const frames = [
  encodeFrame(FrameType.DECLARE, 0, 7, Buffer.from("/orbital.system.v1.SystemService/GetVersion")),
  encodeFrame(FrameType.OPEN, 0, 1, Buffer.from([0x08, 0x07])),
  encodeFrame(FrameType.MESSAGE, END_STREAM, 1),
  encodeFrame(FrameType.MESSAGE, 0, 0xffffffff, Buffer.alloc(300, 0xab)),
];
const stream = Buffer.concat(frames);

function readAll(chunks: Buffer[], max = 1 << 20): Frame[] {
  const out: Frame[] = [];
  const r = new FrameReader(max, (f) => out.push({ ...f, payload: Buffer.from(f.payload) }));
  for (const c of chunks) r.push(c);
  expect(r.pending).toBe(0);
  return out;
}

describe("fast-path frames", () => {
  it("encode the header as documented: length after the field, type, flags, call id", () => {
    const f = encodeFrame(FrameType.MESSAGE, END_STREAM, 0x01020304, Buffer.from("hi"));
    expect([...f]).toEqual([0, 0, 0, 8, 0x04, 0x01, 1, 2, 3, 4, 0x68, 0x69]);
    expect(HEADER_BYTES).toBe(10);
  });

  it("read back the same frames whether the stream comes whole, byte by byte, or cut anywhere", () => {
    const whole = readAll([stream]);
    expect(whole.map((f) => [f.type, f.flags, f.callId, f.payload.length])).toEqual([
      [FrameType.DECLARE, 0, 7, 43],
      [FrameType.OPEN, 0, 1, 2],
      [FrameType.MESSAGE, END_STREAM, 1, 0],
      [FrameType.MESSAGE, 0, 0xffffffff, 300],
    ]);
    expect(readAll([...stream].map((b) => Buffer.from([b])))).toEqual(whole);
    for (let cut = 1; cut < stream.length; cut += 7) expect(readAll([stream.subarray(0, cut), stream.subarray(cut)])).toEqual(whole);
  });

  it("keeps a partial frame until the rest arrives", () => {
    const seen: Frame[] = [];
    const r = new FrameReader(1 << 20, (f) => seen.push(f));
    r.push(frames[3]!.subarray(0, 100));
    expect(seen).toEqual([]);
    expect(r.pending).toBe(100);
    r.push(frames[3]!.subarray(100));
    expect(seen).toHaveLength(1);
  });

  it("refuses a frame too large, too short or of an unknown type before buffering it", () => {
    const big = Buffer.alloc(4);
    big.writeUInt32BE(0xffffffff);
    expect(() => new FrameReader(1 << 20, () => undefined).push(big)).toThrow(ProtocolError);
    expect(() => new FrameReader(1 << 20, () => undefined).push(Buffer.from([0, 0, 0, 5, 4, 0, 0, 0, 0]))).toThrow(/shorter than its header/);
    expect(() => new FrameReader(1 << 20, () => undefined).push(encodeFrame(0x7f as FrameType, 0, 1))).toThrow(/unknown frame type 0x7f/);
  });
});
