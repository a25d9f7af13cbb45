// Child process of callSession(): one connection to the daemon, kept for many calls. Reads requests as JSON
// lines on stdin ({ id, method, request }), answers each with a JSON line { id, outcome } on stdout, in
// order. Runs as whatever uid the test spawned it with, over ORBITAL_TRANSPORT's protocol (the SDK's
// default otherwise); server streams are cut after ORBITAL_STREAM_WINDOW_MS as in call-json.mjs.
import { createInterface } from "node:readline";
import { callOutcome } from "./call-outcome.mjs";

const [socketPath] = process.argv.slice(2);
const sdk = await import(process.env.ORBITAL_CLIENT_BUNDLE);
const transport = sdk.createTransport({ socketPath, deadlineMs: 10_000 });
const windowMs = process.env.ORBITAL_STREAM_WINDOW_MS ? Number(process.env.ORBITAL_STREAM_WINDOW_MS) : undefined;
for await (const line of createInterface({ input: process.stdin })) {
  if (!line.trim()) continue;
  const { id, method, request } = JSON.parse(line);
  const outcome = await callOutcome(sdk, transport, method, request, windowMs);
  process.stdout.write(`${JSON.stringify({ id, outcome })}\n`);
}
transport.close();
