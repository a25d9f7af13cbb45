// A bounded UDP sender for data-plane tests, run inside a test's own network namespace: sends small
// datagrams from one local source address to one destination at about the given rate for the given time
// (or until SIGTERM), then prints {"sent": N} on stdout.
// usage: node udp-sender.mjs SOURCE DESTINATION PORT PPS MS
import dgram from "node:dgram";

const [source, destination, port, pps, ms] = process.argv.slice(2);
if (!ms) {
  console.error("usage: udp-sender.mjs SOURCE DESTINATION PORT PPS MS");
  process.exit(2);
}
const socket = dgram.createSocket(destination.includes(":") ? "udp6" : "udp4");
const payload = Buffer.alloc(18, 0x6f);
const perTick = Math.max(1, Math.round(Number(pps) / 1000));
const until = Date.now() + Number(ms);
let sent = 0;
let stopping = false;

function finish() {
  if (stopping) return;
  stopping = true;
  socket.close(() => {
    process.stdout.write(`${JSON.stringify({ sent })}\n`);
  });
}

socket.bind({ address: source, port: 0 }, () => {
  const tick = setInterval(() => {
    if (Date.now() >= until || stopping) {
      clearInterval(tick);
      finish();
      return;
    }
    for (let i = 0; i < perTick; i++) socket.send(payload, Number(port), destination, () => sent++);
  }, 1);
});
process.on("SIGTERM", finish);
