// The errors every resource service raises the same way: not found, already exists, still in use.
import { ErrorReason } from "../../gen/orbital/api/v1/error_reason_pb.js";
import { OrbitalError } from "../../common/errors.js";

export function notFound(resourceType: string, name: string): OrbitalError {
  return new OrbitalError({ reason: ErrorReason.NOT_FOUND, message: `${resourceType} "${name}" does not exist`, metadata: { resourceType, name } });
}

export function alreadyExists(resourceType: string, name: string): OrbitalError {
  return new OrbitalError({ reason: ErrorReason.ALREADY_EXISTS, message: `${resourceType} "${name}" exists already`, metadata: { resourceType, name } });
}

export function inUse(resourceType: string, name: string, usedBy: string[]): OrbitalError {
  return new OrbitalError({
    reason: ErrorReason.RESOURCE_IN_USE,
    message: `${resourceType} "${name}" is used by ${usedBy.join(", ")}`,
    metadata: { resourceType, name, usedBy: usedBy.join(",") },
  });
}
