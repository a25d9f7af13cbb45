// The shape of a service implementation: one async function per RPC of a generated service descriptor, typed
// from it. Unary RPCs return a message, server-streaming ones an async iterable, client-streaming ones read
// an async iterable of requests.
import type { DescMessage, DescService, MessageInitShape, MessageShape } from "@bufbuild/protobuf";
import type { GenService, GenServiceMethods } from "@bufbuild/protobuf/codegenv2";
import type { CallContext } from "./call-context.js";

type In<M> = M extends { input: infer I extends DescMessage } ? MessageShape<I> : never;
type Out<M> = M extends { output: infer O extends DescMessage } ? MessageInitShape<O> : never;

export type MethodImpl<M> = M extends { methodKind: "unary" }
  ? (request: In<M>, ctx: CallContext) => Promise<Out<M>>
  : M extends { methodKind: "server_streaming" }
    ? (request: In<M>, ctx: CallContext) => AsyncIterable<Out<M>>
    : M extends { methodKind: "client_streaming" }
      ? (requests: AsyncIterable<In<M>>, ctx: CallContext) => Promise<Out<M>>
      : (requests: AsyncIterable<In<M>>, ctx: CallContext) => AsyncIterable<Out<M>>;

export type ServiceImpl<S> = S extends GenService<infer T extends GenServiceMethods>
  ? { [K in keyof T]: MethodImpl<T[K]> }
  : never;

/** An implementation whose typing was checked where it was made; the server only needs it by name. */
export type AnyServiceImpl = Record<string, (...args: never[]) => unknown>;

export interface ServiceRegistration {
  service: DescService;
  impl: AnyServiceImpl;
  /**
   * Capability for services whose proto we do not own (grpc.health, grpc.reflection); the API services
   * declare theirs in the proto and must not set this.
   */
  capability?: string;
}
