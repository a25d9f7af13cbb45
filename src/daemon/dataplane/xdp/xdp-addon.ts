// The contract of the xdp addon (native/xdp/addon.cc) and where its pieces are found: the addon itself and
// the BPF object it loads (orbital_xdp.bpf.o), both beside the other addons. Loaded lazily, on the first
// apply that has a fast path to build or one pinned to adopt, so that a box without libbpf or BPF serves on
// and only the fast path reports the fault. Fault injection ("xdp" failpoint) wraps the addon here.
import { existsSync } from "node:fs";
import path from "node:path";
import type { Failpoints } from "../../failpoints.js";
import { loadNativeAddon, nativeAddonDirs } from "../../native-addon.js";

export interface PinnedLink {
  /** The interface it is attached to; 0 once that interface is gone (a defunct link). */
  ifindex: number;
  /** The ifindex it is pinned under (links/<pinned>), which detach() takes. */
  pinned: number;
  linkId: number;
  progId: number;
}

export interface ListDigest {
  ifindex: number;
  family: 4 | 6;
  /** SHA-256 (hex) of the entries last put in the list. */
  digest: string;
}

export interface XdpCounters {
  ifindex: number;
  droppedPackets: bigint;
  droppedBytes: bigint;
  allowedPackets: bigint;
  allowedBytes: bigint;
  passedPackets: bigint;
  passedBytes: bigint;
}

export type AttachMode = "native" | "generic" | "offload" | "multi" | "none";

/** One program with its maps, pinned in one directory; see native/xdp/fast-path.h. Errors carry errno, code, operation. */
export interface FastPathHandle {
  open(dir: string, objectFile: string): { adopted: boolean; progId: number };
  links(): PinnedLink[];
  attach(ifindex: number): { native: boolean; nativeErrno?: string };
  detach(ifindex: number): void;
  takeOverLinks(oldDir: string): number[];
  replaceList(family: 4 | 6, ifindex: number, keys: Buffer, verdicts: Buffer, digest: Buffer): Promise<void>;
  digests(): ListDigest[];
  counters(): XdpCounters[];
  query(ifindex: number): { mode: AttachMode; progId: number };
  remove(): void;
  close(): void;
}

export interface XdpAddon {
  FastPath: new () => FastPathHandle;
  removePinnedTree(dir: string): void;
}

export const BPF_OBJECT = "orbital_xdp.bpf.o";

/** The addon and the BPF object's path, or why they cannot be had. */
export function loadXdpAddon(dirs: string[] = nativeAddonDirs()): { addon: XdpAddon; objectFile: string } | { cause: string } {
  const objectFile = dirs.map((d) => path.join(d, BPF_OBJECT)).find((f) => existsSync(f));
  if (!objectFile) return { cause: `${BPF_OBJECT} not found in ${dirs.join(", ")}` };
  const loaded = loadNativeAddon<XdpAddon>("xdp", dirs);
  return loaded.loaded ? { addon: loaded.addon, objectFile } : { cause: loaded.cause };
}

/** A kernel refusal as the addon reports one. */
function refusal(operation: string, code: string, errno: number): Error {
  return Object.assign(new Error(`${operation}: refused (failpoint ${code})`), { errno, code, operation });
}

/** The handle with the "xdp" failpoint applied: building a list fails as a map too large would (ENOMEM). */
export function withXdpFaults(handle: FastPathHandle, failpoints: Failpoints): FastPathHandle {
  return new Proxy(handle, {
    get(target, prop, receiver) {
      if (prop === "replaceList") {
        return (...args: Parameters<FastPathHandle["replaceList"]>) =>
          failpoints.xdpFault() === "ENOMEM" ? Promise.reject(refusal("create a trie", "ENOMEM", 12)) : target.replaceList(...args);
      }
      const value = Reflect.get(target, prop, receiver) as unknown;
      return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}
