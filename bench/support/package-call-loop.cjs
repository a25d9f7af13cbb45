// The call loop of bench/package.mjs, run twice: as an installed package under the package host (the SDK from
// require("@orbital/sdk"), its own uid and principal), and as an in-tree client under plain Node (the SDK
// bundle dist/client.mjs given in ORBITAL_SDK_BUNDLE, as root). Sequential ListPrefixSets calls over one
// connection; prints {"calls", "perSec"} as one JSON line. As a package it then stays up (it is supervised).
async function main() {
  const inTree = process.env.ORBITAL_SDK_BUNDLE;
  const sdk = inTree ? await import(inTree) : require("@orbital/sdk");
  const transport = sdk.createTransport({ socketPath: process.env.ORBITAL_SOCKET });
  const firewall = sdk.createClient(sdk.FirewallService, transport);
  const calls = Number(process.argv[2] ?? 3000);
  // As a package, start measuring once its install is over (the installer polls the supervisor meanwhile).
  await new Promise((r) => setTimeout(r, Number(process.argv[3] ?? 0)));
  for (let i = 0; i < Math.min(500, calls); i++) await firewall.listPrefixSets({});
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < calls; i++) await firewall.listPrefixSets({});
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  console.log(JSON.stringify({ calls, perSec: calls / seconds }));
  transport.close();
  if (!inTree) setInterval(() => {}, 1 << 30);
}

main().catch((err) => {
  console.log(JSON.stringify({ error: String(err) }));
  process.exit(1);
});
