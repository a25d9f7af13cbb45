// Loads the native peercred addon and reads SO_PEERCRED of accepted Unix socket connections. If the addon
// cannot be loaded, credentials are "unavailable" and every call is refused (fail closed): there is no
// fallback to an anonymous or assumed identity.
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import type net from "node:net";

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

/** Where the addon may be: ORBITAL_NATIVE_DIR, beside the entry script, beside the executable, the build dir. */
function candidateDirs(): string[] {
  const dirs: string[] = [];
  if (process.env.ORBITAL_NATIVE_DIR) dirs.push(process.env.ORBITAL_NATIVE_DIR);
  if (process.argv[1]) dirs.push(path.join(path.dirname(process.argv[1]), "native"));
  dirs.push(path.join(path.dirname(process.execPath), "..", "lib", "orbital"));
  return dirs;
}

export function loadPeerCredentialReader(dirs: string[] = candidateDirs()): PeerCredentialReader {
  const require = createRequire(import.meta.url);
  const tried: string[] = [];
  for (const dir of dirs) {
    const file = path.join(dir, "peercred.node");
    if (!existsSync(file)) {
      tried.push(`${file}: missing`);
      continue;
    }
    try {
      const addon = require(file) as PeercredAddon;
      return {
        available: true,
        read(socket) {
          // net.Socket has no public fd accessor; _handle.fd is the accepted socket's descriptor.
          const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
          if (typeof fd !== "number" || fd < 0) throw new Error("accepted socket has no file descriptor");
          return addon.getPeerCredentials(fd);
        },
      };
    } catch (err) {
      tried.push(`${file}: ${(err as Error).message}`);
    }
  }
  return { available: false, cause: `peercred addon not loadable (${tried.join("; ")})` };
}
