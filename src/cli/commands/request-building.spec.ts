// Proves: the interface, route and firewall commands (whose services the daemon does not implement yet)
// build the request messages the proto asks for: fields from flags, update masks naming exactly the flags
// given, enums from their labels, the open transaction's id, and route files streamed in batches with
// failures mapped back to file lines. The handlers run against a fake client that records each call.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { create, toJson, type DescService } from "@bufbuild/protobuf";
import { afterAll, describe, expect, it } from "vitest";
import { FirewallService } from "../../gen/orbital/firewall/v1/firewall_pb.js";
import { InterfaceService } from "../../gen/orbital/interface/v1/interface_pb.js";
import { RoutingService } from "../../gen/orbital/routing/v1/routing_pb.js";
import { parseCommandLine } from "../argv-parser.js";
import type { CommandContext } from "../command-context.js";
import { commandTable } from "../command-table.js";
import { loadHandler } from "../handler-registry.js";
import { Output } from "../output.js";
import { styleFor } from "../terminal.js";
import { TransactionState } from "../transaction-state.js";

const dir = mkdtempSync(path.join(tmpdir(), "orbctl-spec-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const env = { XDG_RUNTIME_DIR: dir };
const SOCKET = "/run/orbital/test.sock";

interface Call {
  rpc: string;
  request: unknown;
}

/** Runs `orbctl <argv>` against a fake client; returns the calls (requests as proto3 JSON), stdout and the exit code. */
async function run(argv: string[], responses: Record<string, object> = {}) {
  const calls: Call[] = [];
  let stdout = "";
  let stderr = "";
  const client = (service: DescService) =>
    new Proxy(
      {},
      {
        get: (_t, name: string) => async (request: unknown) => {
          const method = service.methods.find((m) => m.localName === name)!;
          const toMessage = (r: unknown) => toJson(method.input, create(method.input, r as never));
          if (method.methodKind === "client_streaming") {
            const batches: unknown[] = [];
            for await (const r of request as AsyncIterable<unknown>) batches.push(toMessage(r));
            calls.push({ rpc: `${service.name}/${method.name}`, request: batches });
          } else calls.push({ rpc: `${service.name}/${method.name}`, request: toMessage(request) });
          return create(method.output, (responses[method.name] ?? {}) as never);
        },
      },
    );
  const inv = parseCommandLine(commandTable, argv);
  const term = { fancy: false, width: 80 };
  const ctx: CommandContext = {
    client: client as CommandContext["client"],
    transport: () => {
      throw new Error("no transport in specs");
    },
    waitConnected: async () => {},
    out: new Output(inv.global.output, (t) => (stdout += t), term, styleFor(term), toJson),
    stderr: { write: (t: string) => (stderr += t) },
    stderrTerm: term,
    tx: new TransactionState(SOCKET, env, inv.global.noTransaction),
    socketPath: SOCKET,
    call: {},
    env,
    stdin: process.stdin,
    inShell: false,
  };
  const code = (await (await loadHandler(inv.spec.handler!))(ctx, inv)) ?? 0;
  return { calls, stdout, stderr, code };
}

describe("interface commands", () => {
  it("set: only the fields given, named in update_mask", async () => {
    const { calls } = await run(["interface", "set", "eth0", "--mtu", "9000", "--up", "--address", "192.0.2.1/24", "--address", "2001:db8::1/64"]);
    expect(calls).toEqual([
      {
        rpc: "InterfaceService/UpdateInterface",
        request: {
          interface: { name: "eth0", adminState: "ADMIN_STATE_UP", mtu: 9000, addresses: [{ cidr: "192.0.2.1/24" }, { cidr: "2001:db8::1/64" }] },
          updateMask: "adminState,mtu,addresses",
        },
      },
    ]);
    const down = await run(["interface", "set", "eth1", "--down", "--no-address", "--description", "spare"]);
    expect(down.calls[0]!.request).toEqual({ interface: { name: "eth1", adminState: "ADMIN_STATE_DOWN", description: "spare" }, updateMask: "adminState,description,addresses" });
  });

  it("create-vlan: kind VLAN with parent and id, named PARENT.VLANID unless --name", async () => {
    expect((await run(["interface", "create-vlan", "eth0", "100"])).calls[0]).toEqual({
      rpc: "InterfaceService/CreateInterface",
      request: { interface: { name: "eth0.100", kind: "INTERFACE_KIND_VLAN", vlan: { parent: "eth0", vlanId: 100 } } },
    });
    const named = await run(["interface", "create-vlan", "eth0", "200", "--name", "guest", "--mtu", "1500", "--address", "10.20.0.1/24"]);
    expect(named.calls[0]!.request).toMatchObject({ interface: { name: "guest", mtu: 1500, addresses: [{ cidr: "10.20.0.1/24" }] } });
  });

  it("list and delete", async () => {
    expect((await run(["interface", "list", "--kind", "vlan"])).calls[0]).toEqual({ rpc: "InterfaceService/ListInterfaces", request: { page: { size: 1000 }, kind: "INTERFACE_KIND_VLAN" } });
    expect((await run(["interface", "delete", "eth0.100"])).calls[0]).toEqual({ rpc: "InterfaceService/DeleteInterface", request: { name: "eth0.100" } });
  });

  it("renders the interface list as a table", async () => {
    const { stdout } = await run(["interface", "list"], {
      ListInterfaces: { interfaces: [{ name: "eth0", kind: 1, adminState: 1, operState: 1, mtu: 1500, addresses: [{ cidr: "192.0.2.1/24" }] }] },
    });
    expect(stdout).toBe("NAME  KIND      ADMIN  OPER  MTU   ADDRESSES\neth0  ethernet  up     up    1500  192.0.2.1/24\n");
  });

  it("refuses contradictions and empty changes before calling", async () => {
    await expect(run(["interface", "set", "eth0", "--up", "--down"])).rejects.toThrow(/exclude each other/);
    await expect(run(["interface", "set", "eth0"])).rejects.toThrow(/nothing to change/);
  });
});

describe("route commands", () => {
  it("add: destination, gateway, interface, metric, table, type", async () => {
    const { calls, stdout } = await run(["route", "add", "10.8.0.0/16", "--via", "10.0.0.2", "--dev", "eth1", "--metric", "50", "--table", "100"], { CreateRoute: { revision: 7n } });
    expect(calls[0]).toEqual({
      rpc: "RoutingService/CreateRoute",
      request: { route: { destination: { cidr: "10.8.0.0/16" }, table: 100, gateway: { address: "10.0.0.2" }, interface: "eth1", metric: 50 } },
    });
    expect(stdout).toBe("route 10.8.0.0/16 added: revision 7\n");
    const bh = await run(["route", "add", "203.0.113.0/24", "--type", "blackhole"]);
    expect(bh.calls[0]!.request).toEqual({ route: { destination: { cidr: "203.0.113.0/24" }, type: "ROUTE_TYPE_BLACKHOLE" } });
  });

  it("list, show and delete", async () => {
    expect((await run(["route", "list", "--table", "100", "--family", "ipv6", "--all"])).calls[0]!.request).toEqual({
      page: { size: 1000 },
      table: 100,
      family: "ADDRESS_FAMILY_IPV6",
      includeUnowned: true,
    });
    expect((await run(["route", "show", "::/0", "--table", "5"])).calls[0]).toEqual({ rpc: "RoutingService/GetRoute", request: { destination: { cidr: "::/0" }, table: 5 } });
    expect((await run(["route", "delete", "10.8.0.0/16"])).calls[0]).toEqual({ rpc: "RoutingService/DeleteRoute", request: { destination: { cidr: "10.8.0.0/16" } } });
  });

  it("stages into the open transaction unless --no-transaction", async () => {
    const tx = new TransactionState(SOCKET, env, false);
    tx.save("tx-42", SOCKET);
    try {
      const staged = await run(["route", "delete", "10.8.0.0/16"]);
      expect(staged.calls[0]!.request).toMatchObject({ transactionId: "tx-42" });
      expect(staged.stdout).toBe("route 10.8.0.0/16 deleted: staged in transaction tx-42\n");
      const direct = await run(["route", "delete", "10.8.0.0/16", "--no-transaction"]);
      expect(direct.calls[0]!.request).not.toHaveProperty("transactionId");
    } finally {
      tx.clear();
    }
  });

  it("import: streams batches, maps failures back to file lines", async () => {
    const file = path.join(dir, "routes.txt");
    writeFileSync(file, ["# uplinks", "0.0.0.0/0 via 192.0.2.254", "", "10.1.0.0/16 via 10.0.0.2 dev eth1 metric 5 table 100", "bogus line here", "blackhole 203.0.113.0/24", "10.9.0.1/16 via 10.0.0.2"].join("\n"));
    const { calls, stdout, stderr, code } = await run(["route", "import", file, "--batch", "2"], {
      BulkUpdateRoutes: { added: 3n, failures: [{ index: 3n, key: { destination: { cidr: "10.9.0.1/16" } }, reason: "INVALID_PREFIX", description: "host bits set" }], revision: 9n },
    });
    expect(calls).toEqual([
      {
        rpc: "RoutingService/BulkUpdateRoutes",
        request: [
          { adds: [{ destination: { cidr: "0.0.0.0/0" }, gateway: { address: "192.0.2.254" } }, { destination: { cidr: "10.1.0.0/16" }, table: 100, gateway: { address: "10.0.0.2" }, interface: "eth1", metric: 5 }] },
          { adds: [{ destination: { cidr: "203.0.113.0/24" }, type: "ROUTE_TYPE_BLACKHOLE" }, { destination: { cidr: "10.9.0.1/16" }, gateway: { address: "10.0.0.2" } }] },
        ],
      },
    ]);
    expect(stdout).toBe("5 routes read: 3 added, 0 deleted, 2 failed; revision 9\n");
    expect(stderr).toBe('line 5: bogus line here: unknown word "line" [SYNTAX]\nline 7: 10.9.0.1/16: host bits set [INVALID_PREFIX]\n');
    expect(code).toBe(6);
  });
});

describe("firewall commands", () => {
  it("rule add: chain, sequence, action and the match from flags", async () => {
    const { calls } = await run([
      "firewall", "rule", "add", "allow-web", "--chain", "forward", "--seq", "20", "--action", "accept",
      "--src", "@office", "--dst", "192.0.2.0/24", "--proto", "tcp", "--dport", "80,443", "--dport", "8000-8080",
      "--in", "eth1", "--state", "new,established", "--counter", "--description", "web",
    ]);
    expect(calls[0]).toEqual({
      rpc: "FirewallService/CreateRule",
      request: {
        rule: {
          name: "allow-web",
          chain: "CHAIN_FORWARD",
          sequence: 20,
          action: "ACTION_ACCEPT",
          match: {
            source: { prefixSet: "office" },
            destination: { prefix: { cidr: "192.0.2.0/24" } },
            protocol: "PROTOCOL_TCP",
            destinationPorts: [{ first: 80 }, { first: 443 }, { first: 8000, last: 8080 }],
            inInterface: "eth1",
            connectionStates: ["CONNECTION_STATE_NEW", "CONNECTION_STATE_ESTABLISHED"],
          },
          counter: true,
          description: "web",
        },
      },
    });
    await expect(run(["firewall", "rule", "add", "x", "--chain", "input"])).rejects.toThrow(/--seq, --action required/);
    await expect(run(["firewall", "rule", "add", "x", "--chain", "input", "--seq", "1", "--action", "drop", "--dport", "http"])).rejects.toThrow(/not a port/);
  });

  it("rule list renders the match in the words of the flags", async () => {
    const { calls, stdout } = await run(["firewall", "rule", "list", "--chain", "input"], {
      ListRules: { rules: [{ name: "ssh", chain: 1, sequence: 10, action: 1, counter: true, counters: { packets: 12n }, match: { protocol: 1, destinationPorts: [{ first: 22 }] } }] },
    });
    expect(calls[0]!.request).toEqual({ page: { size: 1000 }, chain: "CHAIN_INPUT" });
    expect(stdout).toBe("CHAIN  SEQ  NAME  ACTION  MATCH         PACKETS\ninput  10   ssh   accept  tcp dport 22  12\n");
  });

  it("set add, delete, and entries streamed in batches", async () => {
    expect((await run(["firewall", "set", "add", "bogons", "--family", "ipv4", "--prefix", "0.0.0.0/8", "--prefix", "240.0.0.0/4"])).calls[0]).toEqual({
      rpc: "FirewallService/CreatePrefixSet",
      request: { prefixSet: { name: "bogons", family: "ADDRESS_FAMILY_IPV4", prefixes: [{ cidr: "0.0.0.0/8" }, { cidr: "240.0.0.0/4" }] } },
    });
    expect((await run(["firewall", "set", "delete", "bogons"])).calls[0]).toEqual({ rpc: "FirewallService/DeletePrefixSet", request: { name: "bogons" } });
    const file = path.join(dir, "drop.txt");
    writeFileSync(file, "198.51.100.0/24 # doc\n\n203.0.113.0/24\n");
    const adds = await run(["firewall", "set", "add-entries", "bogons", "192.0.2.0/24", "--file", file], { BulkUpdatePrefixSetEntries: { added: 3n, revision: 4n } });
    expect(adds.calls[0]).toEqual({
      rpc: "FirewallService/BulkUpdatePrefixSetEntries",
      request: [{ prefixSet: "bogons", adds: [{ cidr: "192.0.2.0/24" }, { cidr: "198.51.100.0/24" }, { cidr: "203.0.113.0/24" }] }],
    });
    expect(adds.stdout).toBe("3 added, 0 removed, 0 failed; revision 4\n");
    const removes = await run(["firewall", "set", "remove-entries", "bogons", "192.0.2.0/24"]);
    expect(removes.calls[0]!.request).toEqual([{ prefixSet: "bogons", removes: [{ cidr: "192.0.2.0/24" }] }]);
  });
});

describe("json output", () => {
  it("prints the response message as canonical proto3 JSON", async () => {
    const { stdout } = await run(["route", "add", "10.0.0.0/8", "--dev", "eth0", "-o", "json"], { CreateRoute: { route: { destination: { cidr: "10.0.0.0/8" }, interface: "eth0" }, revision: 3n } });
    expect(JSON.parse(stdout)).toEqual({ route: { destination: { cidr: "10.0.0.0/8" }, interface: "eth0" }, revision: "3" });
  });
});

// Keep the service imports: they document which services these commands call.
void [FirewallService, InterfaceService, RoutingService];
