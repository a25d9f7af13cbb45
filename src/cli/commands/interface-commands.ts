// Handlers of `orbctl interface ...`: configured and kernel state of interfaces, VLAN subinterfaces.
import {
  AdminState,
  AdminStateSchema,
  InterfaceKind,
  InterfaceKindSchema,
  InterfaceService,
  OperStateSchema,
  type Interface,
} from "../../gen/orbital/interface/v1/interface_pb.js";
import { FastPathModeSchema } from "../../gen/orbital/firewall/v1/firewall_pb.js";
import type { Invocation } from "../argv-parser.js";
import { UsageError } from "../cli-error.js";
import type { Handler } from "../command-context.js";
import { allPages, bytes, changed, enumFromLabel, label, maskOf, PAGE, yesNo } from "./render-helpers.js";

const M = InterfaceService.method;

function addresses(inv: Invocation) {
  return inv.list("address").map((cidr) => ({ cidr }));
}

function ifaceFields(i: Interface | undefined): [string, string][] {
  if (!i) return [];
  const c = i.counters;
  return [
    ["name", i.name],
    ["kind", label(InterfaceKindSchema, i.kind)],
    ...(i.vlan ? [["vlan", `${i.vlan.vlanId} on ${i.vlan.parent}`] as [string, string]] : []),
    ["admin state", label(AdminStateSchema, i.adminState)],
    ["oper state", label(OperStateSchema, i.operState)],
    ["mtu", `${i.mtu || "default"} (kernel ${i.kernelMtu || "-"})`],
    ["mac", i.macAddress || "-"],
    ["ifindex", String(i.ifIndex)],
    ["description", i.description],
    ["addresses", i.addresses.map((a) => a.cidr).join(", ") || "-"],
    ["kernel addresses", i.kernelAddresses.map((a) => a.cidr).join(", ") || "-"],
    ["configured", yesNo(i.configured)],
    ...(i.fastPathMode ? [["xdp fast path", label(FastPathModeSchema, i.fastPathMode)] as [string, string]] : []),
    ...(c
      ? [
          ["rx", `${bytes(c.rxBytes)}, ${c.rxPackets} packets, ${c.rxErrors} errors, ${c.rxDropped} dropped`] as [string, string],
          ["tx", `${bytes(c.txBytes)}, ${c.txPackets} packets, ${c.txErrors} errors, ${c.txDropped} dropped`] as [string, string],
        ]
      : []),
  ];
}

/** The UpdateInterface request of `interface set`: the fields given, named in update_mask. */
export function setRequest(inv: Invocation, transactionId: string) {
  if (inv.bool("up") && inv.bool("down")) throw new UsageError("--up and --down exclude each other");
  if (inv.has("address") && inv.bool("no-address")) throw new UsageError("--address and --no-address exclude each other");
  const paths = maskOf([
    (inv.bool("up") || inv.bool("down")) && "admin_state",
    inv.has("mtu") && "mtu",
    inv.has("description") && "description",
    (inv.has("address") || inv.bool("no-address")) && "addresses",
  ]);
  return {
    interface: {
      name: inv.arg("NAME")!,
      adminState: inv.bool("up") ? AdminState.UP : inv.bool("down") ? AdminState.DOWN : AdminState.UNSPECIFIED,
      mtu: inv.int("mtu") ?? 0,
      description: inv.str("description") ?? "",
      addresses: addresses(inv),
    },
    updateMask: { paths },
    transactionId,
  };
}

/** The CreateInterface request of `interface create-vlan`. */
export function createVlanRequest(inv: Invocation, transactionId: string) {
  const parent = inv.arg("PARENT")!;
  const vlanId = inv.argInt("VLANID")!;
  return {
    interface: {
      name: inv.str("name") ?? `${parent}.${vlanId}`,
      kind: InterfaceKind.VLAN,
      vlan: { parent, vlanId },
      mtu: inv.int("mtu") ?? 0,
      description: inv.str("description") ?? "",
      addresses: addresses(inv),
    },
    transactionId,
  };
}

export function listRequest(inv: Invocation, token: string) {
  const kind = inv.str("kind");
  return { page: PAGE(token), kind: kind ? enumFromLabel(InterfaceKindSchema, kind) : InterfaceKind.UNSPECIFIED };
}

export const handlers: Record<string, Handler> = {
  async list(ctx, inv) {
    const svc = ctx.client(InterfaceService);
    const res = await allPages((token) => svc.listInterfaces(listRequest(inv, token), ctx.call), (r) => r.interfaces);
    ctx.out.response(M.listInterfaces.output, res, () =>
      ctx.out.table(
        ["name", "kind", "admin", "oper", "mtu", "addresses"],
        res.interfaces.map((i) => [
          i.name,
          label(InterfaceKindSchema, i.kind),
          label(AdminStateSchema, i.adminState),
          label(OperStateSchema, i.operState),
          String(i.mtu || i.kernelMtu || "-"),
          (i.addresses.length ? i.addresses : i.kernelAddresses).map((a) => a.cidr).join(" ") || "-",
        ]),
      ),
    );
  },

  async show(ctx, inv) {
    const res = await ctx.client(InterfaceService).getInterface({ name: inv.arg("NAME")! }, ctx.call);
    ctx.out.response(M.getInterface.output, res, () => ctx.out.fields(ifaceFields(res.interface)));
  },

  async set(ctx, inv) {
    const req = setRequest(inv, ctx.tx.forChange());
    const res = await ctx.client(InterfaceService).updateInterface(req, ctx.call);
    ctx.out.response(M.updateInterface.output, res, () => changed(ctx, `interface ${req.interface.name} changed`, res.revision, req.transactionId));
  },

  async createVlan(ctx, inv) {
    const req = createVlanRequest(inv, ctx.tx.forChange());
    const res = await ctx.client(InterfaceService).createInterface(req, ctx.call);
    ctx.out.response(M.createInterface.output, res, () => changed(ctx, `interface ${req.interface.name} created`, res.revision, req.transactionId));
  },

  async delete(ctx, inv) {
    const transactionId = ctx.tx.forChange();
    const name = inv.arg("NAME")!;
    const res = await ctx.client(InterfaceService).deleteInterface({ name, transactionId }, ctx.call);
    ctx.out.response(M.deleteInterface.output, res, () => changed(ctx, `interface ${name} deleted`, res.revision, transactionId));
  },
};
