#!/usr/bin/env python3
"""Parse an exposition with the reference Python parser and compare it to expected samples.

usage: check_exposition.py {text|openmetrics} EXPOSITION_FILE EXPECTED_JSON

`text` uses prometheus_client.parser (the 0.0.4 text format); `openmetrics` uses the strict
prometheus_client.openmetrics.parser. EXPECTED_JSON is a list of
{"name": ..., "labels": {...}, "value": number | "NaN" | "+Inf" | "-Inf"}.
Every parsed sample must be expected and every expected sample parsed, with equal values
(`le` labels compared as floats). Exits 1 and lists the differences otherwise.
"""
import json
import math
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


def main():
    fmt, path, expected_path = sys.argv[1:4]
    with open(path, encoding="utf-8") as f:
        text = f.read()
    parse = parse_openmetrics if fmt == "openmetrics" else parse_text
    parsed = {}
    families = 0
    for family in parse(text):
        families += 1
        for s in family.samples:
            k = key(s.name, s.labels)
            if k in parsed:
                print(f"duplicate sample {k}")
                return 1
            parsed[k] = float(s.value)
    with open(expected_path, encoding="utf-8") as f:
        expected = {key(e["name"], e["labels"]): as_float(e["value"]) for e in json.load(f)}
    problems = []
    for k, v in expected.items():
        if k not in parsed:
            problems.append(f"missing: {k} (expected {v})")
        elif not same(parsed[k], v):
            problems.append(f"value: {k}: parsed {parsed[k]!r}, expected {v!r}")
    for k in parsed.keys() - expected.keys():
        problems.append(f"unexpected: {k} = {parsed[k]}")
    for p in problems:
        print(p)
    if problems:
        return 1
    print(f"{fmt}: {families} families, {len(parsed)} samples, all equal to what was set")
    return 0


if __name__ == "__main__":
    sys.exit(main())
