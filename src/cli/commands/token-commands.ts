// Handlers of `orbctl token ...`: API tokens for the REST API (the secret is printed once, at creation).
import { timestampFromMs, timestampMs } from "@bufbuild/protobuf/wkt";
import { UserService, type ApiToken } from "../../gen/orbital/user/v1/user_pb.js";
import type { Invocation } from "../argv-parser.js";
import type { Handler } from "../command-context.js";
import { allPages, PAGE, time } from "./render-helpers.js";

const M = UserService.method;

function state(t: ApiToken, now: number): string {
  if (t.revokeTime) return "revoked";
  if (t.expireTime && timestampMs(t.expireTime) <= now) return "expired";
  return "valid";
}

export function createRequest(inv: Invocation, now = Date.now()) {
  const ms = inv.int("expires");
  return {
    token: {
      user: inv.arg("USER")!,
      description: inv.str("description") ?? "",
      ...(ms !== undefined ? { expireTime: timestampFromMs(now + ms) } : {}),
    },
  };
}

export const handlers: Record<string, Handler> = {
  async list(ctx, inv) {
    const users = ctx.client(UserService);
    const user = inv.str("user") ?? "";
    const res = await allPages((token) => users.listApiTokens({ page: PAGE(token), user }, ctx.call), (r) => r.tokens);
    const now = Date.now();
    ctx.out.response(M.listApiTokens.output, res, () =>
      ctx.out.table(
        ["id", "user", "state", "expires", "description"],
        res.tokens.map((t) => [t.id, t.user, state(t, now), t.expireTime ? time(t.expireTime) : "never", t.description]),
      ),
    );
  },

  async create(ctx, inv) {
    const res = await ctx.client(UserService).createApiToken(createRequest(inv), ctx.call);
    ctx.out.response(M.createApiToken.output, res, () => {
      ctx.out.fields([
        ["id", res.token?.id ?? ""],
        ["user", res.token?.user ?? ""],
        ["expires", res.token?.expireTime ? time(res.token.expireTime) : "never"],
        ["secret", res.secret],
      ]);
      ctx.out.line("The secret is shown only now; send it as \"Authorization: Bearer <secret>\".");
    });
  },

  async revoke(ctx, inv) {
    const res = await ctx.client(UserService).revokeApiToken({ id: inv.arg("ID")! }, ctx.call);
    ctx.out.response(M.revokeApiToken.output, res, () => ctx.out.line(`token ${res.token?.id ?? inv.arg("ID")} revoked at ${time(res.token?.revokeTime)}`));
  },
};
