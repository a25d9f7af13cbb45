// Where orbctl keeps per-user state: the open transaction under $XDG_RUNTIME_DIR/orbctl (else
// ~/.cache/orbctl), the shell history under $XDG_STATE_HOME/orbctl (else ~/.local/state/orbctl).
import { homedir } from "node:os";
import path from "node:path";

function home(env: NodeJS.ProcessEnv): string {
  try {
    return env.HOME || homedir();
  } catch {
    return "/nonexistent";
  }
}

/** Short-lived state (the transaction id): gone after a reboot, like the transaction itself. */
export function runtimeDir(env: NodeJS.ProcessEnv): string {
  return env.XDG_RUNTIME_DIR ? path.join(env.XDG_RUNTIME_DIR, "orbctl") : path.join(home(env), ".cache", "orbctl");
}

/** Lasting state (the shell history). */
export function stateDir(env: NodeJS.ProcessEnv): string {
  return env.XDG_STATE_HOME ? path.join(env.XDG_STATE_HOME, "orbctl") : path.join(home(env), ".local", "state", "orbctl");
}

export function historyFile(env: NodeJS.ProcessEnv): string {
  return path.join(stateDir(env), "history");
}
