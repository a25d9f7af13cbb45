// The QEMU boot scenario shared by every board's test (x86_64-boot.test.ts, aarch64-boot.test.ts): one VM under TCG booted from the
// board's built image with a throw-away disk, through UEFI firmware and the image's boot loader (slot A); boot to a serial login,
// admin's orbctl shell (version, NICs), an address and a route
// committed through orbctl and seen by the kernel (ip as root), kill -9 of orbitald with the supervisor restarting it and re-applying a
// route deleted behind its back, a prefix set attached as an XDP fast-path drop list to the guest's NIC eth0 (its counters move as slirp's
// gateway answers, the program is pinned, detaching leaves nothing pinned), the configuration across a reboot (/data mounted from the
// partition named "data"), a data partition that no longer mounts (its ext4 superblock wiped): /data a tmpfs and the box saying so on
// the console, at login and in `orbctl system health`, poweroff ending QEMU with status 0. The example package blocklist-sync, read from a
// second (raw, read-only) disk holding just the package file, is installed through orbctl, runs as its own uid and syncs its prefix set,
// runs again after the reboot and keeps the set in sync, and is deleted.
//
// One VM at a time on this machine: TCG VMs are CPU-bound, and two at once on a 2-core machine would make each slower than both in a row
// (and their boot times meaningless). Each board's file holds an flock on build/.qemu-vm.lock from starting QEMU until it is gone, so the
// two files may run in parallel workers and still boot one after the other.
import { type ChildProcess, spawn } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { guest, repoRoot, SerialConsole } from "../../qemu/serial-console.mjs";

const ADDRESS = "192.0.2.1/24"; // TEST-NET-1 on eth1 (an isolated QEMU network): no traffic leaves the VM
const GATEWAY = "192.0.2.254";
const ROUTE = "198.51.100.0/24"; // TEST-NET-2
// An 802.1Q subinterface of eth1 (the guest's kernel has 8021q; the CI host's does not, so this is where it runs)
const VLAN_ID = 100;
const VLAN_ADDRESS = "203.0.113.1/24"; // TEST-NET-3
// eth0 is on QEMU's user-mode network (slirp): its gateway 10.0.2.2 lives inside QEMU and answers ARP, ping and TCP (mapped to the host's
// loopback), so packets from a source we can list arrive on eth0 without leaving the machine.
const SLIRP_ADDRESS = "10.0.2.15/24";
const SLIRP_GATEWAY = "10.0.2.2";
const BOOT_MS = 600_000; // TCG on a busy 2-core machine
// The example package (npm run build) on a second virtio disk: the raw disk is the file (a ustar archive, a whole number of 512-byte
// blocks), found in the guest by the name of its first entry.
const EXAMPLE_PACKAGE = path.join(repoRoot, "dist", "packages", "blocklist-sync-1.0.0.opkg");
const PACKAGE_IN_GUEST = "/data/blocklist-sync-1.0.0.opkg";
const PACKAGE_DATA = "/data/packages/blocklist-sync/data";
/** Waits (in the guest's shell) until the prefix set "blocklist" holds `cidr`, then prints the kernel's set. */
const waitForBlocked = (cidr: string) =>
  `i=0; until orbctl firewall set show blocklist 2>/dev/null | grep -q '${cidr}' || [ $i -ge 120 ]; do sleep 1; i=$((i + 1)); done; nft list set inet orbital blocklist`;
const LOCK_WAIT_MS = 1_800_000; // the other board's whole scenario

/**
 * Takes the machine-wide VM lock (flock, so the kernel releases it if this process dies): resolves once held, with a function that
 * releases it.
 */
export function vmLock(): Promise<() => void> {
  const file = path.join(repoRoot, "build", ".qemu-vm.lock");
  mkdirSync(path.dirname(file), { recursive: true });
  // flock holds the lock while `cat` runs; cat ends when we close its stdin.
  const holder: ChildProcess = spawn("flock", [file, "sh", "-c", "echo locked; exec cat"], { stdio: ["pipe", "pipe", "inherit"] });
  return new Promise((resolve, reject) => {
    holder.stdout?.once("data", () => resolve(() => holder.stdin?.end()));
    holder.once("exit", (code) => reject(new Error(`flock ${file} ended (${code}) before taking the lock`)));
  });
}

/**
 * Runs a command to its end without blocking this worker's event loop (a spawnSync of minutes starves vitest's worker RPC: "Timeout
 * calling onTaskUpdate"). Resolves with its exit status and output.
 */
export function run(cmd: string, args: string[]): Promise<{ status: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (out += d));
    child.once("error", reject);
    child.once("close", (status) => resolve({ status, out }));
  });
}

export interface Board {
  /** board/<name> */
  name: string;
  /** What `system version` reports as the architecture (Node's os.machine()). */
  architecture: RegExp;
}

export function bootScenario(board: Board): void {
  const imageDir = path.join(repoRoot, "build", "images", board.name);
  let con: SerialConsole;
  let unlock: (() => void) | undefined;
  const times: Record<string, number> = {};

  /**
   * Waits for the login prompt and "API ready" printed after text offset `from`; records both times, in ms since `t0` (QEMU's start,
   * or the reboot command).
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
    const build = await run("bash", [path.join(repoRoot, "image", "build-image.sh"), "--board", board.name]);
    if (build.status !== 0) throw new Error(`image/build-image.sh --board ${board.name} failed:\n${build.out}`);
    expect(existsSync(path.join(imageDir, `orbital-${board.name}.img`))).toBe(true);
    unlock = await vmLock();
    const scratch = mkdtempSync(path.join(tmpdir(), `orbital-qemu-${board.name}-`));
    const transcript = path.join(scratch, "console.log");
    console.log(`${board.name} console transcript: ${transcript}`);
    const packageDisk = path.join(scratch, "package.opkg");
    copyFileSync(EXAMPLE_PACKAGE, packageDisk);
    const packageDrive = ["-drive", `file=${packageDisk},format=raw,if=none,id=pkg,readonly=on`, "-device", "virtio-blk-pci,drive=pkg"];
    con = SerialConsole.start({ board: board.name, args: ["--snapshot", "--rest-port", "0", "--image", imageDir, "--accel", "tcg", "--", ...packageDrive], transcript });
  }, LOCK_WAIT_MS + 1_800_000);

  afterAll(async () => {
    await con?.kill();
    unlock?.();
    if (Object.keys(times).length) {
      console.log(Object.entries(times).map(([k, v]) => `${board.name} ${k}: ${(v / 1000).toFixed(1)} s`).join("\n"));
    }
  });

  describe(`${board.name} image under QEMU`, () => {
    it("boots to a login prompt on the serial console and orbitald answers", async () => {
      await booted("first boot", 0, 0);
    }, BOOT_MS);

    it(`admin's orbctl shell shows the version (Node 24, ${board.name}) and two virtio NICs`, async () => {
      await loginAs("admin");
      const version = await orbctl("system version");
      expect(version).toMatch(/^runtime:?\s+v24\./m);
      expect(version).toMatch(new RegExp(`^architecture:?\\s+${board.architecture.source}`, "m"));
      const interfaces = await orbctl("interface list");
      expect(interfaces).toMatch(/^eth0\b/m);
      expect(interfaces).toMatch(/^eth1\b/m);
    }, 300_000);

    it("commits an address, a VLAN subinterface and a route on eth1, and the kernel has them", async () => {
      await orbctl("config begin");
      await orbctl(`interface set eth1 --up --address ${ADDRESS}`);
      await orbctl(`interface create-vlan eth1 ${VLAN_ID} --address ${VLAN_ADDRESS}`);
      await orbctl(`route add ${ROUTE} --via ${GATEWAY} --dev eth1`);
      await orbctl("config commit -m 'qemu boot test'");
      await logout();

      await loginAs("root");
      expect(await root("ip -4 -o addr show dev eth1")).toContain(`inet ${ADDRESS}`);
      // proto orbital: /etc/iproute2/rt_protos.d/orbital.conf names the protocol number orbitald uses
      expect(await root(`ip route show ${ROUTE}`)).toMatch(new RegExp(`via ${GATEWAY.replace(/\./g, "\\.")} dev eth1 proto orbital`));
      const vlan = await root(`ip -d addr show dev eth1.${VLAN_ID}`);
      expect(vlan).toMatch(new RegExp(`eth1\\.${VLAN_ID}@eth1:`));
      expect(vlan).toMatch(new RegExp(`vlan protocol 802\\.1Q id ${VLAN_ID}\\b`));
      expect(vlan).toContain(`inet ${VLAN_ADDRESS}`);
    }, 300_000);

    it("was booted by UEFI firmware through the disk's boot loader, into slot A", async () => {
      // The firmware found the removable-media boot loader on the disk (no -kernel: qemu/run.sh's default).
      expect(con.text).toMatch(/BdsDxe: starting Boot\d+/);
      expect(await root("test -d /sys/firmware/efi && echo efi")).toBe("efi");
      // systemd-boot's entry a.conf: its command line, and the loader's own record of the entry it chose
      expect(await root("cat /proc/cmdline")).toMatch(/\broot=PARTLABEL=rootfs-a\b/);
      // (rcS mounts efivarfs; the variable is 4 bytes of attributes, then UTF-16)
      const chosen = await root("tail -c +5 /sys/firmware/efi/efivars/LoaderEntrySelected-4a67b082-0a4c-41cf-b6c7-440b29bb8c4f | tr -d '\\000'");
      expect(chosen).toBe("a.conf");
    }, 120_000);

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

    it("attaches a fast-path drop list to eth0: XDP drops what the listed source sends, its counters move, detach unpins it", async () => {
      await root(`orbctl interface set eth0 --up --address ${SLIRP_ADDRESS}`);
      await root(`orbctl firewall set add qemu-gateway --family ipv4 --prefix ${SLIRP_GATEWAY}/32`);
      await root("orbctl firewall fast-path attach qemu-gateway --interface eth0");
      expect(await root("ip -d link show dev eth0")).toMatch(/prog\/xdp(generic)? id \d+/);
      expect(await root("ls /sys/fs/bpf/orbital/program-*/links")).toMatch(/^\d+$/m);
      // The gateway's ARP replies pass (not IP); its ping and TCP answers come from a listed source and are dropped.
      await con.sh(`ping -c 3 -W 1 ${SLIRP_GATEWAY}; nc -w 2 ${SLIRP_GATEWAY} 9 </dev/null`, { timeoutMs: 60_000 });
      const status = JSON.parse(await root("orbctl firewall fast-path show -o json")) as {
        interfaces: { name: string; mode: string; counters?: { droppedPackets?: string; passedPackets?: string } }[];
      };
      const eth0 = status.interfaces.find((i) => i.name === "eth0");
      expect(eth0?.mode).toMatch(/^FAST_PATH_MODE_(NATIVE|GENERIC)$/);
      expect(Number(eth0?.counters?.droppedPackets ?? 0)).toBeGreaterThan(0);
      expect(Number(eth0?.counters?.passedPackets ?? 0)).toBeGreaterThan(0);
      expect(await root("bpftool net show dev eth0")).toMatch(/eth0\(\d+\) (driver|generic) id \d+/);
      expect(await root("orbctl interface show eth0")).toMatch(/^xdp fast path:?\s+(native|generic)$/m);
      await root("orbctl firewall fast-path detach qemu-gateway");
      expect(await root("ip -d link show dev eth0")).not.toMatch(/prog\/xdp/);
      expect(await root("ls -A /sys/fs/bpf")).toBe("");
    }, 300_000);

    it("installs the example package from a second disk through orbctl: its own uid, the prefix set in sync", async () => {
      await root(`for d in /dev/vd?; do [ "$(head -c 11 $d)" = content.tar ] && cat $d >${PACKAGE_IN_GUEST}; done; test -s ${PACKAGE_IN_GUEST}`);
      const installed = await root(`orbctl package install ${PACKAGE_IN_GUEST}`);
      expect(installed).toMatch(/^100%\s+done\s+blocklist-sync 1\.0\.0 runs as uid 61\d{3}\b/m);
      const uid = /runs as uid (\d+)/.exec(installed)![1]!;
      await root(`printf '192.0.2.77/32\\n' >${PACKAGE_DATA}/prefixes.txt`);
      expect(await root(waitForBlocked("192.0.2.77/32"))).toContain("192.0.2.77");
      const pid = await root(`orbctl package show blocklist-sync -o json | grep '"pid"' | tr -dc 0-9`);
      expect(await root(`awk '/^Uid:/ { print $2 }' /proc/${pid}/status`)).toBe(uid);
    }, 300_000);

    it("keeps the configuration across a reboot", async () => {
      const from = con.mark();
      const t0 = con.now();
      con.sendLine("reboot");
      await booted("reboot", from, t0);
      // rcK stopped the packages' runsvdir before putting /data to rest: nothing kept it busy
      expect(con.text.slice(from)).not.toMatch(/on \/data failed: Device or resource busy/);
      await loginAs("root");
      expect(await root("ip -4 -o addr show dev eth1")).toContain(`inet ${ADDRESS}`);
      expect(await root(`ip route show ${ROUTE}`)).toContain(`via ${GATEWAY}`);
      expect(await root(`ip -d addr show dev eth1.${VLAN_ID}`)).toContain(`inet ${VLAN_ADDRESS}`);
      expect(await root("orbctl config history")).toContain("qemu boot test");
      // /data is the GPT partition named "data" (rcS found it through /sys), and the boot left no complaint about it
      expect(await root(`grep " /data " /proc/mounts | cut -d' ' -f1-3`)).toBe(`${await root("/usr/lib/orbital/find-partition data")} /data ext4`);
      expect(await root("test -e /run/orbital/data-not-mounted || echo none")).toBe("none");
    }, BOOT_MS);

    it("runs the package again after the reboot, keeps the set in sync, and deletes it", async () => {
      // started by the runsvdir the new orbitald started; give it a moment under TCG
      const shown = await root("i=0; until orbctl package show blocklist-sync | grep -q '^state: *running' || [ $i -ge 60 ]; do sleep 1; i=$((i + 1)); done; orbctl package show blocklist-sync");
      expect(shown).toMatch(/^state:\s+running\b/m);
      await root(`printf '192.0.2.77/32\\n198.51.100.9/32\\n' >${PACKAGE_DATA}/prefixes.txt`);
      expect(await root(waitForBlocked("198.51.100.9/32"))).toContain("198.51.100.9");
      expect(await root("orbctl package delete blocklist-sync")).toBe("package blocklist-sync removed");
      expect(await root("test -e /data/packages/blocklist-sync || echo gone; ls -A /data/packages/.services")).toBe("gone");
    }, 300_000);

    it("says so on the console, at login and in health when the data partition does not mount", async () => {
      // Wipe the ext4 superblock (1 KiB at 1 KiB) and reboot at once (-f: no rcK, no unmount that would write it back).
      const dev = await root("/usr/lib/orbital/find-partition data");
      await root(`dd if=/dev/zero of=${dev} bs=1024 seek=1 count=1 conv=fsync 2>/dev/null`);
      const from = con.mark();
      const t0 = con.now();
      con.sendLine("reboot -f");
      await booted("reboot, data partition unmountable", from, t0);
      expect(con.text.slice(from)).toMatch(new RegExp(`rcS: WARNING: /data is not the data partition: the data partition ${dev} does not mount as ext4`));
      const login = con.mark();
      await loginAs("root");
      expect(con.text.slice(login)).toMatch(/\*\*\* WARNING: \/data is not the data partition: .* lost at reboot\./);
      expect(await root(`grep " /data " /proc/mounts | cut -d' ' -f1-3`)).toBe("tmpfs /data tmpfs");
      const health = (await root("orbctl system health")).replace(/\s+/g, " ");
      expect(health).toMatch(/config\.v1\.ConfigService degraded \/data is not the data partition/);
      expect(health).toContain(`note: /data is not the data partition: the data partition ${dev} does not mount as ext4`);
    }, BOOT_MS);

    it("powers off cleanly: QEMU exits with status 0", async () => {
      con.sendLine("poweroff");
      expect(await con.waitExit(120_000)).toBe(0);
      expect(con.text).toContain("reboot: Power down");
    }, 180_000);
  });
}
