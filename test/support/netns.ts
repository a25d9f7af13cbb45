// Test topology helpers: fresh network namespaces joined by veth pairs, and independent views of their kernel
// state (`ip -j`, `nft -j`) to check the daemon and the data plane against. Everything is created under a
// unique name and deleted by delete(); nothing touches the host's own namespace.
import { execFileSync, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";

/** Namespaces need root and iproute2; tests that build topologies skip without them. */
export const canUseNetns = process.getuid?.() === 0 && spawnSync("ip", ["-V"], { stdio: "ignore" }).status === 0;

export class Netns {
  private constructor(readonly name: string) {}

  /** The namespace file, for code that opens sockets inside it (setns). */
  get path(): string {
    return `/var/run/netns/${this.name}`;
  }

  static create(label: string): Netns {
    const name = `${label}-${randomBytes(3).toString("hex")}`;
    execFileSync("ip", ["netns", "add", name]);
    const ns = new Netns(name);
    ns.run("ip", "link", "set", "lo", "up");
    return ns;
  }

  /** Runs a command inside the namespace; throws with its stderr on failure, returns stdout. */
  run(...cmd: string[]): string {
    return execFileSync("ip", ["netns", "exec", this.name, ...cmd], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], maxBuffer: 256 << 20 });
  }

  /** Whether a command succeeds inside the namespace. */
  ok(...cmd: string[]): boolean {
    return spawnSync("ip", ["netns", "exec", this.name, ...cmd], { stdio: "ignore" }).status === 0;
  }

  /** `ip <args>` inside the namespace, never throwing. */
  tryIp(...args: string[]): { status: number | null; stdout: string; stderr: string } {
    const r = spawnSync("ip", ["netns", "exec", this.name, "ip", ...args], { encoding: "utf8", maxBuffer: 512 << 20 });
    return { status: r.status, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
  }

  /** `ip <args>` inside the namespace; throws with its stderr on failure. */
  ip(...args: string[]): string {
    const r = this.tryIp(...args);
    if (r.status !== 0) throw new Error(`ip netns exec ${this.name} ip ${args.join(" ")}: ${r.stderr.trim()}`);
    return r.stdout;
  }

  /** `ip -j <args>` inside the namespace, parsed. */
  ipJson<T = Record<string, unknown>[]>(...args: string[]): T {
    const out = this.ip("-j", ...args).trim();
    return (out ? JSON.parse(out) : []) as T;
  }

  /** `ip -j -N <args>`: as ipJson, with numbers rather than names for tables, protocols, scopes and route types. */
  ipJsonNumeric<T = Record<string, unknown>[]>(...args: string[]): T {
    return this.ipJson<T>("-N", ...args);
  }

  /** Interface name -> ifindex. */
  ifindexes(): Map<string, number> {
    return new Map(this.ipJson<{ ifname: string; ifindex: number }[]>("link", "show").map((l) => [l.ifname, l.ifindex]));
  }

  dispose(): void {
    spawnSync("ip", ["netns", "del", this.name], { stdio: "ignore" });
  }
}

/** A veth pair with one end in each namespace, both up, optionally addressed. */
export function vethPair(a: Netns, ifA: string, b: Netns, ifB: string, addrA?: string, addrB?: string): void {
  const tmp = `v${randomBytes(4).toString("hex")}`;
  execFileSync("ip", ["link", "add", tmp, "type", "veth", "peer", "name", `${tmp}p`]);
  execFileSync("ip", ["link", "set", tmp, "netns", a.name]);
  execFileSync("ip", ["link", "set", `${tmp}p`, "netns", b.name]);
  a.run("ip", "link", "set", tmp, "name", ifA);
  b.run("ip", "link", "set", `${tmp}p`, "name", ifB);
  a.run("ip", "link", "set", ifA, "up");
  b.run("ip", "link", "set", ifB, "up");
  if (addrA) a.run("ip", "addr", "add", addrA, "dev", ifA);
  if (addrB) b.run("ip", "addr", "add", addrB, "dev", ifB);
}
