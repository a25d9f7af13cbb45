// The framing of the Orbital fast path (docs/fast-path.md, section 2), shared by the daemon and the SDK: the
// preface, frame types and flags, encoding one frame, and an incremental reader that cuts a byte stream into
// frames without copying more than it must. What a frame means is its users' business.

/** "ORBFAST" and the version byte: the first bytes a fast-path client sends. */
export const PREFACE = Buffer.from([0x4f, 0x52, 0x42, 0x46, 0x41, 0x53, 0x54, 0x01]);
/** The first four bytes of the preface, which tell it from the HTTP/2 client preface ("PRI "). */
export const PREFACE_MAGIC = PREFACE.subarray(0, 4);
export const PROTOCOL_VERSION = 1;

export const FrameType = {
  HELLO: 0x01,
  DECLARE: 0x02,
  OPEN: 0x03,
  MESSAGE: 0x04,
  END: 0x05,
  HEADERS: 0x06,
  STATUS: 0x07,
  CANCEL: 0x08,
  WINDOW: 0x09,
  GOAWAY: 0x0a,
} as const;
export type FrameType = (typeof FrameType)[keyof typeof FrameType];
const KNOWN_TYPES = new Set<number>(Object.values(FrameType));

/** MESSAGE flag: the sender's last message of the call. */
export const END_STREAM = 0x01;

/** Bytes before the payload: length (4), type (1), flags (1), call id (4). */
export const HEADER_BYTES = 10;
/** The length field counts what follows it. */
const LENGTH_BYTES = 4;

export const DEFAULT_MAX_FRAME_BYTES = (4 << 20) + (64 << 10);

export interface Frame {
  type: FrameType;
  flags: number;
  callId: number;
  payload: Buffer;
}

/** One frame as bytes. */
export function encodeFrame(type: FrameType, flags: number, callId: number, payload?: Uint8Array): Buffer {
  const n = payload?.byteLength ?? 0;
  const out = Buffer.allocUnsafe(HEADER_BYTES + n);
  out.writeUInt32BE(HEADER_BYTES - LENGTH_BYTES + n, 0);
  out[4] = type;
  out[5] = flags;
  out.writeUInt32BE(callId >>> 0, 6);
  if (n) out.set(payload!, HEADER_BYTES);
  return out;
}

/** A WINDOW frame's payload: the increment. */
export function windowPayload(bytes: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(Math.min(bytes, 0xffffffff) >>> 0, 0);
  return b;
}

/** The byte stream does not follow the framing; the connection cannot go on. */
export class ProtocolError extends Error {
  override readonly name = "ProtocolError";
}

/** The header of a frame too large to take, for onOversized. */
export interface OversizedFrame {
  type: number;
  flags: number;
  callId: number;
  /** The whole frame's size, header included. */
  bytes: number;
}

/**
 * Cuts a byte stream into frames. push() takes what the socket read and calls `onFrame` for every complete
 * frame, in order; a frame shorter than its header or of an unknown type throws ProtocolError (the caller
 * closes the connection). A frame longer than `maxFrameBytes` is never buffered: `onOversized` (when given)
 * may have it skipped as it streams in (returning true), otherwise it throws ProtocolError too. Partial frames
 * wait for the next push.
 */
export class FrameReader {
  private chunks: Buffer[] = [];
  private buffered = 0;
  /** Bytes of an oversized frame still to be skipped. */
  private skipping = 0;

  constructor(
    private readonly maxFrameBytes: number,
    private readonly onFrame: (f: Frame) => void,
    private readonly onOversized?: (f: OversizedFrame) => boolean,
  ) {}

  /** Bytes received that are not a whole frame yet. */
  get pending(): number {
    return this.buffered;
  }

  push(chunk: Buffer): void {
    if (this.skipping > 0) {
      const skip = Math.min(this.skipping, chunk.length);
      this.skipping -= skip;
      chunk = chunk.subarray(skip);
      if (chunk.length === 0) return;
    }
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    while (this.buffered >= LENGTH_BYTES) {
      const length = this.peekLength();
      if (length < HEADER_BYTES - LENGTH_BYTES) throw new ProtocolError(`a frame of ${length} bytes is shorter than its header`);
      if (length + LENGTH_BYTES > this.maxFrameBytes) {
        if (!this.onOversized) throw new ProtocolError(`a frame of ${length + LENGTH_BYTES} bytes is larger than ${this.maxFrameBytes}`);
        if (this.buffered < HEADER_BYTES) return;
        const header = this.take(HEADER_BYTES);
        const frame: OversizedFrame = { type: header[4]!, flags: header[5]!, callId: header.readUInt32BE(6), bytes: length + LENGTH_BYTES };
        if (!this.onOversized(frame)) throw new ProtocolError(`a frame of ${frame.bytes} bytes is larger than ${this.maxFrameBytes}`);
        // Skip the payload: what is buffered now, and the rest as it comes.
        let rest = frame.bytes - HEADER_BYTES;
        const now = Math.min(rest, this.buffered);
        if (now > 0) this.take(now);
        rest -= now;
        this.skipping = rest;
        if (rest > 0) return;
        continue;
      }
      if (this.buffered < length + LENGTH_BYTES) return;
      const bytes = this.take(length + LENGTH_BYTES);
      const type = bytes[4]!;
      if (!KNOWN_TYPES.has(type)) throw new ProtocolError(`unknown frame type 0x${type.toString(16)}`);
      this.onFrame({ type: type as FrameType, flags: bytes[5]!, callId: bytes.readUInt32BE(6), payload: bytes.subarray(HEADER_BYTES) });
    }
  }

  private peekLength(): number {
    const first = this.chunks[0]!;
    if (first.length >= LENGTH_BYTES) return first.readUInt32BE(0);
    return this.take(LENGTH_BYTES, true).readUInt32BE(0);
  }

  /** The next `n` bytes, as one buffer (a view when they sit in one chunk); `peek` leaves them in place. */
  private take(n: number, peek = false): Buffer {
    const first = this.chunks[0]!;
    if (first.length >= n) {
      if (peek) return first;
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
      this.buffered -= n;
      return first.subarray(0, n);
    }
    const out = Buffer.allocUnsafe(n);
    let copied = 0;
    let i = 0;
    while (copied < n) {
      const c = this.chunks[i]!;
      const part = Math.min(c.length, n - copied);
      c.copy(out, copied, 0, part);
      copied += part;
      if (peek) {
        i++;
        continue;
      }
      if (part === c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(part);
    }
    if (!peek) this.buffered -= n;
    return out;
  }
}
