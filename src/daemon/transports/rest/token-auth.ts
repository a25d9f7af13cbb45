// Authentication of REST calls: `Authorization: Bearer orb_<id>_<secret>` only. The id finds the token and its
// scrypt hash in the running configuration; the secret is verified against the hash. A successful
// verification is remembered for a short while (keyed by a SHA-256 of the secret, never the secret itself) so
// that a client making many calls does not pay scrypt on each; whether the token is still valid (not revoked,
// not expired, its hash unchanged, its user present) is checked against the running configuration on every
// call, and entries are dropped as soon as a commit revokes or removes their token or user. Repeated failures
// from one source address are rate limited.
import { createHash } from "node:crypto";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { ErrorReason } from "../../../gen/orbital/api/v1/error_reason_pb.js";
import type { Configuration } from "../../../gen/orbital/config/v1/configuration_pb.js";
import type { ApiToken } from "../../../gen/orbital/user/v1/user_pb.js";
import { OrbitalError } from "../../../common/errors.js";
import type { Principal } from "../../auth/principal.js";
import { tokenIdOf, verifySecret } from "../../users/token-secrets.js";
import type { UserDirectory } from "../../users/user-directory.js";

export interface TokenAuthOptions {
  /** How long a successful verification is remembered, ms. */
  cacheTtlMs: number;
  /** Most verifications remembered at once. */
  cacheEntries: number;
  /** Failed attempts from one source address within `failureWindowMs` before it is refused. */
  maxFailures: number;
  /** The window failures are counted in, and how long a source is refused once it has too many, ms. */
  failureWindowMs: number;
}

export const defaultTokenAuthOptions: TokenAuthOptions = {
  cacheTtlMs: 60_000,
  cacheEntries: 1024,
  maxFailures: 10,
  failureWindowMs: 60_000,
};

export type AuthOutcome =
  /** `caller` names the caller in audit records until it is authenticated ("token:<id>", "remote:<addr>"). */
  { ok: true; principal: Principal; caller: string } | { ok: false; error: OrbitalError; caller: string };

interface CachedVerification {
  tokenId: string;
  /** The stored hash that was verified: a token re-minted under the same id does not match. */
  phc: string;
  until: number;
}

/** Counts failed authentications per source address and refuses a source that has too many. */
export class FailureLimiter {
  private readonly failures = new Map<string, number[]>();
  private readonly blockedUntil = new Map<string, number>();

  constructor(private readonly opts: Pick<TokenAuthOptions, "maxFailures" | "failureWindowMs">) {}

  /** ms until `source` may try again, or 0 when it may now. */
  retryAfterMs(source: string, now = Date.now()): number {
    const until = this.blockedUntil.get(source);
    if (until === undefined) return 0;
    if (until <= now) {
      this.blockedUntil.delete(source);
      return 0;
    }
    return until - now;
  }

  fail(source: string, now = Date.now()): void {
    const recent = (this.failures.get(source) ?? []).filter((t) => t > now - this.opts.failureWindowMs);
    recent.push(now);
    if (recent.length >= this.opts.maxFailures) {
      this.blockedUntil.set(source, now + this.opts.failureWindowMs);
      this.failures.delete(source);
    } else {
      this.failures.set(source, recent);
    }
    // Bounded memory: forget the sources with nothing recent once the table grows.
    if (this.failures.size > 10_000) {
      for (const [s, times] of this.failures) if ((times[times.length - 1] ?? 0) <= now - this.opts.failureWindowMs) this.failures.delete(s);
    }
    if (this.blockedUntil.size > 10_000) for (const [s, until] of this.blockedUntil) if (until <= now) this.blockedUntil.delete(s);
  }
}

/** The address failures are counted against: IPv4-mapped IPv6 addresses as plain IPv4. */
export function sourceAddress(remote: string | undefined): string {
  if (!remote) return "unknown";
  return remote.startsWith("::ffff:") && remote.includes(".") ? remote.slice(7) : remote;
}

export class TokenAuthenticator {
  private readonly opts: TokenAuthOptions;
  private readonly cache = new Map<string, CachedVerification>();
  readonly limiter: FailureLimiter;

  constructor(
    private readonly store: { readonly running: Configuration },
    private readonly users: UserDirectory,
    opts: Partial<TokenAuthOptions> = {},
  ) {
    this.opts = { ...defaultTokenAuthOptions, ...opts };
    this.limiter = new FailureLimiter(this.opts);
  }

  /** Verifications remembered right now (tests and metrics). */
  get cachedVerifications(): number {
    return this.cache.size;
  }

  /**
   * Drops remembered verifications whose token was revoked, removed, re-minted or expired, or whose user is
   * gone. Called after every commit; authenticate() checks the same on each call anyway.
   */
  invalidate(now = Date.now()): void {
    for (const [key, c] of this.cache) if (c.until <= now || this.problem(c.tokenId, now) !== undefined || this.store.running.apiTokenHashes[c.tokenId] !== c.phc) this.cache.delete(key);
  }

  /** Resolves an Authorization header to a principal, or to the error to answer. */
  async authenticate(authorization: string | undefined, remote: string | undefined): Promise<AuthOutcome> {
    const source = sourceAddress(remote);
    const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization ?? "");
    const secret = m?.[1];
    const tokenId = secret ? tokenIdOf(secret) : undefined;
    const caller = tokenId ? `token:${tokenId}` : `remote:${source}`;
    const wait = this.limiter.retryAfterMs(source);
    if (wait > 0) {
      return {
        ok: false,
        caller,
        error: new OrbitalError({
          reason: ErrorReason.RATE_LIMITED,
          message: `too many failed authentication attempts from ${source}; retry later`,
          metadata: { limit: this.opts.maxFailures },
          retryDelayMs: wait,
        }),
      };
    }
    const fail = (reason: ErrorReason, message: string, metadata: Record<string, string> = {}): AuthOutcome => {
      this.limiter.fail(source);
      return { ok: false, caller, error: new OrbitalError({ reason, message, metadata }) };
    };
    if (!authorization) {
      return { ok: false, caller, error: new OrbitalError({ reason: ErrorReason.CREDENTIALS_MISSING, message: "no credentials: send Authorization: Bearer <API token>" }) };
    }
    if (!m) {
      return { ok: false, caller, error: new OrbitalError({ reason: ErrorReason.CREDENTIALS_MISSING, message: "only bearer API tokens are accepted: Authorization: Bearer <API token>" }) };
    }
    if (!secret || !tokenId) return fail(ErrorReason.TOKEN_INVALID, "the bearer token is not an Orbital API token");
    const phc = this.store.running.apiTokenHashes[tokenId];
    if (phc === undefined) {
      // A dead token keeps no hash: its secret cannot be checked any more, and it is refused either way.
      const dead = this.tokenById(tokenId)?.revokeTime !== undefined;
      return dead ? fail(ErrorReason.TOKEN_REVOKED, `API token ${tokenId} was revoked`, { tokenId }) : fail(ErrorReason.TOKEN_INVALID, "the API token is unknown");
    }

    const key = createHash("sha256").update(secret).digest("base64url");
    const now = Date.now();
    const cached = this.cache.get(key);
    let verified = cached !== undefined && cached.until > now && cached.tokenId === tokenId && cached.phc === phc;
    if (!verified) {
      if (cached) this.cache.delete(key);
      verified = await verifySecret(secret, phc);
      // The configuration may have changed during the verification: only a hash still in force counts.
      if (verified && this.store.running.apiTokenHashes[tokenId] !== phc) verified = false;
      if (!verified) return fail(ErrorReason.TOKEN_INVALID, "the API token is unknown");
      this.remember(key, { tokenId, phc, until: now + this.opts.cacheTtlMs });
    }
    const problem = this.problem(tokenId, Date.now());
    if (problem) {
      this.cache.delete(key);
      return fail(problem.reason, problem.message, problem.metadata);
    }
    const token = this.tokenById(tokenId)!;
    const user = this.users.userByName(token.user)!;
    return {
      ok: true,
      caller,
      principal: { user: user.name, role: user.role, capabilities: this.users.capabilitiesOf(user.role), method: "token", tokenId },
    };
  }

  private tokenById(id: string): ApiToken | undefined {
    return this.store.running.apiTokens.find((t) => t.id === id);
  }

  /** Why a token whose secret is right cannot be used (revoked, expired, its user gone), if it cannot. */
  private problem(tokenId: string, now: number): { reason: ErrorReason; message: string; metadata: Record<string, string> } | undefined {
    const token = this.tokenById(tokenId);
    if (!token) return { reason: ErrorReason.TOKEN_INVALID, message: "the API token is unknown", metadata: {} };
    if (token.revokeTime) return { reason: ErrorReason.TOKEN_REVOKED, message: `API token ${tokenId} was revoked`, metadata: { tokenId } };
    if (token.expireTime && timestampDate(token.expireTime).getTime() <= now) {
      return {
        reason: ErrorReason.TOKEN_EXPIRED,
        message: `API token ${tokenId} expired`,
        metadata: { tokenId, expiredAt: timestampDate(token.expireTime).toISOString() },
      };
    }
    if (!this.users.userByName(token.user)) return { reason: ErrorReason.TOKEN_REVOKED, message: `the user of API token ${tokenId} no longer exists`, metadata: { tokenId } };
    return undefined;
  }

  private remember(key: string, entry: CachedVerification): void {
    if (this.cache.size >= this.opts.cacheEntries) {
      const now = Date.now();
      for (const [k, c] of this.cache) if (c.until <= now) this.cache.delete(k);
      // Still full: forget the oldest (Map keeps insertion order).
      while (this.cache.size >= this.opts.cacheEntries) this.cache.delete(this.cache.keys().next().value!);
    }
    this.cache.set(key, entry);
  }
}
