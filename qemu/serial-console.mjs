// A serial-console driver for tests and benchmarks: starts a board's QEMU (qemu/run.sh --board <board>, which
// puts the guest's console on its stdin/stdout), waits for text matching a pattern with a timeout, types
// lines, logs in, runs shell commands, and timestamps what it saw (ms since QEMU started). It never builds
// anything (the script runs with --no-build) and stops QEMU by its pid. Plain ESM: node, vitest and bench.
import { spawn } from "node:child_process";
import { createWriteStream } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const repoRoot = path.dirname(path.dirname(fileURLToPath(import.meta.url)));

// Terminal control sequences (line editing, colours, cursor queries) and carriage returns, removed before
// matching: what is left is the text a person would read.
// eslint-disable-next-line no-control-regex
const CONTROL = /\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[()][0-9A-B]|\x1b[=>78cDEHM]|\r|\x07/g;
export const plainText = (s) => s.replace(CONTROL, "");

/** What the image shows on its console (overlay/: getty, rcS, orbital-admin, the factory passwords). */
export const guest = {
  loginPrompt: /login: /,
  /** Printed by /etc/init.d/orbital-admin once orbitald answers and the admin user is mapped. */
  apiReady: /orbital: API ready \(uptime ([\d.]+) s\)/,
  /** root's BusyBox ash (PS1 '\h:\w\$ '). */
  rootPrompt: /# $/,
  /** admin's login shell, orbctl shell: "<hostname>> ", "[candidate]" and "*" while a transaction is open. */
  orbctlPrompt: /[\w.-]+(\[candidate\]\*?)?> $/,
  /** The factory password of root and admin (docs/image.md: change it). */
  initialPassword: "orbital",
};

export class ConsoleTimeout extends Error {}

export class SerialConsole {
  /**
   * Starts QEMU through qemu/run.sh --board <board> --no-build with `args` (e.g. --snapshot, --image DIR).
   * `transcript`: a file that receives everything the console prints, as it arrives.
   */
  static start({ board = "x86_64", args = [], env = {}, transcript } = {}) {
    const script = path.join(repoRoot, "qemu", "run.sh");
    const child = spawn("bash", [script, "--board", board, "--no-build", ...args], {
      cwd: repoRoot,
      stdio: ["pipe", "pipe", "pipe"],
      env: { ...process.env, ...env },
    });
    return new SerialConsole(child, transcript ? createWriteStream(transcript) : undefined);
  }

  constructor(child, transcriptStream) {
    this.child = child;
    this.t0 = performance.now();
    this.raw = "";
    this.text = "";
    this.cursor = 0; // expect() searches this.text from here on
    this.stderr = "";
    this.exit = new Promise((resolve) => child.once("exit", (code, signal) => resolve(code ?? signal)));
    this.exitCode = undefined;
    this.exit.then((c) => (this.exitCode = c));
    this.waiters = new Set();
    this.transcript = transcriptStream;
    child.stdout.setEncoding("utf8").on("data", (d) => {
      this.raw += d;
      this.text = plainText(this.raw);
      this.transcript?.write(d);
      for (const w of this.waiters) w();
    });
    child.stderr.setEncoding("utf8").on("data", (d) => (this.stderr += d));
    child.stdin.on("error", () => {}); // QEMU gone: the next expect() reports it
    this.exit.then(() => {
      for (const w of this.waiters) w();
    });
  }

  /** Milliseconds since QEMU was started. */
  now() {
    return performance.now() - this.t0;
  }

  /**
   * Waits until the text after the cursor matches `pattern`, moves the cursor past the match and returns
   * { match, before (text between the old cursor and the match), at (ms since start) }.
   */
  expect(pattern, { timeoutMs = 60_000, what } = {}) {
    const re = pattern instanceof RegExp ? pattern : new RegExp(pattern.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
    return this.#waitFor(() => {
      const rest = this.text.slice(this.cursor);
      const m = re.exec(rest);
      if (!m) return undefined;
      this.cursor += m.index + m[0].length;
      return { match: m, before: rest.slice(0, m.index), at: this.now() };
    }, timeoutMs, what ?? re);
  }

  /**
   * Waits until the text printed since offset `from` (default: since start; the cursor does not matter)
   * matches `pattern`; returns the ms since start at which it first did. For marks that may show in any
   * order (login prompt, API ready). `mark()` gives the offset of "from now on".
   */
  seen(pattern, { timeoutMs = 60_000, what, from = 0 } = {}) {
    return this.#waitFor(() => (pattern.test(this.text.slice(from)) ? this.now() : undefined), timeoutMs, what ?? pattern);
  }

  /**
   * Resolves with the first result of `probe` other than undefined, tried now and on every new console
   * output; rejects when QEMU exits first or after `timeoutMs`, showing the console's tail.
   */
  #waitFor(probe, timeoutMs, what) {
    return new Promise((resolve, reject) => {
      const check = () => {
        const result = probe();
        if (result !== undefined) {
          done();
          resolve(result);
        } else if (this.exitCode !== undefined) {
          done();
          reject(new ConsoleTimeout(`QEMU exited (${this.exitCode}) while waiting for ${what}\n${this.tail()}${this.stderr}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new ConsoleTimeout(`timed out after ${timeoutMs} ms waiting for ${what}; the console shows:\n${this.tail()}`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      this.waiters.add(check);
      check();
    });
  }

  /** The offset of the end of what was printed so far, for seen({ from }). */
  mark() {
    return this.text.length;
  }

  /** Moves the cursor to the end of what was printed so far. */
  skip() {
    this.cursor = this.text.length;
  }

  /** The last lines of the console, for error messages. */
  tail(lines = 40) {
    return this.text.split("\n").slice(-lines).join("\n");
  }

  /** Types `text` as is. */
  send(text) {
    this.child.stdin.write(text);
  }

  /** Types a line and Enter (a carriage return, as a terminal sends it). */
  sendLine(line) {
    this.send(`${line}\r`);
  }

  /**
   * Logs in at the getty's prompt, which must be showing (see seen() and expect()), and waits for the
   * shell's prompt.
   */
  async login(user, password, prompt) {
    this.skip();
    this.sendLine(user);
    await this.expect(/Password: /, { timeoutMs: 30_000, what: "the password prompt" });
    this.sendLine(password);
    return this.expect(prompt, { timeoutMs: 60_000, what: `${user}'s prompt` });
  }

  /**
   * Runs a line at a prompt and returns what it printed (the echoed line itself removed) once `prompt`
   * shows again.
   */
  async command(line, prompt, { timeoutMs = 60_000 } = {}) {
    this.sendLine(line);
    const { before } = await this.expect(prompt, { timeoutMs, what: `the prompt after "${line}"` });
    const out = before.replace(/^\n+/, "");
    const echoed = out.indexOf(line);
    return (echoed >= 0 && echoed < 200 ? out.slice(echoed + line.length) : out).replace(/^\n/, "").trimEnd();
  }

  /**
   * Runs a command in a POSIX shell (root's ash) and returns { out, status }: the output is framed by marks
   * the shell prints (and the typed line does not contain), so echo and prompts never mix into it.
   */
  async sh(line, { timeoutMs = 60_000 } = {}) {
    this.seq = (this.seq ?? 0) + 1;
    const n = this.seq;
    // The empty echo ends output that has no newline of its own; trimEnd drops it again.
    this.sendLine(`echo "@@B""EGIN${n}@@"; ${line}; __st=$?; echo; echo "@@E""ND${n}:$__st@@"`);
    await this.expect(new RegExp(`^@@BEGIN${n}@@\\n`, "m"), { timeoutMs, what: `the output of "${line}"` });
    const { before, match } = await this.expect(new RegExp(`^@@END${n}:(\\d+)@@\\n`, "m"), { timeoutMs, what: `the end of "${line}"` });
    return { out: before.trimEnd(), status: Number(match[1]) };
  }

  /** Waits for QEMU to exit by itself (the guest powered off); returns its exit status. */
  async waitExit(timeoutMs = 60_000) {
    let timer;
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new ConsoleTimeout(`QEMU did not exit within ${timeoutMs} ms:\n${this.tail()}`)), timeoutMs);
    });
    try {
      return await Promise.race([this.exit, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Stops QEMU (SIGKILL by pid) if it still runs; waits for it to go. */
  async kill() {
    if (this.exitCode === undefined && this.child.pid) {
      try {
        process.kill(this.child.pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    await this.exit;
    this.transcript?.end();
  }
}
