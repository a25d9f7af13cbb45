// Fault injection for tests (spec section 14), off in production. ORBITAL_FAILPOINTS="<site>=<fault>,..."
// fixes faults for the daemon's life; ORBITAL_FAULT_FILE names a file holding the same text, read again
// whenever it changes, so that a test can inject a fault into a running daemon and clear it again.
// Sites and faults:
// - an RPC path ("/orbital.system.v1.SystemService/GetVersion"): "throw" (the handler throws a plain Error),
//   "reject-later" (an unhandled promise rejection), "throw-later" (an uncaught exception outside any call),
//   "slow" (the handler starts one second late), "hang" (the handler never returns);
// - "rtnetlink": "EPERM" or "ENOBUFS" (every operation of a batch fails so), "hang" (no request answers);
// - "xdp": "ENOMEM" (every fast-path list the kernel is asked to build is refused so, as a map too large is).
// Unset: handlers are not even wrapped, and the netlink socket is the addon's own.
import { readFileSync, statSync } from "node:fs";

export type HandlerFault = "throw" | "reject-later" | "throw-later" | "slow" | "hang";
export type NetlinkFault = "EPERM" | "ENOBUFS" | "hang";
export type XdpFault = "ENOMEM";

const HANDLER_FAULTS = new Set<string>(["throw", "reject-later", "throw-later", "slow", "hang"]);
const NETLINK_FAULTS = new Set<string>(["EPERM", "ENOBUFS", "hang"]);
const XDP_FAULTS = new Set<string>(["ENOMEM"]);
const SLOW_MS = 1000;
/** How often the fault file is looked at, at most. */
const RECHECK_MS = 50;

function parse(spec: string, origin: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const entry of spec.split(/[,\n]/).map((e) => e.trim()).filter(Boolean)) {
    const [site, fault] = entry.split("=");
    const known = site === "rtnetlink" ? NETLINK_FAULTS : site === "xdp" ? XDP_FAULTS : HANDLER_FAULTS;
    if (!site || !fault || !known.has(fault)) throw new Error(`${origin}: bad entry "${entry}"`);
    out.set(site, fault);
  }
  return out;
}

export class Failpoints {
  private fixed: Map<string, string>;
  private fromFile = new Map<string, string>();
  private fileStamp = "";
  private checkedAt = 0;

  private constructor(
    spec: string,
    private readonly file: string | undefined,
  ) {
    this.fixed = parse(spec, "ORBITAL_FAILPOINTS");
  }

  /** The failpoints of the environment, or undefined when none are configured (production). */
  static fromEnv(env: NodeJS.ProcessEnv): Failpoints | undefined {
    const spec = env.ORBITAL_FAILPOINTS ?? "";
    const file = env.ORBITAL_FAULT_FILE || undefined;
    if (!spec && !file) return undefined;
    return new Failpoints(spec, file);
  }

  /** Whether `site` may ever fault: fixed there, or any site when a fault file is in use. */
  mayFault(site: string): boolean {
    return this.file !== undefined || this.fixed.has(site);
  }

  private current(site: string): string | undefined {
    if (this.file && Date.now() - this.checkedAt >= RECHECK_MS) {
      this.checkedAt = Date.now();
      let stamp = "";
      try {
        const st = statSync(this.file);
        stamp = `${st.mtimeMs}:${st.size}`;
      } catch {
        // no file: no faults from it
      }
      if (stamp !== this.fileStamp) {
        this.fileStamp = stamp;
        this.fromFile = stamp ? parse(readFileSync(this.file, "utf8"), this.file) : new Map();
      }
    }
    return this.fromFile.get(site) ?? this.fixed.get(site);
  }

  netlinkFault(): NetlinkFault | undefined {
    return this.current("rtnetlink") as NetlinkFault | undefined;
  }

  xdpFault(): XdpFault | undefined {
    return this.current("xdp") as XdpFault | undefined;
  }

  /** Triggers the fault configured for RPC `path`, if any; resolves when the handler may run. */
  async trigger(path: string): Promise<void> {
    const fault = this.current(path) as HandlerFault | undefined;
    if (fault === undefined) return;
    if (fault === "slow") await new Promise((r) => setTimeout(r, SLOW_MS));
    if (fault === "hang") await new Promise(() => undefined);
    if (fault === "throw") throw new Error(`failpoint: ${path} throws`);
    if (fault === "reject-later") void Promise.reject(new Error(`failpoint: ${path} unhandled rejection`));
    if (fault === "throw-later") {
      setImmediate(() => {
        throw new Error(`failpoint: ${path} uncaught exception`);
      });
    }
  }
}
