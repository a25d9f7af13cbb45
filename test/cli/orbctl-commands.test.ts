// Proves: the bundled orbctl drives the real daemon for system, users, roles, tokens, config transactions,
// whoami and `call`: tables for people, canonical proto3 JSON with -o json, errors on stderr as
// "error: <message> [<REASON>] trace=<id>" plus one line per field violation, and every documented exit
// status (2 usage, 3 unavailable, 4 permission denied, 5 not found, 6 invalid, 7 conflict); services the
// daemon does not implement yet, and an update engine it cannot reach, fail cleanly; help and the generated bash completion work.
// Topology: one daemon (sim data plane); orbctl as child processes, as root and as other uids.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { UserService } from "../../src/gen/orbital/user/v1/user_pb.js";
import { repoRoot } from "../../scripts/proto-image.js";
import { startDaemon, type RunningDaemon } from "../support/daemon.js";
import { ORBCTL, orbctl, orbctlHome, requireOrbctl, type OrbctlOptions } from "../support/orbctl.js";

let d: RunningDaemon;
let home: ReturnType<typeof orbctlHome>;
const VIEWER_UID = 2601;
const UNMAPPED_UID = 2699;

beforeAll(async () => {
  requireOrbctl();
  home = orbctlHome();
  // The package service is turned off on this box (--disable-service): the example of a service not served.
  d = await startDaemon({ env: { ORBITAL_DISABLE_SERVICES: "orbital.package.v1.PackageService" } });
  await d.client(UserService).createUser({ user: { name: "vera", uid: VIEWER_UID, role: "viewer" } });
});
afterAll(async () => {
  await d?.cleanup();
  home?.remove();
});

const run = (args: string[], opts: OrbctlOptions = {}) => orbctl(d.socketPath, args, { ...opts, env: { ...home.env, ...opts.env } });
/** Runs and expects success; returns stdout. */
async function ok(...args: string[]): Promise<string> {
  const r = await run(args);
  expect(r.stderr, args.join(" ")).toBe("");
  expect(r.code, args.join(" ")).toBe(0);
  return r.stdout;
}
const json = async (...args: string[]) => JSON.parse(await ok(...args, "-o", "json")) as Record<string, unknown>;

describe("system and whoami", () => {
  it("shows the daemon version as a table and as JSON", async () => {
    const table = await ok("system", "version");
    expect(table).toMatch(/^version:\s+\d+\.\d+\.\d+/m);
    expect(table).toMatch(/^api:\s+orbital\.config\.v1, /m);
    const v = await json("system", "version");
    expect(v.build).toMatchObject({ version: expect.any(String), runtimeVersion: process.version });
    expect(v.apiPackages).toContain("orbital.user.v1");
  });

  it("shows health per service and per backend", async () => {
    const table = await ok("system", "health");
    expect(table).toMatch(/^SERVICE\s+STATUS\s+DETAIL$/m);
    expect(table).toMatch(/^user\.v1\.UserService\s+serving$/m);
    expect(table).toMatch(/^update\.v1\.UpdateService\s+serving$/m);
    expect(table).toMatch(/^package\.v1\.PackageService\s+not-serving\s+disabled on this box$/m);
    expect(table).toMatch(/^BACKEND\s+STATUS\s+SINCE\s+DETAIL$/m);
    for (const backend of ["rtnetlink", "nftables", "storage"]) expect(table).toMatch(new RegExp(`^${backend}\\s+serving\\s+\\d{4}-`, "m"));
    expect(table).not.toMatch(/not in force/);
    expect((await json("system", "health")).services).toContainEqual({ service: "orbital.user.v1.UserService", status: "HEALTH_STATUS_SERVING" });
    expect(await ok("system", "metrics")).toMatch(/^# (HELP|TYPE) /m);
  });

  it("changes and shows settings", async () => {
    expect(await ok("system", "settings", "--hostname", "edge1")).toMatch(/^settings changed: revision \d+$/m);
    expect(await ok("system", "settings")).toMatch(/^hostname:\s+edge1$/m);
    expect(await json("system", "settings")).toEqual({ settings: { hostname: "edge1" } });
  });

  it("says who the caller is", async () => {
    expect(await ok("whoami")).toMatch(/^user:\s+root\nrole:\s+admin\nauth:\s+peer-credentials\nuid:\s+0\n/);
    expect(await json("whoami")).toMatchObject({ user: "root", role: "admin", uid: 0, authMethod: "AUTH_METHOD_PEER_CREDENTIALS" });
    const viewer = await run(["whoami", "-o", "json"], { uid: VIEWER_UID });
    expect(viewer.code).toBe(0);
    expect(JSON.parse(viewer.stdout)).toMatchObject({ user: "vera", role: "viewer", uid: VIEWER_UID });
  });
});

describe("users, roles and tokens", () => {
  it("creates, lists, shows, changes and deletes a user", async () => {
    expect(await ok("user", "add", "alice", "--role", "operator", "--uid", "2602", "--description", "net team")).toMatch(/^user alice created: revision \d+\n$/);
    const list = await ok("user", "list");
    expect(list.split("\n")[0]).toMatch(/^NAME\s+UID\s+ROLE\s+DESCRIPTION$/);
    expect(list).toMatch(/^alice\s+2602\s+operator\s+net team$/m);
    const users = (await json("user", "list")).users as { name: string }[];
    expect(users.map((u) => u.name)).toEqual(["alice", "root", "vera"]);
    expect(await ok("user", "show", "alice")).toMatch(/^name:\s+alice\nuid:\s+2602\nrole:\s+operator\n/);
    await ok("user", "set", "alice", "--role", "viewer", "--no-uid");
    expect(await json("user", "show", "alice")).toMatchObject({ user: { name: "alice", role: "viewer", description: "net team" } });
    expect(((await json("user", "show", "alice")).user as object)).not.toHaveProperty("uid");
    expect(await ok("user", "delete", "alice")).toMatch(/^user alice deleted: revision \d+\n$/);
  });

  it("manages custom roles with capabilities", async () => {
    await ok("role", "add", "netops", "-c", "routing.read,routing.write", "--capability", "interface.read", "--description", "network operators");
    expect(await json("role", "show", "netops")).toEqual({
      role: { name: "netops", capabilities: ["routing.read", "routing.write", "interface.read"], description: "network operators" },
    });
    const list = await ok("role", "list");
    expect(list).toMatch(/^admin\s+built-in\s+17\s*$/m);
    expect(list).toMatch(/^netops\s+custom\s+3\s+network operators$/m);
    await ok("role", "set", "netops", "-c", "routing.read");
    expect(await ok("role", "show", "netops")).toMatch(/^capabilities:\s+routing\.read$/m);
    await ok("role", "delete", "netops");
  });

  it("creates a token with its secret once, lists it, revokes it", async () => {
    const created = await json("token", "create", "vera", "--expires", "30d", "--description", "ci");
    expect(created.secret).toMatch(/\S{20,}/);
    const token = created.token as { id: string; expireTime: string };
    expect(Date.parse(token.expireTime) - Date.now()).toBeGreaterThan(29 * 86_400_000);
    expect(await ok("token", "list", "--user", "vera")).toMatch(new RegExp(`^${token.id}\\s+vera\\s+valid\\s+`, "m"));
    expect(await ok("token", "revoke", token.id)).toMatch(new RegExp(`^token ${token.id} revoked at `));
    expect(await ok("token", "list")).toMatch(new RegExp(`^${token.id}\\s+vera\\s+revoked\\s+`, "m"));
    expect(await ok("token", "list", "-o", "json")).not.toContain(created.secret as string);
  });
});

describe("config transactions across one-shot commands", () => {
  it("begins, stages, diffs, commits, and shows the history", async () => {
    const begin = await ok("config", "begin");
    const tx = begin.split("\n")[0]!;
    expect(tx).toMatch(/^\S+$/);
    expect(existsSync(path.join(home.env.XDG_RUNTIME_DIR!, "orbctl"))).toBe(true);
    expect(await ok("user", "add", "tina", "--role", "viewer")).toBe(`user tina created: staged in transaction ${tx}\n`);
    expect(await ok("role", "add", "auditors", "-c", "config.read")).toBe(`role auditors created: staged in transaction ${tx}\n`);
    expect((await run(["user", "show", "tina"])).code).toBe(5); // not visible before the commit
    const diff = await ok("config", "diff");
    expect(diff).toMatch(/^\+ roles\[auditors\]/m);
    expect(diff).toMatch(/^\+ users\[tina\]/m);
    expect(diff).not.toContain("\x1b"); // no colour on a pipe
    // A second begin while this one is open is a conflict.
    const again = await run(["config", "begin"]);
    expect(again.code).toBe(7);
    expect(again.stderr).toMatch(new RegExp(`^error: transaction ${tx} is already open; commit or discard it first \\[TRANSACTION_OPEN\\]$`, "m"));
    const commit = await ok("config", "commit", "-m", "audit team");
    const rev = Number(/^committed revision (\d+)$/m.exec(commit)?.[1]);
    expect(rev).toBeGreaterThan(0);
    expect(await ok("user", "show", "tina")).toMatch(/^role:\s+viewer$/m);
    // The transaction is forgotten after the commit.
    const diffAfter = await run(["config", "diff"]);
    expect(diffAfter.code).toBe(6);
    expect(diffAfter.stderr).toBe("error: no transaction is open; start one with `orbctl config begin` [NO_TRANSACTION]\n");
    const history = await ok("config", "history");
    expect(history).toMatch(new RegExp(`^${rev}\\*\\s+\\S+ \\S+\\s+root\\s+audit team$`, "m"));
    const revisions = (await json("config", "history")).revisions as { revision: string; comment?: string }[];
    expect(revisions[0]).toMatchObject({ revision: String(rev), comment: "audit team" });
    const shown = await ok("config", "show", String(rev));
    expect(shown).toMatch(new RegExp(`^# revision ${rev} by root at .*: audit team$`, "m"));
    expect(shown).toMatch(/^- name: tina$/m);
    expect(((await json("config", "show")).configuration as { users: { name: string }[] }).users.map((u) => u.name)).toContain("tina");
  });

  it("discards, bypasses with --no-transaction, and rolls back", async () => {
    const tx = (await ok("config", "begin")).split("\n")[0]!;
    expect(await ok("user", "add", "direct", "--role", "viewer", "--no-transaction")).toMatch(/^user direct created: revision \d+\n$/);
    await ok("user", "add", "staged", "--role", "viewer");
    expect(await ok("config", "discard")).toBe(`transaction ${tx} discarded\n`);
    expect((await run(["user", "show", "staged"])).code).toBe(5);
    const before = Number((await json("config", "history")).activeRevision);
    await ok("user", "delete", "direct");
    expect(await ok("config", "rollback", String(before), "-m", "undo")).toMatch(new RegExp(`^committed revision ${before + 2} \\(content of revision ${before}\\)$`, "m"));
    expect(await ok("user", "show", "direct")).toMatch(/^name:\s+direct$/m);
  });

  it("forgets a remembered transaction that ended elsewhere", async () => {
    const tx = (await ok("config", "begin")).split("\n")[0]!;
    const { ConfigService } = await import("../../src/gen/orbital/config/v1/config_pb.js");
    await d.client(ConfigService).discard({ transactionId: tx });
    const r = await run(["user", "add", "late", "--role", "viewer"]);
    expect(r.code).toBe(5);
    expect(r.stderr).toMatch(/\[TRANSACTION_NOT_FOUND\] trace=[0-9a-f]{32}\n  note: transaction \S+ is gone; orbctl forgot it/);
    expect(await ok("user", "add", "late", "--role", "viewer")).toMatch(/^user late created: revision \d+\n$/);
  });
});

describe("watch", () => {
  it("streams commit events, one JSON document per line, until interrupted", async () => {
    const child = spawn(process.execPath, [ORBCTL, "watch", "commits", "-o", "json"], {
      env: { PATH: process.env.PATH, ORBITAL_SOCKET: d.socketPath, ...home.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.setEncoding("utf8").on("data", (s: string) => (out += s));
    try {
      // Commit until the watch has reported one (subscribing takes a moment).
      for (let i = 0; !out.includes("\n"); i++) {
        if (i > 40) throw new Error(`no event: ${out}`);
        await d.client(UserService).createRole({ role: { name: `w-${i}`, capabilities: [] } });
        await new Promise((r) => setTimeout(r, 250));
      }
      const first = JSON.parse(out.split("\n")[0]!) as { type: string; revision: { author: string } };
      expect(first).toMatchObject({ type: "COMMIT_EVENT_TYPE_COMMITTED", revision: { author: "root" } });
    } finally {
      child.kill("SIGINT");
    }
  });
});

/** Whether the daemon serves a service yet (interfaces, routing and firewall are arriving). */
async function serving(service: string): Promise<boolean> {
  const health = (await json("system", "health")) as { services: { service: string; status: string }[] };
  return health.services.some((s) => s.service === service && s.status === "HEALTH_STATUS_SERVING");
}

describe("interfaces, routes and firewall, where the daemon implements them", () => {
  it("configures an interface and a VLAN subinterface", async (t) => {
    if (!(await serving("orbital.interface.v1.InterfaceService"))) return t.skip();
    expect(await ok("interface", "set", "eth1", "--mtu", "9000", "--up", "--address", "192.0.2.1/24", "--description", "uplink")).toMatch(/^interface eth1 changed: revision \d+\n$/);
    expect(await json("interface", "show", "eth1")).toMatchObject({ interface: { name: "eth1", mtu: 9000, adminState: "ADMIN_STATE_UP", description: "uplink", addresses: [{ cidr: "192.0.2.1/24" }] } });
    await ok("interface", "create-vlan", "eth1", "100");
    expect(await ok("interface", "list")).toMatch(/^eth1\.100\s+vlan\s+/m);
    await ok("interface", "delete", "eth1.100");
  });

  it("adds routes and imports a route file, reporting bad lines by number", async (t) => {
    if (!(await serving("orbital.routing.v1.RoutingService"))) return t.skip();
    expect(await ok("route", "add", "10.8.0.0/16", "--via", "192.0.2.2", "--metric", "50")).toMatch(/^route 10\.8\.0\.0\/16 added: revision \d+\n$/);
    const file = path.join(home.dir, "routes.txt");
    writeFileSync(file, ["# test routes", "10.1.0.0/16 via 192.0.2.3", "10.2.0.1/16 via 192.0.2.3", "", "10.3.0.0/16 via", "blackhole 203.0.113.0/24"].join("\n"));
    const r = await run(["route", "import", file, "--batch", "2"]);
    expect(r.code).toBe(6);
    expect(r.stdout).toMatch(/^4 routes read: 2 added, 0 deleted, 2 failed; revision \d+\n$/);
    const failures = r.stderr.trimEnd().split("\n");
    expect(failures).toHaveLength(2);
    expect(failures[0]).toMatch(/^line 3: 10\.2\.0\.1\/16: .* \[INVALID_PREFIX\]$/);
    expect(failures[1]).toBe('line 5: 10.3.0.0/16 via: "via" needs a value [SYNTAX]');
    const list = await ok("route", "list");
    expect(list).toMatch(/^10\.1\.0\.0\/16\s+main\s+192\.0\.2\.3\s+/m);
    expect(list).toMatch(/^203\.0\.113\.0\/24\s+main\s+-\s+-\s+0\s+blackhole/m);
    await ok("route", "delete", "10.8.0.0/16");
    expect((await run(["route", "show", "10.8.0.0/16"])).code).toBe(5);
  });

  it("creates a prefix set, streams entries into it, and a rule that uses it", async (t) => {
    if (!(await serving("orbital.firewall.v1.FirewallService"))) return t.skip();
    await ok("firewall", "set", "add", "bogons", "--family", "ipv4", "--prefix", "0.0.0.0/8");
    const entries = await run(["firewall", "set", "add-entries", "bogons", "240.0.0.0/4", "10.0.0.1/8"]);
    expect(entries.code).toBe(6);
    expect(entries.stdout).toMatch(/^1 added, 0 removed, 1 failed; revision \d+\n$/);
    expect(entries.stderr).toMatch(/^item 1: 10\.0\.0\.1\/8: .*\[INVALID_PREFIX\]\n$/);
    expect(await json("firewall", "set", "show", "bogons")).toMatchObject({ prefixSet: { prefixes: [{ cidr: "0.0.0.0/8" }, { cidr: "240.0.0.0/4" }] } });
    await ok("firewall", "rule", "add", "drop-bogons", "--chain", "input", "--seq", "5", "--src", "@bogons", "--action", "drop", "--counter");
    expect(await ok("firewall", "rule", "list")).toMatch(/^input\s+5\s+drop-bogons\s+drop\s+src @bogons\s+0$/m);
    const inUse = await run(["firewall", "set", "delete", "bogons"]);
    expect(inUse.code).toBe(6);
    expect(inUse.stderr).toMatch(/\[RESOURCE_IN_USE\]/);
    await ok("firewall", "rule", "delete", "drop-bogons");
    await ok("firewall", "set", "delete", "bogons");
  });

  it("attaches a prefix set as a fast-path drop list, shows it per interface, and detaches it", async (t) => {
    if (!(await serving("orbital.firewall.v1.FirewallService"))) return t.skip();
    await ok("firewall", "set", "add", "blocklist", "--family", "ipv4", "--prefix", "192.0.2.0/24", "--prefix", "198.51.100.0/24");
    const missingIf = await run(["firewall", "fast-path", "attach", "blocklist"]);
    expect(missingIf.code).toBe(2);
    expect(await ok("firewall", "fast-path", "attach", "blocklist", "--interface", "eth0", "--interface", "eth1")).toMatch(/^fast-path drop list blocklist on eth0, eth1: revision \d+$/m);
    expect(await ok("firewall", "fast-path", "list")).toMatch(/^blocklist\s+drop\s+eth0,eth1$/m);
    // The sim data plane has no XDP: the interfaces are listed with their lists, not attached.
    const show = await ok("firewall", "fast-path", "show");
    expect(show).toMatch(/^eth0\s+not-attached\s+0\s+0 B\s+0\s+0\s+2\s+blocklist$/m);
    expect(show).toMatch(/^eth1: not in force: simulated data plane$/m);
    expect(await json("firewall", "fast-path", "show")).toMatchObject({ interfaces: [{ name: "eth0", mode: "FAST_PATH_MODE_NOT_ATTACHED", ipv4Entries: "2" }, { name: "eth1" }] });
    const inUse = await run(["firewall", "set", "delete", "blocklist"]);
    expect(inUse.stderr).toMatch(/fast-path list blocklist.*\[RESOURCE_IN_USE\]/);
    expect(await ok("firewall", "fast-path", "detach", "blocklist")).toMatch(/^fast-path list blocklist detached: revision \d+$/m);
    expect(await ok("firewall", "fast-path", "list")).not.toMatch(/blocklist/);
    await ok("firewall", "set", "delete", "blocklist");
  });
});

describe("call", () => {
  it("calls any unary RPC with a JSON request", async () => {
    expect(JSON.parse(await ok("call", "orbital.user.v1.UserService/GetUser", '{"name":"vera"}'))).toMatchObject({ user: { name: "vera", uid: VIEWER_UID, role: "viewer" } });
    expect(JSON.parse(await ok("call", "SystemService/GetVersion")).apiPackages).toContain("orbital.config.v1");
    expect(await ok("call", "UserService/WhoAmI", "-o", "yaml")).toMatch(/^user: root\nrole: admin\ncapabilities:\n- config\.read\n/);
  });

  it("refuses what it cannot call, as usage errors", async () => {
    const unknown = await run(["call", "UserService/Nope"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/^error: no method "UserService\/Nope" in the API .* \[USAGE\]$/m);
    expect((await run(["call", "UserService/GetUser", "{name"])).code).toBe(2);
    const stream = await run(["call", "RoutingService/BulkUpdateRoutes"]);
    expect(stream.code).toBe(2);
    expect(stream.stderr).toMatch(/is client streaming/);
    const badField = await run(["call", "UserService/GetUser", '{"nom":"x"}']);
    expect(badField.code).toBe(6);
    expect(badField.stderr).toMatch(/\[MALFORMED_MESSAGE\]/);
  });
});

describe("errors and exit statuses", () => {
  it("2: usage errors, with the usage line", async () => {
    const r = await run(["user", "shwo", "alice"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('error: unknown verb for "user": "shwo" (did you mean "show"?) [USAGE]\n  usage: orbctl user <verb>\n');
    expect((await run(["interface", "set", "eth0", "--mtu", "lots"])).code).toBe(2);
    expect((await run(["user", "add", "x"])).stderr).toMatch(/^error: --role is required \[USAGE\]$/m);
  });

  it("5: not found, with the reason and the trace id", async () => {
    const r = await run(["user", "show", "nobody"]);
    expect(r.code).toBe(5);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(/^error: user "nobody" does not exist \[NOT_FOUND\] trace=[0-9a-f]{32}\n$/);
    expect((await run(["config", "show", "9999"])).stderr).toMatch(/\[REVISION_NOT_FOUND\] trace=/);
  });

  it("6: invalid input, one line per field violation", async () => {
    const r = await run(["user", "add", "Bad!", "--role", "viewer", "--description", "x".repeat(300)]);
    expect(r.code).toBe(6);
    const lines = r.stderr.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^error: .* \[INVALID_FIELD\] trace=[0-9a-f]{32}$/);
    expect(lines.slice(1)).toEqual(expect.arrayContaining([expect.stringMatching(/^ {2}user\.name: /), expect.stringMatching(/^ {2}user\.description: /)]));
    expect((await run(["role", "add", "r1", "-c", "no.such"])).code).toBe(6);
  });

  it("7: conflict when the name is taken", async () => {
    await ok("user", "add", "carl", "--role", "viewer");
    const r = await run(["user", "add", "carl", "--role", "viewer"]);
    expect(r.code).toBe(7);
    expect(r.stderr).toMatch(/^error: .* \[ALREADY_EXISTS\] trace=[0-9a-f]{32}\n$/);
  });

  it("4: permission denied for an unmapped uid and for a viewer's change", async () => {
    const unmapped = await run(["whoami"], { uid: UNMAPPED_UID, env: { HOME: "/nonexistent", XDG_RUNTIME_DIR: "", XDG_STATE_HOME: "", XDG_CACHE_HOME: "" } });
    expect(unmapped.code).toBe(4);
    expect(unmapped.stderr).toMatch(/^error: .* \[UNKNOWN_PEER\] trace=[0-9a-f]{32}\n$/);
    const viewer = await run(["user", "add", "eve", "--role", "admin"], { uid: VIEWER_UID });
    expect(viewer.code).toBe(4);
    expect(viewer.stderr.trimEnd()).toMatch(/\[CAPABILITY_MISSING\] trace=[0-9a-f]{32}$/);
  });

  it("3: unavailable when nobody listens on the socket, within the deadline", async () => {
    // A socket file whose process is gone: connect() is refused.
    const stale = path.join(tmpdir(), `orbctl-stale-${process.pid}.sock`);
    rmSync(stale, { force: true });
    spawnSync("python3", ["-c", `import socket; socket.socket(socket.AF_UNIX).bind(${JSON.stringify(stale)})`]);
    try {
      const r = await run(["--socket", stale, "--deadline", "700ms", "system", "version"]);
      expect(r.code).toBe(3);
      expect(r.stderr).toBe(`error: daemon not reachable at ${stale}: connection refused (is orbitald running?) [UNAVAILABLE]\n`);
      expect(r.ms).toBeLessThan(5000);
      const missing = await run(["system", "version", "--deadline", "300ms"], { env: { ORBITAL_SOCKET: `${stale}.none` } });
      expect(missing.code).toBe(3);
      expect(missing.stderr).toMatch(/^error: daemon not reachable at \S+\.none: no such socket/);
    } finally {
      rmSync(stale, { force: true });
    }
  });

  it("1: other failures, such as a service turned off on this box", async () => {
    for (const args of [["package", "list"], ["package", "install", "/data/x.oap"]]) {
      const r = await run(args);
      expect(r.code, args.join(" ")).toBe(1);
      expect(r.stderr, args.join(" ")).toMatch(/^error: orbital\.\w+\.v1\.\w+Service is disabled on this box \[SERVICE_NOT_IMPLEMENTED\] trace=[0-9a-f]{32}\n$/);
    }
  });

  it("3: the update engine unreachable (this daemon has no RAUC service to talk to)", async () => {
    for (const args of [["update", "status"], ["update", "mark", "booted", "good"]]) {
      const r = await run(args);
      expect(r.code, args.join(" ")).toBe(3);
      expect(r.stderr, args.join(" ")).toMatch(/^error: the update engine \(RAUC\) is unavailable: .* \[UPDATE_ENGINE_UNAVAILABLE\] trace=[0-9a-f]{32}\n$/);
    }
  });

  it("documents the statuses in orbctl help exit-codes", async () => {
    const help = await ok("help", "exit-codes");
    for (const [code, name] of [[0, "ok"], [1, "failure"], [2, "usage"], [3, "unavailable"], [4, "permission denied"], [5, "not found"], [6, "invalid input"], [7, "conflict"]]) {
      expect(help).toMatch(new RegExp(`^ {2}${code} {2}${name}`, "m"));
    }
  });
});

describe("help and completion", () => {
  it("has help with examples at every level, within 80 columns", async () => {
    for (const args of [["help"], ["--help"], ["user", "--help"], ["user", "add", "--help"], ["help", "route", "import"], ["firewall"]]) {
      const out = await ok(...args);
      expect(out, args.join(" ")).toMatch(/^Usage: orbctl/);
      expect(out, args.join(" ")).toMatch(/^Examples:$/m);
      for (const line of out.split("\n")) expect(line.length, line).toBeLessThanOrEqual(80);
    }
    expect(await ok("user", "add", "--help")).toMatch(/--role ROLE\s+built-in \(admin, operator, viewer\) or custom/);
    expect(await ok("help")).toMatch(/^ {2}whoami\s+who you are/m);
    expect((await run(["help", "nonsense"])).code).toBe(2);
  });

  it("prints the bash completion script that the build ships, and it completes live names", async () => {
    const script = await ok("completion", "bash");
    expect(script).toBe(readFileSync(path.join(repoRoot, "dist", "completion", "orbctl.bash"), "utf8"));
    const probe = [
      `source <(${process.execPath} ${ORBCTL} completion bash)`,
      `orbctl() { ${process.execPath} ${ORBCTL} "$@"; }`,
      't() { COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); COMPREPLY=(); _orbctl; echo "${COMPREPLY[*]}"; }',
      "t orbctl us",
      't orbctl config ""',
      "t orbctl route add 10.0.0.0/8 --type b",
      "t orbctl user show v",
      't orbctl -o ""',
    ].join("\n");
    const r = spawnSync("bash", ["-c", probe], { encoding: "utf8", env: { ...process.env, ...home.env, ORBITAL_SOCKET: d.socketPath } });
    expect(r.stdout.split("\n")).toEqual(["user", "begin diff commit confirm discard rollback history show", "blackhole", "vera", "table json yaml", ""]);
  });

  it("prints no ANSI escapes on a pipe, nor with TERM=dumb or NO_COLOR", async () => {
    for (const env of [{}, { TERM: "dumb" }, { NO_COLOR: "1" }]) {
      const r = await run(["system", "health"], { env });
      expect(r.stdout + r.stderr).not.toContain("\x1b");
    }
  });
});

