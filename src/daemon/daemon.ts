// Composes orbitald: the config store, the user directory, the call pipeline with its two transports (gRPC
// over the Unix socket with peer credentials; REST/JSON over TCP with API tokens, off unless Settings.rest
// enables it), and every service of the contract (implemented, or honestly NOT_SERVING). Start and stop; no
// process concerns.
import net from "node:net";
import path from "node:path";
import type { DescService } from "@bufbuild/protobuf";
import { Health } from "../gen/grpc/health/v1/health_pb.js";
import { ServerReflection as ReflectionV1 } from "../gen/grpc/reflection/v1/reflection_pb.js";
import { ServerReflection as ReflectionV1Alpha } from "../gen/grpc/reflection/v1alpha/reflection_pb.js";
import { ConfigService } from "../gen/orbital/config/v1/config_pb.js";
import { FirewallService } from "../gen/orbital/firewall/v1/firewall_pb.js";
import { InterfaceService } from "../gen/orbital/interface/v1/interface_pb.js";
import { RoutingService } from "../gen/orbital/routing/v1/routing_pb.js";
import { HealthStatus, SystemService } from "../gen/orbital/system/v1/system_pb.js";
import { UserService } from "../gen/orbital/user/v1/user_pb.js";
import { UpdateService } from "../gen/orbital/update/v1/update_pb.js";
import { PackageService } from "../gen/orbital/package/v1/package_pb.js";
import { apiServices } from "../common/api-services.js";
import type { Logger } from "../common/logger.js";
import { Metrics } from "../common/metrics.js";
import type { Dataplane } from "./dataplane/dataplane.js";
import type { PeerCredentialReader, PeerCredentials } from "./auth/peer-credentials.js";
import { principalFromPeer } from "./auth/principal.js";
import type { InheritedSockets } from "./listeners/socket-activation.js";
import { listenUnix } from "./listeners/unix-listener.js";
import type { DaemonOptions } from "./options.js";
import { CallPipeline } from "./rpc/call-pipeline.js";
import { defaultLimits, GrpcServer, type GrpcLimits } from "./transports/grpc/grpc-server.js";
import { ConnectionTable } from "./rpc/connections.js";
import { defaultReceiveCaps, ReceiveBudget } from "./rpc/receive-budget.js";
import { ConnectionRouter } from "./listeners/connection-router.js";
import { FastTransport } from "./transports/fast/fast-transport.js";
import type { AnyServiceImpl } from "./rpc/service-impl.js";
import { grpcHealthService } from "./services/grpc-health-service.js";
import { HealthState } from "./services/health-state.js";
import { notImplementedService } from "./services/not-implemented.js";
import { reflectionService } from "./services/reflection-service.js";
import { systemService } from "./services/system-service.js";
import { userService } from "./services/user-service.js";
import { updateService } from "./services/update-service.js";
import { RaucCli } from "./update/rauc-cli.js";
import { packageService } from "./services/package-service.js";
import { javascriptHostCommand } from "./packages/javascript-host.js";
import { PackageManager } from "./packages/package-manager.js";
import { DEFAULT_IMAGE_KEYS_DIR, loadImageKeys } from "./packages/trust-store.js";
import { ConfigEngine } from "./config/config-engine.js";
import { createDataplane } from "./dataplane/create-dataplane.js";
import { AuditLog } from "./store/audit-log.js";
import { RevisionStore } from "./store/revision-store.js";
import { RevocationLedger } from "./store/revocation-ledger.js";
import { configService } from "./services/config-service.js";
import { firewallService } from "./services/firewall-service.js";
import { interfaceService } from "./services/interface-service.js";
import { routingService } from "./services/routing-service.js";
import { RouteSetRegistry } from "./dynamic-routes/route-set-registry.js";
import { RouteSetStore } from "./dynamic-routes/route-set-store.js";
import { UserDirectory } from "./users/user-directory.js";
import { KernelReconciler } from "./config/kernel-reconciler.js";
import type { Failpoints } from "./failpoints.js";
import { BackendHealth } from "./services/backend-health.js";
import { reportDataPartition } from "./services/data-partition-health.js";
import { dataplaneReads } from "./services/dataplane-reads.js";
import { fastPathMetricLines } from "./services/xdp-fast-path-metrics.js";
import { reportHandlerOutcome } from "./services/handler-health.js";
import { buildInfo } from "./build-info.js";
import { buildOpenApi } from "./transports/rest/openapi.js";
import { RestEndpoint } from "./transports/rest/rest-endpoint.js";
import { RestGateway, type RestLimits } from "./transports/rest/rest-gateway.js";
import { TokenAuthenticator } from "./transports/rest/token-auth.js";

/** The OpenAPI document made by `npm run build` from the proto source (with its comments), when bundled. */
declare const ORBITAL_OPENAPI: string | undefined;

let generatedOpenApi: string | undefined;

function openApiDocument(): string {
  if (typeof ORBITAL_OPENAPI === "string") return ORBITAL_OPENAPI;
  // Running from source (or a bundle made without it): generated once, without the proto comments.
  return (generatedOpenApi ??= JSON.stringify(buildOpenApi(apiServices, { version: buildInfo().version })));
}

/** A positive whole number of milliseconds from the environment, or undefined. */
function msFromEnv(env: NodeJS.ProcessEnv, name: string): number | undefined {
  const ms = Number(env[name]);
  return Number.isInteger(ms) && ms > 0 ? ms : undefined;
}

/** REST limits from the environment: ORBITAL_REST_HEADERS_TIMEOUT_MS shortens the slow-loris cut (tests). */
function restLimitsFromEnv(env: NodeJS.ProcessEnv): Partial<RestLimits> {
  const ms = msFromEnv(env, "ORBITAL_REST_HEADERS_TIMEOUT_MS");
  return ms ? { headersTimeoutMs: ms, requestTimeoutMs: Math.max(ms, 1000) } : {};
}

export interface DaemonDeps {
  log: Logger;
  peerCredentials: PeerCredentialReader;
  inherited: InheritedSockets;
  limits?: Partial<GrpcLimits>;
  /** REST limits; default: defaultRestLimits, with ORBITAL_REST_HEADERS_TIMEOUT_MS applied. */
  restLimits?: Partial<RestLimits>;
  /** Fault injection (tests only). */
  failpoints?: Failpoints | undefined;
  /**
   * Tuning read from the environment by default (tests shorten them): ORBITAL_HANDLER_TIMEOUT_MS,
   * ORBITAL_RECONCILE_RETRY_MS, ORBITAL_BACKEND_TIMEOUT_MS.
   */
  env?: NodeJS.ProcessEnv;
}

/** Capability for reading health and reflection, whose protos are gRPC's and declare none. */
const DISCOVERY_CAPABILITY = "system.read";

/** What a running daemon is made of, for stop(). */
interface DaemonParts {
  pipeline: CallPipeline;
  router: ConnectionRouter;
  grpc: GrpcServer;
  fast: FastTransport;
  rest: RestEndpoint;
  unsubscribe: () => void;
  health: HealthState;
  engine: ConfigEngine;
  audit: AuditLog;
  dataplane: Dataplane;
  reconciler: KernelReconciler;
  routeSets: RouteSetRegistry;
}

export class Daemon {
  readonly health: HealthState;

  private constructor(private readonly parts: DaemonParts) {
    this.health = parts.health;
  }

  static async start(opts: DaemonOptions, deps: DaemonDeps): Promise<Daemon> {
    const { log } = deps;
    const startedAt = Date.now();
    const env = deps.env ?? process.env;
    const health = new HealthState();
    const backendHealth = new BackendHealth(health);
    reportDataPartition(health, log, env);
    const dataplane = createDataplane(opts.dataplane, { dataDir: opts.dataDir, log, failpoints: deps.failpoints, env });
    const store = new RevisionStore(opts.dataDir, log);
    const engine = await ConfigEngine.open({ store, ledger: new RevocationLedger(path.dirname(store.dir)), dataplane, backendHealth, log });
    const reconciler = new KernelReconciler(engine, dataplane, backendHealth, log, { ...(msFromEnv(env, "ORBITAL_RECONCILE_RETRY_MS") ? { retryMs: msFromEnv(env, "ORBITAL_RECONCILE_RETRY_MS")! } : {}) });
    const audit = AuditLog.inDataDir(opts.dataDir, log);
    const users = new UserDirectory(engine);
    const metrics = new Metrics();
    metrics.addCollector(() => fastPathMetricLines(dataplane));
    const handlerTimeoutMs = msFromEnv(env, "ORBITAL_HANDLER_TIMEOUT_MS");
    const pipeline = new CallPipeline({
      log,
      metrics,
      audit: (record) => audit.record(record),
      ...(deps.failpoints ? { failpoints: deps.failpoints } : {}),
      ...(handlerTimeoutMs ? { handlerTimeoutMs } : {}),
      onHandlerOutcome: (entry, failure) => reportHandlerOutcome(health, entry, failure),
    });
    const imageKeys = loadImageKeys(env.ORBITAL_PACKAGE_KEYS_DIR ?? DEFAULT_IMAGE_KEYS_DIR, log);
    const packages = new PackageManager({
      packagesDir: opts.packagesDir,
      bundleRoot: path.dirname(path.resolve(opts.dataDir)),
      socketPath: opts.socketPath,
      config: () => engine.running,
      imageKeys,
      javascriptHost: javascriptHostCommand(env),
      log,
    });
    const packagesProblem = packages.start();
    const connections = new ConnectionTable();
    const authenticatePeer = (peer: PeerCredentials) => principalFromPeer(peer, users, packages);
    const receiveBudget = new ReceiveBudget(defaultReceiveCaps);
    const grpc = new GrpcServer({ log, pipeline, connections, authenticatePeer, receiveBudget, ...(deps.limits ? { limits: deps.limits } : {}) });
    const fast = new FastTransport({ log, pipeline, authenticatePeer, receiveBudget });
    const router = new ConnectionRouter({
      log,
      peerCredentials: deps.peerCredentials,
      connections,
      grpc,
      fast,
      maxConnections: deps.limits?.maxConnections ?? defaultLimits.maxConnections,
    });
    if (!deps.peerCredentials.available) {
      log.error({ cause: deps.peerCredentials.cause }, "peer credentials unavailable: every call will be refused");
      health.messages.push(`peer credentials unavailable, every call is refused: ${deps.peerCredentials.cause}`);
    }

    const reads = dataplaneReads(dataplane, backendHealth);
    // Dynamic route sets outlive the daemon in the kernel: read them back before serving their owners.
    const routeSets = new RouteSetRegistry(reads, RouteSetStore.inDataDir(opts.dataDir), log);
    await routeSets.start();
    const implemented = new Map<DescService, AnyServiceImpl>([
      [SystemService, systemService({ engine, health, backendHealth, metrics, audit, startedAt }) as unknown as AnyServiceImpl],
      [ConfigService, configService(engine) as unknown as AnyServiceImpl],
      [UserService, userService(engine) as unknown as AnyServiceImpl],
      [InterfaceService, interfaceService(engine, reads) as unknown as AnyServiceImpl],
      [RoutingService, routingService(engine, reads, backendHealth, routeSets) as unknown as AnyServiceImpl],
      [FirewallService, firewallService(engine, reads) as unknown as AnyServiceImpl],
      [UpdateService, updateService({ rauc: new RaucCli({ command: opts.raucCommand }), dataDir: opts.dataDir, osReleasePath: opts.osRelease, trialFailureDir: opts.trialFailureDir, log }) as unknown as AnyServiceImpl],
      [PackageService, packageService(engine, packages, [...imageKeys.keys()]) as unknown as AnyServiceImpl],
    ]);
    for (const service of apiServices) {
      const why = opts.disabledServices.includes(service.typeName) ? "disabled on this box" : implemented.has(service) ? undefined : "not implemented in this build";
      grpc.addService({ service, impl: why ? notImplementedService(service, why) : implemented.get(service)! });
      if (why) health.set(service.typeName, HealthStatus.NOT_SERVING, why);
      else if (service === ConfigService && engine.fallback.length) health.set(service.typeName, HealthStatus.DEGRADED, engine.fallback.join("; "));
      else health.set(service.typeName, HealthStatus.SERVING);
    }
    if (packagesProblem && !opts.disabledServices.includes(PackageService.typeName)) health.set(PackageService.typeName, HealthStatus.DEGRADED, packagesProblem);
    grpc.addService({ service: Health, impl: grpcHealthService(health) as unknown as AnyServiceImpl, capability: DISCOVERY_CAPABILITY });
    const reflection = reflectionService([...apiServices, Health]) as unknown as AnyServiceImpl;
    grpc.addService({ service: ReflectionV1, impl: reflection, capability: DISCOVERY_CAPABILITY });
    grpc.addService({ service: ReflectionV1Alpha, impl: reflection, capability: DISCOVERY_CAPABILITY });

    const listener = net.createServer({ pauseOnConnect: false });
    router.attach(listener);
    await listenUnix(listener, {
      socketPath: opts.socketPath,
      ...(deps.inherited.api !== undefined ? { fd: deps.inherited.api } : {}),
    });

    // REST: the same pipeline (so the same handlers), routed by the google.api.http bindings of the services
    // registered above; where and whether it listens follows Settings.rest on every commit.
    const tokens = new TokenAuthenticator(engine, users);
    const gateway = new RestGateway({ log, pipeline, tokens, metrics, openApi: openApiDocument, limits: deps.restLimits ?? restLimitsFromEnv(process.env) });
    const rest = new RestEndpoint({ log, gateway, healthMessages: health.messages, ...(deps.inherited.rest !== undefined ? { inheritedFd: deps.inherited.rest } : {}) });
    const unsubscribe = engine.onEvent(() => {
      tokens.invalidate();
      void rest.configure(engine.running.settings?.rest);
    });
    await rest.configure(engine.running.settings?.rest);
    reconciler.start();

    log.info(
      { socket: deps.inherited.api !== undefined ? `fd ${deps.inherited.api} (from init)` : opts.socketPath, revision: engine.revision.toString() },
      "orbitald serving",
    );
    return new Daemon({ pipeline, router, grpc, fast, rest, unsubscribe, health, engine, audit, dataplane, reconciler, routeSets });
  }

  /** Stops accepting, drains calls in flight for up to `graceMs`, then closes everything. */
  async stop(graceMs: number): Promise<void> {
    const { unsubscribe, reconciler, router, grpc, fast, rest, pipeline, engine, dataplane, audit, routeSets } = this.parts;
    // First, so that the sessions the drain ends leave their routes in the kernel for the next start.
    routeSets.stop();
    unsubscribe();
    reconciler.stop();
    // Every transport stops accepting at once and they share one drain of the calls in flight.
    router.stopAccepting();
    await Promise.all([grpc.stop(graceMs), fast.stop(graceMs), rest.stop(pipeline.drain(graceMs))]);
    engine.close();
    dataplane.close();
    audit.close();
  }
}
