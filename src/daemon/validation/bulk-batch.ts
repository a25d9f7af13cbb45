// The rules every batch of a bulk client stream follows (BulkUpdateRoutes, BulkUpdatePrefixSetEntries):
// one transaction for the whole stream, and at most MAX_BATCH_ITEMS items per batch.
import { Violations } from "./violations.js";

export const MAX_BATCH_ITEMS = 10_000;

/** Checks one batch; returns the stream's transaction id (fixed by its first batch). */
export function checkBulkBatch(streamTransactionId: string | undefined, batch: { transactionId: string }, items: number): string {
  const transactionId = streamTransactionId ?? batch.transactionId;
  const v = new Violations();
  v.check(batch.transactionId === transactionId, "transaction_id", "must be the same in every batch");
  v.check(items <= MAX_BATCH_ITEMS, "adds", `at most ${MAX_BATCH_ITEMS} items per batch`);
  v.throwIfAny();
  return transactionId;
}
