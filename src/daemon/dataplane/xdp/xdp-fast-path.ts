// The XDP backend of the Linux data plane: makes the kernel's fast path match the configuration's fast-path
// lists. One program of orbitald's, loaded once and pinned with its maps under bpffs (<pin root>/program-<hash
// of the object>/), attached to each interface that has a list through a bpf_link pinned there too: the pins
// are the record of what orbitald owns, and they keep the fast path dropping while orbitald is down. At
// start-up they are adopted (no second attach, no gap); a list whose digest matches what the kernel holds is
// left alone, a changed one is built whole in a new trie and swapped in; links and pins the configuration
// no longer wants are removed, down to nothing when no list is left. A newer program takes over the links of
// an older one with bpf_link_update (no gap either). Not here: what the lists are (fast-path-lists.ts).
import { createHash } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, rmdirSync, statfsSync } from "node:fs";
import path from "node:path";
import type { Configuration } from "../../../gen/orbital/config/v1/configuration_pb.js";
import type { Logger } from "../../../common/logger.js";
import type { Failpoints } from "../../failpoints.js";
import { BackendFault, DataplaneError } from "../dataplane.js";
import type { LinkInfo } from "../netlink/rtnetlink-types.js";
import { interfaceLists, type EncodedList, type InterfaceLists } from "./fast-path-lists.js";
import { loadXdpAddon, withXdpFaults, type AttachMode, type FastPathHandle, type XdpAddon, type XdpCounters } from "./xdp-addon.js";

export const DEFAULT_PIN_ROOT = "/sys/fs/bpf/orbital";
/** statfs f_type of bpffs. */
const BPF_FS_MAGIC = 0xcafe4a11;
const PROGRAM_DIR = /^program-[0-9a-f]{16}$/;

/** What the program counted on one interface, summed over the CPUs. */
export type FastPathCounterValues = Omit<XdpCounters, "ifindex">;

export interface FastPathInterfaceStatus {
  name: string;
  ifindex: number | undefined;
  mode: AttachMode | "not attached";
  counters: FastPathCounterValues | undefined;
  prefixSets: string[];
  ipv4Entries: number;
  ipv6Entries: number;
  /** Why the configured lists are not in force there; undefined when they are. */
  notInForce: string | undefined;
}

export interface XdpFastPathOptions {
  /** Where the pins live; a directory on bpffs (created when missing). */
  pinRoot?: string;
  log: Logger;
  failpoints?: Failpoints | undefined;
  /** Where the addon and the BPF object are looked for; default nativeAddonDirs(). */
  addonDirs?: string[];
}

type KernelError = Error & { errno?: number; code?: string; operation?: string };

export class XdpFastPath {
  private readonly pinRoot: string;
  private handle: FastPathHandle | undefined;
  private addon: XdpAddon | undefined;
  /** Our program's directory under the pin root ("program-<hash>"). */
  private programName = "";
  /** What the last apply wanted, per interface name, and why some of it is not in force. */
  private wanted: InterfaceLists[] = [];
  private readonly notInForce = new Map<string, string>();
  /** ifindex -> name of the interfaces the program is attached to, as of the last apply (for metrics). */
  private attached = new Map<number, string>();

  constructor(private readonly options: XdpFastPathOptions) {
    this.pinRoot = options.pinRoot ?? DEFAULT_PIN_ROOT;
  }

  /** Whether anything of ours is pinned (an earlier run's fast path to adopt or remove). */
  private somethingPinned(): boolean {
    try {
      return readdirSync(this.pinRoot).some((n) => PROGRAM_DIR.test(n));
    } catch {
      return false;
    }
  }

  /** Opens (or loads and pins) our program; BackendFault when the machine cannot have a fast path at all. */
  private open(): FastPathHandle {
    if (this.handle) return this.handle;
    const found = loadXdpAddon(this.options.addonDirs);
    if ("cause" in found) throw new BackendFault("xdp", found.cause, "ENOSYS");
    try {
      mkdirSync(this.pinRoot, { recursive: true, mode: 0o700 });
    } catch (err) {
      throw new BackendFault("xdp", `cannot create ${this.pinRoot}: ${(err as Error).message}`, (err as NodeJS.ErrnoException).code);
    }
    if (statfsSync(this.pinRoot).type !== BPF_FS_MAGIC) {
      throw new BackendFault("xdp", `${this.pinRoot} is not on a BPF file system (mount -t bpf bpf /sys/fs/bpf)`, "ENOTSUP");
    }
    const hash = createHash("sha256").update(readFileSync(found.objectFile)).digest("hex").slice(0, 16);
    const handle = new found.addon.FastPath();
    const dir = path.join(this.pinRoot, `program-${hash}`);
    try {
      const { adopted, progId } = handle.open(dir, found.objectFile);
      this.options.log.info({ pinned: dir, progId, adopted }, adopted ? "XDP fast path adopted from its pins" : "XDP fast path program loaded and pinned");
    } catch (err) {
      const e = err as KernelError;
      throw new BackendFault("xdp", e.message, e.code);
    }
    this.addon = found.addon;
    this.programName = `program-${hash}`;
    this.handle = this.options.failpoints ? withXdpFaults(handle, this.options.failpoints) : handle;
    return this.handle;
  }

  /**
   * Makes the kernel's fast path match `config` on the kernel's interfaces (by name; `readLinks` is called
   * only when there is a fast path to make or to remove). Returns every item it could not put in force (a
   * refusal, or an absent interface: waitsForLink); throws BackendFault when there can be no fast path at all
   * (no addon, no BPF, no bpffs, no permission).
   */
  async apply(config: Configuration, readLinks: () => Promise<ReadonlyMap<string, LinkInfo>>): Promise<DataplaneError[]> {
    try {
      return await this.reconcile(config, readLinks);
    } catch (err) {
      if (err instanceof BackendFault || err instanceof DataplaneError) throw err;
      // An operation outside any one list failed (reading the pins, detaching): the backend as a whole.
      const e = err as KernelError;
      if (e.code === undefined) throw err;
      throw new BackendFault("xdp", e.message, e.code);
    }
  }

  private async reconcile(config: Configuration, readLinks: () => Promise<ReadonlyMap<string, LinkInfo>>): Promise<DataplaneError[]> {
    this.wanted = interfaceLists(config);
    this.notInForce.clear();
    if (this.wanted.length === 0 && !this.somethingPinned()) {
      this.attached = new Map();
      return [];
    }
    const links = await readLinks();
    const fp = this.open();
    const failures: DataplaneError[] = [];
    // A link whose interface went away is defunct: unpinned, so that the interface gets a new one if it is back.
    for (const l of fp.links()) if (l.ifindex !== l.pinned) fp.detach(l.pinned);
    const pinnedLinks = new Map(fp.links().map((l) => [l.pinned, l]));
    const digests = new Map(fp.digests().map((d) => [`${d.ifindex}/${d.family}`, d.digest]));
    const wantedIfindexes = new Set<number>();
    for (const lists of this.wanted) {
      const link = links.get(lists.name);
      if (!link) {
        const why = `${lists.name} is not in the kernel`;
        this.notInForce.set(lists.name, why);
        for (const item of lists.items) failures.push(new DataplaneError(`${why}; its fast-path list is attached when it appears`, item, "xdp", "ENODEV", { backend: "xdp", waitsForLink: true }));
        continue;
      }
      wantedIfindexes.add(link.ifindex);
      const refused = await this.putInForce(fp, lists, link.ifindex, digests, !pinnedLinks.has(link.ifindex));
      if (refused) {
        this.notInForce.set(lists.name, refused.message);
        for (const item of lists.items) failures.push(new DataplaneError(`${lists.name}: ${refused.message}`, item, refused.operation, refused.code, { backend: "xdp" }));
      }
    }
    // Links of an older program (an upgrade) move onto ours once their lists are in our maps.
    for (const old of readdirSync(this.pinRoot).filter((n) => PROGRAM_DIR.test(n) && n !== this.programName)) {
      try {
        fp.takeOverLinks(path.join(this.pinRoot, old));
        this.addon!.removePinnedTree(path.join(this.pinRoot, old));
        this.options.log.info({ old }, "XDP links moved onto the new program; the old one is unpinned");
      } catch (err) {
        this.options.log.warn({ old, err: (err as Error).message }, "cannot move the XDP links of an older program yet");
      }
    }
    for (const l of fp.links()) {
      if (wantedIfindexes.has(l.pinned)) continue;
      fp.detach(l.pinned);
      this.options.log.info({ ifindex: l.pinned }, "XDP fast path detached");
    }
    // Lists left without a link (an attach the kernel refused after they were filled) go too.
    for (const d of fp.digests()) if (!wantedIfindexes.has(d.ifindex)) fp.detach(d.ifindex);
    const names = new Map([...links.values()].map((l) => [l.ifindex, l.name]));
    this.attached = new Map(fp.links().map((l) => [l.pinned, names.get(l.pinned) ?? `ifindex ${l.pinned}`]));
    if (this.wanted.length === 0 && this.attached.size === 0) this.removeAll();
    return failures;
  }

  /** Fills the interface's two tables (where their digests differ), then attaches when needed. */
  private async putInForce(fp: FastPathHandle, lists: InterfaceLists, ifindex: number, digests: Map<string, string>, attach: boolean): Promise<{ message: string; operation: string; code: string } | undefined> {
    const step = async (what: string, work: () => unknown) => {
      try {
        await work();
        return undefined;
      } catch (err) {
        const e = err as KernelError;
        if (e.code === "EPERM" || e.code === "EACCES") throw new BackendFault("xdp", `${what}: ${e.message}`, e.code);
        return { message: e.message, operation: what, code: e.code ?? String(e.errno ?? "") };
      }
    };
    for (const list of [lists.v4, lists.v6] as EncodedList[]) {
      const have = digests.get(`${ifindex}/${list.family}`);
      if (list.count === 0 ? have === undefined : have === list.digest.toString("hex")) continue;
      const refused = await step("xdp list", () => fp.replaceList(list.family, ifindex, list.keys, list.verdicts, list.digest));
      if (refused) return refused;
    }
    if (!attach) return undefined;
    return step("xdp attach", () => {
      const r = fp.attach(ifindex);
      this.options.log.info({ interface: lists.name, mode: r.native ? "native" : "generic", nativeRefused: r.nativeErrno }, "XDP fast path attached");
    });
  }

  /** Nothing is wanted and nothing attached: unpin the program and maps, and our directory. */
  private removeAll(): void {
    try {
      this.handle?.remove();
      this.handle?.close();
      this.handle = undefined;
      rmdirSync(this.pinRoot);
      this.options.log.info({ pinRoot: this.pinRoot }, "XDP fast path removed: nothing is pinned");
    } catch (err) {
      this.options.log.warn({ err: (err as Error).message }, "XDP fast path not fully unpinned");
    }
  }

  /** Whether the last apply wanted no list and left nothing attached. */
  idle(): boolean {
    return this.wanted.length === 0 && this.attached.size === 0;
  }

  /** Throws BackendFault unless the fast path can be had (addon, BPF object, bpffs, permission). */
  async probe(): Promise<void> {
    this.open();
  }

  /** Counters of every interface the program is attached to, by name (empty before it was needed). */
  counters(): Map<string, FastPathCounterValues> {
    const out = new Map<string, FastPathCounterValues>();
    if (!this.handle) return out;
    for (const { ifindex, ...c } of this.handle.counters()) {
      const name = this.attached.get(ifindex);
      if (name) out.set(name, c);
    }
    return out;
  }

  /** The fast path on every interface with a configured list or our program, in name order. */
  status(links: ReadonlyMap<string, LinkInfo>): FastPathInterfaceStatus[] {
    const counters = this.counters();
    const byName = new Map<string, FastPathInterfaceStatus>();
    const modeOf = (ifindex: number | undefined): AttachMode | "not attached" => {
      if (!this.handle || ifindex === undefined || !this.attached.has(ifindex)) return "not attached";
      try {
        return this.handle.query(ifindex).mode;
      } catch {
        return "not attached";
      }
    };
    for (const w of this.wanted) {
      const ifindex = links.get(w.name)?.ifindex;
      byName.set(w.name, {
        name: w.name,
        ifindex,
        mode: modeOf(ifindex),
        counters: counters.get(w.name),
        prefixSets: w.sets,
        ipv4Entries: w.v4.count,
        ipv6Entries: w.v6.count,
        notInForce: this.notInForce.get(w.name),
      });
    }
    for (const [ifindex, name] of this.attached) {
      if (!byName.has(name)) byName.set(name, { name, ifindex, mode: modeOf(ifindex), counters: counters.get(name), prefixSets: [], ipv4Entries: 0, ipv6Entries: 0, notInForce: undefined });
    }
    return [...byName.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Closes our descriptors; the pins stay, and with them the fast path. */
  close(): void {
    this.handle?.close();
    this.handle = undefined;
  }
}
