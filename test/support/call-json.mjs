// Child process of callAs(): calls one RPC with a JSON request through the bundled SDK and prints the
// outcome as JSON on stdout. Runs as whatever uid the test spawned it with.
import { callOutcome } from "./call-outcome.mjs";

const [socketPath, method, request] = process.argv.slice(2);
const sdk = await import(process.env.ORBITAL_CLIENT_BUNDLE);
const transport = sdk.createTransport({ socketPath, deadlineMs: 10_000 });
const windowMs = process.env.ORBITAL_STREAM_WINDOW_MS ? Number(process.env.ORBITAL_STREAM_WINDOW_MS) : undefined;
try {
  console.log(JSON.stringify(await callOutcome(sdk, transport, method, JSON.parse(request), windowMs)));
} finally {
  transport.close();
}
