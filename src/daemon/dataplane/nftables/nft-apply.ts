// Runs the compiled firewall through the nft tool: applies a transaction (`nft -j -f -`, JSON on stdin, one
// atomic batch), reads the rules' counters back (`nft -j list table inet orbital`) and removes our table.
//
// When the kernel (or nft) refuses a transaction nothing of it is in force. To name the item at fault, the
// transaction is replayed in check mode (`nft -c -j -f -`: nft sends the batch and the kernel validates it,
// then aborts it) restricted to the table, its chains and the first k items (sets, then rules in evaluation
// order); a bisection on k finds the first item whose addition makes the check fail: log2(n) + 2 runs.
import { mkdtemp, open, rm, writeFile, type FileHandle } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Configuration } from "../../../gen/orbital/config/v1/configuration_pb.js";
import { runCommand, type CommandResult } from "../../run-command.js";
import { BackendFault, DataplaneError } from "../dataplane.js";
import {
  compileFirewall,
  compiledItems,
  hasFirewallItems,
  nftJsonText,
  removalDocument,
  restrictDocument,
  ruleFingerprints,
  TABLE_FAMILY,
  TABLE_NAME,
  withCounterValues,
  type CompiledFirewall,
  type CounterValues,
  type NftDocument,
} from "./nft-ruleset.js";

// The staging-time checks live with the compiler; the firewall service imports them from here or there.
export { firewallViolations, prefixSetViolations, ruleViolations, type FirewallViolation, type ItemViolations } from "./nft-ruleset.js";

export interface NftOptions {
  /** Run nft inside this network namespace (`ip netns exec <ns> nft ...`); tests only. */
  netns?: string;
  /** The nft binary; "nft" from PATH by default. */
  nft?: string;
  /**
   * Kill nft after this long: a read after 10 s, a transaction after 20 s plus 20 µs per prefix of its sets (a
   * million-prefix set takes seconds). A killed nft is a BackendFault: a hung nft must not hold commits.
   */
  timeoutMs?: number;
}

/** What an nft run printed; code null when nft could not be started or was killed. */
export type NftResult = CommandResult;

/**
 * Runs nft with `args`, `input` on its stdin. Never throws: a spawn failure is a result too.
 *
 * nft reads `-f -` by opening /dev/stdin, which fails (ENXIO) on the socket pairs Node uses for child stdio,
 * so the input is written to a private temporary file (0600 in a 0700 directory) that becomes nft's stdin.
 */
export async function runNft(args: readonly string[], input: string | undefined, options: NftOptions = {}): Promise<NftResult> {
  const nft = options.nft ?? "nft";
  const [cmd, argv] = options.netns ? ["ip", ["netns", "exec", options.netns, nft, ...args]] : [nft, [...args]];
  let dir: string | undefined;
  let file: FileHandle | undefined;
  try {
    if (input !== undefined) {
      dir = await mkdtemp(join(tmpdir(), "orbital-nft-"));
      const path = join(dir, "ruleset.json");
      await writeFile(path, input, { mode: 0o600 });
      file = await open(path, "r");
    }
    return await runCommand(cmd, argv, { ...(file ? { stdin: file.fd } : {}), timeoutMs: options.timeoutMs ?? READ_TIMEOUT_MS, name: "nft" });
  } catch (e) {
    return { code: null, stdout: "", stderr: `Error: cannot run ${cmd}: ${(e as Error).message}` };
  } finally {
    await file?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  }
}

const READ_TIMEOUT_MS = 10_000;
const APPLY_TIMEOUT_MS = 20_000;
const APPLY_MS_PER_PREFIX = 0.02;

/** Options for a transaction of `prefixes` set elements: the longer deadline, unless one was given. */
function applyOptions(options: NftOptions, prefixes: number): NftOptions {
  return options.timeoutMs !== undefined ? options : { ...options, timeoutMs: APPLY_TIMEOUT_MS + prefixes * APPLY_MS_PER_PREFIX };
}

/**
 * The failure of a run that says nothing of an item: nft could not be run or was killed, or the kernel refused
 * it as a whole (no permission). Undefined for a refusal of the transaction's content.
 */
function backendFault(r: NftResult, message: string): BackendFault | undefined {
  if (r.code === null) return new BackendFault("nftables", message, errnoOf(message) ?? (message.includes("timed out") ? "ETIMEDOUT" : undefined));
  if (errnoOf(message) === "EPERM") return new BackendFault("nftables", message, "EPERM");
  return undefined;
}

/** Parses nft's JSON output; anything else (a broken or foreign nft) is a BackendFault. */
function parseNftJson<T>(r: NftResult, what: string): T {
  try {
    return JSON.parse(r.stdout) as T;
  } catch {
    throw new BackendFault("nftables", `nft answered ${what} with what is not JSON: ${JSON.stringify(r.stdout.slice(0, 80))}`, "EBADMSG");
  }
}

/** The error text of an nft run: its "Error: ..." lines without the (meaningless for JSON) location prefix. */
export function nftMessage(r: NftResult): string {
  const lines = r.stderr.split("\n").map((l) => l.trim()).filter(Boolean);
  const errors = lines.filter((l) => l.includes("Error:")).map((l) => l.slice(l.indexOf("Error:") + "Error:".length).trim());
  const text = [...new Set(errors.length ? errors : lines)].join("; ");
  return text || `nft exited with code ${r.code ?? "none"}`;
}

// strerror() texts nft prints for kernel refusals, to errno names.
const ERRNO_TEXT: Record<string, string> = {
  "Operation not permitted": "EPERM",
  "No such file or directory": "ENOENT",
  "File exists": "EEXIST",
  "Invalid argument": "EINVAL",
  "Too many open files in system": "ENFILE",
  "Cannot allocate memory": "ENOMEM",
  "Device or resource busy": "EBUSY",
  "Operation not supported": "EOPNOTSUPP",
  "No space left on device": "ENOSPC",
  "Argument list too long": "E2BIG",
  "Numerical result out of range": "ERANGE",
  "File name too long": "ENAMETOOLONG",
  "Message too long": "EMSGSIZE",
  "No buffer space available": "ENOBUFS",
  "Protocol not supported": "EPROTONOSUPPORT",
  "Address family not supported by protocol": "EAFNOSUPPORT",
  "Resource temporarily unavailable": "EAGAIN",
  "Interrupted system call": "EINTR",
};

/** The errno name of a kernel refusal, when the message carries one (nft's own refusals carry none). */
export function errnoOf(message: string): string | undefined {
  for (const [text, name] of Object.entries(ERRNO_TEXT)) if (message.includes(text)) return name;
  if (message.startsWith("cannot run")) return /\b(E[A-Z0-9]+)\b/.exec(message)?.[1];
  return undefined;
}

/** The item a failure that cannot be narrowed down is reported on. */
function genericItem(compiled: CompiledFirewall): string {
  const items = compiledItems(compiled);
  return items.length && items.every((i) => i.startsWith("prefix_sets[")) ? "prefix_sets" : "firewall_rules";
}

const check = (doc: NftDocument, options: NftOptions) => runNft(["-c", "-j", "-f", "-"], nftJsonText(doc), options);

/**
 * Finds the item of a compiled firewall that nft or the kernel refuses, by bisection in check mode. Returns
 * the generic item ("firewall_rules") when even the bare table is refused, and undefined when the whole
 * transaction passes the check (the failure did not repeat).
 */
export async function locateFailure(compiled: CompiledFirewall, options: NftOptions = {}): Promise<{ item: string; message: string } | undefined> {
  const items = compiledItems(compiled);
  const whole = await check(compiled.document, options);
  if (whole.code === 0) return undefined;
  const bare = await check(restrictDocument(compiled, 0), options);
  if (bare.code !== 0) return { item: genericItem(compiled), message: nftMessage(bare) };
  // Invariant: the first `lo` items pass, the first `hi` fail.
  let lo = 0;
  let hi = items.length;
  let failing = whole;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    const r = await check(restrictDocument(compiled, mid), options);
    if (r.code === 0) lo = mid;
    else {
      hi = mid;
      failing = r;
    }
  }
  return { item: items[hi - 1] ?? genericItem(compiled), message: nftMessage(failing) };
}

/**
 * Applies a compiled firewall as one transaction. On failure nothing of it is in force (the previous
 * ruleset stays), and DataplaneError names the refused item, operation "nft", with nft's message.
 */
export async function applyCompiled(compiled: CompiledFirewall, options: NftOptions = {}, prefixes = 0): Promise<void> {
  const r = await runNft(["-j", "-f", "-"], nftJsonText(compiled.document), applyOptions(options, prefixes));
  if (r.code === 0) return;
  const message = nftMessage(r);
  const fault = backendFault(r, message);
  if (fault) throw fault;
  const found = await locateFailure(compiled, applyOptions(options, prefixes));
  const text = found?.message ?? message;
  throw new DataplaneError(text, found?.item ?? genericItem(compiled), "nft", errnoOf(text), { backend: "nftables" });
}

/** Removes our table if it exists; other tables are untouched. */
export async function removeFirewall(options: NftOptions = {}): Promise<void> {
  const r = await runNft(["-j", "-f", "-"], nftJsonText(removalDocument()), options);
  if (r.code !== 0) {
    const message = nftMessage(r);
    throw backendFault(r, message) ?? new DataplaneError(message, "firewall_rules", "nft", errnoOf(message), { backend: "nftables" });
  }
}

/** Our table as `nft -j list table inet orbital` shows it, counters as exact integers (strings); undefined when it does not exist. */
export async function listFirewallTable(options: NftOptions = {}): Promise<{ nftables: Record<string, unknown>[] } | undefined> {
  const r = await runNft(["-j", "list", "table", TABLE_FAMILY, TABLE_NAME], undefined, options);
  if (r.code !== 0) {
    const message = nftMessage(r);
    if (message === "No such file or directory") return undefined; // the table does not exist
    throw backendFault(r, message) ?? new BackendFault("nftables", `listing our table failed: ${message}`, errnoOf(message));
  }
  // Byte counters pass 2^53 (83 days at 10 Gbit/s): keep them exact by reading them as strings.
  const listing = parseNftJson<{ nftables?: Record<string, unknown>[] }>({ ...r, stdout: r.stdout.replace(/"(packets|bytes)":\s*(\d+)/g, '"$1":"$2"') }, "the listing of our table");
  if (!Array.isArray(listing?.nftables)) throw new BackendFault("nftables", "nft answered the listing of our table without an nftables array", "EBADMSG");
  return listing as { nftables: Record<string, unknown>[] };
}

/** Counters of our rules by rule name (the comment); rules without a counter are absent. Empty when our table does not exist. */
export async function readRuleCounters(options: NftOptions = {}): Promise<Map<string, CounterValues>> {
  const out = new Map<string, CounterValues>();
  const listing = await listFirewallTable(options);
  for (const obj of listing?.nftables ?? []) {
    const rule = obj.rule as { comment?: string; expr?: Record<string, unknown>[] } | undefined;
    if (!rule?.comment) continue;
    for (const e of rule.expr ?? []) {
      const c = e.counter as { packets?: string; bytes?: string } | undefined;
      if (!c || typeof c !== "object") continue;
      const prev = out.get(rule.comment) ?? { packets: 0n, bytes: 0n };
      out.set(rule.comment, { packets: prev.packets + BigInt(c.packets ?? 0), bytes: prev.bytes + BigInt(c.bytes ?? 0) });
    }
  }
  return out;
}

/** Whether our table exists (`nft -j list tables`: cheap, it fetches no set elements). */
export async function firewallTableExists(options: NftOptions = {}): Promise<boolean> {
  const r = await runNft(["-j", "list", "tables"], undefined, options);
  if (r.code !== 0) {
    const message = nftMessage(r);
    throw backendFault(r, message) ?? new BackendFault("nftables", `listing tables failed: ${message}`, errnoOf(message));
  }
  const listing = parseNftJson<{ nftables?: { table?: { family: string; name: string } }[] }>(r, "the listing of tables");
  if (!Array.isArray(listing?.nftables)) throw new BackendFault("nftables", "nft answered the listing of tables without an nftables array", "EBADMSG");
  return listing.nftables.some((o) => o.table?.family === TABLE_FAMILY && o.table.name === TABLE_NAME);
}

export interface FirewallOptions extends NftOptions {
  /**
   * Counters are carried over a rebuild only while the sets hold at most this many prefixes in all (100,000
   * by default): reading counters makes nft 1.0.6 dump every set element first, which takes about a minute
   * for a million prefixes. Above it, changing the firewall restarts the counters.
   */
  carryCountersMaxPrefixes?: number;
}

/**
 * The firewall part of the Linux data plane. apply() makes our table match the configuration (removing it
 * when the configuration has no firewall items):
 * - a configuration whose firewall compiles to what was last applied, while our table exists, changes
 *   nothing (every commit applies the whole configuration; a million-prefix set takes seconds to load);
 *   `force` rebuilds anyway (reconcile after someone else touched our table);
 * - otherwise the table is rebuilt in one transaction. Counters survive for rules whose nft form did not
 *   change (packets counted between the read and the commit are lost); a changed rule starts from zero.
 */
export class NftablesFirewall {
  /** What is in force: the transaction text and nft text per rule name; undefined until the first apply (after a restart). */
  private applied: { text: string; rules: Map<string, string> } | undefined;

  constructor(private readonly options: FirewallOptions = {}) {}

  async apply(config: Pick<Configuration, "firewallRules" | "prefixSets">, { force = false }: { force?: boolean } = {}): Promise<void> {
    if (!hasFirewallItems(config)) {
      await removeFirewall(this.options);
      this.applied = { text: "", rules: new Map() };
      return;
    }
    const compiled = compileFirewall(config);
    const text = nftJsonText(compiled.document);
    if (!force && this.applied?.text === text && (await firewallTableExists(this.options))) return;

    const rules = ruleFingerprints(compiled);
    const prefixes = config.prefixSets.reduce((n, s) => n + s.prefixes.length, 0);
    let carry = new Map<string, CounterValues>();
    if (config.firewallRules.some((r) => r.counter) && prefixes <= (this.options.carryCountersMaxPrefixes ?? 100_000)) {
      try {
        carry = await readRuleCounters(this.options);
      } catch (err) {
        // Counters are a convenience; a refused listing must not block the apply, a failing nft must.
        if (err instanceof BackendFault) throw err;
      }
      const before = this.applied;
      for (const name of [...carry.keys()]) {
        // After a restart nothing is known of what is in force: carry by name.
        if (!rules.has(name) || (before !== undefined && before.rules.get(name) !== rules.get(name))) carry.delete(name);
      }
    }
    await applyCompiled(carry.size ? withCounterValues(compiled, carry) : compiled, this.options, prefixes);
    // An exit code alone is not trusted: a broken or foreign nft may claim success without doing anything.
    if (!(await firewallTableExists(this.options))) throw new BackendFault("nftables", "nft reported success, but our table is not in the kernel", "EBADMSG");
    this.applied = { text, rules };
  }

  async probe(): Promise<void> {
    await firewallTableExists(this.options);
  }

  counters(): Promise<Map<string, CounterValues>> {
    return readRuleCounters(this.options);
  }

  async remove(): Promise<void> {
    await removeFirewall(this.options);
    this.applied = { text: "", rules: new Map() };
  }
}

/** One-shot apply (counters carried by rule name). */
export function applyFirewall(config: Pick<Configuration, "firewallRules" | "prefixSets">, options: FirewallOptions = {}): Promise<void> {
  return new NftablesFirewall(options).apply(config);
}
