// gRPC server reflection (v1 and v1alpha, same messages) from the generated descriptors, so that grpcurl,
// grpcio and other standard clients can list services and fetch the file descriptors of the API.
import { create, toBinary, type DescFile, type MessageInitShape } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import type { DescService } from "@bufbuild/protobuf";
import { Code } from "../../gen/google/rpc/code_pb.js";
import {
  ServerReflection as ReflectionV1,
  ServerReflectionResponseSchema,
  type ServerReflection,
  type ServerReflectionRequest,
  type ServerReflectionResponse,
} from "../../gen/grpc/reflection/v1/reflection_pb.js";
import { ServerReflection as ReflectionV1Alpha } from "../../gen/grpc/reflection/v1alpha/reflection_pb.js";
import type { ServiceImpl } from "../rpc/service-impl.js";

/** Index of every file reachable from the served services, by file name and by symbol. */
class DescriptorIndex {
  readonly byName = new Map<string, DescFile>();
  readonly bySymbol = new Map<string, DescFile>();
  readonly extensions = new Map<string, { file: DescFile; number: number }[]>();

  constructor(readonly services: readonly DescService[]) {
    for (const s of services) this.addFile(s.file);
  }

  private addFile(file: DescFile): void {
    if (this.byName.has(file.name + ".proto")) return;
    this.byName.set(file.name + ".proto", file);
    for (const dep of file.dependencies) this.addFile(dep);
    for (const s of file.services) {
      this.bySymbol.set(s.typeName, file);
      for (const m of s.methods) this.bySymbol.set(`${s.typeName}.${m.name}`, file);
    }
    const addMessages = (messages: readonly { typeName: string; nestedMessages: readonly unknown[]; nestedEnums: readonly { typeName: string }[] }[]) => {
      for (const m of messages) {
        this.bySymbol.set(m.typeName, file);
        for (const e of m.nestedEnums) this.bySymbol.set(e.typeName, file);
        addMessages(m.nestedMessages as typeof messages);
      }
    };
    addMessages(file.messages);
    for (const e of file.enums) this.bySymbol.set(e.typeName, file);
    for (const x of file.extensions) {
      this.bySymbol.set(x.typeName, file);
      const list = this.extensions.get(x.extendee.typeName) ?? [];
      list.push({ file, number: x.number });
      this.extensions.set(x.extendee.typeName, list);
    }
  }

  /** The file and its transitive dependencies, dependencies first, each serialized once. */
  serialize(file: DescFile): Uint8Array[] {
    const out: Uint8Array[] = [];
    const seen = new Set<string>();
    const visit = (f: DescFile) => {
      if (seen.has(f.name)) return;
      seen.add(f.name);
      for (const d of f.dependencies) visit(d);
      out.push(toBinary(FileDescriptorProtoSchema, f.proto));
    };
    visit(file);
    return out;
  }
}

type Answer = NonNullable<MessageInitShape<typeof ServerReflectionResponseSchema>["messageResponse"]>;

function lookup(index: DescriptorIndex, req: ServerReflectionRequest): Answer {
  const notFound = (what: string): Answer => ({ case: "errorResponse", value: { errorCode: Code.NOT_FOUND, errorMessage: `${what} not found` } });
  const files = (file: DescFile | undefined, what: string): Answer =>
    file ? { case: "fileDescriptorResponse", value: { fileDescriptorProto: index.serialize(file) } } : notFound(what);
  const r = req.messageRequest;
  switch (r.case) {
    case "listServices":
      return { case: "listServicesResponse", value: { service: index.services.map((s) => ({ name: s.typeName })) } };
    case "fileByFilename":
      return files(index.byName.get(r.value), `file ${r.value}`);
    case "fileContainingSymbol":
      return files(index.bySymbol.get(r.value.replace(/^\./, "")), `symbol ${r.value}`);
    case "fileContainingExtension": {
      const hit = index.extensions.get(r.value.containingType)?.find((x) => x.number === r.value.extensionNumber);
      return files(hit?.file, `extension ${r.value.containingType}/${r.value.extensionNumber}`);
    }
    case "allExtensionNumbersOfType": {
      const list = index.extensions.get(r.value) ?? [];
      return { case: "allExtensionNumbersResponse", value: { baseTypeName: r.value, extensionNumber: list.map((x) => x.number) } };
    }
    default:
      return { case: "errorResponse", value: { errorCode: Code.INVALID_ARGUMENT, errorMessage: "empty reflection request" } };
  }
}

function answer(index: DescriptorIndex, req: ServerReflectionRequest): ServerReflectionResponse {
  return create(ServerReflectionResponseSchema, { validHost: req.host, originalRequest: req, messageResponse: lookup(index, req) });
}

/** One implementation for both reflection packages: their messages are identical on the wire. */
export function reflectionService(services: readonly DescService[]): ServiceImpl<typeof ServerReflection> {
  // This implementation is served as both reflection packages: list them too (as grpc-go and grpc-java do),
  // so that a client sees, and can resolve, every service it can call.
  const own = [ReflectionV1, ReflectionV1Alpha].filter((r) => !services.includes(r));
  const index = new DescriptorIndex([...services, ...own]);
  return {
    async *serverReflectionInfo(requests) {
      for await (const req of requests) yield answer(index, req);
    },
  };
}
