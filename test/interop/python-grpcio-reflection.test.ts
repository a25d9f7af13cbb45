// Proves: a standard gRPC client that knows nothing of Orbital (Debian's python3-grpcio and python3-protobuf,
// no generated stubs) discovers the API over the socket through server reflection (v1 and v1alpha), loads the
// descriptors with their dependencies into its own descriptor pool, and calls SystemService/GetVersion,
// UserService/WhoAmI and grpc.health.v1.Health/Check with messages built at run time; an unmapped uid gets
// UNAUTHENTICATED from reflection too (no anonymous discovery).
// Topology: one daemon process; test/interop/python_reflection_client.py as a child process, as root or as uid
// 4343 (group "orbital"), printing one JSON object.
import { spawn } from "node:child_process";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apiPackages, apiServices } from "../../src/common/api-services.js";
import { repoRoot } from "../../scripts/proto-image.js";
import { orbitalGroup, startDaemon, type RunningDaemon } from "../support/daemon.js";

/** Debian's interpreter, where apt installs python3-grpcio (a `python3` on PATH may be another one). */
const PYTHON = "/usr/bin/python3";
const CLIENT = path.join(repoRoot, "test", "interop", "python_reflection_client.py");
const UNMAPPED_UID = 4343;

interface ClientOutput {
  ok: boolean;
  reflection?: string;
  services?: string[];
  files?: string[];
  methodOptionExtensions?: number[];
  requiredCapabilityFile?: string;
  requiredCapability?: Record<string, string>;
  unknownSymbol?: number | null;
  version?: { apiPackages: string[]; build: { version: string } };
  whoami?: { user: string; role: string; uid?: number; authMethod: string };
  health?: Record<string, string>;
  error?: { step: string; code: number | null; name: string; details: string };
}

function runClient(args: string[], opts: { uid?: number; env?: NodeJS.ProcessEnv } = {}): Promise<{ exit: number | null; out: ClientOutput }> {
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON, [CLIENT, ...args], {
      ...(opts.uid !== undefined ? { uid: opts.uid, gid: orbitalGroup() } : {}),
      cwd: "/",
      stdio: ["ignore", "pipe", "pipe"],
      env: { PATH: "/usr/bin:/bin", ...opts.env },
      timeout: 40_000,
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    child.on("error", reject);
    child.on("exit", (exit) => {
      try {
        resolve({ exit, out: JSON.parse(out) as ClientOutput });
      } catch {
        reject(new Error(`${PYTHON} ${path.basename(CLIENT)} exited with ${exit} and printed no JSON (python3-grpcio installed? scripts/install-deps.sh installs it):\n${out}${err}`));
      }
    });
  });
}

/** Runs the client as root and requires success, showing its error when it fails. */
async function discover(args: string[] = [], env?: NodeJS.ProcessEnv): Promise<ClientOutput> {
  const r = await runClient([d.socketPath, ...args], { env });
  expect(r.out.error, `the Python client failed: ${JSON.stringify(r.out.error)}`).toBeUndefined();
  expect(r.exit).toBe(0);
  expect(r.out.ok).toBe(true);
  return r.out;
}

const orbitalServices = apiServices.map((s) => s.typeName);

let d: RunningDaemon;
beforeAll(async () => {
  d = await startDaemon({ env: { ORBITAL_DISABLE_SERVICES: "orbital.update.v1.UpdateService" } }); // a NOT_SERVING service to report
});
afterAll(() => d.cleanup());

describe("Python grpcio as a standard client, through reflection only", () => {
  it("lists every service, loads the descriptors and calls the API and health (reflection v1)", async () => {
    const out = await discover();
    expect(out.reflection).toBe("v1");

    expect(orbitalServices).toHaveLength(8);
    for (const s of orbitalServices) expect(s).toMatch(/^orbital\.[a-z]+\.v1\.[A-Za-z]+Service$/);
    expect([...out.services!].sort()).toEqual(
      [...orbitalServices, "grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection"].sort(),
    );

    // The files came with their dependencies (well-known types, google.api, the capability options) and
    // built in a fresh descriptor pool.
    expect(out.files).toEqual(
      expect.arrayContaining([
        "orbital/system/v1/system.proto",
        "orbital/user/v1/user.proto",
        "orbital/api/v1/capability.proto",
        "grpc/health/v1/health.proto",
        "google/api/annotations.proto",
        "google/protobuf/descriptor.proto",
        "google/protobuf/timestamp.proto",
        "google/protobuf/duration.proto",
      ]),
    );
    // Custom options are discoverable: the capability each RPC requires.
    expect(out.methodOptionExtensions).toEqual(expect.arrayContaining([51002, 72295728]));
    expect(out.requiredCapabilityFile).toBe("orbital/api/v1/capability.proto");
    expect(out.requiredCapability).toEqual({
      "orbital.system.v1.SystemService.GetVersion": "CAPABILITY_SYSTEM_READ",
      "orbital.user.v1.UserService.WhoAmI": "CAPABILITY_SESSION_READ",
    });
    expect(out.unknownSymbol).toBe(5); // NOT_FOUND, as an error_response on the stream

    expect(out.version!.apiPackages).toEqual(apiPackages());
    expect(out.version!.apiPackages).toEqual(orbitalServices.map((s) => s.split(".").slice(0, 3).join(".")).sort());
    expect(out.whoami).toMatchObject({ user: "root", role: "admin", uid: 0, authMethod: "AUTH_METHOD_PEER_CREDENTIALS" });
    expect(out.health).toEqual({ "": "SERVING", "orbital.update.v1.UpdateService": "NOT_SERVING" });
  });

  it("works the same through reflection v1alpha", async () => {
    const out = await discover(["--reflection", "v1alpha"]);
    expect(out.reflection).toBe("v1alpha");
    expect(out.services).toEqual(expect.arrayContaining([...orbitalServices, "grpc.health.v1.Health"]));
    expect(out.version!.apiPackages).toEqual(apiPackages());
    expect(out.whoami).toMatchObject({ user: "root", role: "admin" });
    expect(out.health).toEqual({ "": "SERVING", "orbital.update.v1.UpdateService": "NOT_SERVING" });
  });

  it("works with protobuf's pure-Python descriptor pool as well as the C++ one", async () => {
    const out = await discover([], { PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION: "python" });
    expect(out.whoami).toMatchObject({ user: "root", role: "admin" });
    expect(out.requiredCapability?.["orbital.system.v1.SystemService.GetVersion"]).toBe("CAPABILITY_SYSTEM_READ");
    expect(out.health).toEqual({ "": "SERVING", "orbital.update.v1.UpdateService": "NOT_SERVING" });
  });

  it("refuses reflection to a uid that maps to nobody with UNAUTHENTICATED", async () => {
    const r = await runClient([d.socketPath], { uid: UNMAPPED_UID });
    expect(r.exit).toBe(2); // an RPC failed (1 would be a client-side failure)
    expect(r.out.ok).toBe(false);
    expect(r.out.services).toBeUndefined();
    expect(r.out.error).toMatchObject({ step: "reflection list_services", code: 16, name: "UNAUTHENTICATED" });
    expect(r.out.error?.details).toContain(String(UNMAPPED_UID));
  });
});
