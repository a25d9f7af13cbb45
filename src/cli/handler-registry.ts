// Where the handlers named in the command table live ("user.add" is export add of the user module). Modules
// load on demand, so that a command evaluates only the services it calls; a unit spec checks every name.
import type { Handler } from "./command-context.js";
import type { HandlerRef } from "./command-types.js";

type Module = Promise<{ handlers: Record<string, Handler> }>;

export const handlerModules: Record<string, () => Module> = {
  system: () => import("./commands/system-commands.js"),
  interface: () => import("./commands/interface-commands.js"),
  route: () => import("./commands/route-commands.js"),
  firewallRule: () => import("./commands/firewall-rule-commands.js"),
  firewallSet: () => import("./commands/firewall-set-commands.js"),
  firewallFastPath: () => import("./commands/firewall-fast-path-commands.js"),
  user: () => import("./commands/user-commands.js"),
  role: () => import("./commands/role-commands.js"),
  token: () => import("./commands/token-commands.js"),
  config: () => import("./commands/config-commands.js"),
  watch: () => import("./commands/watch-commands.js"),
  package: () => import("./commands/package-commands.js"),
  update: () => import("./commands/update-commands.js"),
  call: () => import("./commands/call-command.js"),
  shell: () => import("./commands/shell-command.js"),
  completion: () => import("./commands/completion-commands.js"),
  help: () => import("./commands/help-command.js"),
};

export async function loadHandler(ref: HandlerRef): Promise<Handler> {
  const [module, name] = ref.split(".") as [string, string];
  const load = handlerModules[module];
  const handler = load ? (await load()).handlers[name] : undefined;
  if (!handler) throw new Error(`command table names handler ${ref}, which does not exist`);
  return handler;
}
