// Applies an update_mask: copies the named fields from the request's resource onto the stored one. Paths
// may be nested ("rest.enabled"); only paths the RPC allows can be changed (INVALID_FIELD_MASK otherwise). An
// empty mask means every allowed path.
import { clone, create, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import type { FieldMask } from "@bufbuild/protobuf/wkt";
import { reflect, type ReflectMessage } from "@bufbuild/protobuf/reflect";
import { ErrorReason } from "../../gen/orbital/api/v1/error_reason_pb.js";
import { OrbitalError } from "../../common/errors.js";

function badPath(path: string, why: string): OrbitalError {
  return new OrbitalError({
    reason: ErrorReason.INVALID_FIELD_MASK,
    message: `update_mask path "${path}" ${why}`,
    metadata: { path },
    violations: [{ field: "update_mask", description: `"${path}" ${why}`, reason: "INVALID_FIELD_MASK" }],
  });
}

function copyPath(target: ReflectMessage, source: ReflectMessage, parts: string[], path: string): void {
  const [head, ...rest] = parts;
  const field = target.desc.fields.find((f) => f.name === head || f.jsonName === head);
  if (!field) throw badPath(path, "names no field");
  if (rest.length === 0) {
    if (source.isSet(field)) target.set(field, source.get(field) as never);
    else target.clear(field);
    return;
  }
  if (field.fieldKind !== "message") throw badPath(path, "descends into a non-message field");
  if (!target.isSet(field)) target.set(field, reflect(field.message, create(field.message)) as never);
  const sub = source.isSet(field) ? (source.get(field) as ReflectMessage) : reflect(field.message, create(field.message));
  copyPath(target.get(field) as ReflectMessage, sub, rest, path);
}

/** Returns a copy of `stored` with the masked fields of `update` applied. */
export function applyFieldMask<Desc extends DescMessage>(
  schema: Desc,
  stored: MessageShape<Desc>,
  update: MessageShape<Desc>,
  mask: FieldMask | undefined,
  allowed: readonly string[],
): MessageShape<Desc> {
  const paths = mask && mask.paths.length > 0 ? mask.paths : allowed;
  for (const p of paths) {
    if (!allowed.some((a) => p === a || p.startsWith(`${a}.`))) throw badPath(p, `cannot be changed (allowed: ${allowed.join(", ")})`);
  }
  const result = clone(schema, stored);
  const target = reflect(schema, result);
  const source = reflect(schema, update);
  for (const p of paths) copyPath(target, source, p.split("."), p);
  return result;
}
