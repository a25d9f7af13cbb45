// The node:http2 floor: gRPC's wire shape (HTTP/2 POST, 5-byte message prefix, grpc-status trailer) served by
// node:http2 directly, with no gRPC library, fed from our own net.Server on a Unix socket like orbitald.
// It echoes the request message. What is left is node:http2 (nghttp2) + the event loop: the least any gRPC
// implementation on Node can cost. Usage: node http2-floor-server.mjs SOCKET. Prints "ready"; SIGTERM stops it.
import http2 from "node:http2";
import net from "node:net";

const [socketPath] = process.argv.slice(2);
const h2 = http2.createServer();
h2.on("stream", (stream) => {
  const chunks = [];
  stream.on("data", (c) => chunks.push(c));
  stream.on("end", () => {
    stream.respond({ ":status": 200, "content-type": "application/grpc" }, { waitForTrailers: true });
    stream.once("wantTrailers", () => stream.sendTrailers({ "grpc-status": "0" }));
    stream.end(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks));
  });
  stream.on("error", () => {});
});
const listener = net.createServer((socket) => h2.emit("connection", socket));
listener.listen(socketPath, () => console.log("ready"));
process.on("SIGTERM", () => {
  listener.close();
  h2.close();
  process.exit(0);
});
