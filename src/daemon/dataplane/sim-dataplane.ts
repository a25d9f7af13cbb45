// The simulated data plane, for unit tests only: remembers what it was asked to apply, and fails on request
// (ORBITAL_SIM_FAIL_ITEM names an item path; any configuration holding that item is refused), so that the
// config engine's apply-failure and restore paths can be exercised without a kernel.
import type { Configuration } from "../../gen/orbital/config/v1/configuration_pb.js";
import { diffConfigurations, emptyConfiguration } from "../config/collections.js";
import { DataplaneError, type Dataplane } from "./dataplane.js";

export class SimDataplane implements Dataplane {
  readonly name = "sim";
  /** Every configuration applied, in order. */
  readonly applied: Configuration[] = [];

  constructor(private readonly failItem = process.env.ORBITAL_SIM_FAIL_ITEM ?? "") {}

  async apply(config: Configuration): Promise<void> {
    if (this.failItem && diffConfigurations(emptyConfiguration(), config).some((c) => c.path === this.failItem)) {
      throw new DataplaneError(`simulated kernel refusal of ${this.failItem}`, this.failItem, "apply", "EINVAL");
    }
    this.applied.push(config);
  }
}
