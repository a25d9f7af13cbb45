// The data plane as the services read it: a backend that fails while answering a read (a hung nft, a
// netlink socket error) becomes DATAPLANE_UNAVAILABLE naming it, and is reported in BackendHealth so that the
// reconciler retries it, instead of an INTERNAL error; everything else passes through.
import type { Dataplane } from "../dataplane/dataplane.js";
import { BackendFault } from "../dataplane/dataplane.js";
import { backendUnavailable } from "../config/kernel-applier.js";
import type { BackendHealth } from "./backend-health.js";

export function dataplaneReads(dataplane: Dataplane, health: BackendHealth): Dataplane {
  const guard =
    <A extends unknown[], T>(read: (...args: A) => Promise<T>) =>
    async (...args: A): Promise<T> => {
      try {
        return await read(...args);
      } catch (err) {
        if (!(err instanceof BackendFault)) throw err;
        health.fault(err.backend, err.message, err.errno);
        throw backendUnavailable(err.backend, err.message, err, "it cannot be read now");
      }
    };
  return {
    name: dataplane.name,
    apply: (config, options) => dataplane.apply(config, options),
    links: guard(() => dataplane.links()),
    addresses: guard(() => dataplane.addresses()),
    routes: guard(() => dataplane.routes()),
    scanRoutes: guard((protocol: number | undefined, each: Parameters<Dataplane["scanRoutes"]>[1]) => dataplane.scanRoutes(protocol, each)),
    changeRoutes: guard((ops: Parameters<Dataplane["changeRoutes"]>[0]) => dataplane.changeRoutes(ops)),
    ruleCounters: guard(() => dataplane.ruleCounters()),
    fastPathStatus: guard(() => dataplane.fastPathStatus()),
    fastPathCounters: () => dataplane.fastPathCounters(),
    probe: (backend) => dataplane.probe(backend),
    subscribe: (listener, onOverrun) => dataplane.subscribe(listener, onOverrun),
    close: () => dataplane.close(),
  };
}
