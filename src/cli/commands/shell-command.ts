// Handler of `orbctl shell`: opens the one session the shell keeps for its lifetime and runs the loop.
import type { Invocation } from "../argv-parser.js";
import type { Handler } from "../command-context.js";
import { Session, socketPathFrom } from "../session.js";
import { runShell } from "../shell.js";

/** The global flags given to `orbctl shell` that every line inherits. */
function defaults(inv: Invocation): string[] {
  const g = inv.global;
  return [...(g.output !== "table" ? ["-o", g.output] : []), ...(g.deadlineMs !== undefined ? ["--deadline", `${g.deadlineMs}ms`] : []), ...(g.noTransaction ? ["--no-transaction"] : [])];
}

export const handlers: Record<string, Handler> = {
  async shell(ctx, inv) {
    const session = new Session(socketPathFrom(inv.global.socket, ctx.env), inv.global.deadlineMs);
    try {
      return await runShell({ session, env: ctx.env, stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, defaults: defaults(inv) });
    } finally {
      session.close();
    }
  },
};
