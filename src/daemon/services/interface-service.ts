// Interface service: the kernel's links merged with their configuration (admin state, MTU, description,
// addresses) and the XDP fast path's mode on them, VLAN subinterfaces, and a stream of kernel link events.
import { clone, create } from "@bufbuild/protobuf";
import { ErrorReason } from "../../gen/orbital/api/v1/error_reason_pb.js";
import { InterfaceAddressSchema } from "../../gen/orbital/api/v1/ip_pb.js";
import type { Configuration } from "../../gen/orbital/config/v1/configuration_pb.js";
import { FastPathMode } from "../../gen/orbital/firewall/v1/firewall_pb.js";
import {

  InterfaceCountersSchema,
  InterfaceEventType,
  InterfaceKind,
  VlanSchema,
  InterfaceSchema,
  OperState,
  type Interface,
  type InterfaceService,
} from "../../gen/orbital/interface/v1/interface_pb.js";
import { OrbitalError } from "../../common/errors.js";
import type { ConfigEngine } from "../config/config-engine.js";
import type { Dataplane } from "../dataplane/dataplane.js";
import type { AddressInfo, LinkInfo } from "../dataplane/netlink/rtnetlink-types.js";
import type { ServiceImpl } from "../rpc/service-impl.js";
import { applyFieldMask } from "../validation/field-mask.js";
import { validateInterface } from "../validation/network-rules.js";
import { paginate } from "../validation/pagination.js";
import { Violations } from "../validation/violations.js";
import { FAST_PATH_MODES } from "./xdp-fast-path-handlers.js";
import { alreadyExists, inUse, notFound } from "./resource-errors.js";

const operStates: Record<number, OperState> = { 1: OperState.NOT_PRESENT, 2: OperState.DOWN, 3: OperState.LOWER_LAYER_DOWN, 4: OperState.TESTING, 5: OperState.DORMANT, 6: OperState.UP };

function kindOf(link: LinkInfo): InterfaceKind {
  if (link.loopback) return InterfaceKind.LOOPBACK;
  if (link.kind === "vlan") return InterfaceKind.VLAN;
  if (link.kind === "" || link.kind === "veth") return InterfaceKind.ETHERNET;
  return InterfaceKind.OTHER;
}

/** The API view of one interface: configuration, overlaid with what the kernel reports. */
function view(name: string, config: Configuration, links: LinkInfo[], addresses: AddressInfo[], fastPath: ReadonlyMap<string, FastPathMode> = new Map()): Interface | undefined {
  const configured = config.interfaces.find((i) => i.name === name);
  const link = links.find((l) => l.name === name);
  if (!configured && !link) return undefined;
  const out = configured ? clone(InterfaceSchema, configured) : create(InterfaceSchema, { name });
  out.configured = !!configured;
  if (link) {
    if (!configured) out.kind = kindOf(link);
    out.ifIndex = link.ifindex;
    out.operState = operStates[link.operState] ?? OperState.UNSPECIFIED;
    out.macAddress = link.mac === "00:00:00:00:00:00" && link.loopback ? "" : link.mac;
    out.kernelMtu = link.mtu;
    out.kernelAddresses = addresses.filter((a) => a.ifindex === link.ifindex).map((a) => create(InterfaceAddressSchema, { cidr: `${a.address}/${a.prefixLength}` }));
    out.counters = create(InterfaceCountersSchema, link.stats);
    out.fastPathMode = fastPath.get(name) ?? FastPathMode.UNSPECIFIED;
    if (!configured && link.vlanId !== undefined) {
      const parent = links.find((l) => l.ifindex === link.parentIndex);
      out.vlan = create(VlanSchema, { parent: parent?.name ?? "", vlanId: link.vlanId });
    }
  } else {
    out.operState = OperState.NOT_PRESENT;
  }
  return out;
}

export function interfaceService(engine: ConfigEngine, dataplane: Dataplane): ServiceImpl<typeof InterfaceService> {
  const kernel = async () => {
    const [links, addresses] = await Promise.all([dataplane.links(), dataplane.addresses()]);
    return { links, addresses };
  };
  /** Interface name -> how the fast path runs there, for those with a fast-path list. */
  const fastPathModes = async () => new Map((await dataplane.fastPathStatus()).map((s) => [s.name, FAST_PATH_MODES[s.mode]]));
  const allViews = async (config: Configuration) => {
    const [{ links, addresses }, fastPath] = await Promise.all([kernel(), fastPathModes()]);
    const names = [...new Set([...links.map((l) => l.name), ...config.interfaces.map((i) => i.name)])].sort();
    return names.map((n) => view(n, config, links, addresses, fastPath)!);
  };

  return {
    async listInterfaces(req) {
      const all = (await allViews(engine.running)).filter((i) => req.kind === InterfaceKind.UNSPECIFIED || i.kind === req.kind);
      const { items, page } = paginate(all, req.page, `interfaces:${req.kind}`);
      return { interfaces: items, page };
    },

    async getInterface(req) {
      const [{ links, addresses }, fastPath] = await Promise.all([kernel(), fastPathModes()]);
      const i = view(req.name, engine.running, links, addresses, fastPath);
      if (!i) throw notFound("interface", req.name);
      return { interface: i };
    },

    async createInterface(req, ctx) {
      const i = clone(InterfaceSchema, req.interface ?? create(InterfaceSchema));
      if (i.kind !== InterfaceKind.VLAN) {
        throw new OrbitalError({ reason: ErrorReason.INTERFACE_NOT_VIRTUAL, message: "only VLAN interfaces can be created; set kind VLAN and vlan", metadata: { name: i.name } });
      }
      if (!i.name && i.vlan) i.name = `${i.vlan.parent}.${i.vlan.vlanId}`;
      const v = new Violations();
      validateInterface(v, i, "interface");
      v.throwIfAny();
      const { links } = await kernel();
      const { revision } = await engine.mutate(ctx, req.transactionId, (config) => {
        if (config.interfaces.some((x) => x.name === i.name) || links.some((l) => l.name === i.name)) throw alreadyExists("interface", i.name);
        const parent = i.vlan!.parent;
        if (!config.interfaces.some((x) => x.name === parent) && !links.some((l) => l.name === parent)) {
          throw new OrbitalError({ reason: ErrorReason.REFERENCE_MISSING, message: `parent interface "${parent}" does not exist`, metadata: { resourceType: "interface", name: i.name, referencedType: "interface", referencedName: parent } });
        }
        const twin = config.interfaces.find((x) => x.vlan?.parent === parent && x.vlan.vlanId === i.vlan!.vlanId);
        if (twin) throw alreadyExists("VLAN", `${parent}/${i.vlan!.vlanId}`);
        // A VLAN's parent must be in the configuration for cross-reference validation; add a bare entry.
        if (!config.interfaces.some((x) => x.name === parent)) config.interfaces.push(create(InterfaceSchema, { name: parent, kind: kindOf(links.find((l) => l.name === parent)!) }));
        config.interfaces.push(i);
        config.interfaces.sort((a, b) => a.name.localeCompare(b.name));
      });
      return { interface: i, revision };
    },

    async updateInterface(req, ctx) {
      const name = req.interface?.name ?? "";
      const { links } = await kernel();
      const { result, revision } = await engine.mutate(ctx, req.transactionId, (config) => {
        let n = config.interfaces.findIndex((x) => x.name === name);
        if (n < 0) {
          const link = links.find((l) => l.name === name);
          if (!link) throw notFound("interface", name);
          config.interfaces.push(create(InterfaceSchema, { name, kind: kindOf(link) }));
          n = config.interfaces.length - 1;
        }
        const updated = applyFieldMask(InterfaceSchema, config.interfaces[n]!, req.interface!, req.updateMask, ["admin_state", "mtu", "description", "addresses"]);
        const v = new Violations();
        validateInterface(v, updated, "interface");
        v.throwIfAny();
        config.interfaces[n] = updated;
        config.interfaces.sort((a, b) => a.name.localeCompare(b.name));
        return updated;
      });
      return { interface: result, revision };
    },

    async deleteInterface(req, ctx) {
      const { revision } = await engine.mutate(ctx, req.transactionId, (config) => {
        const n = config.interfaces.findIndex((x) => x.name === req.name);
        if (n < 0) throw notFound("interface", req.name);
        const users = [
          ...config.routes.filter((r) => r.interface === req.name).map((r) => `route ${r.destination?.cidr}`),
          ...config.interfaces.filter((x) => x.vlan?.parent === req.name).map((x) => `interface ${x.name}`),
        ];
        if (users.length) throw inUse("interface", req.name, users);
        config.interfaces.splice(n, 1);
      });
      return { revision };
    },

    async *watchInterfaces(req, ctx) {
      const pending: { type: InterfaceEventType; name: string; last?: Interface }[] = [];
      let wake: (() => void) | undefined;
      const known = new Map<string, Interface>();
      const off = dataplane.subscribe((e) => {
        if (e.type !== "link" || (req.name && e.link.name !== req.name)) return;
        const type = e.action === "del" ? InterfaceEventType.REMOVED : known.has(e.link.name) ? InterfaceEventType.CHANGED : InterfaceEventType.ADDED;
        pending.push({ type, name: e.link.name, ...(known.has(e.link.name) ? { last: known.get(e.link.name)! } : {}) });
        wake?.();
      });
      const aborted = new Promise<void>((r) => ctx.signal.addEventListener("abort", () => r(), { once: true }));
      try {
        for (const i of await allViews(engine.running)) {
          if (req.name && i.name !== req.name) continue;
          known.set(i.name, i);
          yield { type: InterfaceEventType.EXISTING, interface: i };
        }
        yield { type: InterfaceEventType.SYNCED };
        while (!ctx.signal.aborted) {
          const e = pending.shift();
          if (!e) {
            await Promise.race([new Promise<void>((r) => (wake = r)), aborted]);
            continue;
          }
          if (e.type === InterfaceEventType.REMOVED) {
            known.delete(e.name);
            yield { type: e.type, ...(e.last ? { interface: e.last } : {}) };
            continue;
          }
          const { links, addresses } = await kernel();
          const now = view(e.name, engine.running, links, addresses);
          if (!now) continue;
          known.set(e.name, now);
          yield { type: e.type, interface: now };
        }
      } finally {
        off();
      }
    },
  };
}

