#!/usr/bin/python3
"""A standard gRPC client (Python grpcio + protobuf, no generated stubs) against orbitald over its socket.

Discovers everything through gRPC server reflection (v1, falling back to v1alpha): lists the services,
fetches the file descriptors of SystemService, UserService and grpc.health.v1.Health with their
dependencies into a fresh descriptor pool, builds the message classes at run time and calls
SystemService/GetVersion, UserService/WhoAmI and Health/Check. Even the reflection messages are built here,
from a FileDescriptorProto written with descriptor_pb2.

Usage: python_reflection_client.py <socket path> [--reflection v1|v1alpha] [--health SERVICE ...]
Prints one JSON object on stdout. Exit 0 on success; 2 when an RPC failed (the object then carries
"error": {"code", "name", "details", "step"}); 1 on any other failure (bad descriptors, assertions).
"""
import argparse
import json
import sys

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, json_format, message_factory

TIMEOUT_S = 10.0
F = descriptor_pb2.FieldDescriptorProto


_factories = {}


def _factory(pool):
    if id(pool) not in _factories:
        _factories[id(pool)] = (pool, message_factory.MessageFactory(pool))
    return _factories[id(pool)][1]


def message_class(desc):
    """Message class for a descriptor of any pool (GetMessageClass is protobuf >= 4.22; Debian 12 has 4.21)."""
    if hasattr(message_factory, "GetMessageClass"):
        return message_factory.GetMessageClass(desc)
    return _factory(desc.file.pool).GetPrototype(desc)


def register_extensions(pool, files):
    """Makes the extensions of `files` known to the classes they extend (the pure-Python backend needs it)."""
    if hasattr(message_factory, "GetMessageClassesForFiles"):
        message_factory.GetMessageClassesForFiles(files, pool)
    else:
        _factory(pool).GetMessages(files)


def reflection_file(version):
    """grpc/reflection/<version>/reflection.proto, written out field by field (the two versions match on the wire)."""
    pkg = f"grpc.reflection.{version}"
    fd = descriptor_pb2.FileDescriptorProto(name=f"grpc/reflection/{version}/reflection.proto", package=pkg, syntax="proto3")

    def msg(name, *fields):
        m = fd.message_type.add(name=name)
        for fname, number, ftype, label, type_name, oneof in fields:
            f = m.field.add(name=fname, number=number, type=ftype, label=label)
            if type_name:
                f.type_name = f".{pkg}.{type_name}"
            if oneof is not None:
                f.oneof_index = oneof
        return m

    opt, rep = F.LABEL_OPTIONAL, F.LABEL_REPEATED
    req = msg(
        "ServerReflectionRequest",
        ("host", 1, F.TYPE_STRING, opt, None, None),
        ("file_by_filename", 3, F.TYPE_STRING, opt, None, 0),
        ("file_containing_symbol", 4, F.TYPE_STRING, opt, None, 0),
        ("file_containing_extension", 5, F.TYPE_MESSAGE, opt, "ExtensionRequest", 0),
        ("all_extension_numbers_of_type", 6, F.TYPE_STRING, opt, None, 0),
        ("list_services", 7, F.TYPE_STRING, opt, None, 0),
    )
    req.oneof_decl.add(name="message_request")
    msg("ExtensionRequest", ("containing_type", 1, F.TYPE_STRING, opt, None, None), ("extension_number", 2, F.TYPE_INT32, opt, None, None))
    res = msg(
        "ServerReflectionResponse",
        ("valid_host", 1, F.TYPE_STRING, opt, None, None),
        ("original_request", 2, F.TYPE_MESSAGE, opt, "ServerReflectionRequest", None),
        ("file_descriptor_response", 4, F.TYPE_MESSAGE, opt, "FileDescriptorResponse", 0),
        ("all_extension_numbers_response", 5, F.TYPE_MESSAGE, opt, "ExtensionNumberResponse", 0),
        ("list_services_response", 6, F.TYPE_MESSAGE, opt, "ListServiceResponse", 0),
        ("error_response", 7, F.TYPE_MESSAGE, opt, "ErrorResponse", 0),
    )
    res.oneof_decl.add(name="message_response")
    msg("FileDescriptorResponse", ("file_descriptor_proto", 1, F.TYPE_BYTES, rep, None, None))
    msg("ExtensionNumberResponse", ("base_type_name", 1, F.TYPE_STRING, opt, None, None), ("extension_number", 2, F.TYPE_INT32, rep, None, None))
    msg("ListServiceResponse", ("service", 1, F.TYPE_MESSAGE, rep, "ServiceResponse", None))
    msg("ServiceResponse", ("name", 1, F.TYPE_STRING, opt, None, None))
    msg("ErrorResponse", ("error_code", 1, F.TYPE_INT32, opt, None, None), ("error_message", 2, F.TYPE_STRING, opt, None, None))
    svc = fd.service.add(name="ServerReflection")
    svc.method.add(
        name="ServerReflectionInfo",
        input_type=f".{pkg}.ServerReflectionRequest",
        output_type=f".{pkg}.ServerReflectionResponse",
        client_streaming=True,
        server_streaming=True,
    )
    return fd


class Failure(Exception):
    pass


class Reflection:
    """One reflection package (v1 or v1alpha); every lookup is one request on the bidi stream."""

    def __init__(self, channel, version):
        pool = descriptor_pool.DescriptorPool()
        pool.Add(reflection_file(version))
        pkg = f"grpc.reflection.{version}"
        self.version = version
        self.Request = message_class(pool.FindMessageTypeByName(f"{pkg}.ServerReflectionRequest"))
        self.Response = message_class(pool.FindMessageTypeByName(f"{pkg}.ServerReflectionResponse"))
        self.info = channel.stream_stream(
            f"/{pkg}.ServerReflection/ServerReflectionInfo",
            request_serializer=self.Request.SerializeToString,
            response_deserializer=self.Response.FromString,
        )

    def ask(self, **request):
        r = self.raw(**request)
        if r.WhichOneof("message_response") == "error_response":
            raise Failure(f"reflection {self.version} {request}: error {r.error_response.error_code} {r.error_response.error_message}")
        return r

    def raw(self, **request):
        """The response to one request, error_response included."""
        req = self.Request(**request)
        responses = list(self.info(iter([req]), timeout=TIMEOUT_S))
        if len(responses) != 1:
            raise Failure(f"reflection {self.version}: {len(responses)} responses to one request {request}")
        r = responses[0]
        if r.original_request != req:
            raise Failure(f"reflection {self.version}: original_request {r.original_request} does not echo {req}")
        return r

    def list_services(self):
        r = self.ask(list_services="*")
        if r.WhichOneof("message_response") != "list_services_response":
            raise Failure(f"list_services answered with {r.WhichOneof('message_response')}")
        return [s.name for s in r.list_services_response.service]

    def extension_numbers(self, type_name):
        r = self.ask(all_extension_numbers_of_type=type_name)
        if r.WhichOneof("message_response") != "all_extension_numbers_response":
            raise Failure(f"all_extension_numbers_of_type answered with {r.WhichOneof('message_response')}")
        return sorted(r.all_extension_numbers_response.extension_number)

    def files(self, **request):
        r = self.ask(**request)
        if r.WhichOneof("message_response") != "file_descriptor_response":
            raise Failure(f"{request} answered with {r.WhichOneof('message_response')}")
        out = []
        for raw in r.file_descriptor_response.file_descriptor_proto:
            out.append(descriptor_pb2.FileDescriptorProto.FromString(raw))
        return out


class Loader:
    """Adds reflected files to a fresh pool, dependencies first; asks by file name for any dependency not sent."""

    def __init__(self, reflection):
        self.reflection = reflection
        self.pool = descriptor_pool.DescriptorPool()
        self.protos = {}
        self.added = set()

    def symbol(self, name):
        for fd in self.reflection.files(file_containing_symbol=name):
            self.protos.setdefault(fd.name, fd)
        owner = next((fd.name for fd in self.protos.values() if defines(fd, name)), None)
        if owner is None:
            raise Failure(f"no file of the response to file_containing_symbol {name} defines it")
        self.add(owner, [])

    def add(self, name, chain):
        if name in self.added:
            return
        if name in chain:
            raise Failure(f"import cycle: {' -> '.join(chain + [name])}")
        if name not in self.protos:
            fds = self.reflection.files(file_by_filename=name)
            for fd in fds:
                self.protos.setdefault(fd.name, fd)
            if name not in self.protos:
                raise Failure(f"file_by_filename {name} answered with {[f.name for f in fds]}")
        fd = self.protos[name]
        for dep in fd.dependency:
            self.add(dep, chain + [name])
        try:
            self.pool.Add(fd)
        except Exception as e:  # noqa: BLE001 - the pool raises TypeError or its own errors
            raise Failure(f"descriptor pool refused {name}: {e}") from e
        self.added.add(name)


def defines(fd, symbol):
    prefix = f"{fd.package}." if fd.package else ""
    names = set()

    def messages(ms, scope):
        for m in ms:
            full = scope + m.name
            names.add(full)
            names.update(full + "." + e.name for e in m.enum_type)
            messages(m.nested_type, full + ".")

    messages(fd.message_type, prefix)
    names.update(prefix + e.name for e in fd.enum_type)
    for s in fd.service:
        names.add(prefix + s.name)
        names.update(f"{prefix}{s.name}.{m.name}" for m in s.method)
    return symbol in names


def unary(channel, pool, method, request_fields=None):
    """Calls "pkg.Service/Method" with the request built from the pool's descriptors; returns the response."""
    service_name, method_name = method.split("/")
    m = pool.FindServiceByName(service_name).FindMethodByName(method_name)
    if m is None:
        raise Failure(f"{method} is not in the reflected descriptors")
    Req, Res = message_class(m.input_type), message_class(m.output_type)
    call = channel.unary_unary(f"/{method}", request_serializer=Req.SerializeToString, response_deserializer=Res.FromString)
    return call(Req(**(request_fields or {})), timeout=TIMEOUT_S)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("socket")
    ap.add_argument("--reflection", choices=["v1", "v1alpha"], help="use only this version (default: v1, then v1alpha)")
    ap.add_argument("--health", nargs="*", default=["", "orbital.update.v1.UpdateService"])
    args = ap.parse_args()

    out = {"ok": False}
    step = "connect"
    try:
        with grpc.insecure_channel(f"unix:{args.socket}") as channel:
            grpc.channel_ready_future(channel).result(timeout=TIMEOUT_S)

            step = "reflection list_services"
            reflection, services = None, None
            for version in [args.reflection] if args.reflection else ["v1", "v1alpha"]:
                reflection = Reflection(channel, version)
                try:
                    services = reflection.list_services()
                    break
                except grpc.RpcError as e:
                    if e.code() != grpc.StatusCode.UNIMPLEMENTED or version == "v1alpha" or args.reflection:
                        raise
            out["reflection"] = reflection.version
            out["services"] = services

            step = "reflection file_containing_symbol"
            loader = Loader(reflection)
            for symbol in ["orbital.system.v1.SystemService", "orbital.user.v1.UserService", "grpc.health.v1.Health"]:
                loader.symbol(symbol)
            out["files"] = sorted(loader.added)
            pool = loader.pool

            step = "reflection extensions"
            # The custom options (the capability each RPC requires) are discoverable too: through the extension
            # lookups, and by decoding a method's options with the reflected descriptor.proto and capability.proto.
            options = "google.protobuf.MethodOptions"
            out["methodOptionExtensions"] = reflection.extension_numbers(options)
            ext_files = reflection.files(file_containing_extension={"containing_type": options, "extension_number": 51002})
            out["requiredCapabilityFile"] = next(
                (f.name for f in ext_files for x in f.extension if x.extendee == f".{options}" and x.number == 51002), None
            )
            register_extensions(pool, sorted(loader.added))
            MethodOptions = message_class(pool.FindMessageTypeByName(options))
            required = pool.FindExtensionByName("orbital.api.v1.required_capability")
            out["requiredCapability"] = {}
            for method in ["orbital.system.v1.SystemService.GetVersion", "orbital.user.v1.UserService.WhoAmI"]:
                service, name = method.rsplit(".", 1)
                file = loader.protos[pool.FindServiceByName(service).file.name]
                proto = next(m for s in file.service if f"{file.package}.{s.name}" == service for m in s.method if m.name == name)
                opts = MethodOptions.FromString(proto.options.SerializeToString())  # the extension is an unknown field there
                out["requiredCapability"][method] = required.enum_type.values_by_number[opts.Extensions[required]].name
            missing = reflection.raw(file_containing_symbol="orbital.nope.v1.NoSuchService")
            out["unknownSymbol"] = missing.error_response.error_code if missing.WhichOneof("message_response") == "error_response" else None

            step = "orbital.system.v1.SystemService/GetVersion"
            version = unary(channel, pool, step)
            out["version"] = json_format.MessageToDict(version)

            step = "orbital.user.v1.UserService/WhoAmI"
            me = unary(channel, pool, step)
            out["whoami"] = json_format.MessageToDict(me)

            out["health"] = {}
            for service in args.health:
                step = f"grpc.health.v1.Health/Check {service!r}"
                r = unary(channel, pool, "grpc.health.v1.Health/Check", {"service": service})
                out["health"][service] = r.DESCRIPTOR.fields_by_name["status"].enum_type.values_by_number[r.status].name
        out["ok"] = True
        print(json.dumps(out))
        return 0
    except grpc.RpcError as e:
        out["error"] = {"step": step, "code": e.code().value[0], "name": e.code().name, "details": e.details()}
        print(json.dumps(out))
        return 2
    except Exception as e:  # noqa: BLE001 - reported as JSON, the exit code says it failed
        out["error"] = {"step": step, "code": None, "name": type(e).__name__, "details": str(e)}
        print(json.dumps(out))
        return 1


if __name__ == "__main__":
    sys.exit(main())
