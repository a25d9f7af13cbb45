// The command table of orbctl: every noun, verb, argument, flag, help text and example, as data. The parser,
// the help, the shell's tab completion and the bash completion script all read this one table.
import type { CommandSpec, FlagSpec, HelpTopic } from "./command-types.js";

/** Flags every command accepts, anywhere on the command line. */
export const globalFlags: readonly FlagSpec[] = [
  { name: "socket", value: "PATH", complete: "files", help: "daemon socket (default $ORBITAL_SOCKET, then /run/orbital/api.sock)" },
  { name: "deadline", value: "DURATION", type: "duration", help: "how long a call may take, waiting for the daemon included (default 10s)" },
  { name: "output", short: "o", value: "FORMAT", choices: ["table", "json", "yaml"], help: "output format: table (default), json (canonical proto3 JSON), yaml" },
  { name: "no-transaction", help: "commit this change at once even while a transaction is open" },
  { name: "help", short: "h", help: "show help for the command" },
  { name: "version", help: "print the version of orbctl itself" },
];

export const helpTopics: readonly HelpTopic[] = [{ name: "exit-codes", summary: "what the exit status of orbctl means" }];

const PAGE_NOTE = "Lists fetch every page.";

const txNote =
  "While a transaction is open (orbctl config begin) the change is staged in it; otherwise it is committed at once as a one-change commit.";

const system: CommandSpec = {
  name: "system",
  summary: "version, health, metrics, box-wide settings and the audit log",
  children: [
    {
      name: "version",
      summary: "build of the daemon, API packages served, uptime",
      handler: "system.version",
      examples: ["orbctl system version", "orbctl system version -o json"],
    },
    {
      name: "health",
      summary: "overall and per-service health",
      handler: "system.health",
      examples: ["orbctl system health"],
    },
    {
      name: "metrics",
      summary: "latency histograms and counters (Prometheus text)",
      handler: "system.metrics",
      examples: ["orbctl system metrics | grep orbital_rpc"],
    },
    {
      name: "settings",
      summary: "show box-wide settings, or change them with flags",
      description: `Without flags, shows the running settings. With flags, changes only the settings named. ${txNote}`,
      handler: "system.settings",
      mutation: true,
      flags: [
        { name: "hostname", value: "NAME", help: "1..63 letters, digits and '-', not starting or ending with '-'" },
        { name: "rest", value: "on|off", choices: ["on", "off"], help: "serve the REST/JSON API" },
        { name: "rest-address", value: "IP", help: "IPv4 or IPv6 address to bind; empty for all addresses" },
        { name: "rest-port", value: "PORT", type: "int", help: "TCP port, 1..65535 (default 8443 with TLS, 8080 without)" },
        { name: "rest-certificate", value: "PATH", complete: "files", help: "PEM certificate chain under /data (with --rest-key)" },
        { name: "rest-key", value: "PATH", complete: "files", help: "PEM private key of the certificate" },
      ],
      examples: ["orbctl system settings", "orbctl system settings --hostname edge1", "orbctl system settings --rest on --rest-port 8080"],
    },
    {
      name: "audit",
      summary: "the audit log of every mutating call",
      children: [
        {
          name: "verify",
          summary: "check the audit log's hash chain and name the first bad record",
          description:
            "Checks that every record of audit.jsonl.1 and audit.jsonl chains to the one before it and that the log ends with the newest record the daemon wrote. Prints one line: intact, or the first bad record (file, line, seq, what is wrong). Exit status 1 when the chain is broken.",
          handler: "system.auditVerify",
          examples: ["orbctl system audit verify", "orbctl system audit verify -o json"],
        },
      ],
    },
  ],
};

const ifaceFlags: readonly FlagSpec[] = [
  { name: "mtu", value: "N", type: "int", help: "MTU in bytes, 68..9216 (IPv6 needs 1280); 0 for the kernel default" },
  { name: "description", value: "TEXT", help: "free text, 0..255 bytes, set as the kernel link alias" },
  { name: "address", value: "CIDR", repeat: true, help: "address with prefix length, e.g. 192.0.2.1/24; repeat for more (at most 64); replaces the list" },
];

const iface: CommandSpec = {
  name: "interface",
  summary: "network interfaces and VLAN subinterfaces",
  children: [
    {
      name: "list",
      summary: "list interfaces",
      description: PAGE_NOTE,
      handler: "interface.list",
      flags: [{ name: "kind", value: "KIND", choices: ["ethernet", "loopback", "vlan", "other"], help: "only interfaces of this kind" }],
      examples: ["orbctl interface list", "orbctl interface list --kind vlan"],
    },
    {
      name: "show",
      summary: "show one interface with its kernel state and counters",
      handler: "interface.show",
      args: [{ name: "NAME", help: "interface name", complete: "interfaces" }],
      examples: ["orbctl interface show eth0"],
    },
    {
      name: "set",
      summary: "configure an interface",
      description: `Changes only the fields given. ${txNote}`,
      handler: "interface.set",
      mutation: true,
      args: [{ name: "NAME", help: "interface name", complete: "interfaces" }],
      flags: [
        ...ifaceFlags,
        { name: "up", help: "administratively up" },
        { name: "down", help: "administratively down" },
        { name: "no-address", help: "remove every configured address" },
      ],
      examples: ["orbctl interface set eth0 --mtu 9000 --up", "orbctl interface set eth1 --address 192.0.2.1/24 --address 2001:db8::1/64", "orbctl interface set eth1 --down --description 'spare port'"],
    },
    {
      name: "create-vlan",
      summary: "create an 802.1Q VLAN subinterface",
      description: `Creates PARENT.VLANID (or --name). ${txNote}`,
      handler: "interface.createVlan",
      mutation: true,
      args: [
        { name: "PARENT", help: "parent interface; must exist", complete: "interfaces" },
        { name: "VLANID", help: "802.1Q VLAN id, 1..4094, unique per parent", type: "int" },
      ],
      flags: [{ name: "name", value: "NAME", help: "interface name, 1..15 bytes of [A-Za-z0-9_.-] (default PARENT.VLANID)" }, ...ifaceFlags],
      examples: ["orbctl interface create-vlan eth0 100", "orbctl interface create-vlan eth0 200 --name guest --address 10.20.0.1/24"],
    },
    {
      name: "delete",
      summary: "delete a VLAN, or reset a physical interface to defaults",
      description: txNote,
      handler: "interface.delete",
      mutation: true,
      args: [{ name: "NAME", help: "interface name", complete: "interfaces" }],
      examples: ["orbctl interface delete eth0.100"],
    },
  ],
};

const tableFlag: FlagSpec = { name: "table", value: "N", type: "int", help: "routing table id, 1..4294967295 (not 253, 255); default main (254)" };

const route: CommandSpec = {
  name: "route",
  summary: "static routes",
  children: [
    {
      name: "list",
      summary: "list configured and dynamic routes (owner: the route set of a dynamic one)",
      description: `${PAGE_NOTE} A full table from a routing package is a million lines: narrow it with --origin or --set.`,
      handler: "route.list",
      flags: [
        { name: "table", value: "N", type: "int", help: "only this table (default all tables)" },
        { name: "family", value: "FAMILY", choices: ["ipv4", "ipv6"], help: "only this address family" },
        { name: "origin", value: "ORIGIN", choices: ["static", "dynamic"], help: "only configured (static) or only dynamic routes" },
        { name: "set", value: "NAME", help: "only the dynamic routes of this route set" },
        { name: "all", help: "also list kernel and foreign routes the daemon does not own" },
      ],
      examples: ["orbctl route list", "orbctl route list --table 100 --family ipv6", "orbctl route list --origin static", "orbctl route list --set bgp", "orbctl route list --all"],
    },
    {
      name: "show",
      summary: "show one configured route",
      handler: "route.show",
      args: [{ name: "CIDR", help: "destination prefix, e.g. 10.0.0.0/8" }],
      flags: [tableFlag],
      examples: ["orbctl route show 10.0.0.0/8", "orbctl route show ::/0 --table 100"],
    },
    {
      name: "add",
      summary: "add a static route",
      description: `A unicast route needs --via or --dev (or both); blackhole, unreachable and prohibit routes need neither. ${txNote}`,
      handler: "route.add",
      mutation: true,
      args: [{ name: "CIDR", help: "destination prefix; host bits must be zero (10.0.0.0/8, ::/0)" }],
      flags: [
        { name: "via", value: "GW", help: "next-hop address, same family as the destination" },
        { name: "dev", value: "IF", complete: "interfaces", help: "egress interface; must exist" },
        { name: "metric", value: "N", type: "int", help: "route priority, 0..4294967295; lower wins" },
        tableFlag,
        { name: "type", value: "TYPE", choices: ["unicast", "blackhole", "unreachable", "prohibit"], help: "what the route does (default unicast)" },
        { name: "description", value: "TEXT", help: "free text, 0..255 bytes" },
      ],
      examples: ["orbctl route add 0.0.0.0/0 --via 192.0.2.254", "orbctl route add 10.8.0.0/16 --via 10.0.0.2 --dev eth1 --metric 50", "orbctl route add 203.0.113.0/24 --type blackhole"],
    },
    {
      name: "delete",
      summary: "delete a static route",
      description: txNote,
      handler: "route.delete",
      mutation: true,
      args: [{ name: "CIDR", help: "destination prefix" }],
      flags: [tableFlag],
      examples: ["orbctl route delete 10.8.0.0/16"],
    },
    {
      name: "import",
      summary: "load many routes from a file (client-streaming)",
      description:
        'FILE (or - for stdin) holds one route per line: "[TYPE] CIDR [via GW] [dev IF] [metric N] [table N]"; TYPE is blackhole, unreachable or prohibit; "#" starts a comment. Lines are streamed in batches through BulkUpdateRoutes; valid routes are committed together (or staged in the open transaction) and each bad line is listed with its line number and reason. Exit status 6 when any line failed.',
      handler: "route.import",
      mutation: true,
      args: [{ name: "FILE", help: "route file, or - for standard input", complete: "files" }],
      flags: [{ name: "batch", value: "N", type: "int", help: "routes per stream message, 1..10000 (default 5000)" }],
      examples: ["orbctl route import routes.txt", "ip -4 route show table 100 | orbctl route import -"],
    },
  ],
};

const ruleFlags: readonly FlagSpec[] = [
  { name: "chain", value: "CHAIN", choices: ["input", "forward", "output"], help: "where the rule is evaluated" },
  { name: "seq", value: "N", type: "int", help: "order within the chain, 1..65535, unique per chain" },
  { name: "action", value: "ACTION", choices: ["accept", "drop", "reject"], help: "what to do with matching packets" },
  { name: "src", value: "CIDR|@SET", help: "source prefix, or @name of a prefix set" },
  { name: "dst", value: "CIDR|@SET", help: "destination prefix, or @name of a prefix set" },
  { name: "proto", value: "PROTO", choices: ["tcp", "udp", "icmp", "icmpv6"], help: "IP protocol (default any)" },
  { name: "sport", value: "PORTS", repeat: true, help: "source ports: 22 or 1024-65535; repeat for more (TCP/UDP, at most 16)" },
  { name: "dport", value: "PORTS", repeat: true, help: "destination ports, as --sport" },
  { name: "in", value: "IF", complete: "interfaces", help: "ingress interface (input and forward only)" },
  { name: "out", value: "IF", complete: "interfaces", help: "egress interface (forward and output only)" },
  { name: "state", value: "STATES", help: "connection states, comma-separated: new, established, related, invalid" },
  { name: "counter", help: "keep packet and byte counters" },
  { name: "description", value: "TEXT", help: "free text, 0..255 bytes" },
];

const firewall: CommandSpec = {
  name: "firewall",
  summary: "firewall rules, prefix sets and the XDP fast path",
  children: [
    {
      name: "rule",
      summary: "ordered firewall rules",
      children: [
        {
          name: "list",
          summary: "list rules in evaluation order, with counters",
          description: PAGE_NOTE,
          handler: "firewallRule.list",
          flags: [{ name: "chain", value: "CHAIN", choices: ["input", "forward", "output"], help: "only this chain" }],
          examples: ["orbctl firewall rule list", "orbctl firewall rule list --chain input"],
        },
        {
          name: "show",
          summary: "show one rule",
          handler: "firewallRule.show",
          args: [{ name: "NAME", help: "rule name", complete: "rules" }],
          examples: ["orbctl firewall rule show allow-ssh"],
        },
        {
          name: "add",
          summary: "add a rule",
          description: `--chain, --seq and --action are required. ${txNote}`,
          handler: "firewallRule.add",
          mutation: true,
          args: [{ name: "NAME", help: "rule name: 1..63 characters, ^[a-z][a-z0-9-]*$" }],
          flags: ruleFlags,
          examples: [
            "orbctl firewall rule add allow-ssh --chain input --seq 10 --proto tcp --dport 22 --action accept",
            "orbctl firewall rule add established --chain forward --seq 1 --state established,related --action accept",
            "orbctl firewall rule add drop-bogons --chain input --seq 5 --src @bogons --action drop --counter",
          ],
        },
        {
          name: "delete",
          summary: "delete a rule",
          description: txNote,
          handler: "firewallRule.delete",
          mutation: true,
          args: [{ name: "NAME", help: "rule name", complete: "rules" }],
          examples: ["orbctl firewall rule delete allow-ssh"],
        },
      ],
    },
    {
      name: "set",
      summary: "named prefix sets that rules match against",
      children: [
        {
          name: "list",
          summary: "list prefix sets",
          description: PAGE_NOTE,
          handler: "firewallSet.list",
          examples: ["orbctl firewall set list"],
        },
        {
          name: "show",
          summary: "show one prefix set with its prefixes",
          handler: "firewallSet.show",
          args: [{ name: "NAME", help: "set name", complete: "prefix-sets" }],
          examples: ["orbctl firewall set show bogons"],
        },
        {
          name: "add",
          summary: "create a prefix set",
          description: txNote,
          handler: "firewallSet.add",
          mutation: true,
          args: [{ name: "NAME", help: "set name: 1..63 characters, ^[a-z][a-z0-9-]*$" }],
          flags: [
            { name: "family", value: "FAMILY", choices: ["ipv4", "ipv6"], help: "address family of every prefix (required, immutable)" },
            { name: "prefix", value: "CIDR", repeat: true, help: "a prefix of the set's family; repeat for more" },
            { name: "description", value: "TEXT", help: "free text, 0..255 bytes" },
          ],
          examples: ["orbctl firewall set add bogons --family ipv4 --prefix 0.0.0.0/8 --prefix 240.0.0.0/4"],
        },
        {
          name: "delete",
          summary: "delete a prefix set (refused while a rule uses it)",
          description: txNote,
          handler: "firewallSet.delete",
          mutation: true,
          args: [{ name: "NAME", help: "set name", complete: "prefix-sets" }],
          examples: ["orbctl firewall set delete bogons"],
        },
        {
          name: "add-entries",
          summary: "add prefixes to a set (client-streaming, for big lists)",
          description: `Prefixes come from the arguments and/or --file (one per line, "#" comments), streamed in batches through BulkUpdatePrefixSetEntries. ${txNote}`,
          handler: "firewallSet.addEntries",
          mutation: true,
          args: [
            { name: "NAME", help: "set name", complete: "prefix-sets" },
            { name: "CIDR", help: "prefixes to add", optional: true, variadic: true },
          ],
          flags: [{ name: "file", value: "FILE", complete: "files", help: "read prefixes from FILE (- for stdin)" }],
          examples: ["orbctl firewall set add-entries bogons 192.0.2.0/24 198.51.100.0/24", "orbctl firewall set add-entries blocklist --file drop.txt"],
        },
        {
          name: "remove-entries",
          summary: "remove prefixes from a set",
          description: `As add-entries; removing an absent prefix is reported for that prefix. ${txNote}`,
          handler: "firewallSet.removeEntries",
          mutation: true,
          args: [
            { name: "NAME", help: "set name", complete: "prefix-sets" },
            { name: "CIDR", help: "prefixes to remove", optional: true, variadic: true },
          ],
          flags: [{ name: "file", value: "FILE", complete: "files", help: "read prefixes from FILE (- for stdin)" }],
          examples: ["orbctl firewall set remove-entries bogons 192.0.2.0/24"],
        },
      ],
    },
    {
      name: "fast-path",
      summary: "prefix sets as XDP drop/allow lists on interfaces",
      children: [
        {
          name: "list",
          summary: "list the prefix sets attached to the fast path",
          description: PAGE_NOTE,
          handler: "firewallFastPath.list",
          examples: ["orbctl firewall fast-path list"],
        },
        {
          name: "attach",
          summary: "attach a prefix set as a fast drop (or allow) list",
          description: `Sources in the set are dropped in XDP, before the kernel's stack and nftables, on each --interface (natively where the driver can, else in generic mode); with --allow they are never dropped by the fast path. Replaces the set's earlier attachment. ${txNote}`,
          handler: "firewallFastPath.attach",
          mutation: true,
          args: [{ name: "SET", help: "prefix set name", complete: "prefix-sets" }],
          flags: [
            { name: "interface", value: "IF", repeat: true, help: "kernel interface name; repeat for more (at most 64)" },
            { name: "allow", help: "an allow list: wins over the drop lists of the interface" },
          ],
          examples: ["orbctl firewall fast-path attach blocklist --interface eth0 --interface eth1", "orbctl firewall fast-path attach partners --interface eth0 --allow"],
        },
        {
          name: "detach",
          summary: "detach a prefix set from the fast path (the set stays)",
          description: `An interface left without a list loses the XDP program. ${txNote}`,
          handler: "firewallFastPath.detach",
          mutation: true,
          args: [{ name: "SET", help: "prefix set name", complete: "prefix-sets" }],
          examples: ["orbctl firewall fast-path detach blocklist"],
        },
        {
          name: "show",
          summary: "the fast path per interface: mode (native/generic) and counters",
          handler: "firewallFastPath.show",
          examples: ["orbctl firewall fast-path show", "orbctl firewall fast-path show -o json"],
        },
      ],
    },
  ],
};

const user: CommandSpec = {
  name: "user",
  summary: "users of the API (mapped from OS uids)",
  children: [
    { name: "list", summary: "list users", description: PAGE_NOTE, handler: "user.list", examples: ["orbctl user list", "orbctl user list -o json"] },
    {
      name: "show",
      summary: "show one user",
      handler: "user.show",
      args: [{ name: "NAME", help: "user name", complete: "users" }],
      examples: ["orbctl user show alice"],
    },
    {
      name: "add",
      summary: "create a user",
      description: `--role is required. ${txNote}`,
      handler: "user.add",
      mutation: true,
      args: [{ name: "NAME", help: "1..32 characters, ^[a-z_][a-z0-9_-]*$" }],
      flags: [
        { name: "role", value: "ROLE", complete: "roles", help: "built-in (admin, operator, viewer) or custom role; must exist" },
        { name: "uid", value: "UID", type: "int", help: "OS uid mapped to this user, 1..4294967294, unique; omit for token-only users" },
        { name: "description", value: "TEXT", help: "free text, 0..255 bytes" },
      ],
      examples: ["orbctl user add alice --role operator --uid 1001", "orbctl user add ci --role viewer --description 'CI pipeline'"],
    },
    {
      name: "set",
      summary: "change a user",
      description: `Changes only the fields given. ${txNote}`,
      handler: "user.set",
      mutation: true,
      args: [{ name: "NAME", help: "user name", complete: "users" }],
      flags: [
        { name: "role", value: "ROLE", complete: "roles", help: "new role; must exist" },
        { name: "uid", value: "UID", type: "int", help: "new OS uid, 1..4294967294, unique" },
        { name: "no-uid", help: "unmap the OS uid (token-only user)" },
        { name: "description", value: "TEXT", help: "free text, 0..255 bytes" },
      ],
      examples: ["orbctl user set alice --role admin", "orbctl user set ci --no-uid"],
    },
    {
      name: "delete",
      summary: "delete a user and revoke its tokens",
      description: txNote,
      handler: "user.delete",
      mutation: true,
      args: [{ name: "NAME", help: "user name", complete: "users" }],
      examples: ["orbctl user delete alice"],
    },
  ],
};

const capabilityFlag: FlagSpec = {
  name: "capability",
  short: "c",
  value: "CAP",
  repeat: true,
  complete: "capabilities",
  help: "capability name (e.g. routing.write); repeat or comma-separate; unknown names are refused",
};

const role: CommandSpec = {
  name: "role",
  summary: "roles: named sets of capabilities",
  children: [
    { name: "list", summary: "list roles, built-in first", description: PAGE_NOTE, handler: "role.list", examples: ["orbctl role list"] },
    {
      name: "show",
      summary: "show one role with its capabilities",
      handler: "role.show",
      args: [{ name: "NAME", help: "role name", complete: "roles" }],
      examples: ["orbctl role show operator"],
    },
    {
      name: "add",
      summary: "create a custom role",
      description: txNote,
      handler: "role.add",
      mutation: true,
      args: [{ name: "NAME", help: "1..32 characters, ^[a-z][a-z0-9-]*$" }],
      flags: [capabilityFlag, { name: "description", value: "TEXT", help: "free text, 0..255 bytes" }],
      examples: ["orbctl role add netops -c routing.read -c routing.write", "orbctl role add auditor --capability config.read,user.read"],
    },
    {
      name: "set",
      summary: "change a custom role (built-in roles are immutable)",
      description: `--capability replaces the whole set. ${txNote}`,
      handler: "role.set",
      mutation: true,
      args: [{ name: "NAME", help: "role name", complete: "roles" }],
      flags: [capabilityFlag, { name: "description", value: "TEXT", help: "free text, 0..255 bytes" }],
      examples: ["orbctl role set netops -c routing.read,routing.write,interface.read"],
    },
    {
      name: "delete",
      summary: "delete a custom role (refused while a user has it)",
      description: txNote,
      handler: "role.delete",
      mutation: true,
      args: [{ name: "NAME", help: "role name", complete: "roles" }],
      examples: ["orbctl role delete netops"],
    },
  ],
};

const token: CommandSpec = {
  name: "token",
  summary: "API tokens for the REST API",
  children: [
    {
      name: "list",
      summary: "list tokens (metadata only, never secrets)",
      description: PAGE_NOTE,
      handler: "token.list",
      flags: [{ name: "user", value: "USER", complete: "users", help: "only this user's tokens" }],
      examples: ["orbctl token list", "orbctl token list --user ci"],
    },
    {
      name: "create",
      summary: "create a token and print its secret (shown only once)",
      handler: "token.create",
      args: [{ name: "USER", help: "the user the token acts as; must exist", complete: "users" }],
      flags: [
        { name: "expires", value: "DURATION", type: "duration", help: "lifetime, e.g. 30d, 12h (default never)" },
        { name: "description", value: "TEXT", help: "purpose of the token, 0..255 bytes" },
      ],
      examples: ["orbctl token create ci --expires 90d --description 'CI pipeline'"],
    },
    {
      name: "revoke",
      summary: "revoke a token at once (revoking twice is fine)",
      handler: "token.revoke",
      args: [{ name: "ID", help: "token id", complete: "tokens" }],
      examples: ["orbctl token revoke tok_3f9a1c"],
    },
  ],
};

const whoami: CommandSpec = {
  name: "whoami",
  summary: "who you are to the daemon: user, role, capabilities",
  handler: "user.whoami",
  examples: ["orbctl whoami", "orbctl whoami -o json"],
};

const revisionArg = { name: "N", help: "revision number", type: "int", complete: "revisions" } as const;
const commitFlags: readonly FlagSpec[] = [
  { name: "message", short: "m", value: "MSG", help: "commit comment, 0..1024 bytes" },
  { name: "confirm", value: "DURATION", type: "duration", help: "roll back by itself unless `orbctl config confirm` comes within DURATION (10s..24h)" },
];

const config: CommandSpec = {
  name: "config",
  summary: "transactions, commits, rollback and revision history",
  description:
    "`config begin` opens a transaction and remembers its id for this user and socket; while it is open, every change command stages into it (unless --no-transaction). `config commit` applies everything as one revision; `config discard` drops it.",
  children: [
    {
      name: "begin",
      summary: "open a transaction and remember it",
      handler: "config.begin",
      examples: ["orbctl config begin"],
    },
    {
      name: "diff",
      summary: "show what the open transaction would change",
      handler: "config.diff",
      examples: ["orbctl config diff"],
    },
    {
      name: "commit",
      summary: "apply the open transaction as one revision",
      handler: "config.commit",
      flags: commitFlags,
      examples: ["orbctl config commit -m 'uplink MTU'", "orbctl config commit -m 'risky' --confirm 5m"],
    },
    {
      name: "confirm",
      summary: "make the pending confirmed commit permanent",
      handler: "config.confirm",
      examples: ["orbctl config confirm"],
    },
    {
      name: "discard",
      summary: "drop the open transaction",
      handler: "config.discard",
      examples: ["orbctl config discard"],
    },
    {
      name: "rollback",
      summary: "commit a new revision with the content of revision N",
      handler: "config.rollback",
      args: [revisionArg],
      flags: commitFlags,
      examples: ["orbctl config rollback 12 -m 'back to Monday'"],
    },
    {
      name: "history",
      summary: "list kept revisions, newest first",
      description: PAGE_NOTE,
      handler: "config.history",
      examples: ["orbctl config history"],
    },
    {
      name: "show",
      summary: "show a revision's whole configuration (default: active)",
      handler: "config.show",
      args: [{ ...revisionArg, optional: true, help: "revision number (default the active one)" }],
      examples: ["orbctl config show", "orbctl config show 12 -o json"],
    },
  ],
};

const watch: CommandSpec = {
  name: "watch",
  summary: "stream changes until interrupted (Ctrl-C)",
  children: [
    {
      name: "interfaces",
      summary: "interfaces, then every change the kernel reports",
      handler: "watch.interfaces",
      flags: [{ name: "name", value: "NAME", complete: "interfaces", help: "only this interface" }],
      examples: ["orbctl watch interfaces", "orbctl watch interfaces --name eth0 -o json"],
    },
    {
      name: "routes",
      summary: "configured routes, then every change",
      handler: "watch.routes",
      flags: [
        { name: "table", value: "N", type: "int", help: "only this table" },
        { name: "all", help: "also kernel and foreign routes" },
      ],
      examples: ["orbctl watch routes --table 254"],
    },
    {
      name: "commits",
      summary: "every commit, rollback and confirm from now on",
      handler: "watch.commits",
      examples: ["orbctl watch commits -o json"],
    },
  ],
};

const bundleArg = { name: "PATH", help: "absolute path of the bundle on the box, under /data", complete: "files" } as const;

const pkg: CommandSpec = {
  name: "package",
  summary: "add-on packages",
  children: [
    { name: "list", summary: "list installed packages", description: PAGE_NOTE, handler: "package.list", examples: ["orbctl package list"] },
    { name: "show", summary: "show one package", handler: "package.show", args: [{ name: "NAME", help: "package name" }], examples: ["orbctl package show wireguard"] },
    { name: "install", summary: "verify and install a bundle, showing progress", handler: "package.install", args: [bundleArg], examples: ["orbctl package install /data/blocklist-sync-1.0.0.opkg"] },
    { name: "delete", summary: "stop and remove a package", handler: "package.delete", args: [{ name: "NAME", help: "package name" }], examples: ["orbctl package delete wireguard"] },
    {
      name: "logs",
      summary: "the last lines a package wrote to stdout and stderr",
      handler: "package.logs",
      args: [{ name: "NAME", help: "package name" }],
      flags: [{ name: "lines", value: "N", type: "int", help: "how many of the last lines, 1..1000 (default 100)" }],
      examples: ["orbctl package logs blocklist-sync --lines 20"],
    },
    {
      name: "policy",
      summary: "what packages may be granted, and the trusted signing keys",
      children: [
        { name: "show", summary: "the package policy in force and the image's key ids", handler: "package.policyShow", examples: ["orbctl package policy show"] },
        {
          name: "allow",
          summary: "set the capabilities packages may request (replaces the list)",
          handler: "package.policyAllow",
          args: [{ name: "CAPABILITY", help: "capability names, e.g. firewall.read", variadic: true }],
          examples: ["orbctl package policy allow firewall.read firewall.write system.read"],
        },
        {
          name: "trust",
          summary: "trust a package signing key besides the image's",
          handler: "package.policyTrust",
          args: [
            { name: "NAME", help: "a name for the key" },
            { name: "FILE", help: "its Ed25519 public key in PEM form, a file on this machine", complete: "files" },
          ],
          examples: ["orbctl package policy trust vendor-a /tmp/vendor-a.pem"],
        },
        {
          name: "untrust",
          summary: "stop trusting a key added with trust",
          handler: "package.policyUntrust",
          args: [{ name: "NAME", help: "the key's name" }],
          examples: ["orbctl package policy untrust vendor-a"],
        },
      ],
    },
  ],
};

const update: CommandSpec = {
  name: "update",
  summary: "A/B system updates",
  children: [
    { name: "status", summary: "the A/B slots and which one boots next", handler: "update.status", examples: ["orbctl update status"] },
    {
      name: "install",
      summary: "install a signed update bundle into the other slot, showing progress",
      description:
        "Checks the bundle (signature, board, version) before anything is written, then RAUC writes the slot that is not booted and makes it boot next; the running slot is never touched. A progress bar on a terminal, RAUC's progress lines otherwise, then a summary. A bundle older than the booted slot is refused unless --force-downgrade is given.",
      handler: "update.install",
      args: [{ name: "FILE", help: "the bundle (.raucb) on the box, e.g. under /data; a relative path is taken from the current directory", complete: "files" }],
      flags: [{ name: "force-downgrade", help: "install even when the bundle is older than the booted slot" }],
      examples: ["orbctl update install /data/orbital-0.2.0.raucb", "orbctl update install --force-downgrade /data/orbital-0.1.0.raucb  # go back to an older release"],
    },
    {
      name: "mark",
      summary: "mark a slot good, bad or active",
      description: "good: keep booting it; bad: the boot loader will not boot it; active: boot it next.",
      handler: "update.mark",
      args: [
        { name: "SLOT", help: "rootfs.0, rootfs.1 (or their boot names a, b), booted or other", choices: ["rootfs.0", "rootfs.1", "a", "b", "booted", "other"] },
        { name: "MARK", help: "good, bad or active (boot it next)", choices: ["good", "bad", "active"] },
      ],
      examples: ["orbctl update mark booted good", "orbctl update mark other active  # boot the other slot next"],
    },
  ],
};

const call: CommandSpec = {
  name: "call",
  summary: "call any unary or server-streaming RPC with a JSON request",
  description:
    "METHOD is package.Service/Method (a unique Service/Method suffix is enough). JSON is the request in canonical proto3 JSON (default {}). Responses are printed as JSON, one document per response.",
  handler: "call.call",
  args: [
    { name: "METHOD", help: "e.g. orbital.user.v1.UserService/WhoAmI", complete: "methods" },
    { name: "JSON", help: "request message as JSON (default {})", optional: true },
  ],
  examples: ["orbctl call orbital.system.v1.SystemService/GetVersion", `orbctl call UserService/GetUser '{"name":"alice"}'`],
};

const shell: CommandSpec = {
  name: "shell",
  summary: "interactive shell over one connection, with completion",
  description:
    "Reads commands (the same as orbctl's, without the leading word) over one persistent connection. Tab completes commands, flags and names from the daemon; history is kept in $XDG_STATE_HOME/orbctl/history. The prompt shows [candidate] while a transaction is open and * when it holds changes. exit or Ctrl-D leaves.",
  handler: "shell.shell",
  local: true,
  examples: ["orbctl shell", "echo 'user list' | orbctl shell"],
};

const completion: CommandSpec = {
  name: "completion",
  summary: "print a shell completion script",
  children: [
    {
      name: "bash",
      summary: "bash completion script, generated from the command table",
      handler: "completion.bash",
      local: true,
      examples: ["orbctl completion bash > /etc/bash_completion.d/orbctl", "source <(orbctl completion bash)"],
    },
  ],
};

const help: CommandSpec = {
  name: "help",
  summary: "help for a command or topic (exit-codes)",
  handler: "help.help",
  local: true,
  args: [{ name: "COMMAND", help: "command words, or a topic such as exit-codes", optional: true, variadic: true }],
  examples: ["orbctl help", "orbctl help route add", "orbctl help exit-codes"],
};

const complete: CommandSpec = {
  name: "__complete",
  summary: "print live names for completion scripts",
  handler: "completion.names",
  hidden: true,
  args: [{ name: "SOURCE", help: "users, roles, tokens, interfaces, revisions, rules, prefix-sets, capabilities, methods" }],
};

/** The root of the table: `orbctl <noun> <verb>`. */
export const commandTable: CommandSpec = {
  name: "orbctl",
  summary: "the Orbital OS command line",
  description: "orbctl talks to orbitald over its Unix socket. Run `orbctl <command> --help` for details and examples.",
  children: [system, iface, route, firewall, user, role, token, whoami, config, watch, pkg, update, call, shell, completion, help, complete],
  examples: ["orbctl system version", "orbctl user add alice --role operator --uid 1001", "orbctl config begin && orbctl interface set eth0 --mtu 9000 && orbctl config commit"],
};
