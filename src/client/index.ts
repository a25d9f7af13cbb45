// The Orbital OS client SDK: typed clients for every API service over the daemon's Unix socket.
export { createTransport, DEFAULT_SOCKET, type Protocol, type Transport, type TransportOptions } from "./transport.js";
export { createClient, type CallOptions, type Client } from "./client.js";
export { errorFromGrpc } from "./grpc-channel.js";
export { callJson, findMethod } from "./call-json.js";
export { OrbitalError } from "../common/errors.js";
export { apiServices } from "../common/api-services.js";
export { RouteSetSession, ROUTE_SET_BATCH, type RouteSetOptions } from "./route-set-session.js";
// The service descriptors, for createClient (packages get them from the SDK rather than bundling their own).
export { SystemService } from "../gen/orbital/system/v1/system_pb.js";
export { ConfigService } from "../gen/orbital/config/v1/config_pb.js";
export { InterfaceService } from "../gen/orbital/interface/v1/interface_pb.js";
export { RoutingService } from "../gen/orbital/routing/v1/routing_pb.js";
export { FirewallService } from "../gen/orbital/firewall/v1/firewall_pb.js";
export { UserService } from "../gen/orbital/user/v1/user_pb.js";
export { PackageService } from "../gen/orbital/package/v1/package_pb.js";
export { UpdateService } from "../gen/orbital/update/v1/update_pb.js";
