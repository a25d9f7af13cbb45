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
/** Client-streaming RPCs: callJson cannot send a stream, so they go through the typed client. */
async function callClientStream(requests) {
  // The request is a JSON array of stream messages. Only the empty stream is supported: the bundle exports no
  // JSON decoder, and the typed client takes init shapes, which differ from canonical JSON.
  if (!Array.isArray(requests) || requests.length > 0) throw new Error(`${method} is client streaming: pass [] (the empty stream)`);
  const res = await sdk.createClient(desc.parent, transport)[desc.localName]([]);
  const { $typeName: _, ...fields } = res;
  return [JSON.parse(JSON.stringify(fields, (_k, v) => (typeof v === "bigint" ? v.toString() : v)))];
}
/**
 * Server streams that never end by themselves (Watch*): with ORBITAL_STREAM_WINDOW_MS set, the stream is cancelled
 * that long after the daemon's response headers (a refusal follows the headers at once), and the outcome is
 * { ok: true, open: true }: the daemon accepted the call. Responses received until then are not reported.
 */
const windowMs = process.env.ORBITAL_STREAM_WINDOW_MS ? Number(process.env.ORBITAL_STREAM_WINDOW_MS) : undefined;
async function callServerStream(req) {
  const abort = new AbortController();
  let timer;
  const options = { signal: abort.signal, onTrace: () => (timer ??= setTimeout(() => abort.abort(), windowMs)) };
  try {
    return { responses: await sdk.callJson(transport, desc, req, options) };
  } catch (e) {
    if (abort.signal.aborted && e.code === 1) return { open: true };
    throw e;
  } finally {
    clearTimeout(timer);
  }
}
try {
  const parsed = JSON.parse(request);
  if (desc.methodKind === "server_streaming" && windowMs !== undefined) {
    console.log(JSON.stringify({ ok: true, ...(await callServerStream(parsed)) }));
  } else {
    const responses = desc.methodKind === "client_streaming" ? await callClientStream(parsed) : await sdk.callJson(transport, desc, parsed);
    console.log(JSON.stringify({ ok: true, responses }));
  }
} catch (e) {
  const error = { code: e.code, reason: e.reason, message: e.message, metadata: e.metadata, violations: e.violations, traceId: e.traceId };
  console.log(JSON.stringify({ ok: false, error }));
} finally {
  transport.close();
}
