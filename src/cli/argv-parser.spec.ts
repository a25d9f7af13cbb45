// Proves: the parser finds commands in the table, converts and checks flags and arguments, accepts global
// flags anywhere, and reports every mistake as a UsageError (exit status 2) with a usage line.
import { describe, expect, it } from "vitest";
import { parseCommandLine } from "./argv-parser.js";
import { UsageError } from "./cli-error.js";
import { commandTable } from "./command-table.js";

const parse = (...argv: string[]) => parseCommandLine(commandTable, argv);
const usageError = (...argv: string[]) => {
  try {
    parse(...argv);
  } catch (e) {
    expect(e).toBeInstanceOf(UsageError);
    return e as UsageError;
  }
  throw new Error(`parsed: ${argv.join(" ")}`);
};

describe("argv parser", () => {
  it("finds nested commands and their arguments", () => {
    const inv = parse("firewall", "rule", "add", "ssh", "--chain", "input", "--seq", "10", "--action", "accept", "--dport", "22", "--dport", "80-81");
    expect(inv.command).toBe("firewall rule add");
    expect(inv.arg("NAME")).toBe("ssh");
    expect(inv.str("chain")).toBe("input");
    expect(inv.int("seq")).toBe(10);
    expect(inv.list("dport")).toEqual(["22", "80-81"]);
  });

  it("takes global flags anywhere, in every spelling", () => {
    const inv = parse("-o", "json", "user", "--socket=/tmp/s.sock", "show", "alice", "--deadline", "1m30s", "--no-transaction");
    expect(inv.global).toMatchObject({ output: "json", socket: "/tmp/s.sock", deadlineMs: 90_000, noTransaction: true });
    expect(parse("whoami", "-oyaml").global.output).toBe("yaml");
    expect(parse("whoami", "--output=yaml").global.output).toBe("yaml");
  });

  it("converts typed values and checks choices", () => {
    expect(parse("interface", "create-vlan", "eth0", "100").argInt("VLANID")).toBe(100);
    expect(parse("token", "create", "ci", "--expires", "30d").int("expires")).toBe(30 * 86_400_000);
    expect(usageError("interface", "set", "eth0", "--mtu", "big").message).toMatch(/--mtu: "big" is not a whole number/);
    expect(usageError("route", "add", "10.0.0.0/8", "--type", "anycast").message).toMatch(/not one of unicast, blackhole/);
    expect(usageError("whoami", "-o", "xml").message).toMatch(/not one of table, json, yaml/);
    expect(usageError("token", "create", "ci", "--expires", "soon").message).toMatch(/not a duration/);
  });

  it("collects variadic arguments and treats - as a word", () => {
    const inv = parse("firewall", "set", "add-entries", "bogons", "10.0.0.0/8", "192.0.2.0/24");
    expect(inv.args("CIDR")).toEqual(["10.0.0.0/8", "192.0.2.0/24"]);
    expect(parse("route", "import", "-").arg("FILE")).toBe("-");
    expect(parse("call", "UserService/GetUser", "--", "--x").arg("JSON")).toBe("--x");
  });

  it("reports mistakes with a usage line and a suggestion", () => {
    const e = usageError("user", "shwo", "alice");
    expect(e.message).toBe('unknown verb for "user": "shwo" (did you mean "show"?)');
    expect(e.details).toEqual([["usage", "orbctl user <verb>"]]);
    expect(usageError("usr").message).toMatch(/unknown command: "usr" \(did you mean "user"\?\)/);
    expect(usageError("user", "show").message).toMatch(/missing NAME/);
    expect(usageError("user", "show", "a", "b").message).toMatch(/unexpected argument "b"/);
    expect(usageError("user", "add", "x", "--rolle", "viewer").message).toMatch(/unknown flag --rolle .*did you mean "--role"/);
    expect(usageError("user", "add", "x", "--role").message).toMatch(/--role needs a value/);
    expect(usageError("interface", "set", "eth0", "--up=yes").message).toMatch(/--up takes no value/);
    expect(usageError("user", "add", "x", "--uid", "1", "--uid", "2").message).toMatch(/given twice/);
  });

  it("asks for help for --help anywhere and for incomplete commands", () => {
    expect(parse("user", "add", "--help").global.help).toBe(true);
    expect(parse("user", "frobnicate", "-h").global.help).toBe(true);
    const noun = parse("firewall");
    expect(noun.global.help).toBe(true);
    expect(noun.spec.name).toBe("firewall");
  });
});
