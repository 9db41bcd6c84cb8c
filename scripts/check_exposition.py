#!/usr/bin/env python3
"""Parse an exposition with the reference Python parser and compare it to expected samples.

usage: check_exposition.py {text|openmetrics|protobuf} EXPOSITION_FILE EXPECTED_JSON [NATIVE_JSON]

`text` uses prometheus_client.parser (the 0.0.4 text format); `openmetrics` uses the strict
prometheus_client.openmetrics.parser; `protobuf` decodes length-delimited
`io.prometheus.client.MetricFamily` messages with the `protobuf` package and the message
classes protoc generated from client_model's metrics.proto
(metrics-core/tests/proto/metrics_pb2.py), and turns each series into the samples the text
format would show (`_bucket{le}` per bucket and `+Inf`, `_sum`, `_count`, `_created` from a
`created_timestamp`). NATIVE_JSON (protobuf only) lists every native histogram series:
{"name", "labels", "schema", "zero_threshold", "zero_count", "positive": [[index, count]...],
"negative": [...]}; the spans and deltas read must give exactly those buckets, and a
histogram Prometheus would read as native must be listed. EXPECTED_JSON is a list of
{"name": ..., "labels": {...}, "value": number | "NaN" | "+Inf" | "-Inf"} with an optional
"exemplar": {"labels": {...}, "value": number, "timestamp": number | null} or null.
Every parsed sample must be expected and every expected sample parsed, with equal values
(`le` labels compared as floats) and, where the entry has an "exemplar" member, an equal
exemplar (null: the sample must have none). Exits 1 and lists the differences otherwise.
"""
import json
import math
import os
import sys

from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as parse_openmetrics,
)
from prometheus_client.parser import text_string_to_metric_families as parse_text


def key(name, labels):
    items = []
    for k, v in sorted(labels.items()):
        if k == "le":
            v = repr(float(v))
        items.append((k, v))
    return (name, tuple(items))


def as_float(v):
    if isinstance(v, str):
        return float(v.replace("Inf", "inf"))
    return float(v)


def same(a, b):
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return a == b


def read_delimited(data):
    """Yields the MetricFamily messages of a length-delimited protobuf exposition."""
    sys.path.insert(
        0, os.path.join(os.path.dirname(__file__), "..", "metrics-core", "tests", "proto")
    )
    import metrics_pb2  # noqa: E402 (generated; see metrics-core/tests/proto/README.md)

    pos = 0
    while pos < len(data):
        size, shift = 0, 0
        while True:
            b = data[pos]
            pos += 1
            size |= (b & 0x7F) << shift
            shift += 7
            if b < 0x80:
                break
        if pos + size > len(data):
            raise ValueError(f"message of {size} bytes at {pos} runs past the end")
        mf = metrics_pb2.MetricFamily()
        mf.ParseFromString(data[pos : pos + size])
        pos += size
        yield mf, metrics_pb2


class Sample:
    def __init__(self, name, labels, value, exemplar=None):
        self.name, self.labels, self.value = name, labels, value
        self.exemplar = exemplar


class Exemplar:
    """A protobuf `Exemplar` as prometheus_client's parsers give one."""

    def __init__(self, pb):
        self.labels = {lp.name: lp.value for lp in pb.label}
        self.value = pb.value
        self.timestamp = as_seconds(pb.timestamp) if pb.HasField("timestamp") else None


def exemplar_of(msg):
    return Exemplar(msg.exemplar) if msg.HasField("exemplar") else None


class Family:
    def __init__(self, samples):
        self.samples = samples


def is_native(h):
    """Prometheus' rule (textparse/protobufparse.go): spans, a zero threshold or zero count."""
    return (
        len(h.positive_span) > 0
        or len(h.negative_span) > 0
        or h.zero_threshold > 0
        or h.zero_count > 0
    )


def native_buckets(spans, deltas):
    """(index, absolute count) of every bucket the spans and deltas describe."""
    if sum(sp.length for sp in spans) != len(deltas):
        raise ValueError(f"spans cover {sum(sp.length for sp in spans)} buckets, {len(deltas)} deltas")
    out, index, count, d = [], 0, 0, 0
    for i, sp in enumerate(spans):
        index = sp.offset if i == 0 else index + 1 + sp.offset
        for j in range(sp.length):
            if j > 0:
                index += 1
            count += deltas[d]
            d += 1
            if count <= 0:
                raise ValueError(f"bucket {index} has count {count}")
            out.append([index, count])
    return out


def created_name(mf_name, pb_type, pb):
    base = mf_name[: -len("_total")] if pb_type == pb.COUNTER and mf_name.endswith("_total") else mf_name
    return base + "_created"


def as_seconds(ts):
    return ts.seconds + ts.nanos / 1e9


NATIVES = {}


def parse_protobuf(data):
    """The families of a protobuf exposition as text-format samples; native histograms'
    buckets go to NATIVES."""
    for mf, pb in read_delimited(data):
        for field in ("name", "help", "type"):
            if not mf.HasField(field):
                raise ValueError(f"family without {field}: {mf}")
        samples = []
        for m in mf.metric:
            labels = {lp.name: lp.value for lp in m.label}
            if mf.type == pb.COUNTER:
                if not m.HasField("counter"):
                    raise ValueError(f"counter family {mf.name} with a non-counter metric")
                samples.append(Sample(mf.name, labels, m.counter.value, exemplar_of(m.counter)))
                if m.counter.HasField("created_timestamp"):
                    name = created_name(mf.name, mf.type, pb)
                    samples.append(Sample(name, labels, as_seconds(m.counter.created_timestamp)))
            elif mf.type == pb.GAUGE:
                if not m.HasField("gauge"):
                    raise ValueError(f"gauge family {mf.name} with a non-gauge metric")
                samples.append(Sample(mf.name, labels, m.gauge.value))
            elif mf.type == pb.HISTOGRAM:
                h = m.histogram
                if not m.HasField("histogram"):
                    raise ValueError(f"histogram family {mf.name} with a non-histogram metric")
                previous = 0
                inf_exemplar = None
                for b in h.bucket:
                    if b.upper_bound == float("inf"):
                        # Explicit only to carry its exemplar; its count is sample_count.
                        if b.cumulative_count != h.sample_count:
                            raise ValueError(f"{mf.name}: +Inf bucket is not sample_count")
                        inf_exemplar = exemplar_of(b)
                        continue
                    if b.cumulative_count < previous:
                        raise ValueError(f"{mf.name}: buckets not cumulative")
                    previous = b.cumulative_count
                    le = dict(labels, le=repr(b.upper_bound))
                    samples.append(
                        Sample(mf.name + "_bucket", le, b.cumulative_count, exemplar_of(b))
                    )
                if previous > h.sample_count:
                    raise ValueError(f"{mf.name}: a bucket above sample_count")
                # A native-only histogram shows only `+Inf` in text (no classic buckets).
                samples.append(
                    Sample(mf.name + "_bucket", dict(labels, le="+Inf"), h.sample_count, inf_exemplar)
                )
                samples.append(Sample(mf.name + "_sum", labels, h.sample_sum))
                samples.append(Sample(mf.name + "_count", labels, h.sample_count))
                if h.HasField("created_timestamp"):
                    name = created_name(mf.name, mf.type, pb)
                    samples.append(Sample(name, labels, as_seconds(h.created_timestamp)))
                if is_native(h):
                    positive = native_buckets(h.positive_span, h.positive_delta)
                    negative = native_buckets(h.negative_span, h.negative_delta)
                    total = h.zero_count + sum(c for _, c in positive + negative)
                    if total != h.sample_count:
                        raise ValueError(
                            f"{mf.name}{labels}: native buckets hold {total}, sample_count {h.sample_count}"
                        )
                    NATIVES[key(mf.name, labels)] = {
                        "schema": h.schema,
                        "zero_threshold": h.zero_threshold,
                        "zero_count": h.zero_count,
                        "positive": positive,
                        "negative": negative,
                        "exemplars": [parsed_exemplar(Exemplar(e)) for e in h.exemplars],
                    }
            else:
                raise ValueError(f"unexpected type {mf.type} of {mf.name}")
        yield Family(samples)


def timestamp(t):
    """A parsed timestamp (float, or prometheus_client's Timestamp) as float seconds."""
    if t is None:
        return None
    if hasattr(t, "sec"):
        return t.sec + t.nsec / 1e9
    return float(t)


def parsed_exemplar(e):
    if e is None:
        return None
    return (dict(e.labels), float(e.value), timestamp(e.timestamp))


def expected_exemplar(e):
    if e is None:
        return None
    t = e.get("timestamp")
    return (dict(e["labels"]), as_float(e["value"]), None if t is None else float(t))


def main():
    fmt, path, expected_path = sys.argv[1:4]
    if fmt == "protobuf":
        with open(path, "rb") as f:
            families_iter = parse_protobuf(f.read())
    else:
        with open(path, encoding="utf-8") as f:
            text = f.read()
        parse = parse_openmetrics if fmt == "openmetrics" else parse_text
        families_iter = parse(text)
    parsed = {}
    exemplars = {}
    families = 0
    for family in families_iter:
        families += 1
        for s in family.samples:
            k = key(s.name, s.labels)
            if k in parsed:
                print(f"duplicate sample {k}")
                return 1
            parsed[k] = float(s.value)
            exemplars[k] = parsed_exemplar(getattr(s, "exemplar", None))
    with open(expected_path, encoding="utf-8") as f:
        entries = json.load(f)
    expected = {key(e["name"], e["labels"]): as_float(e["value"]) for e in entries}
    expected_exemplars = {
        key(e["name"], e["labels"]): expected_exemplar(e["exemplar"])
        for e in entries
        if "exemplar" in e
    }
    problems = []
    for k, v in expected.items():
        if k not in parsed:
            problems.append(f"missing: {k} (expected {v})")
        elif not same(parsed[k], v):
            problems.append(f"value: {k}: parsed {parsed[k]!r}, expected {v!r}")
        elif k in expected_exemplars and exemplars[k] != expected_exemplars[k]:
            problems.append(
                f"exemplar: {k}: parsed {exemplars[k]!r}, expected {expected_exemplars[k]!r}"
            )
    for k in parsed.keys() - expected.keys():
        problems.append(f"unexpected: {k} = {parsed[k]}")
    natives = ""
    if len(sys.argv) > 4:
        with open(sys.argv[4], encoding="utf-8") as f:
            want = {
                key(n["name"], n["labels"]): dict(
                    {k: n[k] for k in ("schema", "zero_threshold", "zero_count", "positive", "negative")},
                    exemplars=[expected_exemplar(e) for e in n["exemplars"]],
                )
                for n in json.load(f)
            }
        for k, v in want.items():
            if k not in NATIVES:
                problems.append(f"not native: {k}")
            elif NATIVES[k] != v:
                problems.append(f"native: {k}: read {NATIVES[k]}, expected {v}")
        for k in NATIVES.keys() - want.keys():
            problems.append(f"unexpected native histogram: {k}")
        natives = f", {len(want)} native histograms"
    for p in problems:
        print(p)
    if problems:
        return 1
    with_exemplar = sum(1 for e in exemplars.values() if e is not None)
    print(
        f"{fmt}: {families} families, {len(parsed)} samples ({with_exemplar} with an exemplar)"
        f"{natives}, all equal to what was set"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
