// Client process of the gRPC measurements: unary calls over one persistent connection, sequentially (one in
// flight) or with `concurrency` in flight, timed with process.hrtime around each call.
//   mode "sdk":  the Orbital SDK bundle (createTransport + createClient) calling orbitald `method`, e.g.
//                "orbital.system.v1.SystemService/GetVersion", over `protocol` ("fast", the default, or "grpc")
//                — what an orbctl or a UI backend pays.
//   mode "bare": a plain grpc-js Client with identity (de)serializers calling `path` with the bytes `request`
//                (hex), no deadline, no metadata — the grpc-js client floor, against the floor server or orbitald.
//   mode "http2": node:http2 alone, gRPC's wire shape (POST, 5-byte message prefix, trailers), no gRPC library
//                — the node:http2 floor, against any of the servers.
// Usage: node grpc-client.mjs '{"mode":…,"socket":…,"warmup":…,"iterations":…,"concurrency":1,…}'
// Prints one JSON line: the latency summary (µs), calls per second, the CPU µs per call of this process and
// of the server (`serverPid`), and the monotonic window of the measured phase (to cut a .cpuprofile).
import { createRequire } from "node:module";
import { measured, summarize } from "./common.mjs";

const opts = JSON.parse(process.argv[2]);
const { mode, socket: socketPath, warmup = 2000, iterations = 10000, concurrency = 1 } = opts;

let call; // () => Promise<unknown>
let close;
if (mode === "sdk") {
  const sdk = await import(opts.clientBundle);
  const [serviceName, methodName] = opts.method.split("/");
  const service = sdk.apiServices.find((s) => s.typeName === serviceName);
  const method = service?.methods.find((m) => m.name === methodName);
  if (!method) throw new Error(`no method ${opts.method}`);
  const transport = sdk.createTransport({ socketPath, deadlineMs: 30_000, transport: opts.protocol ?? "fast" });
  const client = sdk.createClient(service, transport);
  const fn = client[method.localName];
  call = () => fn({});
  close = () => transport.close();
} else if (mode === "bare") {
  const grpc = createRequire(import.meta.url)("@grpc/grpc-js");
  const client = new grpc.Client(`unix:${socketPath}`, grpc.credentials.createInsecure(), opts.channelOptions ?? {});
  const identity = (b) => b;
  const request = Buffer.from(opts.request ?? "", "hex");
  call = () =>
    new Promise((resolve, reject) =>
      client.makeUnaryRequest(opts.path, identity, identity, request, new grpc.Metadata(), {}, (err, res) => (err ? reject(err) : resolve(res))),
    );
  close = () => client.close();
} else if (mode === "http2") {
  const http2 = await import("node:http2");
  const net = await import("node:net");
  const session = http2.connect("http://localhost", { createConnection: () => net.connect(socketPath) });
  const msg = Buffer.from(opts.request ?? "", "hex");
  const body = Buffer.alloc(5 + msg.length);
  body.writeUInt32BE(msg.length, 1);
  msg.copy(body, 5);
  const headers = { ":method": "POST", ":path": opts.path, "content-type": "application/grpc", te: "trailers" };
  call = () =>
    new Promise((resolve, reject) => {
      const req = session.request(headers);
      const chunks = [];
      let status;
      req.on("trailers", (t) => (status = t["grpc-status"]));
      req.on("data", (c) => chunks.push(c));
      req.on("end", () => (status === "0" ? resolve(Buffer.concat(chunks)) : reject(new Error(`grpc-status ${status}`))));
      req.on("error", reject);
      req.end(body);
    });
  close = () => session.close();
} else {
  throw new Error(`unknown mode ${mode}`);
}

/** `total` calls with `conc` in flight; latencies (µs) into `lat` when given. */
async function run(total, conc, lat) {
  let next = 0;
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= total) return;
      const t = process.hrtime.bigint();
      await call();
      if (lat) lat[i] = Number(process.hrtime.bigint() - t) / 1000;
    }
  };
  await Promise.all(Array.from({ length: Math.min(conc, total) }, worker));
}

await run(warmup, concurrency, null);
const lat = new Float64Array(iterations);
const m = await measured(iterations, opts.serverPid, () => run(iterations, concurrency, lat));
// Optional extra batches, each summarized on its own (for A/B runs that keep the quietest batch).
const batches = [];
for (let b = 0; b < (opts.batches ?? 0); b++) {
  const bl = new Float64Array(iterations);
  const bm = await measured(iterations, opts.serverPid, () => run(iterations, concurrency, bl));
  batches.push({ ...summarize(bl, bm.elapsedMs), ...bm });
}
close();
console.log(JSON.stringify({ ...summarize(lat, m.elapsedMs), ...m, ...(batches.length ? { batches } : {}) }));
