// Opens the daemon's listening Unix socket: either an fd inherited from init, or a path it binds itself
// with mode 0660 and group "orbital" (when that group exists). A socket file left behind by a dead daemon is
// removed only after proving that nobody accepts connections on it: a live socket is never stolen.
import { chmodSync, chownSync, lstatSync, mkdirSync, readFileSync, unlinkSync } from "node:fs";
import net from "node:net";
import path from "node:path";

export class SocketInUseError extends Error {
  constructor(readonly socketPath: string) {
    super(`${socketPath} is in use by a running process; refusing to take it over`);
    this.name = "SocketInUseError";
  }
}

/** gid of a group from /etc/group, or undefined when it does not exist. */
export function groupId(name: string, groupFile = "/etc/group"): number | undefined {
  let text: string;
  try {
    text = readFileSync(groupFile, "utf8");
  } catch {
    return undefined;
  }
  for (const line of text.split("\n")) {
    const [group, , gid] = line.split(":");
    if (group === name && gid !== undefined && /^\d+$/.test(gid)) return Number(gid);
  }
  return undefined;
}

/** Resolves true when something accepts a connection on the socket path. */
function someoneListens(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.connect(socketPath);
    probe.once("connect", () => {
      probe.destroy();
      resolve(true);
    });
    probe.once("error", () => resolve(false));
  });
}

async function removeStaleSocket(socketPath: string): Promise<void> {
  let isSocket: boolean;
  try {
    isSocket = lstatSync(socketPath).isSocket();
  } catch {
    return; // nothing there
  }
  if (!isSocket) throw new Error(`${socketPath} exists and is not a socket; refusing to replace it`);
  if (await someoneListens(socketPath)) throw new SocketInUseError(socketPath);
  unlinkSync(socketPath);
}

function listen(server: net.Server, target: string | { fd: number }): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(target, () => {
      server.off("error", reject);
      resolve();
    });
  });
}

export interface ListenOptions {
  /** Inherited listening fd; when set, socketPath is only informative. */
  fd?: number;
  socketPath: string;
  group?: string;
}

/** Starts `server` listening as described; the caller has attached its connection handler already. */
export async function listenUnix(server: net.Server, opts: ListenOptions): Promise<void> {
  if (opts.fd !== undefined) {
    await listen(server, { fd: opts.fd });
    return;
  }
  mkdirSync(path.dirname(opts.socketPath), { recursive: true, mode: 0o755 });
  await removeStaleSocket(opts.socketPath);
  // Bind with a umask-independent mode: tighten right after bind, before anyone can be authorized anyway
  // (every call is authenticated by peer credentials, the mode is defence in depth).
  await listen(server, opts.socketPath);
  const gid = groupId(opts.group ?? "orbital");
  if (gid !== undefined) chownSync(opts.socketPath, process.getuid?.() ?? 0, gid);
  chmodSync(opts.socketPath, 0o660);
}
