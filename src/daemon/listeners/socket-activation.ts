// Sockets passed by init (systemd or orbital-supervise) through LISTEN_FDS / LISTEN_PID / LISTEN_FDNAMES.
// Passed fds start at 3; names pick their role ("api" for gRPC, "rest" for HTTP). Only parses; does not listen.

export interface InheritedSockets {
  /** fd of the gRPC socket, named "api" (or the only unnamed fd). */
  api?: number;
  /** fd of the REST socket, named "rest". */
  rest?: number;
}

const FIRST_FD = 3;

/**
 * Reads the socket-activation variables. Returns no sockets when they are absent or meant for another process
 * (LISTEN_PID is set and differs from ours). Throws on a malformed value: a half-configured init must not
 * silently fall back to binding its own socket.
 */
export function inheritedSockets(env: NodeJS.ProcessEnv, pid: number): InheritedSockets {
  if (env.LISTEN_FDS === undefined) return {};
  if (env.LISTEN_PID !== undefined && env.LISTEN_PID !== String(pid)) return {};
  const count = Number(env.LISTEN_FDS);
  if (!Number.isInteger(count) || count < 0 || count > 64) throw new Error(`LISTEN_FDS=${env.LISTEN_FDS} is not a count of sockets`);
  const names = env.LISTEN_FDNAMES ? env.LISTEN_FDNAMES.split(":") : [];
  const result: InheritedSockets = {};
  for (let i = 0; i < count; i++) {
    const name = names[i] ?? (count === 1 ? "api" : "");
    if (name === "api" || name === "rest") {
      if (result[name] !== undefined) throw new Error(`LISTEN_FDNAMES names "${name}" twice`);
      result[name] = FIRST_FD + i;
    }
  }
  return result;
}

/** Removes the variables so that child processes do not believe the sockets are theirs. */
export function clearActivationEnv(env: NodeJS.ProcessEnv): void {
  delete env.LISTEN_FDS;
  delete env.LISTEN_PID;
  delete env.LISTEN_FDNAMES;
}
