// Handlers of `orbctl completion bash` (the script generated from the command table) and the hidden
// `orbctl __complete SOURCE`, which the script calls for names only the daemon knows.
import { UsageError } from "../cli-error.js";
import { bashCompletionScript } from "../bash-completion.js";
import type { CompletionSource } from "../command-types.js";
import type { Handler } from "../command-context.js";
import { fetchNames } from "../live-names.js";

const SOURCES: readonly CompletionSource[] = ["users", "roles", "tokens", "interfaces", "revisions", "rules", "prefix-sets", "capabilities", "methods"];

export const handlers: Record<string, Handler> = {
  async bash(ctx) {
    ctx.out.text(bashCompletionScript());
  },

  async names(ctx, inv) {
    const source = inv.arg("SOURCE") as CompletionSource;
    if (!SOURCES.includes(source)) throw new UsageError(`unknown name source "${source}": one of ${SOURCES.join(", ")}`);
    const names = await fetchNames((s) => ctx.client(s), source, { deadlineMs: ctx.call.deadlineMs ?? 2000 });
    if (names.length) ctx.out.lines(names);
  },
};
