// Fault injection into the rtnetlink socket for tests (the "rtnetlink" failpoint, see failpoints.ts): every
// operation of a batch fails with EPERM or ENOBUFS as the kernel would report them, or no request is ever
// answered ("hang"). Reads pass unless hanging: a process without CAP_NET_ADMIN can still dump.
import type { Failpoints } from "../../failpoints.js";
import type { OpResult, RtnetlinkSocket } from "./rtnetlink-types.js";

const FAULT_ERRNO = { EPERM: 1, ENOBUFS: 105 } as const;
const never = <T>() => new Promise<T>(() => undefined);

export function withNetlinkFaults(socket: RtnetlinkSocket, failpoints: Failpoints): RtnetlinkSocket {
  const hanging = () => failpoints.netlinkFault() === "hang";
  return {
    listLinks: () => (hanging() ? never() : socket.listLinks()),
    listAddresses: () => (hanging() ? never() : socket.listAddresses()),
    listRoutes: (filter) => (hanging() ? never() : socket.listRoutes(filter)),
    scanRoutes: (filter, each) => (hanging() ? never() : socket.scanRoutes(filter, each)),
    execute: (ops) => {
      const fault = failpoints.netlinkFault();
      if (fault === "hang") return never();
      if (fault === undefined) return socket.execute(ops);
      const message = fault === "EPERM" ? "Operation not permitted (failpoint)" : "No buffer space available (failpoint)";
      return Promise.resolve(ops.map((): OpResult => ({ errno: FAULT_ERRNO[fault], message })));
    },
    subscribe: (listener, onOverrun) => socket.subscribe(listener, onOverrun),
    close: () => socket.close(),
  };
}
