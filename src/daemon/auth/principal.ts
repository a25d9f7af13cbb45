// Who is calling: the principal of a call, resolved from socket peer credentials (or, for REST, an API
// token). uid 0 is the built-in superuser; any other uid must belong to an installed package or a configured
// user.
import { ErrorReason } from "../../gen/orbital/api/v1/error_reason_pb.js";
import { OrbitalError } from "../../common/errors.js";
import type { PeerCredentials } from "./peer-credentials.js";
import type { UserDirectory } from "../users/user-directory.js";

export type AuthMethod = "peer" | "token";

export interface Principal {
  /** User name; "root" for uid 0. */
  user: string;
  role: string;
  /** Capability names the role holds. */
  capabilities: ReadonlySet<string>;
  method: AuthMethod;
  peer?: PeerCredentials;
  tokenId?: string;
}

/** Principals of installed packages by uid (their grants), consulted before the configured users. */
export interface PackagePrincipals {
  principalOf(uid: number): Pick<Principal, "user" | "role" | "capabilities"> | undefined;
}

/** The principal of a socket peer; UNAUTHENTICATED (UNKNOWN_PEER) when its uid maps to nobody. */
export function principalFromPeer(peer: PeerCredentials, users: UserDirectory, packages?: PackagePrincipals): Principal {
  const pkg = peer.uid === 0 ? undefined : packages?.principalOf(peer.uid);
  if (pkg) return { ...pkg, method: "peer", peer };
  const user = users.userByUid(peer.uid);
  if (!user) {
    throw new OrbitalError({
      reason: ErrorReason.UNKNOWN_PEER,
      message: `uid ${peer.uid} is not an Orbital user`,
      metadata: { uid: peer.uid },
    });
  }
  return { user: user.name, role: user.role, capabilities: users.capabilitiesOf(user.role), method: "peer", peer };
}
