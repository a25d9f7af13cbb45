// Services of the v1 contract that this daemon does not serve (not built yet, or turned off with
// --disable-service): every RPC answers UNIMPLEMENTED with reason SERVICE_NOT_IMPLEMENTED, and the service's
// health is NOT_SERVING, so that clients can tell honestly.
import type { DescService } from "@bufbuild/protobuf";
import { ErrorReason } from "../../gen/orbital/api/v1/error_reason_pb.js";
import { OrbitalError } from "../../common/errors.js";
import type { AnyServiceImpl } from "../rpc/service-impl.js";

/** `why` completes "<service> is ...": "not implemented in this build", "disabled on this box". */
export function notImplementedService(service: DescService, why = "not implemented in this build"): AnyServiceImpl {
  const fail = () =>
    new OrbitalError({
      reason: ErrorReason.SERVICE_NOT_IMPLEMENTED,
      message: `${service.typeName} is ${why}`,
      metadata: { service: service.typeName },
    });
  const impl: AnyServiceImpl = {};
  for (const m of service.methods) {
    impl[m.localName] =
      m.methodKind === "server_streaming" || m.methodKind === "bidi_streaming"
        ? async function* () {
            throw fail();
          }
        : async () => {
            throw fail();
          };
  }
  return impl;
}
