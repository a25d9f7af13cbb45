// Child process of callSession(): one connection to the daemon, kept for many calls. Reads requests as JSON
// lines on stdin ({ id, method, request }), answers each with a JSON line { id, outcome } on stdout, in
// order. Runs as whatever uid the test spawned it with.
import { createInterface } from "node:readline";
import { callOutcome } from "./call-outcome.mjs";

const [socketPath] = process.argv.slice(2);
const sdk = await import(process.env.ORBITAL_CLIENT_BUNDLE);
const transport = sdk.createTransport({ socketPath, deadlineMs: 10_000 });
for await (const line of createInterface({ input: process.stdin })) {
  if (!line.trim()) continue;
  const { id, method, request } = JSON.parse(line);
  const outcome = await callOutcome(sdk, transport, method, request);
  process.stdout.write(`${JSON.stringify({ id, outcome })}\n`);
}
transport.close();
