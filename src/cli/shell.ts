// `orbctl shell`: runs command lines read with node:readline over ONE persistent session, with Tab
// completion, history, a prompt showing the open transaction, Ctrl-C, and exit/Ctrl-D; errors do not end it.
import { readdirSync } from "node:fs";
import readline from "node:readline";
import { commandTable } from "./command-table.js";
import type { CompletionSource } from "./command-types.js";
import { complete } from "./completion-engine.js";
import { runCommandLine } from "./dispatch.js";
import { ExitCode } from "./exit-codes.js";
import { reportFor } from "./error-report.js";
import { NameCache } from "./live-names.js";
import type { Session } from "./session.js";
import { ShellHistory } from "./shell-history.js";
import { ShellPrompt } from "./shell-prompt.js";
import { splitWords } from "./shell-words.js";
import { historyFile } from "./state-paths.js";
import { styleFor, terminalInfo } from "./terminal.js";
import { TransactionState } from "./transaction-state.js";

export interface ShellOptions {
  session: Session;
  env: NodeJS.ProcessEnv;
  stdin: NodeJS.ReadStream;
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
  /** Global flags given to `orbctl shell` (e.g. -o json), put before every line's own words. */
  defaults: string[];
}

/** File names for completion: entries of the typed directory that start with the typed name. */
function fileNames(current: string): string[] {
  const dir = current.includes("/") ? current.slice(0, current.lastIndexOf("/") + 1) : "";
  try {
    return readdirSync(dir || ".", { withFileTypes: true }).map((e) => `${dir}${e.name}${e.isDirectory() ? "/" : ""}`);
  } catch {
    return [];
  }
}

/** Words of a line for completion: the complete words before the cursor and the one being typed. */
function completionWords(line: string): { words: string[]; current: string } {
  let words: string[];
  try {
    words = splitWords(line);
  } catch {
    words = line.split(/\s+/).filter((w) => w !== "");
  }
  if (line === "" || /\s$/.test(line)) return { words, current: "" };
  return { words: words.slice(0, -1), current: words[words.length - 1] ?? "" };
}

export async function runShell(opts: ShellOptions): Promise<number> {
  const { session, env, stdin, stdout, stderr } = opts;
  const interactive = stdin.isTTY === true && stdout.isTTY === true;
  const term = terminalInfo(stdout, env);
  // Line editing (Tab, arrows) redraws the line with escape sequences: not with TERM=dumb or NO_COLOR, where
  // the shell reads plain lines (ORBCTL_LINE_EDITING=1 asks for editing anyway).
  const lineEditing = interactive && (term.fancy || env.ORBCTL_LINE_EDITING === "1");
  const prompt = new ShellPrompt(session, new TransactionState(session.socketPath, env, false), styleFor(term));
  const names = new NameCache((s) => session.client(s));
  const history = new ShellHistory(historyFile(env));

  const lookup = (source: CompletionSource, current: string) => (source === "files" ? Promise.resolve(fileNames(current)) : names.get(source));
  const completer = (line: string, callback: (err: null, result: [string[], string]) => void) => {
    const { words, current } = completionWords(line);
    const first = words[0] === "orbctl" ? 1 : 0;
    complete(commandTable, words.slice(first), current, lookup).then(
      (hits) => callback(null, [hits.length === 1 && !hits[0]!.endsWith("/") ? [`${hits[0]} `] : hits, current]),
      () => callback(null, [[], current]),
    );
  };

  const rl = readline.createInterface({
    input: stdin,
    output: stdout,
    terminal: lineEditing,
    historySize: lineEditing ? 1000 : 0,
    removeHistoryDuplicates: true,
    ...(lineEditing ? { completer, history: history.load() } : {}),
  });

  // Take lines from now on: piped input may arrive (and end) while the prompt is still being prepared.
  const lines = rl[Symbol.asyncIterator]();

  let running: AbortController | undefined;
  // Without line editing, Ctrl-C is a signal to the process (the terminal drops the line typed).
  const onSignal = () => {
    if (running) running.abort();
    else if (interactive) {
      stdout.write("\n");
      rl.prompt();
    }
  };
  if (!lineEditing) process.on("SIGINT", onSignal);
  rl.on("SIGINT", () => {
    if (running) {
      running.abort();
      return;
    }
    // At the prompt, Ctrl-C drops the line typed so far.
    rl.write(null, { ctrl: true, name: "e" });
    rl.write(null, { ctrl: true, name: "u" });
    stdout.write("^C\n");
    rl.prompt();
  });

  const showPrompt = async () => {
    if (!interactive) return;
    rl.setPrompt(await prompt.text());
    rl.prompt();
  };

  await prompt.refreshHost();
  if (interactive) stdout.write(`orbctl shell: ${lineEditing ? "Tab completes, " : ""}\`help\` lists commands, \`exit\` or Ctrl-D leaves.\n`);
  await showPrompt();

  let status: number = ExitCode.OK;
  for await (const raw of { [Symbol.asyncIterator]: () => lines }) {
    const line = raw.trim();
    let words: string[] = [];
    try {
      words = splitWords(line);
    } catch (err) {
      stderr.write(`${reportFor(err).lines.join("\n")}\n`);
      status = ExitCode.USAGE;
    }
    if (words[0] === "orbctl") words = words.slice(1);
    if (words.length === 0) {
      await showPrompt();
      continue;
    }
    if (words[0] === "exit" || words[0] === "quit") break;
    if (interactive) history.append(line);
    if (words[0] === "shell") {
      stderr.write("error: already in the shell [USAGE]\n");
      status = ExitCode.USAGE;
      await showPrompt();
      continue;
    }
    running = new AbortController();
    status = await runCommandLine([...opts.defaults, ...words], {
      env,
      stdout,
      stderr,
      stdin,
      session,
      signal: running.signal,
      ...(interactive ? { errorWidth: term.width } : {}),
    });
    running = undefined;
    // A call that found no daemon leaves the connection behind: start the next command on a fresh one.
    if (status === ExitCode.UNAVAILABLE) session.reset();
    names.clear();
    if (words[0] === "system") await prompt.refreshHost();
    await showPrompt();
  }
  rl.close();
  process.off("SIGINT", onSignal);
  if (interactive) stdout.write("\n");
  return status;
}
