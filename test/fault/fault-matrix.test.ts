// Proves partial service failure (spec 13, 14) on the real daemon: for each fault of a backend or a handler
// (nft missing, hanging, answering garbage; netlink EPERM, ENOBUFS, hanging; the data dir full or read-only;
// a handler that throws or never returns) x each service x a read and a write: the services that need the
// failing part answer a structured error within its deadline and change nothing, GetHealth says which part
// fails and why, and every other service keeps answering (with a deadline shorter than the fault's own
// timeout, while the faulty call is in flight); once the fault clears, everything recovers without a restart.
// Topology: namespace "router" runs the daemon (Linux data plane) with r0 <-> h0 to "host"; its data dir is a
// tmpfs, and its config/ (revisions, dead-token ledger) a 1 MiB tmpfs of its own that the test fills or
// remounts read-only; its PATH holds only `nft` (a link the test points at the real nft, a hanging script, a
// liar, or nothing) and `ip`; netlink and handler faults come through ORBITAL_FAULT_FILE.
import { execFileSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AddressFamily } from "../../src/gen/orbital/api/v1/ip_pb.js";
import { ConfigService } from "../../src/gen/orbital/config/v1/config_pb.js";
import { Action, Chain, FirewallService } from "../../src/gen/orbital/firewall/v1/firewall_pb.js";
import { InterfaceService } from "../../src/gen/orbital/interface/v1/interface_pb.js";
import { RouteType, RoutingService } from "../../src/gen/orbital/routing/v1/routing_pb.js";
import { HealthStatus, SystemService } from "../../src/gen/orbital/system/v1/system_pb.js";
import { UserService } from "../../src/gen/orbital/user/v1/user_pb.js";
import { OrbitalError } from "../../src/common/errors.js";
import type { Client } from "../../src/client/client.js";
import { startDaemon, type RunningDaemon } from "../support/daemon.js";
import { canUseNetns, Netns, vethPair } from "../support/netns.js";
import { waitFor } from "../support/rest.js";

/** The daemon's own deadline for a backend in this test. */
const FAULT_TIMEOUT_MS = 1500;
/** And for a handler: longer than a commit needs to find a hung backend (its apply, then its restore). */
const HANDLER_TIMEOUT_MS = 4000;
/** Deadline of the calls that must not be held up by the fault: shorter than the fault's timeout. */
const UNAFFECTED_DEADLINE_MS = 1000;

type ServiceName = "interface" | "routing" | "firewall" | "config" | "user" | "system";
type Op = "read" | "write";
const SERVICES: ServiceName[] = ["interface", "routing", "firewall", "config", "user", "system"];
const typeName: Record<ServiceName, string> = {
  interface: InterfaceService.typeName,
  routing: RoutingService.typeName,
  firewall: FirewallService.typeName,
  config: ConfigService.typeName,
  user: UserService.typeName,
  system: SystemService.typeName,
};

let router: Netns;
let host: Netns;
let d: RunningDaemon;
let mountPoint: string;
/** The configuration store's own file system (a remount read-only needs a mount with no file open for writing). */
let configMount: string;
let work: string;
const bin = () => path.join(work, "bin");
const faultFile = () => path.join(work, "faults");
const nftLink = () => path.join(bin(), "nft");

/** Points the daemon's `nft` at something else (or at nothing). */
function nftIs(target: "real" | "missing" | "hang" | "garbage"): void {
  rmSync(nftLink(), { force: true });
  if (target === "missing") return;
  const scripts: Record<string, string> = { hang: path.join(work, "nft-hang"), garbage: path.join(work, "nft-garbage") };
  symlinkSync(target === "real" ? execFileSync("sh", ["-c", "command -v nft"], { encoding: "utf8" }).trim() : scripts[target]!, nftLink());
}

function faults(text: string): void {
  writeFileSync(faultFile(), text);
}

const filler = () => path.join(configMount, "filler");

interface Fault {
  name: string;
  inject(): void;
  clear(): void;
  /** Expected error reason per service and operation; anything not listed must succeed. */
  expect: Partial<Record<`${ServiceName}/${Op}`, string>>;
  /** Services GetHealth must report, with status, while the fault holds (after the calls). */
  health: Partial<Record<ServiceName, HealthStatus>>;
  /** The backend GetHealth must report NOT_SERVING, if any. */
  backend?: string;
}

const netlinkWrites = { "interface/write": "DATAPLANE_UNAVAILABLE", "routing/write": "DATAPLANE_UNAVAILABLE" } as const;
const allWrites = (reason: string) => Object.fromEntries(SERVICES.map((s) => [`${s}/write`, reason])) as Fault["expect"];

const faultTable: Fault[] = [
  {
    name: "nft missing",
    inject: () => nftIs("missing"),
    clear: () => nftIs("real"),
    expect: { "firewall/read": "DATAPLANE_UNAVAILABLE", "firewall/write": "DATAPLANE_UNAVAILABLE" },
    health: { firewall: HealthStatus.NOT_SERVING },
    backend: "nftables",
  },
  {
    name: "nft hanging",
    inject: () => nftIs("hang"),
    clear: () => nftIs("real"),
    expect: { "firewall/read": "DATAPLANE_UNAVAILABLE", "firewall/write": "DATAPLANE_UNAVAILABLE" },
    health: { firewall: HealthStatus.NOT_SERVING },
    backend: "nftables",
  },
  {
    name: "nft answering garbage",
    inject: () => nftIs("garbage"),
    clear: () => nftIs("real"),
    expect: { "firewall/read": "DATAPLANE_UNAVAILABLE", "firewall/write": "DATAPLANE_UNAVAILABLE" },
    health: { firewall: HealthStatus.NOT_SERVING },
    backend: "nftables",
  },
  {
    name: "netlink EPERM",
    inject: () => faults("rtnetlink=EPERM"),
    clear: () => faults(""),
    expect: netlinkWrites,
    health: { interface: HealthStatus.NOT_SERVING, routing: HealthStatus.NOT_SERVING },
    backend: "rtnetlink",
  },
  {
    name: "netlink ENOBUFS",
    inject: () => faults("rtnetlink=ENOBUFS"),
    clear: () => faults(""),
    expect: netlinkWrites,
    health: { interface: HealthStatus.NOT_SERVING, routing: HealthStatus.NOT_SERVING },
    backend: "rtnetlink",
  },
  {
    name: "netlink hanging",
    inject: () => faults("rtnetlink=hang"),
    clear: () => faults(""),
    expect: { ...netlinkWrites, "interface/read": "DATAPLANE_UNAVAILABLE", "routing/read": "DATAPLANE_UNAVAILABLE" },
    health: { interface: HealthStatus.NOT_SERVING, routing: HealthStatus.NOT_SERVING },
    backend: "rtnetlink",
  },
  {
    name: "data dir full",
    inject: () => {
      try {
        execFileSync("dd", ["if=/dev/zero", `of=${filler()}`, "bs=64k", "count=1000"], { stdio: "ignore" });
      } catch {
        // dd stops with ENOSPC: full, as wanted
      }
    },
    clear: () => rmSync(filler(), { force: true }),
    expect: allWrites("STORAGE_FULL"),
    health: { config: HealthStatus.DEGRADED },
    backend: "storage",
  },
  {
    name: "data dir read-only",
    inject: () => execFileSync("mount", ["-o", "remount,ro", configMount]),
    clear: () => execFileSync("mount", ["-o", "remount,rw", configMount]),
    expect: allWrites("STORAGE_FULL"),
    health: { config: HealthStatus.DEGRADED },
    backend: "storage",
  },
  {
    name: "a handler that throws",
    inject: () => faults("/orbital.system.v1.SystemService/GetVersion=throw"),
    clear: () => faults(""),
    expect: { "system/read": "INTERNAL" },
    health: { system: HealthStatus.DEGRADED },
  },
  {
    name: "a handler that never returns",
    inject: () => faults("/orbital.system.v1.SystemService/GetVersion=hang"),
    clear: () => faults(""),
    expect: { "system/read": "HANDLER_TIMEOUT" },
    health: { system: HealthStatus.DEGRADED },
  },
];

let seq = 0;

/** Clients by service and deadline, one connection each, kept for the file (the daemon caps connections). */
const clients = new Map<string, unknown>();
function clientOf<S extends Parameters<RunningDaemon["client"]>[0]>(service: S, deadlineMs: number): Client<S> {
  const key = `${service.typeName} ${deadlineMs}`;
  if (!clients.has(key)) clients.set(key, d.client(service, deadlineMs));
  return clients.get(key) as never;
}
const routeOf = (k: number) => `10.${200 + (k >> 8)}.${k & 255}.0/24`;
const prefixOf = (k: number) => `198.18.${k >> 8}.${k & 255}/32`;

/** One operation; `k` makes each write's item unique. Resolves to "OK" or the error's reason. */
async function call(service: ServiceName, op: Op, deadlineMs: number, k: number): Promise<string> {
  const c = <S extends Parameters<RunningDaemon["client"]>[0]>(s: S) => clientOf(s, deadlineMs);
  const calls: Record<`${ServiceName}/${Op}`, () => Promise<unknown>> = {
    "interface/read": () => c(InterfaceService).listInterfaces({}),
    "interface/write": () => c(InterfaceService).updateInterface({ interface: { name: "r0", description: `fault ${k}` }, updateMask: { paths: ["description"] } }),
    "routing/read": () => c(RoutingService).listRoutes({}),
    "routing/write": () => c(RoutingService).createRoute({ route: { destination: { cidr: routeOf(k) }, type: RouteType.BLACKHOLE } }),
    "firewall/read": () => c(FirewallService).listRules({}),
    "firewall/write": () => c(FirewallService).createPrefixSet({ prefixSet: { name: `fault-${k}`, family: AddressFamily.IPV4, prefixes: [{ cidr: prefixOf(k) }] } }),
    "config/read": () => c(ConfigService).listRevisions({}),
    "config/write": async () => {
      const { info } = await c(ConfigService).getRevision({ revision: 0n });
      return c(ConfigService).rollback({ revision: info!.revision, comment: `fault ${k}` });
    },
    "user/read": () => c(UserService).listUsers({}),
    "user/write": () => c(UserService).createRole({ role: { name: `fault-${k}`, capabilities: [] } }),
    "system/read": () => c(SystemService).getVersion({}),
    "system/write": () => c(SystemService).updateSettings({ settings: { hostname: `fault-${k}` }, updateMask: { paths: ["hostname"] } }),
  };
  try {
    await calls[`${service}/${op}`]();
    return "OK";
  } catch (err) {
    if (!(err instanceof OrbitalError)) throw err;
    return err.reason;
  }
}

/** Whether write number `k` of `service` is in the running configuration. */
async function landed(service: ServiceName, k: number): Promise<boolean> {
  const { configuration: c, info } = await d.api(ConfigService).getRevision({ revision: 0n });
  switch (service) {
    case "interface":
      return c!.interfaces.some((i) => i.name === "r0" && i.description === `fault ${k}`);
    case "routing":
      return c!.routes.some((r) => r.destination?.cidr === routeOf(k));
    case "firewall":
      return c!.prefixSets.some((s) => s.name === `fault-${k}`);
    case "config":
      return info!.comment === `fault ${k}`;
    case "user":
      return c!.roles.some((r) => r.name === `fault-${k}`);
    case "system":
      return c!.settings?.hostname === `fault-${k}`;
  }
}

const unhealthy = async () => {
  const h = await d.api(SystemService).getHealth({});
  return {
    services: h.services.filter((s) => s.status !== HealthStatus.SERVING && !/package|update/.test(s.service)),
    backends: h.backends.filter((b) => b.status !== HealthStatus.SERVING),
    items: h.unappliedItems,
  };
};

beforeAll(async () => {
  if (!canUseNetns) return;
  work = mkdtempSync(path.join(tmpdir(), "orbital-faults-"));
  chmodSync(work, 0o755);
  mkdirSync(bin());
  symlinkSync(execFileSync("sh", ["-c", "command -v ip"], { encoding: "utf8" }).trim(), path.join(bin(), "ip"));
  writeFileSync(path.join(work, "nft-hang"), `#!/bin/sh\nexec ${execFileSync("sh", ["-c", "command -v sleep"], { encoding: "utf8" }).trim()} 3600\n`, { mode: 0o755 });
  writeFileSync(path.join(work, "nft-garbage"), "#!/bin/sh\necho 'this is not JSON'\nexit 0\n", { mode: 0o755 });
  nftIs("real");
  faults("");
  mountPoint = path.join(work, "data");
  mkdirSync(mountPoint);
  execFileSync("mount", ["-t", "tmpfs", "-o", "size=4m", "tmpfs", mountPoint]);
  configMount = path.join(mountPoint, "orbital", "config");
  mkdirSync(configMount, { recursive: true });
  execFileSync("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", configMount]);
  router = Netns.create("orb-faults");
  host = Netns.create("orb-faults-host");
  vethPair(router, "r0", host, "h0", "10.53.0.1/24", "10.53.0.2/24");
  d = await startDaemon({
    netns: router.name,
    dataDir: path.join(mountPoint, "orbital"),
    env: {
      PATH: bin(),
      ORBITAL_FAULT_FILE: faultFile(),
      ORBITAL_BACKEND_TIMEOUT_MS: String(FAULT_TIMEOUT_MS),
      ORBITAL_HANDLER_TIMEOUT_MS: String(HANDLER_TIMEOUT_MS),
      ORBITAL_RECONCILE_RETRY_MS: "300",
    },
  });
  // A counted rule, so that listing rules reads counters from nft.
  await d.api(FirewallService).createRule({ rule: { name: "count-ssh", chain: Chain.INPUT, sequence: 10, action: Action.ACCEPT, counter: true } });
}, 60_000);

afterAll(async () => {
  await d?.cleanup();
  router?.dispose();
  host?.dispose();
  if (configMount) spawnQuiet("umount", [configMount]);
  if (mountPoint) spawnQuiet("umount", [mountPoint]);
  if (work) rmSync(work, { recursive: true, force: true });
});

function spawnQuiet(cmd: string, args: string[]): void {
  try {
    execFileSync(cmd, args, { stdio: "ignore" });
  } catch {
    // cleaning up: best effort
  }
}

describe.skipIf(!canUseNetns)("fault matrix: fault x service x operation", () => {
  it("starts healthy", async () => {
    expect(await unhealthy()).toEqual({ services: [], backends: [], items: [] });
  });

  describe.each(faultTable)("$name", (fault) => {
    it("fails only what needs the faulty part, with a structured error and no change; the rest answers in time", async () => {
      const before = (await d.api(ConfigService).getRevision({ revision: 0n })).info!.revision;
      fault.inject();
      await new Promise((r) => setTimeout(r, 120)); // the fault file is looked at every 50 ms at most
      const outcomes: Record<string, string> = {};
      for (const op of ["read", "write"] as Op[]) {
        for (const service of SERVICES) {
          const expected = fault.expect[`${service}/${op}`] ?? "OK";
          const k = ++seq;
          // While an affected call is in flight, every unaffected read must answer well before the fault's timeout.
          const affected = call(service, op, 10_000, k);
          const bystanders = SERVICES.filter((s) => !fault.expect[`${s}/read`]).map(async (s) => [s, await call(s, "read", UNAFFECTED_DEADLINE_MS, 0)] as const);
          const [outcome, others] = await Promise.all([affected, Promise.all(bystanders)]);
          outcomes[`${service}/${op}`] = outcome;
          expect(outcome, `${service}/${op}`).toBe(expected);
          for (const [s, o] of others) expect(o, `${s}/read while ${service}/${op} was in flight`).toBe("OK");
          if (op === "write") expect(await landed(service, k), `${service}/${op} landed`).toBe(expected === "OK");
        }
      }
      const faulty = await unhealthy();
      const statuses = Object.fromEntries(faulty.services.map((s) => [s.service, s.status]));
      const wanted = Object.fromEntries(Object.entries(fault.health).map(([s, status]) => [typeName[s as ServiceName], status]));
      expect(statuses).toEqual(wanted);
      for (const s of faulty.services) expect(s.detail, s.service).not.toBe("");
      if (fault.backend) expect(faulty.backends.map((b) => [b.name, b.status])).toEqual([[fault.backend, HealthStatus.NOT_SERVING]]);
      else expect(faulty.backends).toEqual([]);
      // Refused writes changed nothing: only the allowed ones made revisions.
      const allowed = SERVICES.filter((s) => !fault.expect[`${s}/write`]).length;
      expect((await d.api(ConfigService).getRevision({ revision: 0n })).info!.revision).toBe(before + BigInt(allowed));
    }, 120_000);

    it("recovers once the fault clears, without a restart", async () => {
      fault.clear();
      await new Promise((r) => setTimeout(r, 120)); // the fault file is looked at every 50 ms at most
      // Handler faults clear with the next good call; backends through the reconciler's retries.
      await waitFor(async () => (await call("system", "read", 5000, 0)) === "OK", 10_000, "GetVersion");
      await waitFor(async () => {
        const u = await unhealthy();
        return u.services.length === 0 && u.backends.length === 0 && u.items.length === 0;
      }, 15_000, `recovery from ${fault.name}`);
      for (const service of SERVICES) {
        for (const op of ["read", "write"] as Op[]) {
          const k = ++seq;
          expect(await call(service, op, 10_000, k), `${service}/${op} after recovery`).toBe("OK");
          if (op === "write") expect(await landed(service, k)).toBe(true);
        }
      }
    }, 60_000);
  });

  it("kept serving throughout, with everything acknowledged in force", async () => {
    expect(d.proc.exitCode).toBe(null);
    const fw = JSON.parse(router.run("nft", "-j", "list", "table", "inet", "orbital")) as { nftables: { set?: { name: string } }[] };
    const sets = (await d.api(FirewallService).listPrefixSets({ page: { size: 1000 } })).prefixSets.map((s) => s.name);
    for (const name of sets) expect(fw.nftables.some((o) => o.set?.name === name), name).toBe(true);
    const routes = (await d.api(RoutingService).listRoutes({ page: { size: 1000 } })).routes;
    expect(routes.filter((r) => !r.installed)).toEqual([]);
  });
});
