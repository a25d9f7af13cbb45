// Child process of callAs(): calls one RPC with a JSON request through the bundled SDK and prints the
// outcome as JSON on stdout. Runs as whatever uid the test spawned it with.
const [socketPath, method, request] = process.argv.slice(2);
const sdk = await import(process.env.ORBITAL_CLIENT_BUNDLE);
const transport = sdk.createTransport({ socketPath, deadlineMs: 10_000 });
const desc = sdk.findMethod(method);
if (!desc) {
  console.log(JSON.stringify({ ok: false, error: { code: -1, reason: "NO_SUCH_METHOD", message: method, metadata: {}, violations: [] } }));
  process.exit(0);
}
try {
  const responses = await sdk.callJson(transport, desc, JSON.parse(request));
  console.log(JSON.stringify({ ok: true, responses }));
} catch (e) {
  const error = { code: e.code, reason: e.reason, message: e.message, metadata: e.metadata, violations: e.violations, traceId: e.traceId };
  console.log(JSON.stringify({ ok: false, error }));
} finally {
  transport.close();
}
