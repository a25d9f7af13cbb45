// Loads the native peercred addon and reads SO_PEERCRED of accepted Unix socket connections. If the addon
// cannot be loaded, credentials are "unavailable" and every call is refused (fail closed): there is no
// fallback to an anonymous or assumed identity.
import type net from "node:net";
import { loadNativeAddon, nativeAddonDirs } from "../native-addon.js";

export interface PeerCredentials {
  pid: number;
  uid: number;
  gid: number;
}

interface PeercredAddon {
  getPeerCredentials(fd: number): PeerCredentials;
}

export type PeerCredentialReader =
  | { available: true; read(socket: net.Socket): PeerCredentials }
  | { available: false; cause: string };

export function loadPeerCredentialReader(dirs: string[] = nativeAddonDirs()): PeerCredentialReader {
  const loaded = loadNativeAddon<PeercredAddon>("peercred", dirs);
  if (!loaded.loaded) return { available: false, cause: loaded.cause };
  const { addon } = loaded;
  return {
    available: true,
    read(socket) {
      // net.Socket has no public fd accessor; _handle.fd is the accepted socket's descriptor.
      const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
      if (typeof fd !== "number" || fd < 0) throw new Error("accepted socket has no file descriptor");
      return addon.getPeerCredentials(fd);
    },
  };
}
