// Where configuration mutations go until the transaction issue lands: a mutation without transaction_id is
// a one-change commit; one that names a transaction is refused, because no transaction can exist yet.
import { ErrorReason } from "../../gen/orbital/api/v1/error_reason_pb.js";
import { OrbitalError } from "../../common/errors.js";
import type { ConfigStore, Mutation } from "../store/config-store.js";
import type { CallContext } from "../rpc/call-context.js";

export async function commitChange<T>(
  store: ConfigStore,
  ctx: CallContext,
  transactionId: string,
  mutate: Mutation<T>,
): Promise<{ result: T; revision: bigint }> {
  if (transactionId !== "") {
    throw new OrbitalError({
      reason: ErrorReason.TRANSACTION_NOT_FOUND,
      message: `transaction ${transactionId} does not exist`,
      metadata: { transactionId },
    });
  }
  const { result, info } = await store.commit(mutate, { author: ctx.principal.user, traceId: ctx.trace.traceId });
  ctx.log.info({ revision: info.revision.toString(), method: ctx.path }, "committed");
  return { result, revision: info.revision };
}
