// Test harness for the update service: a real RAUC 1.8 on this host. RAUC 1.8 runs only as a D-Bus service,
// so this starts a private dbus-daemon (session-style, only root may own or call RAUC) and `rauc service` in a
// private mount namespace whose /proc/cmdline says `rauc.slot=A` (how RAUC finds the booted slot), with a
// test system.conf: two raw slots on loop devices (each with a child slot, as the image's boot files are), bootloader=custom with a tiny backend script keeping the
// boot loader's state in files, and a development CA made with openssl here (plus a second, untrusted CA).
// Bundles are built with `rauc bundle`. Everything lives in one temp dir; stop() ends the processes it
// started by pid, detaches its loop devices and removes the dir. Also gives views of the slots independent
// of RAUC and the daemon (their bytes, the backend's state files) to prove what an install wrote.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

export const RAUC_BIN = "/usr/bin/rauc";
/** RAUC, dbus-daemon, losetup and root: tests that need them skip without. */
export const canRunRauc =
  process.getuid?.() === 0 && existsSync(RAUC_BIN) && spawnSync("dbus-daemon", ["--version"], { stdio: "ignore" }).status === 0 && spawnSync("losetup", ["-V"], { stdio: "ignore" }).status === 0;

export const TEST_COMPATIBLE = "orbital-test-board";
const SLOT_BYTES = 16 << 20;

export interface BundleSpec {
  version: string;
  compatible?: string;
  format?: "plain" | "verity";
  /** Signed by the trusted development CA (default) or by a CA the keyring does not hold. */
  signer?: "dev" | "untrusted";
  /** The rootfs image; default 1 MiB of random bytes. */
  payload?: Buffer;
  /** The boot files' image, for the target's child slot (boot.1), as the image's bundles carry; default none. */
  boot?: Buffer;
}

export interface Bundle {
  path: string;
  payload: Buffer;
}

function run(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv } = {}): string {
  const r = spawnSync(cmd, args, { encoding: "utf8", env: { ...process.env, ...opts.env } });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (${r.status ?? r.signal}): ${r.stderr}${r.stdout}`);
  return r.stdout;
}

/** A CA and a code-signing leaf certificate under dir/name-*. */
function makeSigner(dir: string, name: string): { ca: string; cert: string; key: string } {
  const ca = path.join(dir, `${name}-ca.cert.pem`);
  const caKey = path.join(dir, `${name}-ca.key.pem`);
  const cert = path.join(dir, `${name}.cert.pem`);
  const key = path.join(dir, `${name}.key.pem`);
  const csr = path.join(dir, `${name}.csr`);
  const ext = path.join(dir, `${name}.ext`);
  run("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", caKey, "-out", ca, "-days", "3650", "-subj", `/CN=orbital ${name} CA`, "-addext", "basicConstraints=critical,CA:true", "-addext", "keyUsage=critical,keyCertSign,cRLSign"]);
  run("openssl", ["req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr, "-subj", `/CN=orbital ${name} signer`]);
  writeFileSync(ext, "basicConstraints=CA:false\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=critical,codeSigning\n");
  run("openssl", ["x509", "-req", "-in", csr, "-CA", ca, "-CAkey", caKey, "-CAcreateserial", "-out", cert, "-days", "3650", "-extfile", ext]);
  return { ca, cert, key };
}

/** Writes `file`: a `rauc` command with the system.conf `conf`, as orbitald's --rauc; returns `file`. */
function writeRaucCommand(file: string, conf: string): string {
  writeFileSync(file, `#!/bin/sh\nexec ${RAUC_BIN} --conf=${conf} "$@"\n`, { mode: 0o755 });
  return file;
}

/** The boot loader backend RAUC's bootloader=custom runs with /bin/sh: state in files under its dir. */
function backendScript(stateDir: string): string {
  return `#!/bin/sh
# Test boot loader: the primary slot and each slot's good/bad state are files in ${stateDir}.
# set-primary makes a slot bootable again (as a fresh boot entry with its tries would).
S=${stateDir}
case "$1" in
  get-primary) cat "$S/primary" ;;
  set-primary) echo "$2" > "$S/primary" && echo good > "$S/state.$2" ;;
  get-state) cat "$S/state.$2" ;;
  set-state) echo "$3" > "$S/state.$2" ;;
  *) echo "unknown command $1" >&2; exit 1 ;;
esac
`;
}

export class RaucRig {
  readonly dir: string;
  readonly busAddress: string;
  /** orbitald's options to use this RAUC. */
  get daemonArgs(): string[] {
    return ["--rauc", this.raucCommand, "--os-release", this.osRelease, "--trial-failure-dir", this.trialFailureDir];
  }

  /** The command orbitald runs as `rauc`: Debian's rauc with the test system.conf. */
  readonly raucCommand: string;
  /** An os-release whose VERSION_ID is the booted slot's version. */
  readonly osRelease: string;
  readonly slotImages: [string, string];
  /** Backing files of the child slots boot.0 and boot.1. */
  private readonly bootImages: [string, string];
  /** Where the test writes the trial guard's notes (trial-failure.<boot name>). */
  readonly trialFailureDir: string;
  private readonly stateDir: string;
  private readonly conf: string;
  private readonly signers: Record<"dev" | "untrusted", { ca: string; cert: string; key: string }>;
  private loops: string[] = [];
  private procs: ChildProcess[] = [];
  private bundles = 0;

  private constructor(readonly bootedVersion: string) {
    this.dir = mkdtempSync(path.join(tmpdir(), "orbital-rauc-"));
    chmodSync(this.dir, 0o755);
    this.busAddress = `unix:path=${path.join(this.dir, "bus.sock")}`;
    this.stateDir = path.join(this.dir, "bootstate");
    this.conf = path.join(this.dir, "system.conf");
    this.raucCommand = path.join(this.dir, "rauc");
    this.osRelease = path.join(this.dir, "os-release");
    this.slotImages = [path.join(this.dir, "slot-a.img"), path.join(this.dir, "slot-b.img")];
    this.bootImages = [path.join(this.dir, "boot-a.img"), path.join(this.dir, "boot-b.img")];
    this.trialFailureDir = path.join(this.dir, "rauc-data");
    this.signers = { dev: makeSigner(this.dir, "dev"), untrusted: makeSigner(this.dir, "untrusted") };
  }

  /** Environment orbitald needs to reach this RAUC (the image's init exports the same two). */
  get env(): NodeJS.ProcessEnv {
    return { DBUS_SESSION_BUS_ADDRESS: this.busAddress, DBUS_STARTER_BUS_TYPE: "session" };
  }

  static async start(bootedVersion = "1.2.0"): Promise<RaucRig> {
    const rig = new RaucRig(bootedVersion);
    try {
      await rig.setUp();
    } catch (e) {
      await rig.stop();
      throw e;
    }
    return rig;
  }

  private async setUp(): Promise<void> {
    const { dir } = this;
    writeFileSync(this.osRelease, `NAME="Orbital OS"\nID=orbital\nVERSION_ID=${this.bootedVersion}\n`);
    mkdirSync(this.stateDir);
    mkdirSync(this.trialFailureDir);
    writeFileSync(path.join(this.stateDir, "primary"), "A\n");
    for (const b of ["A", "B"]) writeFileSync(path.join(this.stateDir, `state.${b}`), "good\n");
    const backend = path.join(dir, "backend.sh");
    writeFileSync(backend, backendScript(this.stateDir), { mode: 0o755 });
    for (const img of [...this.slotImages, ...this.bootImages]) {
      writeFileSync(img, Buffer.alloc(img.includes("boot-") ? 1 << 20 : SLOT_BYTES, 0x5a));
      this.loops.push(run("losetup", ["--find", "--show", img]).trim());
    }
    writeFileSync(
      this.conf,
      `[system]
compatible=${TEST_COMPATIBLE}
bootloader=custom
statusfile=${path.join(dir, "status.raucs")}
mountprefix=${path.join(dir, "mnt")}

[keyring]
path=${this.signers.dev.ca}
check-purpose=codesign

[handlers]
bootloader-custom-backend=${backend}

[slot.rootfs.0]
device=${this.loops[0]}
type=raw
bootname=A

[slot.rootfs.1]
device=${this.loops[1]}
type=raw
bootname=B

# Children, as the image's boot files are: RAUC writes one only when the bundle has a boot image.
[slot.boot.0]
device=${this.loops[2]}
type=raw
parent=rootfs.0

[slot.boot.1]
device=${this.loops[3]}
type=raw
parent=rootfs.1
`,
    );
    // rauc info reads the keyring from system.conf, which the image has at /etc/rauc/system.conf.
    writeRaucCommand(this.raucCommand, this.conf);
    writeFileSync(path.join(dir, "cmdline"), "console=ttyS0 rauc.slot=A\n");
    writeFileSync(
      path.join(dir, "dbus.conf"),
      `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN" "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>${this.busAddress}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <deny own="*"/>
    <deny send_destination="de.pengutronix.rauc"/>
  </policy>
  <policy user="root">
    <allow own="*"/>
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
  </policy>
</busconfig>
`,
    );
    this.spawnKept("dbus-daemon", ["--config-file", path.join(dir, "dbus.conf"), "--nofork", "--nopidfile"]);
    await this.until(() => existsSync(path.join(dir, "bus.sock")), () => "the private dbus-daemon");
    // unshare and sh exec, so the pid is rauc's.
    this.spawnKept("unshare", ["--mount", "--propagation", "private", "sh", "-c", `mount --bind ${path.join(dir, "cmdline")} /proc/cmdline && exec ${RAUC_BIN} --conf=${this.conf} service`], this.env);
    // Probing with `rauc status` before RAUC owns its name makes that client wait for its D-Bus timeout.
    const owned = () =>
      spawnSync("dbus-send", ["--bus=" + this.busAddress, "--print-reply", "--dest=org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus.NameHasOwner", "string:de.pengutronix.rauc"], { encoding: "utf8" }).stdout.includes("boolean true");
    await this.until(owned, () => "rauc service");
  }

  /**
   * A `rauc` for orbitald whose system.conf takes verity bundles only, as the image's does
   * (`bundle-formats=verity`); the same slots and service. `rauc info` reads it and refuses a plain bundle.
   */
  verityOnlyCommand(): string {
    const conf = path.join(this.dir, "system-verity-only.conf");
    writeFileSync(conf, readFileSync(this.conf, "utf8").replace("[system]\n", "[system]\nbundle-formats=verity\n"));
    return writeRaucCommand(path.join(this.dir, "rauc-verity-only"), conf);
  }

  private spawnKept(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): void {
    const p = spawn(cmd, args, { stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, ...env } });
    let stderr = "";
    p.stderr!.setEncoding("utf8").on("data", (d: string) => (stderr = (stderr + d).slice(-4000)));
    Object.defineProperty(p, "lastStderr", { get: () => stderr });
    this.procs.push(p);
  }

  private async until(ok: () => boolean, what: () => string): Promise<void> {
    const deadline = Date.now() + 15_000;
    while (!ok()) {
      const dead = this.procs.find((p) => p.exitCode !== null);
      if (dead) throw new Error(`${dead.spawnfile} exited with ${dead.exitCode}: ${(dead as unknown as { lastStderr: string }).lastStderr}`);
      if (Date.now() > deadline) throw new Error(`${what()} did not come up: ${this.procs.map((p) => `${p.spawnfile}: ${(p as unknown as { lastStderr: string }).lastStderr}`).join("; ")}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Builds a signed bundle with `rauc bundle` into the rig's dir. */
  bundle(spec: BundleSpec): Bundle {
    const n = ++this.bundles;
    const input = path.join(this.dir, `bundle-${n}`);
    mkdirSync(input);
    const payload = spec.payload ?? randomBytes(1 << 20);
    writeFileSync(path.join(input, "rootfs.img"), payload);
    if (spec.boot) writeFileSync(path.join(input, "boot.img"), spec.boot);
    writeFileSync(
      path.join(input, "manifest.raucm"),
      `[update]\ncompatible=${spec.compatible ?? TEST_COMPATIBLE}\nversion=${spec.version}\n\n[bundle]\nformat=${spec.format ?? "plain"}\n\n[image.rootfs]\nfilename=rootfs.img\n` +
        (spec.boot ? "\n[image.boot]\nfilename=boot.img\n" : ""),
    );
    const signer = this.signers[spec.signer ?? "dev"];
    const out = path.join(this.dir, `bundle-${n}-${spec.version}.raucb`);
    // Signing checks the chain against a keyring: the signer's own CA.
    const signConf = path.join(this.dir, `sign-${n}.conf`);
    writeFileSync(signConf, `[system]\ncompatible=${spec.compatible ?? TEST_COMPATIBLE}\nbootloader=noop\n\n[keyring]\npath=${signer.ca}\ncheck-purpose=codesign\n`);
    run(RAUC_BIN, ["--conf", signConf, "bundle", "--cert", signer.cert, "--key", signer.key, input, out]);
    rmSync(input, { recursive: true });
    return { path: out, payload };
  }

  /**
   * A copy of a bundle with 16 bytes changed: in the middle of its payload, or (verity bundles) in the hash tree,
   * the 4 KiB before the signature (whose size is the file's last 8 bytes).
   */
  tampered(bundle: Bundle, where: "payload" | "hash-tree" = "payload"): string {
    const bytes = readFileSync(bundle.path);
    const at = where === "payload" ? Math.floor(bytes.length / 3) : bytes.length - 8 - Number(bytes.readBigUInt64BE(bytes.length - 8)) - 2048;
    for (let i = 0; i < 16; i++) bytes[at + i] = bytes[at + i]! ^ 0xff;
    const out = bundle.path.replace(/\.raucb$/, `-tampered-${where}.raucb`);
    writeFileSync(out, bytes);
    return out;
  }

  /** A file that is not a bundle. */
  junk(): string {
    const out = path.join(this.dir, "junk.raucb");
    writeFileSync(out, randomBytes(200_000));
    return out;
  }

  /** Everything an install could write, seen without RAUC: the slots' bytes (and their children's), the boot loader state, RAUC's status file. */
  snapshot(): { slots: string[]; bootState: Record<string, string>; statusFile: string } {
    const sha = (f: string) => createHash("sha256").update(readFileSync(f)).digest("hex");
    const bootState = Object.fromEntries(readdirSync(this.stateDir).map((f) => [f, readFileSync(path.join(this.stateDir, f), "utf8").trim()]));
    const status = path.join(this.dir, "status.raucs");
    return { slots: [sha(this.slotImages[0]), sha(this.slotImages[1]), sha(this.bootImages[0]), sha(this.bootImages[1])], bootState, statusFile: existsSync(status) ? readFileSync(status, "utf8") : "" };
  }

  /** The first `length` bytes of slot 0 (A) or 1 (B). */
  slotBytes(slot: 0 | 1, length: number): Buffer {
    return readFileSync(this.slotImages[slot]).subarray(0, length);
  }

  /** The first `length` bytes of the boot files' slot of A (0) or B (1). */
  bootSlotBytes(slot: 0 | 1, length: number): Buffer {
    return readFileSync(this.bootImages[slot]).subarray(0, length);
  }

  /** The backend's state: which boot name is primary, and each one's good/bad. */
  bootState(): Record<string, string> {
    return this.snapshot().bootState;
  }

  /** Ends the processes started here (by pid), detaches the loop devices, removes the temp dir. */
  async stop(): Promise<void> {
    for (const p of this.procs.splice(0).reverse()) {
      if (p.exitCode !== null || p.signalCode !== null) continue;
      const exited = new Promise((r) => p.once("exit", r));
      p.kill("SIGTERM");
      const timer = setTimeout(() => p.kill("SIGKILL"), 3000);
      await exited;
      clearTimeout(timer);
    }
    for (const loop of this.loops.splice(0)) spawnSync("losetup", ["--detach", loop]);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
