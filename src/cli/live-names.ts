// Names for completion that only the daemon knows (users, roles, tokens, interfaces, revisions, rules,
// prefix sets) or the descriptors hold (capabilities, methods), fetched quickly and cached briefly.
import type { DescService } from "@bufbuild/protobuf";
import type { CallOptions, Client } from "../client/client.js";
import type { CompletionSource } from "./command-types.js";

export type ClientFactory = <S extends DescService>(service: S) => Client<S>;

const page = { size: 1000 };

export async function fetchNames(client: ClientFactory, source: CompletionSource, options: CallOptions = { deadlineMs: 2000 }): Promise<string[]> {
  try {
    switch (source) {
      case "users": {
        const { UserService } = await import("../gen/orbital/user/v1/user_pb.js");
        return (await client(UserService).listUsers({ page }, options)).users.map((u) => u.name);
      }
      case "roles": {
        const { UserService } = await import("../gen/orbital/user/v1/user_pb.js");
        return (await client(UserService).listRoles({ page }, options)).roles.map((r) => r.name);
      }
      case "tokens": {
        const { UserService } = await import("../gen/orbital/user/v1/user_pb.js");
        return (await client(UserService).listApiTokens({ page }, options)).tokens.filter((t) => !t.revokeTime).map((t) => t.id);
      }
      case "interfaces": {
        const { InterfaceService } = await import("../gen/orbital/interface/v1/interface_pb.js");
        return (await client(InterfaceService).listInterfaces({ page }, options)).interfaces.map((i) => i.name);
      }
      case "revisions": {
        const { ConfigService } = await import("../gen/orbital/config/v1/config_pb.js");
        return (await client(ConfigService).listRevisions({ page }, options)).revisions.map((r) => String(r.revision));
      }
      case "rules": {
        const { FirewallService } = await import("../gen/orbital/firewall/v1/firewall_pb.js");
        return (await client(FirewallService).listRules({ page }, options)).rules.map((r) => r.name);
      }
      case "prefix-sets": {
        const { FirewallService } = await import("../gen/orbital/firewall/v1/firewall_pb.js");
        return (await client(FirewallService).listPrefixSets({ page }, options)).prefixSets.map((s) => s.name);
      }
      case "capabilities": {
        const { capabilityCatalogue } = await import("../common/capabilities.js");
        return capabilityCatalogue.map((c) => c.name);
      }
      case "methods": {
        const { methodNames } = await import("./commands/call-command.js");
        return methodNames();
      }
      case "files":
        return [];
    }
  } catch {
    return [];
  }
}

/** Live names remembered for a few seconds, so that repeated Tab presses do not call the daemon each time. */
export class NameCache {
  private readonly entries = new Map<CompletionSource, { at: number; names: Promise<string[]> }>();

  constructor(
    private readonly client: ClientFactory,
    private readonly ttlMs = 3000,
  ) {}

  get(source: CompletionSource): Promise<string[]> {
    const hit = this.entries.get(source);
    if (hit && Date.now() - hit.at < this.ttlMs) return hit.names;
    const names = fetchNames(this.client, source);
    this.entries.set(source, { at: Date.now(), names });
    return names;
  }

  /** Forgets everything (after a command that may have changed names). */
  clear(): void {
    this.entries.clear();
  }
}
