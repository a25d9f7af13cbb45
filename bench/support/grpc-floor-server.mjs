// The grpc-js floor: a minimal grpc-js server fed through createConnectionInjector() from our own net.Server
// on a Unix socket (as orbitald does), one unary echo method with identity (de)serializers, no interceptors,
// no auth, no protobuf, no logging. What is left is grpc-js + node:http2 itself.
// Usage: node grpc-floor-server.mjs SOCKET [JSON server options]. Prints "ready"; SIGTERM stops it.
import net from "node:net";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const grpc = require("@grpc/grpc-js");

const [socketPath, optsJson = "{}"] = process.argv.slice(2);
const server = new grpc.Server(JSON.parse(optsJson));
const identity = (b) => b;
server.addService(
  {
    Echo: {
      path: "/bench.Floor/Echo",
      requestStream: false,
      responseStream: false,
      requestSerialize: identity,
      requestDeserialize: identity,
      responseSerialize: identity,
      responseDeserialize: identity,
    },
  },
  { Echo: (call, callback) => callback(null, call.request) },
);
const inject = server.createConnectionInjector(grpc.ServerCredentials.createInsecure());
const listener = net.createServer((socket) => inject.injectConnection(socket));
listener.listen(socketPath, () => console.log("ready"));
process.on("SIGTERM", () => {
  listener.close();
  inject.destroy();
  server.forceShutdown();
  process.exit(0);
});
