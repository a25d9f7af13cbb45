// The list of every service of the v1 contract, as generated descriptors. The daemon serves these, the
// contract tests walk them, the docs generator documents them. Adding a service means adding it here.
import type { DescService } from "@bufbuild/protobuf";
import { ConfigService } from "../gen/orbital/config/v1/config_pb.js";
import { FirewallService } from "../gen/orbital/firewall/v1/firewall_pb.js";
import { InterfaceService } from "../gen/orbital/interface/v1/interface_pb.js";
import { PackageService } from "../gen/orbital/package/v1/package_pb.js";
import { RoutingService } from "../gen/orbital/routing/v1/routing_pb.js";
import { SystemService } from "../gen/orbital/system/v1/system_pb.js";
import { UpdateService } from "../gen/orbital/update/v1/update_pb.js";
import { UserService } from "../gen/orbital/user/v1/user_pb.js";

export const apiServices: readonly DescService[] = [
  SystemService,
  ConfigService,
  InterfaceService,
  RoutingService,
  FirewallService,
  UserService,
  PackageService,
  UpdateService,
];

/** Fully qualified proto packages served, e.g. "orbital.routing.v1" (GetVersion reports them). */
export function apiPackages(): string[] {
  return [...new Set(apiServices.map((s) => s.file.proto.package))].sort();
}
