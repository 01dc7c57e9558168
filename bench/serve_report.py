#!/usr/bin/python3
"""Bookkeeping and tables for bench/serve_bench.sh (plain python3, no packages needed).

  serve_report.py record RESULTS.jsonl LABELS_JSON LOADGEN_LINE STATS_BEFORE STATS_AFTER
      Appends one run: the labels, the load generator's JSON line, and what the server's statistics
      (GET /v2/models/<m>/stats, Triton's statistics extension) say happened in between: batches run, the mean
      batch, the batch size below which 99% of the requests ran (by rows), the server's mean compute per batch
      and mean queue time per request.
  serve_report.py batches RESULTS.jsonl
      Prints "<model> <rows>" for every batch size that a check needs a compute time for.
  serve_report.py report RESULTS.jsonl COMPUTE.tsv DELAY_US
      Prints the markdown tables and the target checks. COMPUTE.tsv: "<model> <batch> <median ms>" lines from
      `ferryd run --repeat 50`. Exit status 0 (targets are reported, not enforced).
"""

import json
import math
import os
import sys


def load_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def version_stats(doc):
    if not doc or not doc.get("model_stats"):
        return None
    return doc["model_stats"][0]


def stats_delta(before, after):
    """What the server did between two snapshots of one model's statistics."""
    b, a = version_stats(before), version_stats(after)
    if not a:
        return {}
    b = b or {}
    executions = a.get("execution_count", 0) - b.get("execution_count", 0)
    rows = a.get("inference_count", 0) - b.get("inference_count", 0)

    def dur(doc, key):
        d = (doc.get("inference_stats") or {}).get(key) or {}
        return d.get("count", 0), d.get("ns", 0)

    out = {"batches": executions, "rows": rows}
    if executions > 0:
        out["mean_batch"] = rows / executions
    qc1, qn1 = dur(a, "queue")
    qc0, qn0 = dur(b, "queue") if b else (0, 0)
    if qc1 > qc0:
        out["queue_ms"] = (qn1 - qn0) / (qc1 - qc0) / 1e6
    # Per batch size: how many batches, and their compute time (input assembly + run + output split).
    before_sizes = {s["batch_size"]: s for s in b.get("batch_stats", [])}
    sizes = []
    for s in a.get("batch_stats", []):
        p = before_sizes.get(s["batch_size"], {})
        n = s["compute_infer"]["count"] - p.get("compute_infer", {}).get("count", 0)
        if n <= 0:
            continue
        ns = sum(s[k]["ns"] - p.get(k, {}).get("ns", 0) for k in ("compute_input", "compute_infer", "compute_output"))
        sizes.append((s["batch_size"], n, ns / n / 1e6))
    sizes.sort()
    if sizes:
        total_rows = sum(size * n for size, n, _ in sizes)
        acc, p99 = 0, sizes[-1][0]
        for size, n, _ in sizes:
            acc += size * n
            if acc >= 0.99 * total_rows:
                p99 = size
                break
        out["p99_batch"] = p99
        out["max_batch"] = sizes[-1][0]
        out["server_compute_ms"] = sum(ms * n for _, n, ms in sizes) / sum(n for _, n, _ in sizes)
        out["server_compute_p99_batch_ms"] = next(ms for size, _, ms in sizes if size == p99)
    return out


def cmd_record(results, labels, line, before, after):
    row = json.loads(labels)
    try:
        row.update(json.loads(line))
    except ValueError:
        row["error"] = line.strip()[:300] or "no output"
    row["server"] = stats_delta(load_json(before), load_json(after))
    with open(results, "a") as f:
        f.write(json.dumps(row) + "\n")


def read_rows(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def cmd_batches(results):
    seen = set()
    for r in read_rows(results):
        s = r.get("server", {})
        if r.get("batching", "off") != "off" and "p99_batch" in s:
            seen.add((r["model"], s["p99_batch"]))
    for model, rows in sorted(seen):
        print(model, rows)


def mean(values):
    values = list(values)
    return sum(values) / len(values) if values else None


def fmt(x, digits=2):
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    if isinstance(x, int):
        return str(x)
    return f"{x:.{digits}f}"


def find(rows, **want):
    for r in rows:
        if all(r.get(k) == v for k, v in want.items()):
            return r
    return None


def cmd_report(results, compute_tsv, delay_us):
    rows = read_rows(results)
    delay_ms = float(delay_us) / 1000.0
    compute = {}
    with open(compute_tsv) as f:
        for line in f:
            parts = line.split()
            if len(parts) == 3 and parts[2] != "error":
                compute[(parts[0], int(parts[1]))] = float(parts[2])

    main = [r for r in rows if r.get("section") == "main"]
    combos = []
    for r in main:
        key = (r["model"], r["protocol"], r["clients"])
        if key not in combos:
            combos.append(key)
    print("### Throughput and latency, batching off vs on\n")
    print("| model | protocol | clients | off rps | off p50 ms | off p99 ms | on rps | on p50 ms | on p99 ms "
          "| on/off rps | on mean batch (p99) |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for model, protocol, clients in combos:
        off = find(main, model=model, protocol=protocol, clients=clients, batching="off") or {}
        on = find(main, model=model, protocol=protocol, clients=clients, batching="on") or {}
        ratio = on["rps"] / off["rps"] if on.get("rps") and off.get("rps") else None
        s = on.get("server", {})
        batch = f"{fmt(s.get('mean_batch'), 1)} ({s.get('p99_batch', 'n/a')})" if s else "n/a"
        print(f"| {model} | {protocol} | {clients} | {fmt(off.get('rps'), 0)} | {fmt(off.get('p50_ms'))} | "
              f"{fmt(off.get('p99_ms'))} | {fmt(on.get('rps'), 0)} | {fmt(on.get('p50_ms'))} | {fmt(on.get('p99_ms'))} "
              f"| {fmt(ratio)} | {batch} |")

    over = [r for r in rows if r.get("section") == "overhead"]
    trivial = find(over, protocol="health")
    if over:
        print("\n### REST overhead (tiny model: Add of a 4-float input; batching off)\n")
        print("| endpoint | clients | rps | p50 ms | p99 ms | rps / trivial |")
        print("|---|---:|---:|---:|---:|---:|")
        for r in over:
            ratio = r["rps"] / trivial["rps"] if trivial and trivial.get("rps") and r.get("rps") else None
            print(f"| {r['endpoint']} | {r['clients']} | {fmt(r.get('rps'), 0)} | {fmt(r.get('p50_ms'))} | "
                  f"{fmt(r.get('p99_ms'))} | {fmt(ratio)} |")

    sweep = [r for r in rows if r.get("section") == "sweep"]
    if sweep:
        print("\n### Batching settings tried (cnn, TF Serving predict)\n")
        print("| dynamic_batching | clients | rps | p50 ms | p99 ms | mean batch (p99) | server compute ms/batch |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        for r in sweep:
            s = r.get("server", {})
            print(f"| `{r['batching']}` | {r['clients']} | {fmt(r.get('rps'), 0)} | {fmt(r.get('p50_ms'))} | "
                  f"{fmt(r.get('p99_ms'))} | {fmt(s.get('mean_batch'), 1)} ({s.get('p99_batch', 'n/a')}) | "
                  f"{fmt(s.get('server_compute_ms'))} |")

    if compute:
        models = sorted({m for m, _ in compute})
        sizes = sorted({b for _, b in compute})
        print("\n### One batch's compute (`ferryd run --repeat 50`, median ms)\n")
        print("| model | " + " | ".join(f"batch {b}" for b in sizes) + " |")
        print("|---|" + "---:|" * len(sizes))
        for m in models:
            print(f"| {m} | " + " | ".join(fmt(compute.get((m, b))) for b in sizes) + " |")

    cpu = [r for r in rows if "other_cores" in r]
    if cpu:
        other = [max(0.0, r["other_cores"]) for r in cpu]  # jiffy rounding can make it slightly negative
        print(f"\nCPU during the runs (cores, of {os.cpu_count()}): "
              f"ferryd {fmt(mean(r['ferryd_cores'] for r in cpu))}, "
              f"the load generator {fmt(mean(r['loadgen_cores'] for r in cpu))}, other processes "
              f"{fmt(mean(other))} on average (max {fmt(max(other))} in one run).")

    print("\n### Targets\n")
    for model in ("cnn", "cnn_large"):
        off = find(main, model=model, protocol="tfs", clients=32, batching="off")
        on = find(main, model=model, protocol="tfs", clients=32, batching="on")
        if not (off and on and off.get("rps") and on.get("rps")):
            print(f"- (a) {model}: not measured")
            continue
        ratio = on["rps"] / off["rps"]
        verdict = "met" if ratio >= 1.5 else f"MISSED by {fmt((1.5 - ratio) / 1.5 * 100, 1)}%"
        print(f"- (a) {model}, TF Serving predict, 32 clients: batching on/off throughput {fmt(ratio)} "
              f"({fmt(on['rps'], 0)} vs {fmt(off['rps'], 0)} rps); target >= 1.5: {verdict}")
        s = on.get("server", {})
        b = s.get("p99_batch")
        c = compute.get((model, b)) if b else None
        if c is not None:
            bound = delay_ms + 2 * c
            verdict = "met" if on["p99_ms"] <= bound else f"MISSED by {fmt(on['p99_ms'] - bound)} ms"
            print(f"- (a) {model}: p99 {fmt(on['p99_ms'])} ms <= max_queue_delay {fmt(delay_ms)} ms + 2 x compute of a "
                  f"batch of {b} ({fmt(c)} ms) = {fmt(bound)} ms: {verdict} (99% of requests ran in batches of <= {b} "
                  f"rows; in the server such a batch took {fmt(s.get('server_compute_p99_batch_ms'))} ms under load)")
        else:
            print(f"- (a) {model}: p99 check: no compute time for the batch size seen")
    tiny = find(over, protocol="tfs")
    if tiny and trivial and tiny.get("rps") and trivial.get("rps"):
        ratio = tiny["rps"] / trivial["rps"]
        verdict = "met" if ratio >= 0.7 else f"MISSED by {fmt((0.7 - ratio) / 0.7 * 100, 1)}%"
        print(f"- (b) tiny predict / trivial endpoint at {tiny['clients']} clients: {fmt(ratio)} "
              f"({fmt(tiny['rps'], 0)} vs {fmt(trivial['rps'], 0)} rps); target >= 0.7: {verdict}")
    else:
        print("- (b) not measured")


def main():
    if len(sys.argv) >= 2 and sys.argv[1] == "record" and len(sys.argv) == 7:
        cmd_record(*sys.argv[2:])
    elif len(sys.argv) == 3 and sys.argv[1] == "batches":
        cmd_batches(sys.argv[2])
    elif len(sys.argv) == 5 and sys.argv[1] == "report":
        cmd_report(*sys.argv[2:])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
