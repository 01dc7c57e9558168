#!/usr/bin/python3
"""What HTTPS costs in ferryd, measured with wrk in one run against two references:

  - the same ferryd over plain HTTP (the price of TLS itself), and
  - nginx terminating TLS in front of a plain ferryd (what the README recommended before ferryd spoke TLS): the
    usual deployment it replaces.

Cases: GET /v2/health/live and an mlp784 KServe JSON inference (bench/make_serve_models.py) on keep-alive
connections (1 and 32), and new connections (`Connection: close`, 8 at a time: one full TLS handshake per request,
ECDSA P-256 certificate). Certificates come from a CA made here with the openssl command.

usage: bench/tls_bench.py FERRYD [--duration S] [--threads T] [--nginx PATH]
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

from http_bench import HERE, Server, free_port, post_json, wrk


def openssl(*args, cwd):
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_pki(d):
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "ca.key",
            "-out", "ca.pem", "-days", "2", "-subj", "/CN=bench CA", cwd=d)
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "server.key", "-out",
            "server.csr", "-subj", "/CN=localhost", cwd=d)
    with open(os.path.join(d, "server.ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out",
            "server.pem", "-days", "2", "-extfile", "server.ext", cwd=d)
    return os.path.join(d, "server.pem"), os.path.join(d, "server.key")


def wait_port(port, timeout=30):
    import socket
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("ferryd")
    ap.add_argument("--duration", type=float, default=5)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--nginx", default=shutil.which("nginx") or "/usr/sbin/nginx")
    args = ap.parse_args()
    duration = max(1, int(args.duration))
    ferryd = os.path.abspath(args.ferryd)

    scratch = tempfile.mkdtemp(prefix="ferry-tls-bench-")
    subprocess.run(["/usr/bin/python3", os.path.join(HERE, "make_serve_models.py"), scratch], check=True,
                   stdout=subprocess.DEVNULL)
    repo = os.path.join(scratch, "repo")
    for name in os.listdir(repo):
        if name != "mlp784":
            shutil.rmtree(os.path.join(repo, name))
    with open(os.path.join(repo, "mlp784", "config.yaml"), "w") as f:
        f.write("max_batch_size: 64\ndynamic_batching: {max_queue_delay_us: 0}\n")
    body = os.path.join(scratch, "mlp784.kserve.json")
    cert, key = make_pki(scratch)

    results = {}
    servers = []

    def start_ferryd(port, tls):
        config = os.path.join(scratch, f"ferryd-{port}.yaml")
        with open(config, "w") as f:
            f.write(f"model_repository: {repo}\nport: {port}\ninference_threads: {args.threads}\n")
            if tls:
                f.write(f"tls_cert_file: {cert}\ntls_key_file: {key}\n")
        log = open(os.path.join(scratch, f"ferryd-{port}.log"), "wb")
        p = subprocess.Popen([ferryd, "serve", "--config", config], stdout=log, stderr=subprocess.STDOUT)
        servers.append(p)
        wait_port(port)

    plain, direct, proxied, upstream = free_port(), free_port(), free_port(), free_port()
    start_ferryd(plain, False)
    start_ferryd(direct, True)
    start_ferryd(upstream, False)
    nginx_conf = os.path.join(scratch, "nginx.conf")
    with open(nginx_conf, "w") as f:
        f.write(f"""worker_processes 2;
pid {scratch}/nginx.pid;
error_log {scratch}/nginx-error.log;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  client_body_temp_path {scratch}/nginx-body; proxy_temp_path {scratch}/nginx-proxy;
  fastcgi_temp_path {scratch}/nginx-fcgi; uwsgi_temp_path {scratch}/nginx-uwsgi; scgi_temp_path {scratch}/nginx-scgi;
  upstream ferryd {{ server 127.0.0.1:{upstream}; keepalive 64; }}
  server {{
    listen 127.0.0.1:{proxied} ssl;
    ssl_certificate {cert}; ssl_certificate_key {key};
    ssl_protocols TLSv1.2 TLSv1.3;
    client_max_body_size 64m;
    location / {{ proxy_pass http://ferryd; proxy_http_version 1.1; proxy_set_header Connection ""; }}
  }}
}}
""")
    nginx = subprocess.Popen([args.nginx, "-c", nginx_conf, "-g", "daemon off;", "-e", f"{scratch}/nginx-error.log"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(proxied)
    try:
        targets = [("ferryd http", plain, "http"), ("ferryd https", direct, "https"),
                   ("nginx https -> ferryd", proxied, "https")]
        for label, port, scheme in targets:
            if scheme == "http":
                got = post_json(port, "/v2/models/mlp784/infer", body)
                assert got["outputs"][0]["shape"] == [1, 10], got
            cases = [("health", "/v2/health/live", 1, None, ()), ("health", "/v2/health/live", 32, None, ()),
                     ("mlp784", "/v2/models/mlp784/infer", 1, body, ()),
                     ("mlp784", "/v2/models/mlp784/infer", 32, body, ()),
                     ("new conn", "/v2/health/live", 8, None, ("Connection: close",))]
            for case, path, conns, b, headers in cases:
                r = wrk(port, path, conns, duration, b, scheme, headers)
                results[(label, case, conns)] = r
                print(f"{label:22} {case:9} c={conns:<3} p50={r['p50_us']:9.1f}us p99={r['p99_us']:9.1f}us "
                      f"{r['rps']:10.1f} req/s errors={r['errors']}", file=sys.stderr)
    finally:
        nginx.terminate()
        nginx.wait()
        for p in servers:
            p.terminate()
            p.wait()

    print("| server | case | connections | p50 | p99 | requests/s | errors |")
    print("|---|---|---|---|---|---|---|")
    for (label, case, conns), r in results.items():
        print(f"| {label} | {case} | {conns} | {r['p50_us']:.0f} us | {r['p99_us']:.0f} us | {r['rps']:.0f} | "
              f"{r['errors']} |")
    print()
    for case, conns in (("health", 1), ("health", 32), ("mlp784", 1), ("mlp784", 32), ("new conn", 8)):
        h, t, n = (results[(s, case, conns)] for s in ("ferryd http", "ferryd https", "nginx https -> ferryd"))
        print(f"- {case} c={conns}: https/http p50 {t['p50_us'] / h['p50_us']:.2f}x, req/s "
              f"{t['rps'] / h['rps']:.2f}x; ferryd https vs nginx in front: p50 {t['p50_us'] / n['p50_us']:.2f}x, "
              f"req/s {t['rps'] / n['rps']:.2f}x")
    shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
