#!/usr/bin/env python3
"""Decode Remote-Write requests and Snappy blocks with decoders nobody here wrote.

usage:
  check_remote_write.py request {v1|v2} BODY_FILE   print the request as JSON
  check_remote_write.py snappy COMPRESSED RAW       exit 0 when COMPRESSED decodes to RAW

`request`: BODY_FILE is a Snappy-compressed (raw block format) write request, decompressed
with cramjam and parsed with Google's protobuf runtime, the messages built at run time from
the fields of prometheus' remote.proto/types.proto (1.0) and io/prometheus/write/v2/types.proto
(2.0), so no protoc is needed. The JSON: {"series": [{"labels": {...}, "value": v,
"timestamp": ms, "metadata": {...}, "created": ms}], "metadata": [...]} with v2's symbol
references resolved. A malformed body is an error (exit 1).
"""
import json
import math
import sys

import cramjam
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

F = descriptor_pb2.FieldDescriptorProto


def field(msg, name, number, ftype, label=F.LABEL_OPTIONAL, type_name=None, packed=None):
    f = msg.field.add(name=name, number=number, type=ftype, label=label)
    if type_name:
        f.type_name = type_name
    if packed is not None:
        f.options.packed = packed
    return f


def build():
    fd = descriptor_pb2.FileDescriptorProto(name="rw_check.proto", package="rwcheck", syntax="proto3")
    # 1.0
    m = fd.message_type.add(name="Label")
    field(m, "name", 1, F.TYPE_STRING)
    field(m, "value", 2, F.TYPE_STRING)
    m = fd.message_type.add(name="Sample")
    field(m, "value", 1, F.TYPE_DOUBLE)
    field(m, "timestamp", 2, F.TYPE_INT64)
    m = fd.message_type.add(name="TimeSeries")
    field(m, "labels", 1, F.TYPE_MESSAGE, F.LABEL_REPEATED, ".rwcheck.Label")
    field(m, "samples", 2, F.TYPE_MESSAGE, F.LABEL_REPEATED, ".rwcheck.Sample")
    m = fd.message_type.add(name="MetricMetadata")
    field(m, "type", 1, F.TYPE_INT32)
    field(m, "metric_family_name", 2, F.TYPE_STRING)
    field(m, "help", 4, F.TYPE_STRING)
    field(m, "unit", 5, F.TYPE_STRING)
    m = fd.message_type.add(name="WriteRequest")
    field(m, "timeseries", 1, F.TYPE_MESSAGE, F.LABEL_REPEATED, ".rwcheck.TimeSeries")
    field(m, "metadata", 3, F.TYPE_MESSAGE, F.LABEL_REPEATED, ".rwcheck.MetricMetadata")
    # 2.0
    m = fd.message_type.add(name="V2Metadata")
    field(m, "type", 1, F.TYPE_INT32)
    field(m, "help_ref", 3, F.TYPE_UINT32)
    field(m, "unit_ref", 4, F.TYPE_UINT32)
    m = fd.message_type.add(name="V2TimeSeries")
    field(m, "labels_refs", 1, F.TYPE_UINT32, F.LABEL_REPEATED)
    field(m, "samples", 2, F.TYPE_MESSAGE, F.LABEL_REPEATED, ".rwcheck.Sample")
    field(m, "metadata", 5, F.TYPE_MESSAGE, type_name=".rwcheck.V2Metadata")
    field(m, "created_timestamp", 6, F.TYPE_INT64)
    m = fd.message_type.add(name="V2Request")
    field(m, "symbols", 4, F.TYPE_STRING, F.LABEL_REPEATED)
    field(m, "timeseries", 5, F.TYPE_MESSAGE, F.LABEL_REPEATED, ".rwcheck.V2TimeSeries")
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fd)
    get = lambda n: message_factory.GetMessageClass(pool.FindMessageTypeByName("rwcheck." + n))
    return get("WriteRequest"), get("V2Request")


def number(v):
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    return v


def sorted_names(names):
    if names != sorted(names, key=lambda s: s.encode()):
        raise SystemExit(f"labels not sorted by name: {names}")


def decode(version, body):
    raw = bytes(cramjam.snappy.decompress_raw(body))
    v1, v2 = build()
    out = {"series": [], "metadata": []}
    if version == "v1":
        req = v1()
        req.ParseFromString(raw)
        for ts in req.timeseries:
            names = [l.name for l in ts.labels]
            sorted_names(names)
            for s in ts.samples:
                out["series"].append({
                    "labels": {l.name: l.value for l in ts.labels},
                    "value": number(s.value),
                    "timestamp": s.timestamp,
                })
        for md in req.metadata:
            out["metadata"].append({
                "type": md.type, "name": md.metric_family_name, "help": md.help, "unit": md.unit,
            })
    else:
        req = v2()
        req.ParseFromString(raw)
        sym = list(req.symbols)
        if not sym or sym[0] != "":
            raise SystemExit("symbols must start with the empty string")
        for ts in req.timeseries:
            refs = list(ts.labels_refs)
            if len(refs) % 2:
                raise SystemExit(f"odd labels_refs: {refs}")
            pairs = [(sym[refs[i]], sym[refs[i + 1]]) for i in range(0, len(refs), 2)]
            sorted_names([k for k, _ in pairs])
            for s in ts.samples:
                out["series"].append({
                    "labels": dict(pairs),
                    "value": number(s.value),
                    "timestamp": s.timestamp,
                    "metadata": {
                        "type": ts.metadata.type,
                        "help": sym[ts.metadata.help_ref],
                        "unit": sym[ts.metadata.unit_ref],
                    },
                    "created": ts.created_timestamp,
                })
    return out


def main(argv):
    if len(argv) == 4 and argv[1] == "request" and argv[2] in ("v1", "v2"):
        with open(argv[3], "rb") as f:
            print(json.dumps(decode(argv[2], f.read())))
        return 0
    if len(argv) == 4 and argv[1] == "snappy":
        with open(argv[2], "rb") as f:
            compressed = f.read()
        with open(argv[3], "rb") as f:
            raw = f.read()
        got = bytes(cramjam.snappy.decompress_raw(compressed))
        if got != raw:
            print(f"decoded {len(got)} bytes differ from the {len(raw)} expected", file=sys.stderr)
            return 1
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
