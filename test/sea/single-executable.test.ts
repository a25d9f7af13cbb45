// Proves: the single executable (npm run build:sea) runs as orbitald/orbctl by name or first argument, refuses other names
// with its usage, takes no node options but its own execArgv, and as orbitald serves its own orbctl (runtime v24.x, addons
// from ../lib/orbital, the heap sizes and memory settings of process-memory.ts); aarch64: orbctl --help.
// Topology: dist/sea/<arch> rebuilt only when stale; one daemon from it (sim data plane, no ORBITAL_NATIVE_DIR); qemu-user for aarch64.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { repoRoot } from "../../scripts/proto-image.js";
import { EXEC_ARGV, runnerFor } from "../../scripts/build-sea.mjs";
import { orbitalGroup } from "../support/daemon.js";

const BUILD_SCRIPT = path.join(repoRoot, "scripts", "build-sea.mjs");
/** The Node version pinned in the build script (its one place). */
const NODE_VERSION = /export const NODE_VERSION = "(\d+\.\d+\.\d+)"/.exec(readFileSync(BUILD_SCRIPT, "utf8"))![1]!;
const bin = (arch: string, name: string) => path.join(repoRoot, "dist", "sea", arch, "bin", name);
const QEMU = runnerFor("aarch64") ?? ["qemu-aarch64-static"]; // the build script's own qemu-user prefix
const haveQemu = runnerFor("aarch64") !== undefined;

const tmp = mkdtempSync(path.join(tmpdir(), "orbital-sea-"));
// No ORBITAL_NATIVE_DIR and no node settings: the executable must find its addons by itself.
const env = { PATH: process.env.PATH, HOME: tmp, XDG_CACHE_HOME: path.join(tmp, "cache"), XDG_STATE_HOME: path.join(tmp, "state"), XDG_RUNTIME_DIR: path.join(tmp, "run"), TERM: "dumb" };

/** Brings dist/sea/<arch> up to date; asynchronously, since a blocked worker misses vitest's own calls. */
async function build(arch: string): Promise<void> {
  const child = spawn(process.execPath, [BUILD_SCRIPT, "--arch", arch, "--if-stale"], { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout.on("data", (d: Buffer) => (out += d));
  child.stderr.on("data", (d: Buffer) => (out += d));
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.once("exit", (c, s) => resolve([c, s])));
  if (code !== 0) throw new Error(`build-sea --arch ${arch} failed (${code ?? signal}):\n${out}`);
}

function run(cmd: string, args: string[], prefix: string[] = []) {
  const [file, ...rest] = [...prefix, cmd, ...args];
  const r = spawnSync(file!, rest, { cwd: tmp, env, encoding: "utf8", timeout: 120_000 });
  // A code cache the runtime rejects (a blob made by the wrong arch's or version's node) is only a warning.
  expect(r.stderr).not.toContain("Code cache data rejected");
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

let daemon: ChildProcess | undefined;
let daemonLog = "";
const socket = path.join(tmp, "api.sock");

beforeAll(() => build("x86_64"), 900_000);
afterAll(async () => {
  if (daemon && daemon.exitCode === null) {
    const exited = new Promise((r) => daemon!.once("exit", r));
    daemon.kill("SIGKILL");
    await exited;
  }
  rmSync(tmp, { recursive: true, force: true });
});

describe("the x86_64 single executable", () => {
  it("has orbitald and orbctl as symlinks to orbital and the addons in lib/orbital", () => {
    for (const name of ["orbitald", "orbctl"]) expect(spawnSync("readlink", [bin("x86_64", name)], { encoding: "utf8" }).stdout.trim()).toBe("orbital");
    for (const addon of ["peercred.node", "rtnetlink.node", "malloc-trim.node"]) expect(existsSync(path.join(repoRoot, "dist", "sea", "x86_64", "lib", "orbital", addon))).toBe(true);
  });

  it("refuses an unknown name, and no name, with its usage (exit 2); --help prints it", () => {
    const usage = /usage: orbital orbitald \[options\][^]*orbital orbctl/;
    const unknown = run(bin("x86_64", "orbital"), ["frobnicate", "--help"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('orbital: unknown command "frobnicate"');
    expect(unknown.stderr).toMatch(usage);
    // Called by a name that is neither orbitald nor orbctl (a symlink "router"), with no command.
    symlinkSync(bin("x86_64", "orbital"), path.join(tmp, "router"));
    const bare = run(path.join(tmp, "router"), []);
    expect(bare.code).toBe(2);
    expect(bare.stderr).toContain("orbital: no command given");
    const help = run(bin("x86_64", "orbital"), ["--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(usage);
  });

  it("runs as orbitald by name: --help prints the daemon's usage", () => {
    const r = run(bin("x86_64", "orbitald"), ["--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("usage: orbitald [options]");
    expect(r.stdout).toContain("--dataplane NAME");
    // The same through the first argument.
    expect(run(bin("x86_64", "orbital"), ["orbitald", "--help"]).stdout).toBe(r.stdout);
  });

  it("runs as orbctl by name and by first argument", () => {
    const byName = run(bin("x86_64", "orbctl"), ["--help"]);
    expect(byName.code).toBe(0);
    expect(byName.stdout).toContain("Usage: orbctl <command> [flags]");
    expect(run(bin("x86_64", "orbital"), ["orbctl", "--help"]).stdout).toBe(byName.stdout);
  });

  it("takes no node options (execArgvExtension none): NODE_OPTIONS and --node-options are ignored", () => {
    const r = spawnSync(bin("x86_64", "orbctl"), ["--help"], { cwd: tmp, env: { ...env, NODE_OPTIONS: `--require ${path.join(tmp, "missing.js")}` }, encoding: "utf8" });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    // nor from its command line: the admin's login shell passes its words to orbctl (overlay/usr/bin/orbctl-shell)
    const cli = spawnSync(bin("x86_64", "orbctl"), ["--node-options=--eval=console.log('node-options-taken')", "--help"], { cwd: tmp, env, encoding: "utf8" });
    expect(`${cli.stdout}${cli.stderr}`).not.toContain("node-options-taken");
  });

  it("serves as orbitald and answers its own orbctl: runtime Node 24, addons loaded from ../lib/orbital", async () => {
    orbitalGroup(); // the daemon gives its socket to the group "orbital"
    daemon = spawn(bin("x86_64", "orbitald"), ["--socket", socket, "--data-dir", path.join(tmp, "data"), "--dataplane", "sim"], { cwd: tmp, env, stdio: ["ignore", "ignore", "pipe"] });
    daemon.stderr!.setEncoding("utf8").on("data", (d: string) => (daemonLog += d));
    const deadline = Date.now() + 60_000;
    while (!daemonLog.includes('"msg":"orbitald serving"')) {
      if (daemon.exitCode !== null || Date.now() > deadline) throw new Error(`orbitald from the executable did not serve (exit ${daemon.exitCode}):\n${daemonLog}`);
      await new Promise((r) => setTimeout(r, 25));
    }
    expect(daemonLog).not.toContain("peer credentials unavailable");
    // the heap sizes of its execArgv, memory saver mode and the malloc-trim addon (src/daemon/process-memory.ts)
    const memory = daemonLog.split("\n").map((l) => (l.startsWith("{") ? (JSON.parse(l) as Record<string, unknown>) : {})).find((l) => l.msg === "process memory");
    expect(memory).toMatchObject({ execArgv: [...EXEC_ARGV], memorySaver: true, mallocTrim: true });
    expect(memory!.heapLimitMiB).toBeLessThan(300); // 256 MiB old space + 3 x 2 MiB semi-spaces, V8's default is over 4 GiB here

    const r = run(bin("x86_64", "orbctl"), ["--socket", socket, "system", "version", "-o", "json"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const v = JSON.parse(r.stdout) as { build: { runtimeVersion: string; architecture: string; version: string } };
    expect(v.build.runtimeVersion).toMatch(/^v24\.\d+\.\d+$/);
    expect(v.build.runtimeVersion).toBe(`v${NODE_VERSION}`);
    expect(v.build.architecture).toBe("x86_64");
    expect(v.build.version).toBe(JSON.parse(readFileSync(path.join(repoRoot, "package.json"), "utf8")).version);

    // The fallback form reaches the same daemon.
    const viaFirstArg = run(bin("x86_64", "orbital"), ["orbctl", "--socket", socket, "system", "version", "-o", "json"]);
    expect(viaFirstArg.code).toBe(0);
    expect(JSON.parse(viaFirstArg.stdout).build.runtimeVersion).toBe(`v${NODE_VERSION}`);
  });

  it("hosts a package's bundled JavaScript (orbital package-host FILE) with the SDK as @orbital/sdk", () => {
    const script = path.join(tmp, "pkg-main.js");
    writeFileSync(
      script,
      [
        'const { createClient, createTransport, SystemService } = require("@orbital/sdk");',
        'const path = require("node:path");',
        "const t = createTransport({ socketPath: process.env.ORBITAL_SOCKET });",
        "createClient(SystemService, t).getVersion({}).then((v) => {",
        "  console.log(JSON.stringify({ runtime: v.build.runtimeVersion, argv: process.argv.slice(2), dir: path.basename(__dirname) }));",
        "  t.close();",
        "});",
      ].join("\n"),
    );
    const r = spawnSync(bin("x86_64", "orbital"), ["package-host", script, "--set", "x"], { cwd: tmp, env: { ...env, ORBITAL_SOCKET: socket }, encoding: "utf8", timeout: 60_000 });
    expect(r.stderr).toBe("");
    expect(JSON.parse(r.stdout)).toEqual({ runtime: `v${NODE_VERSION}`, argv: ["--set", "x"], dir: path.basename(tmp) });
  });

  it("the bundle it embeds also runs as `node dist/orbital.cjs <name>` on the build machine's Node", () => {
    const r = run(process.execPath, [path.join(repoRoot, "dist", "orbital.cjs"), "orbitald", "--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("usage: orbitald [options]");
    expect(run(process.execPath, [path.join(repoRoot, "dist", "orbital.cjs"), "nope"]).code).toBe(2);
  });
});

describe.skipIf(!haveQemu)("the aarch64 single executable under qemu-user", () => {
  beforeAll(() => build("aarch64"), 900_000); // build-sea gives the qemu-user step up to 2 x 300 s

  it("is an aarch64 ELF that runs orbctl --help and orbitald --help (code cache made under qemu accepted)", () => {
    const elf = Buffer.alloc(20);
    const fd = openSync(bin("aarch64", "orbital"), "r");
    readSync(fd, elf, 0, 20, 0);
    closeSync(fd);
    expect(elf.readUInt16LE(18)).toBe(183); // e_machine: EM_AARCH64
    const r = run(bin("aarch64", "orbctl"), ["--help"], QEMU);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("Usage: orbctl <command> [flags]");
    const d = run(bin("aarch64", "orbital"), ["orbitald", "--help"], QEMU);
    expect(d.code).toBe(0);
    expect(d.stdout).toContain("usage: orbitald [options]");
  });
});
