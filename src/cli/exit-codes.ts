// orbctl's exit statuses and the one mapping from gRPC status codes to them; `orbctl help exit-codes` and
// docs/cli.md describe the same table.

export enum ExitCode {
  OK = 0,
  FAILURE = 1,
  USAGE = 2,
  UNAVAILABLE = 3,
  PERMISSION_DENIED = 4,
  NOT_FOUND = 5,
  INVALID = 6,
  CONFLICT = 7,
}

/** gRPC status codes (google.rpc.Code), by number, so that this module loads nothing. */
const GRPC = {
  CANCELLED: 1,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const;

export interface ExitCodeEntry {
  readonly code: ExitCode;
  readonly name: string;
  readonly meaning: string;
}

export const exitCodeTable: readonly ExitCodeEntry[] = [
  { code: ExitCode.OK, name: "ok", meaning: "the command succeeded" },
  { code: ExitCode.FAILURE, name: "failure", meaning: "any other failure (INTERNAL, UNIMPLEMENTED, RESOURCE_EXHAUSTED, ...); a broken audit log chain" },
  { code: ExitCode.USAGE, name: "usage", meaning: "the command line is wrong: unknown command or flag, missing argument" },
  { code: ExitCode.UNAVAILABLE, name: "unavailable", meaning: "daemon not reachable before the deadline, UNAVAILABLE, DEADLINE_EXCEEDED" },
  { code: ExitCode.PERMISSION_DENIED, name: "permission denied", meaning: "PERMISSION_DENIED, UNAUTHENTICATED (e.g. your uid maps to no user)" },
  { code: ExitCode.NOT_FOUND, name: "not found", meaning: "NOT_FOUND: no such user, route, revision, transaction, ..." },
  { code: ExitCode.INVALID, name: "invalid input", meaning: "INVALID_ARGUMENT, FAILED_PRECONDITION, OUT_OF_RANGE; bulk items that failed" },
  { code: ExitCode.CONFLICT, name: "conflict", meaning: "ALREADY_EXISTS, ABORTED (e.g. CONFIG_CONFLICT: diff again and retry)" },
];

/** The exit status for a failed call with this gRPC status code. */
export function exitCodeForGrpc(code: number): ExitCode {
  switch (code) {
    case GRPC.DEADLINE_EXCEEDED:
    case GRPC.UNAVAILABLE:
      return ExitCode.UNAVAILABLE;
    case GRPC.PERMISSION_DENIED:
    case GRPC.UNAUTHENTICATED:
      return ExitCode.PERMISSION_DENIED;
    case GRPC.NOT_FOUND:
      return ExitCode.NOT_FOUND;
    case GRPC.INVALID_ARGUMENT:
    case GRPC.FAILED_PRECONDITION:
    case GRPC.OUT_OF_RANGE:
      return ExitCode.INVALID;
    case GRPC.ALREADY_EXISTS:
    case GRPC.ABORTED:
      return ExitCode.CONFLICT;
    default:
      return ExitCode.FAILURE;
  }
}

export const GRPC_DEADLINE_EXCEEDED = GRPC.DEADLINE_EXCEEDED;
export const GRPC_UNAVAILABLE = GRPC.UNAVAILABLE;
export const GRPC_CANCELLED = GRPC.CANCELLED;
