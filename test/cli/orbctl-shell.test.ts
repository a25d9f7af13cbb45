// Proves: `orbctl shell` works in a real pseudo-terminal (tmux, 80x24): Tab completes a noun and a live
// user name, the prompt shows [candidate] and * while a transaction holds changes, Up recalls the previous
// command (and the history file keeps it), a failing command prints its error and the shell goes on, output
// fits 80 columns, and commands succeed after the daemon restarts underneath the open shell, including one
// typed while the daemon was down; a watch runs until Ctrl-C; with TERM=dumb not one escape sequence is
// written. Ctrl-D leaves.
// Topology: one daemon, restarted twice on the same socket and data dir; the shell runs in a tmux session on a
// private tmux server socket.
import { spawnSync } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SystemService } from "../../src/gen/orbital/system/v1/system_pb.js";
import { UserService } from "../../src/gen/orbital/user/v1/user_pb.js";
import { startDaemon, type RunningDaemon } from "../support/daemon.js";
import { ORBCTL, orbctlHome, requireOrbctl } from "../support/orbctl.js";

const SERVER = `orbctl-test-${process.pid}`;
const SESSION = `orbctl-shell-${process.pid}`;
const DUMB = `orbctl-dumb-${process.pid}`;
const daemons: RunningDaemon[] = [];
let home: ReturnType<typeof orbctlHome>;

const tmux = (...args: string[]) => spawnSync("tmux", ["-L", SERVER, ...args], { encoding: "utf8" });
/** Types text literally, then presses the keys named (Tab, Enter, Up, C-u, ...). */
const type = (text: string, ...keys: string[]) => {
  if (text) tmux("send-keys", "-t", SESSION, "-l", text);
  if (keys.length) tmux("send-keys", "-t", SESSION, ...keys);
};
/** The whole pane, scrollback included, wrapped lines joined. */
const screen = () =>
  tmux("capture-pane", "-p", "-J", "-S", "-", "-t", SESSION)
    .stdout.split("\n")
    .map((l) => l.trimEnd())
    .join("\n")
    .replace(/\n+$/, "");
const lastLine = () => screen().split("\n").pop() ?? "";

async function waitFor(what: string, predicate: (screen: string) => boolean, timeoutMs = 15_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = screen();
    if (predicate(s)) return s;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; the pane shows:\n${s}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
const waitForLastLine = (line: string) => waitFor(`last line ${JSON.stringify(line)}`, () => lastLine() === line);
const count = (s: string, re: RegExp) => (s.match(new RegExp(re.source, "gm")) ?? []).length;

beforeAll(async () => {
  requireOrbctl();
  if (spawnSync("tmux", ["-V"]).status !== 0) throw new Error("tmux is missing: scripts/install-deps.sh installs it");
  home = orbctlHome();
  const d = await startDaemon();
  daemons.push(d);
  await d.client(UserService).createUser({ user: { name: "alice", uid: 2701, role: "operator" } });
  await d.client(SystemService).updateSettings({ settings: { hostname: "edge1" }, updateMask: { paths: ["hostname"] } });
  const env = Object.entries({ ...home.env, ORBITAL_SOCKET: d.socketPath, PATH: process.env.PATH ?? "", NO_COLOR: "" }).map(([k, v]) => `${k}=${v}`);
  const started = tmux("new-session", "-d", "-s", SESSION, "-x", "80", "-y", "24", "env", ...env, process.execPath, ORBCTL, "shell");
  if (started.status !== 0) throw new Error(`tmux new-session failed: ${started.stderr}`);
  await waitForLastLine("edge1>");
});

afterAll(async () => {
  tmux("kill-session", "-t", SESSION);
  tmux("kill-session", "-t", DUMB);
  // The private server exits with its last session; its socket file stays behind.
  rmSync(path.join(`/tmp/tmux-${process.getuid!()}`, SERVER), { force: true });
  for (const d of daemons.reverse()) await d.cleanup();
  home?.remove();
});

describe("orbctl shell in a terminal", () => {
  it("completes a noun and a live user name with Tab", async () => {
    type("us", "Tab");
    await waitForLastLine("edge1> user");
    type("show al", "Tab");
    await waitForLastLine("edge1> user show alice");
    type("", "Enter");
    await waitFor("the user shown", (s) => /^name:\s+alice\nuid:\s+2701\nrole:\s+operator$/m.test(s));
    await waitForLastLine("edge1>");
  });

  it("shows [candidate] for an open transaction and * once it holds a change", async () => {
    type("config begin", "Enter");
    await waitForLastLine("edge1[candidate]>");
    type("user add bob --role viewer", "Enter");
    await waitFor("the staged change", (s) => /^user bob created: staged in transaction \S+$/m.test(s));
    await waitForLastLine("edge1[candidate]*>");
    type("config discard", "Enter");
    await waitForLastLine("edge1>");
  });

  it("recalls the previous command with Up and keeps it in the history file", async () => {
    type("whoami", "Enter");
    await waitFor("whoami output", (s) => /^auth:\s+peer-credentials$/m.test(s));
    await waitForLastLine("edge1>");
    type("", "Up");
    await waitForLastLine("edge1> whoami");
    type("", "C-u");
    await waitForLastLine("edge1>");
    const history = readFileSync(path.join(home.env.XDG_STATE_HOME!, "orbctl", "history"), "utf8").trimEnd().split("\n");
    expect(history.slice(-2)).toEqual(["config discard", "whoami"]);
  });

  it("prints a failing command's error and goes on", async () => {
    type("user show nobody", "Enter");
    // On a terminal the trace id goes on a line of its own, so that the error fits 80 columns.
    await waitFor("the error", (s) => /^error: user "nobody" does not exist \[NOT_FOUND\]\n {2}trace=[0-9a-f]{32}$/m.test(s));
    await waitForLastLine("edge1>");
    type("role show viewer", "Enter");
    await waitFor("the role", (s) => /^name:\s+viewer\nbuilt-in:\s+yes$/m.test(s));
    await waitForLastLine("edge1>");
  });

  it("follows a watch until Ctrl-C, then prompts again", async () => {
    type("watch commits", "Enter");
    await new Promise((r) => setTimeout(r, 500));
    const config = daemons[0]!.client(UserService);
    // Commit until the watch shows one (it may take a moment to subscribe).
    for (let i = 0; !/^\d\d:\d\d:\d\d {2}committed {2}revision \d+ by root$/m.test(screen()); i++) {
      if (i > 40) throw new Error(`no commit event shown:\n${screen()}`);
      await config.createRole({ role: { name: `watched-${i}`, capabilities: [] } });
      await new Promise((r) => setTimeout(r, 250));
    }
    type("", "C-c");
    await waitForLastLine("edge1>");
  });

  it("keeps every line within 80 columns", () => {
    for (const line of screen().split("\n")) expect(line.length, line).toBeLessThanOrEqual(80);
  });

  it("runs commands after the daemon restarts underneath it", async () => {
    const first = daemons[0]!;
    const before = count(screen(), /^version:\s+\d/);
    await first.stop();
    daemons.push(await startDaemon({ socketPath: first.socketPath, dataDir: first.dataDir }));
    type("system version", "Enter");
    await waitFor("the version from the new daemon", (s) => count(s, /^version:\s+\d/) === before + 1);
    await waitForLastLine("edge1>");

    // A command typed while the daemon is down waits for it (within the deadline) and then succeeds.
    const users = count(screen(), /^alice\s+2701\s+operator/);
    await daemons[daemons.length - 1]!.stop();
    type("user list", "Enter");
    await new Promise((r) => setTimeout(r, 1000));
    daemons.push(await startDaemon({ socketPath: first.socketPath, dataDir: first.dataDir }));
    await waitFor("the user list from the restarted daemon", (s) => count(s, /^alice\s+2701\s+operator/) === users + 1);
    await waitForLastLine("edge1>");
  });

  it("prints no escape sequences at all with TERM=dumb, and still works", async () => {
    const d = daemons[daemons.length - 1]!;
    const raw = path.join(home.dir, "dumb.raw");
    const env = Object.entries({ ...home.env, ORBITAL_SOCKET: d.socketPath, PATH: process.env.PATH ?? "", TERM: "dumb" }).map(([k, v]) => `${k}=${v}`);
    expect(tmux("new-session", "-d", "-s", DUMB, "-x", "80", "-y", "24", "env", ...env, process.execPath, ORBCTL, "shell").status).toBe(0);
    tmux("pipe-pane", "-o", "-t", DUMB, `cat >> ${raw}`);
    const dumbScreen = () => tmux("capture-pane", "-p", "-t", DUMB).stdout;
    const until = async (re: RegExp) => {
      const deadline = Date.now() + 15_000;
      while (!re.test(dumbScreen())) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${re}:\n${dumbScreen()}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    await until(/^edge1> *$/m);
    tmux("send-keys", "-t", DUMB, "-l", "whoami");
    tmux("send-keys", "-t", DUMB, "Enter");
    await until(/^role:\s+admin$/m);
    await until(/^role:\s+admin\n[\s\S]*^edge1> *\s*$/m);
    tmux("kill-session", "-t", DUMB);
    expect(readFileSync(raw, "latin1")).not.toMatch(/\x1b/);
  });

  it("leaves on Ctrl-D", async () => {
    type("", "C-d");
    const deadline = Date.now() + 10_000;
    while (tmux("has-session", "-t", SESSION).status === 0) {
      if (Date.now() > deadline) throw new Error(`the shell did not exit:\n${screen()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  });
});
