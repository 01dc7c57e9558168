#!/usr/bin/python3
"""The HTTP layer's cost, measured with wrk against peers in the same run (issue 8's targets):

  - GET /v2/health/live (no model, no body): p50 at 1 connection, requests/s at 32;
  - mlp784 (bench/make_serve_models.py, a 784-float KServe JSON request): p50 at 1 connection and requests/s at
    32 connections, against a Node.js + onnxruntime-node server running the same model (bench/node_peer.js);
  - image128 (a 3x128x128 image as about 1 MB of KServe JSON, a cheap CNN): p50 at 1 connection beside the model's
    own compute time (`ferryd run --repeat`).

Each case runs against FERRYD and, with --old, against another ferryd binary (e.g. the cpprestsdk build before
the Beast server), one server at a time, so the numbers are comparable. Prints a markdown table and the ratios.

usage: bench/http_bench.py FERRYD [--old FERRYD_OLD] [--duration S] [--threads T] [--keep DIR]

--threads: ferryd's inference_threads and onnxruntime's intraOpNumThreads (default: every core). The mlp784 model
has dynamic batching on (max_queue_delay_us: 0), image128 off. wrk: 1 thread for 1 connection, 2 for 32.
"""

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(port, path, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing answered on port {port}{path}")


def post_json(port, path, body_file):
    with open(body_file, "rb") as f:
        data = f.read()
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())


def to_us(text):
    m = re.match(r"([0-9.]+)(us|ms|s)", text)
    v = float(m.group(1))
    return v * {"us": 1, "ms": 1e3, "s": 1e6}[m.group(2)]


def wrk(port, path, conns, duration, body=None, scheme="http", headers=()):
    """Runs wrk; returns {p50_us, p99_us, rps, errors}."""
    threads = 1 if conns == 1 else 2
    cmd = ["wrk", f"-t{threads}", f"-c{conns}", f"-d{duration}s", "--latency", f"{scheme}://127.0.0.1:{port}{path}"]
    for h in headers:
        cmd[1:1] = ["-H", h]
    env = dict(os.environ)
    if body:
        cmd[1:1] = ["-s", os.path.join(HERE, "wrk_post.lua")]
        env["BODY"] = body
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True).stdout
    lat = dict(re.findall(r"^\s+(50|99)%\s+(\S+)", out, re.M))
    rps = float(re.search(r"Requests/sec:\s+([0-9.]+)", out).group(1))
    errors = 0
    for pattern in (r"Non-2xx or 3xx responses: (\d+)", r"Socket errors: connect (\d+), read (\d+), write (\d+), "
                    r"timeout (\d+)"):
        m = re.search(pattern, out)
        if m:
            errors += sum(int(g) for g in m.groups())
    return {"p50_us": to_us(lat["50"]), "p99_us": to_us(lat["99"]), "rps": rps, "errors": errors}


class Server:
    def __init__(self, argv, port, log_path, ready_path):
        self.log = open(log_path, "wb")
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.port = port
        wait_http(port, ready_path)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def ferryd_run_ms(ferryd, model, inputs, threads):
    r = subprocess.run([ferryd, "run", "--model", model, "--inputs", inputs, "--repeat", "100", "--threads",
                        str(threads)], capture_output=True, text=True, check=True)
    return float(re.search(r"latency_ms median=([0-9.eE+-]+)", r.stderr).group(1))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("ferryd")
    ap.add_argument("--old", help="another ferryd binary measured the same way (e.g. before a change)")
    ap.add_argument("--duration", type=float, default=5)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--keep", help="keep models, bodies and logs in this directory")
    args = ap.parse_args()
    duration = max(1, int(args.duration))

    scratch = args.keep or tempfile.mkdtemp(prefix="ferry-http-bench-")
    os.makedirs(scratch, exist_ok=True)
    subprocess.run(["/usr/bin/python3", os.path.join(HERE, "make_serve_models.py"), scratch], check=True,
                   stdout=subprocess.DEVNULL)
    repo = os.path.join(scratch, "repo")
    for name in os.listdir(repo):
        if name not in ("mlp784", "image128"):
            shutil.rmtree(os.path.join(repo, name))
    with open(os.path.join(repo, "mlp784", "config.yaml"), "w") as f:
        f.write("max_batch_size: 64\ndynamic_batching: {max_queue_delay_us: 0}\n")
    with open(os.path.join(repo, "image128", "config.yaml"), "w") as f:
        f.write("max_batch_size: 64\n")
    mlp_body = os.path.join(scratch, "mlp784.kserve.json")
    image_body = os.path.join(scratch, "image128.kserve.json")
    subprocess.run(["bash", os.path.join(ROOT, "tests", "oracle", "ensure_ort.sh")], check=True)

    servers = [("ferryd", os.path.abspath(args.ferryd))]
    if args.old:
        servers.append(("ferryd (old)", os.path.abspath(args.old)))
    results = {}  # (server, case, conns) -> wrk result

    def measure(label, port, case, path, conns, body=None):
        r = wrk(port, path, conns, duration, body)
        results[(label, case, conns)] = r
        print(f"{label:14} {case:10} c={conns:<3} p50={r['p50_us']:9.1f}us p99={r['p99_us']:9.1f}us "
              f"{r['rps']:10.1f} req/s errors={r['errors']}", file=sys.stderr)

    for label, binary in servers:
        port = free_port()
        config = os.path.join(scratch, "ferryd.yaml")
        with open(config, "w") as f:
            f.write(f"model_repository: {repo}\nport: {port}\ninference_threads: {args.threads}\n")
        s = Server([binary, "serve", "--config", config], port, os.path.join(scratch, f"{label[:6]}-{port}.log"),
                   "/v2/health/ready")
        try:
            for name, body in (("mlp784", mlp_body), ("image128", image_body)):
                got = post_json(port, f"/v2/models/{name}/infer", body)
                assert got["outputs"][0]["shape"] == [1, 10], got
            measure(label, port, "health", "/v2/health/live", 1)
            measure(label, port, "health", "/v2/health/live", 32)
            measure(label, port, "mlp784", "/v2/models/mlp784/infer", 1, mlp_body)
            measure(label, port, "mlp784", "/v2/models/mlp784/infer", 32, mlp_body)
            measure(label, port, "image128", "/v2/models/image128/infer", 1, image_body)
        finally:
            s.stop()

    port = free_port()
    node = Server(["node", os.path.join(HERE, "node_peer.js"), os.path.join(repo, "mlp784", "1", "model.onnx"),
                   str(port), str(args.threads)], port, os.path.join(scratch, "node.log"), "/v2/health/live")
    try:
        got = post_json(port, "/v2/models/mlp784/infer", mlp_body)
        assert got["outputs"][0]["shape"] == [1, 10], got
        measure("node+ort", port, "health", "/v2/health/live", 1)
        measure("node+ort", port, "health", "/v2/health/live", 32)
        measure("node+ort", port, "mlp784", "/v2/models/mlp784/infer", 1, mlp_body)
        measure("node+ort", port, "mlp784", "/v2/models/mlp784/infer", 32, mlp_body)
    finally:
        node.stop()

    ferryd = os.path.abspath(args.ferryd)
    image_ms = ferryd_run_ms(ferryd, os.path.join(repo, "image128", "1", "model.onnx"),
                             os.path.join(scratch, "image128.b1.json"), args.threads)
    mlp_ms = ferryd_run_ms(ferryd, os.path.join(repo, "mlp784", "1", "model.onnx"),
                           os.path.join(scratch, "mlp784.b1.json"), args.threads)

    print("| server | case | connections | p50 | p99 | requests/s | errors |")
    print("|---|---|---|---|---|---|---|")
    for (label, case, conns), r in results.items():
        print(f"| {label} | {case} | {conns} | {r['p50_us']:.0f} us | {r['p99_us']:.0f} us | {r['rps']:.0f} | "
              f"{r['errors']} |")
    new = "ferryd"
    print()
    print(f"compute alone (`ferryd run --repeat 100 --threads {args.threads}`, median): "
          f"mlp784 {mlp_ms * 1000:.0f} us, image128 {image_ms * 1000:.0f} us")
    g1, g32 = results[(new, "health", 1)], results[(new, "health", 32)]
    m1, m32 = results[(new, "mlp784", 1)], results[(new, "mlp784", 32)]
    n1, n32 = results[("node+ort", "mlp784", 1)], results[("node+ort", "mlp784", 32)]
    im = results[(new, "image128", 1)]
    print(f"- trivial GET p50 at 1 connection: {g1['p50_us']:.0f} us (target < 50 us)")
    if args.old:
        o32 = results[("ferryd (old)", "health", 32)]
        print(f"- trivial GET at 32 connections: {g32['rps']:.0f} req/s, {g32['rps'] / o32['rps']:.2f}x the old "
              f"server's {o32['rps']:.0f} (target >= 2x)")
    print(f"- mlp784 p50 at 1 connection: ferryd {m1['p50_us']:.0f} us, node+ort {n1['p50_us']:.0f} us: "
          f"node/ferryd {n1['p50_us'] / m1['p50_us']:.2f} (target >= 1)")
    print(f"- mlp784 at 32 connections: ferryd {m32['rps']:.0f} req/s, node+ort {n32['rps']:.0f} req/s: "
          f"{m32['rps'] / n32['rps']:.2f}x (target >= 3x)")
    print(f"- image128 (1 MB JSON) p50 at 1 connection: {im['p50_us'] / 1000:.2f} ms, compute {image_ms:.2f} ms: "
          f"{im['p50_us'] / 1000 - image_ms:.2f} ms over (target <= 2 ms)")
    if any(r["errors"] for r in results.values()):
        print("WARNING: some runs had errors", file=sys.stderr)
    if not args.keep:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
