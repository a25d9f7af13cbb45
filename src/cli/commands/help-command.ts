// Handler of `orbctl help [COMMAND...|TOPIC]`: help rendered from the command table, or a help topic.
import { UsageError } from "../cli-error.js";
import type { Handler } from "../command-context.js";
import { helpFor } from "../help-text.js";

export const handlers: Record<string, Handler> = {
  async help(ctx, inv) {
    const words = inv.args("COMMAND");
    const text = helpFor(words, ctx.out.width);
    if (text === undefined) throw new UsageError(`no command or help topic "${words.join(" ")}"`, "orbctl help [COMMAND...|exit-codes]");
    ctx.out.text(text);
  },
};
