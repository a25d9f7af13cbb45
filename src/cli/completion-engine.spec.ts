// Proves: completion offers sub-commands, flags, flag choices, argument choices and live names from the
// command table, for the word being typed, wherever global flags appear.
import { describe, expect, it } from "vitest";
import { commandTable } from "./command-table.js";
import { complete } from "./completion-engine.js";
import { splitWords } from "./shell-words.js";

const names: Record<string, string[]> = { users: ["alice", "albert", "bob"], roles: ["admin", "operator", "viewer"], revisions: ["3", "2", "1"] };
const lookup = async (source: string) => names[source] ?? [];
const at = (line: string) => {
  const words = splitWords(line);
  return line.endsWith(" ") ? complete(commandTable, words, "", lookup) : complete(commandTable, words.slice(0, -1), words[words.length - 1]!, lookup);
};

describe("completion", () => {
  it("completes nouns and verbs", async () => {
    expect(await at("us")).toEqual(["user"]);
    expect(await at("firewall ")).toEqual(["fast-path", "rule", "set"]);
    expect(await at("config r")).toEqual(["rollback"]);
  });

  it("completes flags, their choices and live values", async () => {
    expect(await at("route add 10.0.0.0/8 --t")).toEqual(["--table", "--type"]);
    expect(await at("route add 10.0.0.0/8 --type b")).toEqual(["blackhole"]);
    expect(await at("user add x --role o")).toEqual(["operator"]);
    expect(await at("-o json user show al")).toEqual(["albert", "alice"]);
    expect(await at("config rollback ")).toEqual(["1", "2", "3"]);
  });

  it("offers nothing after an unknown word", async () => {
    expect(await at("frob ")).toEqual([]);
  });
});

describe("shell words", () => {
  it("splits like a shell", () => {
    expect(splitWords(`user set a --description "two words" 'it''s' x\\ y # comment`)).toEqual(["user", "set", "a", "--description", "two words", "its", "x y"]);
    expect(() => splitWords(`user "open`)).toThrow(/unterminated/);
  });
});
