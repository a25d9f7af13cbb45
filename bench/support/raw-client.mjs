// Baseline client: request→response round trips of one small length-prefixed frame over a Unix socket,
// measured with process.hrtime. Usage: node raw-client.mjs '{"socket":…,"bytes":64,"warmup":…,"iterations":…,
// "concurrency":1,"serverPid":…}'. Prints one JSON line: the latency summary (µs), round trips per
// second, and the CPU µs per round trip of this process and of the server.
import net from "node:net";
import { measured, summarize } from "./common.mjs";

const opts = JSON.parse(process.argv[2]);
const { socket: socketPath, bytes = 64, warmup = 2000, iterations = 10000, concurrency = 1 } = opts;
const frame = Buffer.alloc(4 + bytes, 0x61);
frame.writeUInt32BE(bytes, 0);

const sock = net.connect(socketPath);
await new Promise((resolve, reject) => sock.once("connect", resolve).once("error", reject));

let onFrame = () => {};
let pending = Buffer.alloc(0);
sock.on("data", (chunk) => {
  pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
  let off = 0;
  while (pending.length - off >= 4) {
    const len = pending.readUInt32BE(off);
    if (pending.length - off < 4 + len) break;
    off += 4 + len;
    onFrame();
  }
  pending = off === pending.length ? Buffer.alloc(0) : pending.subarray(off);
});

/** `total` round trips with `conc` frames outstanding; each answer sends the next frame. */
function run(total, conc, lat) {
  return new Promise((resolve) => {
    const sentAt = [];
    let sent = 0;
    let done = 0;
    const send = () => {
      sentAt.push(process.hrtime.bigint());
      sent++;
      sock.write(frame);
    };
    onFrame = () => {
      const t = process.hrtime.bigint();
      if (lat) lat[done] = Number(t - sentAt[done]) / 1000;
      sentAt[done] = undefined;
      done++;
      if (done === total) return resolve();
      if (sent < total) send();
    };
    for (let i = 0; i < Math.min(conc, total); i++) send();
  });
}

await run(warmup, concurrency, null);
const lat = new Float64Array(iterations);
const m = await measured(iterations, opts.serverPid, () => run(iterations, concurrency, lat));
sock.destroy();
console.log(JSON.stringify({ ...summarize(lat, m.elapsedMs), ...m }));
