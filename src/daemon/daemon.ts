// Composes orbitald: the config store, the user directory, the gRPC transport with its authentication, and
// every service of the contract (implemented, or honestly NOT_SERVING). Start and stop; no process concerns.
import net from "node:net";
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
import { apiServices } from "../common/api-services.js";
import type { Logger } from "../common/logger.js";
import { Metrics } from "../common/metrics.js";
import type { Dataplane } from "./dataplane/dataplane.js";
import type { PeerCredentialReader } from "./auth/peer-credentials.js";
import { principalFromPeer } from "./auth/principal.js";
import type { InheritedSockets } from "./listeners/socket-activation.js";
import { listenUnix } from "./listeners/unix-listener.js";
import type { DaemonOptions } from "./options.js";
import { GrpcServer, type GrpcLimits } from "./rpc/grpc-server.js";
import type { AnyServiceImpl } from "./rpc/service-impl.js";
import { grpcHealthService } from "./services/grpc-health-service.js";
import { HealthState } from "./services/health-state.js";
import { notImplementedService } from "./services/not-implemented.js";
import { reflectionService } from "./services/reflection-service.js";
import { systemService } from "./services/system-service.js";
import { userService } from "./services/user-service.js";
import { ConfigEngine } from "./config/config-engine.js";
import { createDataplane } from "./dataplane/create-dataplane.js";
import { AuditLog } from "./store/audit-log.js";
import { RevisionStore } from "./store/revision-store.js";
import { configService } from "./services/config-service.js";
import { firewallService } from "./services/firewall-service.js";
import { interfaceService } from "./services/interface-service.js";
import { routingService } from "./services/routing-service.js";
import { UserDirectory } from "./users/user-directory.js";

export interface DaemonDeps {
  log: Logger;
  peerCredentials: PeerCredentialReader;
  inherited: InheritedSockets;
  limits?: Partial<GrpcLimits>;
  failpoints?: string;
}

/** Capability for reading health and reflection, whose protos are gRPC's and declare none. */
const DISCOVERY_CAPABILITY = "system.read";

export class Daemon {
  private constructor(
    private readonly grpc: GrpcServer,
    readonly health: HealthState,
    private readonly engine: ConfigEngine,
    private readonly audit: AuditLog,
    private readonly dataplane: Dataplane,
  ) {}

  static async start(opts: DaemonOptions, deps: DaemonDeps): Promise<Daemon> {
    const { log } = deps;
    const startedAt = Date.now();
    const dataplane = createDataplane(opts.dataplane, log);
    const engine = await ConfigEngine.open({ store: new RevisionStore(opts.dataDir, log), dataplane, log });
    const audit = AuditLog.inDataDir(opts.dataDir);
    const users = new UserDirectory(engine);
    const health = new HealthState();
    const metrics = new Metrics();
    const grpc = new GrpcServer({
      log,
      metrics,
      peerCredentials: deps.peerCredentials,
      authenticatePeer: (peer) => principalFromPeer(peer, users),
      audit: (record) => audit.record(record),
      ...(deps.limits ? { limits: deps.limits } : {}),
      ...(deps.failpoints ? { failpoints: deps.failpoints } : {}),
    });
    if (!deps.peerCredentials.available) {
      log.error({ cause: deps.peerCredentials.cause }, "peer credentials unavailable: every call will be refused");
      health.messages.push(`peer credentials unavailable, every call is refused: ${deps.peerCredentials.cause}`);
    }

    const implemented = new Map<DescService, AnyServiceImpl>([
      [SystemService, systemService({ engine, health, metrics, startedAt }) as unknown as AnyServiceImpl],
      [ConfigService, configService(engine) as unknown as AnyServiceImpl],
      [UserService, userService(engine) as unknown as AnyServiceImpl],
      [InterfaceService, interfaceService(engine, dataplane) as unknown as AnyServiceImpl],
      [RoutingService, routingService(engine, dataplane) as unknown as AnyServiceImpl],
      [FirewallService, firewallService(engine, dataplane) as unknown as AnyServiceImpl],
    ]);
    for (const service of apiServices) {
      const impl = implemented.get(service);
      grpc.addService({ service, impl: impl ?? notImplementedService(service) });
      if (service === ConfigService && engine.fallback.length) health.set(service.typeName, HealthStatus.DEGRADED, engine.fallback.join("; "));
      else if (impl) health.set(service.typeName, HealthStatus.SERVING);
      else health.set(service.typeName, HealthStatus.NOT_SERVING, "not implemented in this build");
    }
    grpc.addService({ service: Health, impl: grpcHealthService(health) as unknown as AnyServiceImpl, capability: DISCOVERY_CAPABILITY });
    const reflection = reflectionService([...apiServices, Health]) as unknown as AnyServiceImpl;
    grpc.addService({ service: ReflectionV1, impl: reflection, capability: DISCOVERY_CAPABILITY });
    grpc.addService({ service: ReflectionV1Alpha, impl: reflection, capability: DISCOVERY_CAPABILITY });

    const listener = net.createServer({ pauseOnConnect: false });
    grpc.attach(listener);
    await listenUnix(listener, {
      socketPath: opts.socketPath,
      ...(deps.inherited.api !== undefined ? { fd: deps.inherited.api } : {}),
    });
    log.info(
      { socket: deps.inherited.api !== undefined ? `fd ${deps.inherited.api} (from init)` : opts.socketPath, revision: engine.revision.toString() },
      "orbitald serving",
    );
    return new Daemon(grpc, health, engine, audit, dataplane);
  }

  /** Stops accepting, drains calls in flight for up to `graceMs`, then closes everything. */
  async stop(graceMs: number): Promise<void> {
    await this.grpc.stop(graceMs);
    this.engine.close();
    this.dataplane.close();
    await this.audit.close();
  }
}
