// Fault injection for tests (spec section 14): ORBITAL_FAILPOINTS="<method path>=<fault>,..." makes the
// named RPC fail in a chosen way, so that tests can prove a failing handler never takes the daemon down.
// Faults: "throw" (the handler throws a plain Error), "reject-later" (an unhandled promise rejection),
// "throw-later" (an uncaught exception outside any call), "slow" (the handler starts one second late, to have
// calls in flight). Unset in production: then handlers are not even wrapped.
export type Fault = "throw" | "reject-later" | "throw-later" | "slow";

const FAULTS = new Set<Fault>(["throw", "reject-later", "throw-later", "slow"]);
const SLOW_MS = 1000;

export function parseFailpoints(spec: string | undefined): Map<string, Fault> {
  const out = new Map<string, Fault>();
  for (const entry of (spec ?? "").split(",").filter(Boolean)) {
    const [path, fault] = entry.split("=");
    if (!path || !FAULTS.has(fault as Fault)) throw new Error(`ORBITAL_FAILPOINTS: bad entry "${entry}"`);
    out.set(path, fault as Fault);
  }
  return out;
}

/** Triggers the fault configured for `path`, if any; resolves when the handler may run. */
export async function trigger(failpoints: Map<string, Fault>, path: string): Promise<void> {
  const fault = failpoints.get(path);
  if (fault === undefined) return;
  if (fault === "slow") await new Promise((r) => setTimeout(r, SLOW_MS));
  if (fault === "throw") throw new Error(`failpoint: ${path} throws`);
  if (fault === "reject-later") void Promise.reject(new Error(`failpoint: ${path} unhandled rejection`));
  if (fault === "throw-later") {
    setImmediate(() => {
      throw new Error(`failpoint: ${path} uncaught exception`);
    });
  }
}
