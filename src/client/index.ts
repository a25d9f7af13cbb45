// The Orbital OS client SDK: typed clients for every API service over the daemon's Unix socket.
export { createTransport, DEFAULT_SOCKET, type Protocol, type Transport, type TransportOptions } from "./transport.js";
export { createClient, type CallOptions, type Client } from "./client.js";
export { errorFromGrpc } from "./grpc-channel.js";
export { callJson, findMethod } from "./call-json.js";
export { OrbitalError } from "../common/errors.js";
export { apiServices } from "../common/api-services.js";
export { RouteSetSession, ROUTE_SET_BATCH, type RouteSetOptions } from "./route-set-session.js";
