// A dynamic route set as a routing package uses it: one SyncRouteSet stream that opens (or resumes) the set,
// then batches sent as fast as the daemon acknowledges them (several may be in flight; acknowledgements come
// back in order), and an end that leaves the routes in place for the set's grace period. install() cuts any
// number of routes into batches and keeps a window of them in flight.
import type { MessageInitShape } from "@bufbuild/protobuf";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import type {
  BulkItemFailure,
  RouteKeySchema,
  RouteSchema,
  RouteSet,
  RoutingService,
  SyncRouteSetRequestSchema,
  SyncRouteSetResponse,
} from "../gen/orbital/routing/v1/routing_pb.js";
import type { Client } from "./client.js";

type RouteInit = MessageInitShape<typeof RouteSchema>;
type RouteKeyInit = MessageInitShape<typeof RouteKeySchema>;
type RequestInit = MessageInitShape<typeof SyncRouteSetRequestSchema>;

export interface RouteSetOptions {
  name: string;
  /** Kernel route protocol number, 5..255 except 77. */
  protocol: number;
  /** Administrative distance 1..255 (the kernel metric of the set's routes). */
  distance: number;
  /** How long the routes outlive this session, ms (0..3,600,000). */
  gracePeriodMs: number;
  /** How long a resumed set waits for end_of_resync, ms; default (0): the grace period. */
  resyncTimeoutMs?: number;
  /** Deadline of the whole stream, ms; default one year (a session lasts as long as the package runs). */
  deadlineMs?: number;
  signal?: AbortSignal;
}

/** Items per request, the daemon's limit. */
export const ROUTE_SET_BATCH = 10_000;
/** Requests in flight while install() streams. */
const WINDOW = 4;

interface Waiter {
  resolve: (r: SyncRouteSetResponse) => void;
  reject: (e: unknown) => void;
}

export class RouteSetSession {
  private readonly queue: RequestInit[] = [];
  private wakeSender: (() => void) | undefined;
  private ended = false;
  private readonly waiters: Waiter[] = [];
  private failure: unknown;
  private readonly done: Promise<void>;
  /** The set as the daemon opened it (state, counts: RESYNCING when resumed). */
  routeSet!: RouteSet;

  private constructor(client: Client<typeof RoutingService>, opts: RouteSetOptions) {
    const responses = client.syncRouteSet(this.requests(), { deadlineMs: opts.deadlineMs ?? 365 * 24 * 3600_000, ...(opts.signal ? { signal: opts.signal } : {}) });
    this.done = (async () => {
      try {
        for await (const r of responses) this.waiters.shift()?.resolve(r);
        this.failure = new Error("the route set stream ended");
      } catch (err) {
        this.failure = err;
      }
      for (const w of this.waiters.splice(0)) w.reject(this.failure);
    })();
  }

  /** Opens (or resumes) the set; rejects with the daemon's OrbitalError (ROUTE_SET_BUSY, ...). */
  static async open(client: Client<typeof RoutingService>, opts: RouteSetOptions): Promise<RouteSetSession> {
    const s = new RouteSetSession(client, opts);
    const first = await s.send({
      open: { name: opts.name, protocol: opts.protocol, distance: opts.distance, gracePeriod: durationFromMs(opts.gracePeriodMs), resyncTimeout: durationFromMs(opts.resyncTimeoutMs ?? 0) },
    });
    s.routeSet = first.routeSet!;
    return s;
  }

  /** Sends one request; resolves with its acknowledgement. */
  send(request: { adds?: RouteInit[]; deletes?: RouteKeyInit[]; endOfResync?: boolean } & Pick<RequestInit, "open">): Promise<SyncRouteSetResponse> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (this.ended) return Promise.reject(new Error("the route set session is closed"));
    return new Promise((resolve, reject) => {
      this.waiters.push({ resolve, reject });
      this.queue.push(request);
      this.wakeSender?.();
    });
  }

  /**
   * Adds (or replaces) `routes` in batches with up to WINDOW of them in flight; resolves when all are
   * acknowledged, with the totals and every refused item.
   */
  async install(routes: Iterable<RouteInit>, opts: { endOfResync?: boolean } = {}): Promise<{ added: number; failures: BulkItemFailure[] }> {
    const inFlight: Promise<SyncRouteSetResponse>[] = [];
    let added = 0;
    const failures: BulkItemFailure[] = [];
    const settle = async () => {
      const ack = await inFlight.shift()!;
      added += Number(ack.added);
      failures.push(...ack.failures);
    };
    let batch: RouteInit[] = [];
    for (const r of routes) {
      batch.push(r);
      if (batch.length < ROUTE_SET_BATCH) continue;
      inFlight.push(this.send({ adds: batch }));
      batch = [];
      if (inFlight.length >= WINDOW) await settle();
    }
    if (batch.length > 0 || opts.endOfResync) inFlight.push(this.send({ adds: batch, ...(opts.endOfResync ? { endOfResync: true } : {}) }));
    while (inFlight.length > 0) await settle();
    return { added, failures };
  }

  /** Ends the stream: the routes stay for the grace period (WithdrawRouteSet withdraws them at once). */
  async close(): Promise<void> {
    this.ended = true;
    this.wakeSender?.();
    await this.done;
  }

  private async *requests(): AsyncIterable<RequestInit> {
    for (;;) {
      const next = this.queue.shift();
      if (next) {
        yield next;
        continue;
      }
      if (this.ended) return;
      await new Promise<void>((r) => (this.wakeSender = r));
      this.wakeSender = undefined;
    }
  }
}
