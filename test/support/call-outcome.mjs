// One RPC through the bundled SDK with a JSON request, as a JSON-able outcome ({ ok, responses } or
// { ok: false, error }): shared by call-json.mjs (one call per process) and call-session.mjs (many).
/**
 * Client-streaming RPCs: callJson cannot send a stream, so they go through the typed client. The request is a
 * JSON array of stream messages; only the empty stream is supported: the bundle exports no JSON decoder, and
 * the typed client takes init shapes, which differ from canonical JSON.
 */
async function callClientStream(sdk, transport, desc, requests) {
  if (!Array.isArray(requests) || requests.length > 0) throw new Error(`${desc.name} is client streaming: pass [] (the empty stream)`);
  const res = await sdk.createClient(desc.parent, transport)[desc.localName]([]);
  const { $typeName: _, ...fields } = res;
  return [JSON.parse(JSON.stringify(fields, (_k, v) => (typeof v === "bigint" ? v.toString() : v)))];
}

/**
 * Server streams that never end by themselves (Watch*): with `windowMs` set, the stream is cancelled that long
 * after the daemon's response headers (a refusal follows the headers at once), and the outcome is
 * { ok: true, open: true }: the daemon accepted the call. Responses received until then are not reported.
 */
async function callServerStream(sdk, transport, desc, req, windowMs) {
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

export async function callOutcome(sdk, transport, method, request, windowMs) {
  const desc = sdk.findMethod(method);
  if (!desc) return { ok: false, error: { code: -1, reason: "NO_SUCH_METHOD", message: method, metadata: {}, violations: [] } };
  try {
    if (desc.methodKind === "server_streaming" && windowMs !== undefined) return { ok: true, ...(await callServerStream(sdk, transport, desc, request, windowMs)) };
    const responses = desc.methodKind === "client_streaming" ? await callClientStream(sdk, transport, desc, request) : await sdk.callJson(transport, desc, request);
    return { ok: true, responses };
  } catch (e) {
    return { ok: false, error: { code: e.code, reason: e.reason, message: e.message, metadata: e.metadata, violations: e.violations, traceId: e.traceId } };
  }
}
