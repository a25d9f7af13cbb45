// The boundary between the control plane and the kernel: the config engine hands a whole configuration to
// a backend, which makes the kernel match it (idempotently, so that it also serves as reconcile). The data
// plane knows nothing of the API; it reports the item it failed on.
import type { Configuration } from "../../gen/orbital/config/v1/configuration_pb.js";

export class DataplaneError extends Error {
  constructor(
    message: string,
    /** The item that failed, as a change path ("routes[table=254,destination=10.0.0.0/8]"). */
    readonly item: string,
    readonly operation: string,
    readonly errno?: string,
  ) {
    super(message);
    this.name = "DataplaneError";
  }
}

export interface Dataplane {
  readonly name: string;
  /** Makes the kernel state owned by orbitald match `config`. Throws DataplaneError naming the failing item. */
  apply(config: Configuration): Promise<void>;
}
