// Handlers of `orbctl user ...` and `orbctl whoami`: users of the API and who the caller is.
import { AuthMethodSchema, UserService, type User } from "../../gen/orbital/user/v1/user_pb.js";
import type { Invocation } from "../argv-parser.js";
import { UsageError } from "../cli-error.js";
import type { CommandContext, Handler } from "../command-context.js";
import { allPages, changed, label, maskOf, PAGE, time, yesNo } from "./render-helpers.js";

const M = UserService.method;

function userFields(u: User | undefined): [string, string][] {
  if (!u) return [];
  return [
    ["name", u.name],
    ["uid", u.uid === undefined ? "-" : String(u.uid)],
    ["role", u.role],
    ["description", u.description],
    ["created", time(u.createTime)],
    ["built-in", yesNo(u.builtin)],
  ];
}

/** The CreateUser request of `user add`. */
export function addRequest(inv: Invocation, transactionId: string) {
  const role = inv.str("role");
  if (!role) throw new UsageError("--role is required", "orbctl user add NAME --role ROLE [--uid UID] [--description TEXT]");
  const uid = inv.int("uid");
  return {
    user: { name: inv.arg("NAME")!, role, ...(uid !== undefined ? { uid } : {}), description: inv.str("description") ?? "" },
    transactionId,
  };
}

/** The UpdateUser request of `user set`: only the fields given, named in update_mask. */
export function setRequest(inv: Invocation, transactionId: string) {
  if (inv.has("uid") && inv.bool("no-uid")) throw new UsageError("--uid and --no-uid exclude each other");
  const uid = inv.int("uid");
  const paths = maskOf([inv.has("role") && "role", (inv.has("uid") || inv.bool("no-uid")) && "uid", inv.has("description") && "description"]);
  return {
    user: { name: inv.arg("NAME")!, role: inv.str("role") ?? "", ...(uid !== undefined ? { uid } : {}), description: inv.str("description") ?? "" },
    updateMask: { paths },
    transactionId,
  };
}

export const handlers: Record<string, Handler> = {
  async whoami(ctx: CommandContext) {
    const me = await ctx.client(UserService).whoAmI({}, ctx.call);
    ctx.out.response(M.whoAmI.output, me, () =>
      ctx.out.fields([
        ["user", me.user],
        ["role", me.role],
        ["auth", label(AuthMethodSchema, me.authMethod)],
        ...(me.uid !== undefined ? [["uid", String(me.uid)] as [string, string]] : []),
        ...(me.pid !== undefined ? [["pid", String(me.pid)] as [string, string]] : []),
        ...(me.tokenId ? [["token", me.tokenId] as [string, string]] : []),
        ["capabilities", me.capabilities.join(", ")],
      ]),
    );
  },

  async list(ctx) {
    const users = ctx.client(UserService);
    const res = await allPages((token) => users.listUsers({ page: PAGE(token) }, ctx.call), (r) => r.users);
    ctx.out.response(M.listUsers.output, res, () =>
      ctx.out.table(
        ["name", "uid", "role", "description"],
        res.users.map((u) => [u.name, u.uid === undefined ? "-" : String(u.uid), u.role, u.builtin && !u.description ? "(built-in)" : u.description]),
      ),
    );
  },

  async show(ctx, inv) {
    const res = await ctx.client(UserService).getUser({ name: inv.arg("NAME")! }, ctx.call);
    ctx.out.response(M.getUser.output, res, () => ctx.out.fields(userFields(res.user)));
  },

  async add(ctx, inv) {
    const req = addRequest(inv, ctx.tx.forChange());
    const res = await ctx.client(UserService).createUser(req, ctx.call);
    ctx.out.response(M.createUser.output, res, () => changed(ctx, `user ${req.user.name} created`, res.revision, req.transactionId));
  },

  async set(ctx, inv) {
    const req = setRequest(inv, ctx.tx.forChange());
    const res = await ctx.client(UserService).updateUser(req, ctx.call);
    ctx.out.response(M.updateUser.output, res, () => changed(ctx, `user ${req.user.name} changed`, res.revision, req.transactionId));
  },

  async delete(ctx, inv) {
    const transactionId = ctx.tx.forChange();
    const name = inv.arg("NAME")!;
    const res = await ctx.client(UserService).deleteUser({ name, transactionId }, ctx.call);
    ctx.out.response(M.deleteUser.output, res, () => changed(ctx, `user ${name} deleted`, res.revision, transactionId));
  },
};
