// Handlers of `orbctl role ...`: roles as named sets of capabilities.
import { UserService, type Role } from "../../gen/orbital/user/v1/user_pb.js";
import type { Invocation } from "../argv-parser.js";
import type { Handler } from "../command-context.js";
import { allPages, changed, maskOf, PAGE, yesNo } from "./render-helpers.js";

const M = UserService.method;

/** --capability values, repeated and/or comma-separated. */
function capabilities(inv: Invocation): string[] {
  return inv.list("capability").flatMap((c) => c.split(",").map((x) => x.trim()).filter((x) => x !== ""));
}

function roleFields(r: Role | undefined): [string, string][] {
  if (!r) return [];
  return [
    ["name", r.name],
    ["built-in", yesNo(r.builtin)],
    ["description", r.description],
    ["capabilities", r.capabilities.join(", ")],
  ];
}

export function addRequest(inv: Invocation, transactionId: string) {
  return { role: { name: inv.arg("NAME")!, capabilities: capabilities(inv), description: inv.str("description") ?? "" }, transactionId };
}

export function setRequest(inv: Invocation, transactionId: string) {
  const paths = maskOf([inv.has("capability") && "capabilities", inv.has("description") && "description"]);
  return {
    role: { name: inv.arg("NAME")!, capabilities: capabilities(inv), description: inv.str("description") ?? "" },
    updateMask: { paths },
    transactionId,
  };
}

export const handlers: Record<string, Handler> = {
  async list(ctx) {
    const users = ctx.client(UserService);
    const res = await allPages((token) => users.listRoles({ page: PAGE(token) }, ctx.call), (r) => r.roles);
    ctx.out.response(M.listRoles.output, res, () =>
      ctx.out.table(
        ["name", "kind", "caps", "description"],
        res.roles.map((r) => [r.name, r.builtin ? "built-in" : "custom", String(r.capabilities.length), r.description]),
      ),
    );
  },

  async show(ctx, inv) {
    const res = await ctx.client(UserService).getRole({ name: inv.arg("NAME")! }, ctx.call);
    ctx.out.response(M.getRole.output, res, () => ctx.out.fields(roleFields(res.role)));
  },

  async add(ctx, inv) {
    const req = addRequest(inv, ctx.tx.forChange());
    const res = await ctx.client(UserService).createRole(req, ctx.call);
    ctx.out.response(M.createRole.output, res, () => changed(ctx, `role ${req.role.name} created`, res.revision, req.transactionId));
  },

  async set(ctx, inv) {
    const req = setRequest(inv, ctx.tx.forChange());
    const res = await ctx.client(UserService).updateRole(req, ctx.call);
    ctx.out.response(M.updateRole.output, res, () => changed(ctx, `role ${req.role.name} changed`, res.revision, req.transactionId));
  },

  async delete(ctx, inv) {
    const transactionId = ctx.tx.forChange();
    const name = inv.arg("NAME")!;
    const res = await ctx.client(UserService).deleteRole({ name, transactionId }, ctx.call);
    ctx.out.response(M.deleteRole.output, res, () => changed(ctx, `role ${name} deleted`, res.revision, transactionId));
  },
};
