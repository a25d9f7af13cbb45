#!/usr/bin/env node
// The smoke check of `qemu/run.sh --board NAME --smoke` (qemu/run-x86_64.sh, qemu/run-aarch64.sh): boots the
// built image (throw-away disk: --snapshot), waits for the login prompt and for orbitald to answer, logs in as
// admin on the serial console, runs `system version` in its orbctl shell, logs out, logs in as root and powers
// off. Exit status 0 when all of that worked and QEMU ended by itself, 1 otherwise. Prints the console and the
// boot times.
//
// usage: node qemu/smoke.mjs [--board x86_64|aarch64] [--image DIR] [--accel tcg|kvm] [--timeout-s 600]
import { parseArgs } from "node:util";
import { guest, SerialConsole } from "./serial-console.mjs";

const { values: opt } = parseArgs({
  options: { board: { type: "string", default: "x86_64" }, image: { type: "string" }, accel: { type: "string" }, "timeout-s": { type: "string", default: "600" } },
});
const args = ["--snapshot", "--rest-port", "0", ...(opt.image ? ["--image", opt.image] : []), ...(opt.accel ? ["--accel", opt.accel] : [])];
const budgetMs = Number(opt["timeout-s"]) * 1000;
const con = SerialConsole.start({ board: opt.board, args });
con.child.stdout.on("data", (d) => process.stdout.write(d));
const step = (what) => process.stderr.write(`\n[smoke ${(con.now() / 1000).toFixed(1)} s] ${what}\n`);

let ok = false;
const watchdog = setTimeout(() => {
  step(`no result after ${opt["timeout-s"]} s: stopping QEMU`);
  void con.kill();
}, budgetMs);
try {
  const [loginAt, apiAt] = await Promise.all([
    con.seen(guest.loginPrompt, { timeoutMs: budgetMs, what: "the login prompt" }),
    con.seen(guest.apiReady, { timeoutMs: budgetMs, what: "orbital: API ready" }),
  ]);
  step(`login prompt after ${(loginAt / 1000).toFixed(1)} s, API ready after ${(apiAt / 1000).toFixed(1)} s`);
  await con.login("admin", guest.initialPassword, guest.orbctlPrompt);
  const version = await con.command("system version", guest.orbctlPrompt, { timeoutMs: 120_000 });
  if (!/^version:?\s+\S+/m.test(version) || !/^kernel:?\s+\S+/m.test(version) || /error:/.test(version)) {
    throw new Error(`"system version" did not answer with a version:\n${version}`);
  }
  step("admin: system version answered");
  con.sendLine("exit");
  await con.expect(guest.loginPrompt, { timeoutMs: 60_000, what: "the login prompt after admin's exit" });
  await con.login("root", guest.initialPassword, guest.rootPrompt);
  con.sendLine("poweroff");
  const code = await con.waitExit(120_000);
  step(`powered off; QEMU exited with ${code}`);
  ok = code === 0;
} catch (err) {
  step(`FAILED: ${err.message}`);
} finally {
  clearTimeout(watchdog);
  await con.kill();
}
step(ok ? "smoke: PASS" : "smoke: FAIL");
process.exit(ok ? 0 : 1);
