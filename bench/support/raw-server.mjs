// Baseline server: echoes length-prefixed frames (u32 big-endian length + payload) on a Unix socket, one
// process, no framework. Usage: node raw-server.mjs SOCKET. Prints "ready" once listening; SIGTERM stops it.
import net from "node:net";

const [socketPath] = process.argv.slice(2);
const server = net.createServer((socket) => {
  socket.setNoDelay?.(true);
  let pending = Buffer.alloc(0);
  socket.on("data", (chunk) => {
    pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
    let off = 0;
    const frames = [];
    while (pending.length - off >= 4) {
      const len = pending.readUInt32BE(off);
      if (pending.length - off < 4 + len) break;
      frames.push(pending.subarray(off, off + 4 + len));
      off += 4 + len;
    }
    pending = off === pending.length ? Buffer.alloc(0) : pending.subarray(off);
    // One write per chunk read, like a server answering each request as it is parsed.
    for (const f of frames) socket.write(Buffer.from(f));
  });
  socket.on("error", () => {});
});
server.listen(socketPath, () => console.log("ready"));
process.on("SIGTERM", () => server.close(() => process.exit(0)));
