// The gRPC status code to HTTP status mapping of the REST API, the same as grpc-gateway's
// (runtime/errors.go HTTPStatusFromCode), so that REST clients see conventional statuses.
import { Code } from "../gen/google/rpc/code_pb.js";

const httpStatusByCode: Record<Code, number> = {
  [Code.OK]: 200,
  [Code.CANCELLED]: 499,
  [Code.UNKNOWN]: 500,
  [Code.INVALID_ARGUMENT]: 400,
  [Code.DEADLINE_EXCEEDED]: 504,
  [Code.NOT_FOUND]: 404,
  [Code.ALREADY_EXISTS]: 409,
  [Code.PERMISSION_DENIED]: 403,
  [Code.UNAUTHENTICATED]: 401,
  [Code.RESOURCE_EXHAUSTED]: 429,
  [Code.FAILED_PRECONDITION]: 400,
  [Code.ABORTED]: 409,
  [Code.OUT_OF_RANGE]: 400,
  [Code.UNIMPLEMENTED]: 501,
  [Code.INTERNAL]: 500,
  [Code.UNAVAILABLE]: 503,
  [Code.DATA_LOSS]: 500,
};

/** HTTP status for a gRPC code; 500 for a code outside the enum. */
export function httpStatusFromCode(code: Code): number {
  return httpStatusByCode[code] ?? 500;
}
