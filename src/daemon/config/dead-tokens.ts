// What no commit may undo: a dead API token stays dead. A token dies when it is revoked, when its user is
// deleted, or when a commit (a rollback to before it existed) drops it from the configuration. Every new
// configuration keeps a revoked entry (a tombstone) for each dead token and never its secret hash, whatever
// revision it was built from; the ledger of dead ids outlives the revisions themselves.
import { clone } from "@bufbuild/protobuf";
import { timestampDate, timestampFromDate, type Timestamp } from "@bufbuild/protobuf/wkt";
import type { Configuration } from "../../gen/orbital/config/v1/configuration_pb.js";
import { ApiTokenSchema } from "../../gen/orbital/user/v1/user_pb.js";

/** The ids of dead tokens, as far as the configuration alone cannot tell (see RevocationLedger). */
export interface DeadTokenIds {
  has(id: string): boolean;
  diedAt(id: string): string | undefined;
}

/**
 * Makes `next` keep every token death known from `running` and `ledger`: tokens revoked in `running` stay
 * revoked, tokens of `running` missing from `next` come back as revoked tombstones, tokens of the ledger are
 * revoked, and no dead token keeps its hash. Returns the tokens that die with this change, with when.
 */
export function keepDeadTokensDead(running: Configuration, next: Configuration, ledger: DeadTokenIds, now = new Date()): [string, string][] {
  const nextById = new Map(next.apiTokens.map((t) => [t.id, t]));
  const revokedAt = (t: { revokeTime?: Timestamp }) => (t.revokeTime ? timestampDate(t.revokeTime).toISOString() : undefined);
  for (const t of running.apiTokens) {
    const kept = nextById.get(t.id);
    if (!kept) {
      const tombstone = clone(ApiTokenSchema, t);
      tombstone.revokeTime ??= timestampFromDate(now);
      next.apiTokens.push(tombstone);
      nextById.set(t.id, tombstone);
    } else if (t.revokeTime && !kept.revokeTime) {
      kept.revokeTime = t.revokeTime;
    }
  }
  const died: [string, string][] = [];
  for (const t of next.apiTokens) {
    const ledgerTime = ledger.diedAt(t.id);
    if (ledgerTime !== undefined && !t.revokeTime) t.revokeTime = timestampFromDate(new Date(ledgerTime));
    if (!t.revokeTime) continue;
    delete next.apiTokenHashes[t.id];
    if (!ledger.has(t.id)) died.push([t.id, revokedAt(t)!]);
  }
  // A hash without a token (or of a dead id) is a secret nobody may use.
  for (const id of Object.keys(next.apiTokenHashes)) if (!nextById.has(id) || ledger.has(id)) delete next.apiTokenHashes[id];
  return died;
}
