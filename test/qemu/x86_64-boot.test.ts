// Proves: the x86_64 image boots under QEMU (TCG) to a serial login; admin's orbctl shell sees two virtio NICs and commits an address and a route
// that the kernel then has (ip as root); after kill -9 the supervisor restarts orbitald, which re-applies the route deleted behind its back; the
// configuration survives a reboot (data partition); poweroff ends QEMU with status 0. Topology: one VM, eth0/eth1 on QEMU user networks, throw-away disk.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { guest, repoRoot, SerialConsole } from "../../qemu/serial-console.mjs";

const IMAGE_DIR = path.join(repoRoot, "build", "images", "x86_64");
const ADDRESS = "192.0.2.1/24"; // TEST-NET-1 on eth1 (an isolated QEMU network): no traffic leaves the VM
const GATEWAY = "192.0.2.254";
const ROUTE = "198.51.100.0/24"; // TEST-NET-2
const BOOT_MS = 600_000; // TCG on a busy 2-core machine

let con: SerialConsole;
const times: Record<string, number> = {};

/**
 * Waits for the login prompt and "API ready" printed after text offset `from`; records both times, in ms
 * since `t0` (QEMU's start, or the reboot command).
 */
async function booted(label: string, from: number, t0: number): Promise<void> {
  const [login, api] = await Promise.all([
    con.seen(guest.loginPrompt, { from, timeoutMs: BOOT_MS, what: `the login prompt (${label})` }),
    con.seen(guest.apiReady, { from, timeoutMs: BOOT_MS, what: `orbital: API ready (${label})` }),
  ]);
  times[`${label}: boot to login prompt`] = login - t0;
  times[`${label}: boot to API ready`] = api - t0;
}

const loginAs = async (user: "root" | "admin") =>
  con.login(user, guest.initialPassword, user === "root" ? guest.rootPrompt : guest.orbctlPrompt);

/** A command in admin's orbctl shell; fails the test when orbctl reports an error. */
async function orbctl(line: string): Promise<string> {
  const out = await con.command(line, guest.orbctlPrompt, { timeoutMs: 120_000 });
  expect(out, `orbctl ${line}`).not.toMatch(/^error:/m);
  return out;
}

/** A command in root's shell; fails the test on a non-zero exit status. */
async function root(line: string): Promise<string> {
  const { out, status } = await con.sh(line, { timeoutMs: 180_000 });
  expect(status, `${line}\n${out}`).toBe(0);
  return out;
}

async function logout(): Promise<void> {
  const from = con.mark();
  con.sendLine("exit");
  await con.seen(guest.loginPrompt, { from, timeoutMs: 60_000, what: "the login prompt after exit" });
}

beforeAll(async () => {
  // Builds the image when missing or stale (a no-op when its inputs did not change: scripts/test.sh built it).
  const build = spawnSync("bash", [path.join(repoRoot, "image", "build-image.sh")], { cwd: repoRoot, encoding: "utf8" });
  if (build.status !== 0) throw new Error(`image/build-image.sh failed:\n${build.stdout}${build.stderr}`);
  expect(existsSync(path.join(IMAGE_DIR, "orbital-x86_64.img"))).toBe(true);
  const transcript = path.join(mkdtempSync(path.join(tmpdir(), "orbital-qemu-")), "console.log");
  console.log(`console transcript: ${transcript}`);
  con = SerialConsole.start({ args: ["--snapshot", "--rest-port", "0", "--image", IMAGE_DIR, "--accel", "tcg"], transcript });
}, 1_800_000);

afterAll(async () => {
  await con?.kill();
  if (Object.keys(times).length) {
    console.log(Object.entries(times).map(([k, v]) => `${k}: ${(v / 1000).toFixed(1)} s`).join("\n"));
  }
});

describe("x86_64 image under QEMU", () => {
  it("boots to a login prompt on ttyS0 and orbitald answers", async () => {
    await booted("first boot", 0, 0);
  }, BOOT_MS);

  it("admin's orbctl shell shows the version and two virtio NICs", async () => {
    await loginAs("admin");
    const version = await orbctl("system version");
    expect(version).toMatch(/^runtime:?\s+v24\./m);
    expect(version).toMatch(/^architecture:?\s+x86_64/m);
    const interfaces = await orbctl("interface list");
    expect(interfaces).toMatch(/^eth0\b/m);
    expect(interfaces).toMatch(/^eth1\b/m);
  }, 300_000);

  it("commits an address and a route on eth1, and the kernel has them", async () => {
    await orbctl("config begin");
    await orbctl(`interface set eth1 --up --address ${ADDRESS}`);
    await orbctl(`route add ${ROUTE} --via ${GATEWAY} --dev eth1`);
    await orbctl("config commit -m 'qemu boot test'");
    await logout();

    await loginAs("root");
    expect(await root("ip -4 -o addr show dev eth1")).toContain(`inet ${ADDRESS}`);
    // proto orbital: /etc/iproute2/rt_protos.d/orbital.conf names the protocol number orbitald uses
    expect(await root(`ip route show ${ROUTE}`)).toMatch(new RegExp(`via ${GATEWAY.replace(/\./g, "\\.")} dev eth1 proto orbital`));
  }, 300_000);

  it("after kill -9, the supervisor restarts orbitald and it puts back a route deleted behind its back", async () => {
    await root(`ip route del ${ROUTE}`);
    expect(await root(`ip route show ${ROUTE}`)).toBe("");
    const before = await root("pidof orbitald");
    expect(before).toMatch(/^\d+$/); // one process of that name: the daemon
    await root(`kill -9 ${before}`);
    const back = await root(
      `i=0; until ip route show ${ROUTE} | grep -q via || [ $i -ge 240 ]; do sleep 1; i=$((i + 1)); done; ip route show ${ROUTE}; pidof orbitald`,
    );
    expect(back).toMatch(new RegExp(`via ${GATEWAY.replace(/\./g, "\\.")} dev eth1 proto orbital`));
    expect(back.split("\n").pop()).not.toBe(before);
  }, 300_000);

  it("keeps the configuration across a reboot", async () => {
    const from = con.mark();
    const t0 = con.now();
    con.sendLine("reboot");
    await booted("reboot", from, t0);
    await loginAs("root");
    expect(await root("ip -4 -o addr show dev eth1")).toContain(`inet ${ADDRESS}`);
    expect(await root(`ip route show ${ROUTE}`)).toContain(`via ${GATEWAY}`);
    expect(await root("orbctl config history")).toContain("qemu boot test");
  }, BOOT_MS);

  it("powers off cleanly: QEMU exits with status 0", async () => {
    con.sendLine("poweroff");
    expect(await con.waitExit(120_000)).toBe(0);
    expect(con.text).toContain("reboot: Power down");
  }, 180_000);
});
