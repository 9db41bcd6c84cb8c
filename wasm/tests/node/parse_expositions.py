#!/usr/bin/env python3
"""Parses expositions with Python prometheus_client (used by prom_client.test.mjs).

stdin: a JSON list of {"format": "text" | "openmetrics", "body": str}. `openmetrics` uses the
strict prometheus_client.openmetrics.parser. stdout: a JSON list, one entry per input: either
{"families": [name type, ...], "samples": [name{label names}, ...]} (sorted, unique) or
{"error": message}.
"""
import json
import sys

from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as parse_openmetrics,
)
from prometheus_client.parser import text_string_to_metric_families as parse_text

out = []
for item in json.load(sys.stdin):
    parse = parse_openmetrics if item["format"] == "openmetrics" else parse_text
    try:
        samples = set()
        families = set()
        for family in parse(item["body"]):
            families.add(family.name + " " + family.type)
            for s in family.samples:
                samples.add(s.name + "{" + ",".join(sorted(s.labels)) + "}")
        out.append({"families": sorted(families), "samples": sorted(samples)})
    except Exception as e:  # noqa: BLE001 - every parse error is reported to the test
        out.append({"error": f"{type(e).__name__}: {e}"})
json.dump(out, sys.stdout)
