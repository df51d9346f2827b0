"""Prints, as JSON, the protobuf descriptors that the PyPI package `tritonclient` ships for package
`inference` (the ground truth for the Open Inference Protocol messages and Triton's extensions).

Output: {"tritonclient_version": str, "protobuf_version": str,
         "messages": {full_name: {"fields": [field, ...], "oneofs": [name, ...]}},
         "services": {full_name: {"methods": [{"name", "input_type", "output_type",
                                               "client_streaming", "server_streaming"}]}}}
where full_name has no leading dot (e.g. "inference.ModelInferRequest.InferInputTensor") and each
field is {"name", "number", "type", "label", "type_name", "oneof_index"} with the numeric enums of
google.protobuf.FieldDescriptorProto, type_name as protoc writes it (".inference.InferParameter",
"" for scalars) and oneof_index null outside a oneof. Nested messages (map entries included) are
listed under their own full names.

Used by crates/proto/tests/it (run scripts/setup.sh to create the venv it runs in).
"""

import json
import sys
from importlib.metadata import version

import google.protobuf
from google.protobuf import descriptor_pb2
from tritonclient.grpc import service_pb2

PACKAGE = "inference"


def files_of_package(root):
    """The file descriptors reachable from `root` that belong to PACKAGE, each once."""
    seen, out, todo = set(), [], [root]
    while todo:
        fd = todo.pop()
        if fd.name in seen:
            continue
        seen.add(fd.name)
        if fd.package == PACKAGE:
            out.append(fd)
        todo.extend(fd.dependencies)
    return out


def walk(prefix, msgs, out):
    for m in msgs:
        name = f"{prefix}.{m.name}"
        out[name] = {
            "fields": [
                {
                    "name": f.name,
                    "number": f.number,
                    "type": f.type,
                    "label": f.label,
                    "type_name": f.type_name,
                    "oneof_index": f.oneof_index if f.HasField("oneof_index") else None,
                }
                for f in m.field
            ],
            "oneofs": [o.name for o in m.oneof_decl],
        }
        walk(name, m.nested_type, out)


def main():
    messages, services = {}, {}
    for fd in files_of_package(service_pb2.DESCRIPTOR):
        proto = descriptor_pb2.FileDescriptorProto()
        fd.CopyToProto(proto)
        walk(proto.package, proto.message_type, messages)
        for s in proto.service:
            services[f"{proto.package}.{s.name}"] = {
                "methods": [
                    {
                        "name": m.name,
                        "input_type": m.input_type,
                        "output_type": m.output_type,
                        "client_streaming": m.client_streaming,
                        "server_streaming": m.server_streaming,
                    }
                    for m in s.method
                ]
            }
    json.dump(
        {
            "tritonclient_version": version("tritonclient"),
            "protobuf_version": google.protobuf.__version__,
            "messages": messages,
            "services": services,
        },
        sys.stdout,
        indent=1,
        sort_keys=True,
    )
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
