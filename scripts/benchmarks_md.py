#!/usr/bin/env python3
"""Writes BENCHMARKS.md from one run of the side-by-side benchmarks.

Reads criterion's raw output (target/criterion/<workload>/<crate>/new/{estimates,benchmark}.json)
and the allocation counts printed by `alloc_count` (one JSON object per line), and prints the
Markdown page on stdout. Every figure is criterion's median point estimate of that one run.

    python3 scripts/benchmarks_md.py target/criterion target/alloc_count.jsonl > BENCHMARKS.md

`scripts/bench.sh` runs the benchmarks and this script; nothing in BENCHMARKS.md is typed by hand.
"""

import json
import os
import platform
import subprocess
import sys
import tomllib

PEERS = ["prometheus", "prometheus_client", "metrics", "measured"]
PEER_CRATES = {
    "prometheus": ["prometheus"],
    "prometheus_client": ["prometheus-client"],
    "metrics": ["metrics", "metrics-exporter-prometheus"],
    "measured": ["measured"],
}
HEADERS = ["prometheus", "prometheus-client", "metrics", "measured"]

# (row label, criterion group, goal kind, goal factor, note)
# goal kinds: "limit" = ours <= factor x limit; "peer" = ours <= factor x best peer;
# "faster" = ours < best peer.
ROWS = [
    ("counter inc, 1 thread", "counter_inc", "limit", 1.1, "within 1.1x of one `fetch_add`"),
    ("counter inc, 2 threads on one counter", "counter_inc_2threads", "peer", 0.5,
     "at most half the best peer (ours: `ShardedCounter`)"),
    ("labelled counter inc, lookup by 2 string values (18 series)", "labelled_inc", "peer", 0.5,
     "at most half the best peer with string labels"),
    ("histogram observe, 1 thread", "histogram_observe", "faster", None, "faster than every peer"),
    ("histogram observe, 2 threads", "histogram_observe_2threads", "faster", None,
     "faster than every peer (ours: `ShardedHistogram`)"),
    ("encode, ns per series, 10k series", "encode_10k", "peer", 0.5,
     "at most half the best peer"),
    ("encode, ns per series, 100k series", "encode_100k", "peer", 0.5,
     "at most half the best peer"),
]


def load(root, group, crate):
    """Median ns per element of one benchmark, or None when it did not run."""
    d = os.path.join(root, group, crate, "new")
    try:
        with open(os.path.join(d, "estimates.json")) as f:
            est = json.load(f)
        with open(os.path.join(d, "benchmark.json")) as f:
            bench = json.load(f)
    except FileNotFoundError:
        return None
    ns = est["median"]["point_estimate"]
    tp = bench.get("throughput") or {}
    elements = tp.get("Elements") or 1
    return ns / elements


def fmt(v):
    if v is None:
        return "–"
    if v >= 100:
        return f"{v:.0f}"
    if v >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def versions(lock_path):
    with open(lock_path, "rb") as f:
        lock = tomllib.load(f)
    found = {}
    for p in lock["package"]:
        found.setdefault(p["name"], []).append(p["version"])
    return found


def machine():
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    rustc = subprocess.run(["rustc", "-V"], capture_output=True, text=True).stdout.strip()
    return f"{model}, {os.cpu_count()} cores, Linux {platform.release()}, {rustc}"


def remote_write(root):
    """The Remote-Write section: encode and encode + Snappy of the 10k-series registry."""
    out = ["", "## Remote-Write requests of a 10k-series registry", "",
           "The registry of `encode_10k` (one counter family, 10,000 series) as one write "
           "request with an external label, encoded by `metrics_core::remote_write` and "
           "compressed by `metrics_core::snappy`: ns per series (criterion's median, group "
           "`remote_write_10k`). No peer crate writes Remote-Write, so the rows stand alone; "
           "the text encode of the same registry is the `encode, ns per series, 10k series` "
           "row above.", "",
           "| protocol | encode | encode + Snappy | request | compressed | ratio |",
           "|---|---|---|---|---|---|"]
    for name, label in [("v1", "1.0 (`prometheus.WriteRequest`)"),
                        ("v2", "2.0 (`io.prometheus.write.v2.Request`)")]:
        enc = load(root, "remote_write_10k", f"{name}_encode")
        both = load(root, "remote_write_10k", f"{name}_encode_snappy")
        try:
            with open(os.path.join(root, "remote_write_10k", f"{name}_sizes.json")) as f:
                sizes = json.load(f)
            raw, snappy = sizes["raw"], sizes["snappy"]
            size_cells = f"{raw:,} B | {snappy:,} B | {raw / snappy:.1f}x"
        except FileNotFoundError:
            size_cells = "– | – | –"
        out.append(f"| {label} | {fmt(enc)} | {fmt(both)} | {size_cells} |")
    out.append("")
    out.append("Reproduce: `cargo bench -p metrics-benchmarks --bench peers -- remote_write` then "
               "`python3 scripts/benchmarks_md.py --remote-write target/criterion`.")
    print("\n".join(out))


def native(root):
    """The native histogram section: observe against prometheus-client's native histogram and
    our classic observe, 1 and 2 threads, with callgrind's instructions per observe."""
    out = ["", "## Native histograms: observe", "",
           "`benchmarks/src/native.rs`: ours twice, `ShardedNativeHistogram` (feature `std`: a "
           "shard per thread written with plain loads and stores, no atomic read-modify-write "
           "on the hot path) and the `no_std`, interrupt-safe `NativeHistogram<160>` (lock-free, "
           "four atomic read-modify-writes per observe), both schema 3 with at most 160 buckets, "
           "against `prometheus-client`'s native histogram "
           "(`Histogram::new_native(NativeHistogramConfig::with_schema(3).max_buckets(160))`), "
           "and our classic `Histogram<8>` of `histogram_observe`, on the inputs of "
           "`histogram_observe` (uniform in 0..0.16 s: about 60 native buckets). ns per observe, "
           "criterion's median (groups `native_observe` and `native_observe_2threads`: two "
           "threads on the same histogram, the wall time divided by both threads' observes).", "",
           "| work | prometheus-client (native) | ours (native) | ours / prometheus-client "
           "| goal | met | ours (classic) | ours native / classic |",
           "|---|---|---|---|---|---|---|---|"]
    for group, threads in [("native_observe", "1 thread"),
                           ("native_observe_2threads", "2 threads")]:
        pc = load(root, group, "prometheus_client")
        classic = load(root, group, "ours_classic")
        for krate, which in [("ours_sharded", "`ShardedNativeHistogram`"),
                             ("ours", "`NativeHistogram` (no_std)")]:
            ours = load(root, group, krate)
            ratio = ours / pc if ours and pc else None
            cls = ours / classic if ours and classic else None
            met = "–" if ratio is None else ("yes" if ratio <= 0.5 else "**no**")
            out.append(f"| native observe, {threads}, {which} | {fmt(pc)} | {fmt(ours)} | "
                       f"{'–' if ratio is None else f'{ratio:.2f}x'} | at most half | {met} | "
                       f"{fmt(classic)} | {'–' if cls is None else f'{cls:.2f}x'} |")
    try:
        with open(os.path.join(root, "native_observe", "callgrind.json")) as f:
            cg = json.load(f)
        out.append("")
        out.append("Instructions per observe (callgrind, x86-64, one thread; "
                   "`scripts/native_callgrind.sh`: the `profile` binary at 100 000 and "
                   "1 100 000 observes, the difference per observe): "
                   f"ours sharded native {cg['ours_sharded']}, ours lock-free native "
                   f"{cg['ours']}, prometheus-client native "
                   f"{cg['prometheus_client']}, ours classic {cg['ours_classic']}.")
    except FileNotFoundError:
        pass
    out.append("")
    out.append("Reproduce: `cargo bench -p metrics-benchmarks --bench peers -- native_observe`, "
               "`bash scripts/native_callgrind.sh`, then "
               "`python3 scripts/benchmarks_md.py --native target/criterion`.")
    print("\n".join(out))


def protobuf(w, root, allocs, unmet):
    """The protobuf exposition section: ours against prometheus-client's protobuf encoder."""
    w("")
    w("## The protobuf exposition of the 10k-series registry\n")
    w("The registry of `encode_10k` as length-delimited `io.prometheus.client.MetricFamily` "
      "messages (what Prometheus 3 asks for first with native histograms on; group "
      "`encode_protobuf_10k`). Ours: `encode_to_vec(.., Format::Protobuf, ..)` into a reused "
      "buffer, the messages written directly. `prometheus-client`: its `prometheus_protobuf` "
      "feature, `prometheus_protobuf::encode_to_vec` (prost messages built, then serialized). "
      "The other peers write no protobuf exposition. Allocations: one steady-state encode "
      "(`alloc_count`). Instructions: callgrind's `Ir` of one steady-state encode "
      "(`scripts/callgrind_protobuf.sh`: 3 encodes minus 1, halved).\n")
    try:
        with open(os.path.join(root, "..", "callgrind_protobuf.json")) as f:
            ir = json.load(f)
    except FileNotFoundError:
        ir = {}
    w("| crate | ns per series | whole encode | allocations per encode | instructions per series |")
    w("|---|---|---|---|---|")
    t = {}
    for crate, name in [("ours", "metrics-core (ours)"), ("prometheus_client", "prometheus-client")]:
        t[crate] = load(root, "encode_protobuf_10k", crate)
        a = allocs.get(f"{crate}/protobuf", {}).get("allocations")
        i = ir.get(crate)
        whole = f"{t[crate] * 10_000 / 1e6:.2f} ms" if t[crate] is not None else "–"
        w(f"| {name} | {fmt(t[crate])} | {whole} | {a if a is not None else '–'} | "
          f"{fmt(i / 10_000) if i else '–'} |")
    w("")
    o, p = t["ours"], t["prometheus_client"]
    met = o is not None and p is not None and o <= 0.5 * p
    if o and p:
        w(f"- ours takes {o / p:.2f}x the time of `prometheus-client`: goal (at most 0.5x) "
          f"{'met' if met else '**not met**'}.")
    if not met:
        unmet.append("protobuf encode, 10k series")
    if ir.get("ours") and ir.get("prometheus_client"):
        w(f"- instructions: ours {ir['ours'] / ir['prometheus_client']:.2f}x "
          "`prometheus-client`'s.")
    a = allocs.get("ours/protobuf", {}).get("allocations")
    met = a == 0
    w(f"- allocations per steady-state encode: ours {a if a is not None else '–'}: goal (zero) "
      f"{'met' if met else '**not met**'}.")
    if not met:
        unmet.append("protobuf encode allocations")


def main():
    if sys.argv[1] == "--native":
        native(sys.argv[2])
        return
    if sys.argv[1] == "--remote-write":
        remote_write(sys.argv[2])
        return
    root, allocs_path = sys.argv[1], sys.argv[2]
    lock = versions(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Cargo.lock"))
    allocs = {}
    with open(allocs_path) as f:
        for line in f:
            line = line.strip()
            if line:
                o = json.loads(line)
                key = o["crate"] + (f"/{o['format']}" if "format" in o else "")
                allocs[key] = o

    out = []
    w = out.append
    w("# Benchmarks: metrics-core against the peer crates\n")
    w("Generated by `scripts/bench.sh` from one run of `cargo bench -p metrics-benchmarks --bench "
      "peers` (criterion, `lto = \"fat\"`, one codegen unit) and of the `alloc_count` binary. "
      "Do not edit by hand: run `bash scripts/bench.sh` and commit what it writes.\n")
    w(f"- Machine: {machine()}, shared with other builds and tests during the run (figures are "
      "noisier than on a quiet machine).")
    if os.environ.get("LOADAVG"):
        w(f"- Load average (1, 5, 15 min) {os.environ['LOADAVG']}: above 2, other work had the "
          "cores part of the time and every figure is slower than on a quiet machine; compare "
          "runs made under the same load only.")
    vs = []
    for crate in ["prometheus", "prometheus-client", "metrics", "metrics-exporter-prometheus",
                  "measured", "criterion"]:
        vs.append(f"`{crate}` {', '.join(lock.get(crate, ['?']))}")
    w("- Crates: " + "; ".join(vs) + ".")
    w("- Figures: criterion's median, in ns per operation (per series for encode). Two-thread "
      "rows: two threads pinned to cores 0 and 1 each run the operation on the same metric; the "
      "figure is the wall time divided by the operations of both threads, so a perfectly "
      "parallel operation shows half its one-thread time. Single-thread rows run pinned to "
      "core 0.")
    w("- Limit: the least work for the same result (one `fetch_add`; one atomic per thread; a "
      "linear match of the two strings then one `fetch_add`; a hand-written writer of the same "
      "lines). Best peer: the fastest of the four peers in this run.\n")

    w("| work | limit | best peer | prometheus | prometheus-client | metrics | measured | ours "
      "| ours / best peer | goal | met |")
    w("|---|---|---|---|---|---|---|---|---|---|---|")
    unmet = []
    for label, group, kind, factor, goal in ROWS:
        peers = {p: load(root, group, p) for p in PEERS}
        ours = load(root, group, "ours")
        limit = load(root, group, "limit")
        present = {p: v for p, v in peers.items() if v is not None}
        best = min(present.values()) if present else None
        cells = [fmt(peers[p]) for p in PEERS]
        if group == "labelled_inc":
            e = load(root, group, "measured_enum")
            if e is not None:
                cells[3] += f" ({fmt(e)} with an enum label)"
        ratio = ours / best if (ours is not None and best) else None
        if kind == "limit":
            met = ours is not None and limit is not None and ours <= factor * limit
        elif kind == "peer":
            met = ratio is not None and ratio <= factor
        else:
            met = ratio is not None and ratio < 1.0
        ours_cell = fmt(ours)
        if group in ("counter_inc_2threads", "histogram_observe_2threads"):
            plain = load(root, group, "ours_plain")
            plain_type = "Counter" if group.startswith("counter") else "Histogram"
            ours_cell += f" (plain `{plain_type}`: {fmt(plain)})"
        w(f"| {label} | {fmt(limit)} | {fmt(best)} | {' | '.join(cells)} | {ours_cell} | "
          f"{fmt(ratio) + 'x' if ratio is not None else '–'} | {goal} | "
          f"{'yes' if met else '**no**'} |")
        if not met:
            unmet.append(label)

    a = {k: allocs.get(k, {}).get("allocations") for k in ["limit", "ours"] + PEERS}
    best_a = min(v for k, v in a.items() if k in PEERS and v is not None)
    met = a["ours"] == 0
    w(f"| allocations per 10k-series encode (steady state) | {a['limit']} | {best_a} | "
      + " | ".join(str(a[p]) for p in PEERS)
      + f" | {a['ours']} | – | zero | {'yes' if met else '**no**'} |")
    if not met:
        unmet.append("allocations per encode")

    encode_ours = load(root, "encode_10k", "ours")
    w("")
    w("## A 10k-series registry scraped over HTTP\n")
    w("One keep-alive client on loopback (`benchmarks/src/scraper.rs`: the body read whole, not "
      "decompressed), the same 10k-series registry as `encode_10k`; ns per series of one whole "
      "scrape (request, encode, compression, response, read). Uncompressed: the text format, "
      "`Accept-Encoding: identity`. As Prometheus asks: its `Accept` header (ours answers "
      "OpenMetrics, `metrics-exporter-prometheus` the text format) and `Accept-Encoding: gzip` "
      "(`metrics-exporter-prometheus` does not compress). The server runs on the same 2 shared "
      "cores as the client.\n")
    w("| exporter | uncompressed, ns per series | whole scrape | as Prometheus asks (gzip), ns per series | whole scrape |")
    w("|---|---|---|---|---|")
    rows = {}
    for crate, name in [("ours", "`exporters/http` (ours)"),
                        ("metrics", "`metrics-exporter-prometheus` (its own listener)")]:
        v = load(root, "http_scrape_10k", crate)
        z = load(root, "http_scrape_10k_gzip", crate)
        rows[crate] = (v, z)
        whole = lambda x: f"{x * 10_000 / 1e6:.2f} ms" if x is not None else "–"
        w(f"| {name} | {fmt(v)} | {whole(v)} | {fmt(z)} | {whole(z)} |")
    w("")
    (ov, oz), (tv, tz) = rows["ours"], rows["metrics"]
    for label, o, t in [("uncompressed", ov, tv), ("as Prometheus asks", oz, tz)]:
        met = o is not None and t is not None and o <= 0.25 * t
        if o and t:
            w(f"- {label}: ours takes {o / t:.3f}x the time of `metrics-exporter-prometheus`: goal "
              f"(at most 0.25x) {'met' if met else '**not met**'}.")
        if not met:
            unmet.append(f"HTTP scrape, {label}")
    met = ov is not None and encode_ours is not None and ov <= 3 * encode_ours
    if ov and encode_ours:
        w(f"- the uncompressed scrape takes {ov / encode_ours:.2f}x the core's encode of the same "
          f"registry ({fmt(encode_ours)} ns per series): goal (within 3x) "
          f"{'met' if met else '**not met**'}.")
    if not met:
        unmet.append("HTTP scrape within 3x of the encode")

    protobuf(w, root, allocs, unmet)

    w("\n## Goals\n")
    if unmet:
        w("Not met in this run: " + "; ".join(unmet) + ". The closing note of the performance "
          "issue says by how much and what limits each, with a profile.")
    else:
        w("Every goal is met in this run.")
    w("\n## Reproduce\n")
    w("```sh\nbash scripts/bench.sh   # about 15 minutes; rewrites BENCHMARKS.md\n```")
    print("\n".join(out))


if __name__ == "__main__":
    main()
