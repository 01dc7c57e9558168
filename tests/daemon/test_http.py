"""The HTTP layer of the real daemon under hostile and unusual traffic, over raw sockets (issue 8): framing that
RFC 9112 says to refuse, limits on the request line, header, connections and bodies, slow clients, pipelining,
Expect: 100-continue, compressed bodies both ways, log injection, descriptor exhaustion, and the memory the
process takes meanwhile. Every case is bounded by a socket timeout, so a server that hangs fails instead of
hanging the suite. Expected statuses come from RFC 9110/9112; inference values are computed by hand."""

import gzip
import json
import os
import shutil
import socket
import threading
import time
import zlib

from daemon_harness import DaemonCase, Daemon, affine_expect, model_bytes, place_version

X3 = [[1.0, 2.0, 3.0], [0.5, -1.25, 4.0]]  # affine input, dyadic so float32 math is exact
MAX_REQUEST = 4 << 20
MAX_UPLOAD = 64 << 20
MEMORY_BUDGET = 8 << 20
CONFIG = f"""
max_request_bytes: {MAX_REQUEST}
max_upload_bytes: {MAX_UPLOAD}
max_body_memory_bytes: {MEMORY_BUDGET}
max_request_line_bytes: 4096
max_header_bytes: 16384
max_header_count: 50
header_timeout_seconds: 1
body_timeout_seconds: 1
min_body_bytes_per_second: 65536
idle_timeout_seconds: 2
max_connections: 64
"""


def ks_infer_body(rows):
    return json.dumps({"inputs": [{"name": "x", "datatype": "FP32", "shape": [len(rows), 3],
                                   "data": [v for r in rows for v in r]}]}).encode()


class RawConn:
    """A client socket that reads Content-Length framed responses one at a time."""

    def __init__(self, port, timeout=10):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""

    def send(self, data):
        try:
            self.sock.sendall(data)
            return True
        except OSError:  # the server may refuse early and close
            return False

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError("connection closed")
        self.buf += chunk

    def read(self, head_only=False):
        """(status, {lower-case header: value}, body)."""
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ")[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if status < 200 or head_only:
            return status, headers, b""
        n = int(headers.get("content-length", "0"))
        while len(self.buf) < n:
            self._fill()
        body, self.buf = self.buf[:n], self.buf[n:]
        return status, headers, body

    def closed_by_peer(self):
        """True when the server closes the connection (after anything still unread) within the timeout."""
        try:
            while self.sock.recv(65536):
                pass
            return True
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False

    def close(self):
        self.sock.close()


def proc_status(pid, field):
    """A /proc/<pid>/status value in KiB (VmHWM, RssAnon, ...)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_concurrently(fn, count):
    """Runs fn(i) for i in range(count) on as many threads at once; returns when all are done."""
    threads = [threading.Thread(target=fn, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


class AnonPeak:
    """Samples the process's anonymous resident memory (heap and stacks, not mapped files) while running."""

    def __init__(self, pid):
        self.pid = pid
        self.peak_kib = proc_status(pid, "RssAnon")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            self.peak_kib = max(self.peak_kib, proc_status(self.pid, "RssAnon"))
            time.sleep(0.01)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


class HttpRobustnessTest(DaemonCase):
    @classmethod
    def populate(cls, repo):
        place_version(repo, "affine", 1, "affine", config="max_batch_size: 8\n")
        # What a process killed mid-upload leaves behind (a spooled body, a staging directory), and a dot file of
        # someone else's that must stay.
        with open(os.path.join(repo, ".ferry-body-0123456789abcdef"), "wb") as f:
            f.write(b"partial upload")
        os.makedirs(os.path.join(repo, ".ferry-upload-fedcba9876543210", "sub"))
        with open(os.path.join(repo, "affine", ".ferry-config-00112233aabbccdd"), "w") as f:
            f.write("max_batch_size: 4\n")  # a config write killed before its rename
        with open(os.path.join(repo, ".keep-me"), "w") as f:
            f.write("not ours")

    @classmethod
    def daemon_args(cls, workdir):
        path = os.path.join(workdir, "ferryd.yaml")
        with open(path, "w") as f:
            f.write(CONFIG)
        return ["--config", path]

    def conn(self, timeout=10):
        return RawConn(self.daemon.port, timeout)

    def exchange(self, raw, timeout=10):
        """Sends raw bytes on a new connection; returns (status, headers, body, closed_after)."""
        c = self.conn(timeout)
        try:
            c.send(raw)
            status, headers, body = c.read()
            return status, headers, body, c.closed_by_peer()
        finally:
            c.close()

    def anon_growth_mib(self, label, client, count):
        """Runs client(i) for `count` clients at once; prints and returns how far the daemon's anonymous resident
        memory rose above where it started, in MiB."""
        pid = self.daemon.proc.pid
        base = proc_status(pid, "RssAnon")
        with AnonPeak(pid) as peak:
            run_concurrently(client, count)
        print(f"\n  {label}: anonymous RSS {base / 1024:.0f} MiB -> peak {peak.peak_kib / 1024:.0f} MiB", flush=True)
        return (peak.peak_kib - base) / 1024

    def assertAlive(self):
        self.assertOkJson(self.post("/v1/models/affine:predict", {"instances": X3}))

    def test_leftovers_of_a_killed_process_are_removed_at_start(self):
        self.assertEqual(sorted(n for n in os.listdir(self.repo) if n.startswith(".")), [".keep-me"])
        self.assertEqual([n for n in os.listdir(os.path.join(self.repo, "affine")) if n.startswith(".")], [])
        self.assertIn("removed the leftovers of interrupted repository operations count=3", self.daemon.log_text())

    def test_malformed_framing_is_refused_and_closed(self):
        cases = [
            ("negative Content-Length", b"POST /v2/models/affine/infer HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
             400),
            ("Content-Length 2^64-1 (over the limit)",
             b"POST /v2/models/affine/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 18446744073709551615\r\n\r\n", 413),
            ("Content-Length 2^64 (overflows)",
             b"POST /v2/models/affine/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 18446744073709551616\r\n\r\n", 400),
            ("chunk size 2^64", b"POST /v2/models/affine/infer HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
             b"\r\n10000000000000000\r\n", 400),
            ("chunk size -5", b"POST /v2/models/affine/infer HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
             b"\r\n-5\r\nabc\r\n", 400),
            ("bare LF request line", b"GET /v2/health/live HTTP/1.1\nHost: x\n\n", 400),
            ("two equal Content-Lengths", b"POST /v2/models/affine/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
             b"Content-Length: 2\r\n\r\n{}", 400),
            ("two different Content-Lengths", b"POST /v2/models/affine/infer HTTP/1.1\r\nHost: x\r\n"
             b"Content-Length: 1\r\nContent-Length: 2\r\n\r\n{}", 400),
            ("Content-Length with Transfer-Encoding", b"POST /v2/models/affine/infer HTTP/1.1\r\nHost: x\r\n"
             b"Content-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
            ("Transfer-Encoding not ending in chunked", b"POST /v2/models/affine/infer HTTP/1.1\r\nHost: x\r\n"
             b"Transfer-Encoding: identity\r\n\r\n", 400),
            ("no Host", b"GET /v2/health/live HTTP/1.1\r\n\r\n", 400),
            ("TRACE", b"TRACE /v2/health/live HTTP/1.1\r\nHost: x\r\nX-Secret: 42\r\n\r\n", 405),
            ("CONNECT", b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", 405),
            ("unknown Expect", b"POST /v2/models/affine/infer HTTP/1.1\r\nHost: x\r\nExpect: 200-ok\r\n"
             b"Content-Length: 2\r\n\r\n{}", 417),
        ]
        for what, raw, want in cases:
            with self.subTest(what):
                status, headers, body, closed = self.exchange(raw)
                self.assertEqual(status, want, body)
                self.assertIn("error", json.loads(body))
                self.assertTrue(closed, "the connection stays open")
                self.assertNotIn(b"X-Secret", body)  # TRACE never echoes the request
        self.assertAlive()

    def test_pipelined_requests_are_answered_in_order(self):
        c = self.conn()
        predict = json.dumps({"instances": X3}).encode()
        c.send(b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n"
               b"POST /v1/models/affine:predict HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s"
               b"GET /v2/models/affine HTTP/1.1\r\nHost: x\r\n\r\n"
               b"GET /v2/models/nope HTTP/1.1\r\nHost: x\r\n\r\n" % (len(predict), predict))
        status, _, _ = c.read()
        self.assertEqual(status, 200)
        status, _, body = c.read()
        self.assertEqual(status, 200)
        self.assertValues(json.loads(body)["predictions"], affine_expect(X3))
        status, _, body = c.read()
        self.assertEqual((status, json.loads(body)["name"]), (200, "affine"))
        status, _, _ = c.read()
        self.assertEqual(status, 404)
        c.close()

    def test_request_line_and_header_limits(self):
        status, _, _, closed = self.exchange(b"GET /v2/models/" + b"a" * 5000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertEqual((status, closed), (414, True))
        status, _, _, closed = self.exchange(b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 20000 +
                                             b"\r\n\r\n")
        self.assertEqual((status, closed), (431, True))
        many = b"".join(b"X-%d: v\r\n" % i for i in range(60))
        status, _, _, closed = self.exchange(b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\n" + many + b"\r\n")
        self.assertEqual((status, closed), (431, True))
        self.assertAlive()

    def test_endless_header_lines_keep_memory_bounded(self):
        # Three connections each stream 48 MB of one unterminated header line: each is refused once the header
        # limit passes, and the process never holds the lines.
        results = []

        def flood(_):
            c = self.conn()
            c.send(b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\nX-Flood: ")
            chunk = b"f" * (1 << 20)
            for _ in range(48):
                if not c.send(chunk):
                    break
            try:
                results.append(c.read()[0])
            except (EOFError, OSError):
                results.append(None)
            c.close()

        grown_mib = self.anon_growth_mib("header flood (3 x 48 MB)", flood, 3)
        self.assertEqual(results, [431, 431, 431])
        self.assertLess(grown_mib, 32, "memory grew with the header flood")
        self.assertAlive()

    def test_slow_clients_get_408_and_idle_connections_close(self):
        c = self.conn()
        c.send(b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\n")  # and never the blank line
        status, headers, _ = c.read()
        self.assertEqual(status, 408)
        self.assertTrue(c.closed_by_peer())
        c.close()

        # A body trickling at 1 KiB per 100 ms, far under min_body_bytes_per_second.
        c = self.conn()
        c.send(b"POST /v2/models/affine/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n")
        c.sock.settimeout(0.1)
        status = None
        for _ in range(100):
            c.send(b" " * 1024)
            try:
                status = c.read()[0]
                break
            except socket.timeout:
                continue
        self.assertEqual(status, 408)
        c.close()

        c = self.conn()
        self.assertTrue(c.closed_by_peer(), "an idle keep-alive connection stays open past idle_timeout_seconds")
        c.close()
        self.assertAlive()

    def test_connections_beyond_the_limit_are_closed_at_once(self):
        held = []
        for _ in range(64):
            c = self.conn()
            c.send(b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n")
            self.assertEqual(c.read()[0], 200)  # accepted, and kept alive
            held.append(c)
        extra = self.conn()
        status, headers, _ = extra.read()
        self.assertEqual(status, 503)
        self.assertEqual(headers.get("retry-after"), "1")
        self.assertTrue(extra.closed_by_peer())
        extra.close()
        for c in held:
            c.close()
        self.wait_for(lambda: self.get("/v2/health/live").status == 200, 10, "a normal request after the flood")

    def test_in_memory_bodies_share_a_budget(self):
        # Two bodies of 4 MB arrive slowly enough to be held at once: together with a third they would pass the
        # 8 MiB budget, so the third gets 503 with Retry-After before it sends its body.
        holders = []
        for _ in range(2):
            c = self.conn()
            c.send(b"POST /v2/models/affine/infer HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n{" % MAX_REQUEST)
            holders.append(c)
        time.sleep(0.2)
        status, headers, body, closed = self.exchange(
            b"POST /v2/models/affine/infer HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % MAX_REQUEST)
        self.assertEqual(status, 503, body)
        self.assertEqual(headers.get("retry-after"), "1")
        self.assertTrue(closed)
        for c in holders:
            c.close()
        self.wait_for(lambda: self.post("/v2/models/affine/infer", ks_infer_body(X3)).status == 200, 10,
                      "inference once the budget is free")

    def test_body_flood_keeps_memory_within_the_budget(self):
        # 16 clients at once, each sending a 4 MB inference body (blank padding, then an invalid tensor): at most
        # the 8 MiB budget of bodies is held; whoever finds it full gets 503 before its body is read, the rest 400.
        body = b" " * (MAX_REQUEST - 2) + b"{}"
        statuses = []

        def send(_):
            status, _, _, _ = self.exchange(b"POST /v2/models/affine/infer HTTP/1.1\r\nHost: x\r\n"
                                            b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body))
            statuses.append(status)

        grown_mib = self.anon_growth_mib("body flood (16 x 4 MB)", send, 16)
        print(f"  body flood: {statuses.count(503)} refused with 503", flush=True)
        self.assertEqual(len(statuses), 16)
        self.assertTrue(set(statuses) <= {400, 503}, statuses)
        self.assertLess(grown_mib, MEMORY_BUDGET / (1 << 20) + 24, "more than the budget of bodies in memory")
        self.assertAlive()

    def test_expect_continue_upload(self):
        model = model_bytes("affine")
        c = self.conn()
        c.send(b"PUT /v1/models/continued/versions/1 HTTP/1.1\r\nHost: 127.0.0.1\r\nExpect: 100-continue\r\n"
               b"Content-Length: %d\r\n\r\n" % len(model))
        status, _, _ = c.read()
        self.assertEqual(status, 100, "no 100 Continue before the body")
        c.send(model)
        status, _, body = c.read()
        self.assertEqual(status, 201, body)
        c.close()
        self.assertValues(self.predict("continued", {"instances": X3})["predictions"], affine_expect(X3))
        # Over the upload limit: the final 413 instead of 100 Continue, and no body is read.
        c = self.conn()
        c.send(b"PUT /v1/models/continued/versions/2 HTTP/1.1\r\nHost: 127.0.0.1\r\nExpect: 100-continue\r\n"
               b"Content-Length: %d\r\n\r\n" % (MAX_UPLOAD + 1))
        status, _, _ = c.read()
        self.assertEqual(status, 413)
        c.close()

    def test_compressed_request_bodies(self):
        body = ks_infer_body(X3)
        for coding, data in (("gzip", gzip.compress(body)), ("deflate", zlib.compress(body))):
            with self.subTest(coding):
                r = self.post("/v2/models/affine/infer", data, headers={"Content-Encoding": coding})
                js = self.assertOkJson(r)
                self.assertValues(js["outputs"][0]["data"], [v for row in affine_expect(X3) for v in row])
        # A compressed upload is decoded into the spooled file.
        r = self.req("PUT", "/v1/models/zipped/versions/1", gzip.compress(model_bytes("affine")),
                     headers={"Content-Encoding": "gzip"})
        self.assertStatus(r, 201)
        # A bomb: 64 MiB of zeros is about 64 KiB of gzip; decoding stops at max_request_bytes.
        bomb = gzip.compress(b"0" * (64 << 20))
        self.assertLess(len(bomb), MAX_REQUEST)
        self.assertError(self.post("/v2/models/affine/infer", bomb, headers={"Content-Encoding": "gzip"}), 413)
        self.assertError(self.post("/v2/models/affine/infer", body, headers={"Content-Encoding": "br"}), 415)
        self.assertError(self.post("/v2/models/affine/infer", b"not gzip", headers={"Content-Encoding": "gzip"}), 400)
        self.assertAlive()

    def test_responses_compressed_on_request(self):
        r = self.get("/metrics", headers={"Accept-Encoding": "gzip"})
        self.assertStatus(r, 200)
        self.assertEqual(r.headers.get("content-encoding"), "gzip")
        text = gzip.decompress(r.body).decode()
        self.assertIn("# TYPE ferry_requests_total counter", text)
        r = self.get("/metrics", headers={"Accept-Encoding": "deflate;q=1, gzip;q=0"})
        self.assertEqual(r.headers.get("content-encoding"), "deflate")
        self.assertIn("ferry_requests_total", zlib.decompress(r.body).decode())
        r = self.get("/metrics")
        self.assertNotIn("content-encoding", r.headers)
        self.assertIn(b"ferry_requests_total", r.body)

    def test_control_characters_in_urls_are_escaped_in_the_log(self):
        forged = "[2030-01-01 00:00:00.000] [info] forged line"
        path = "/v1/models/x%0a" + forged.replace(" ", "%20") + "%1b[31m"
        self.assertStatus(self.get(path), 400)  # TF Serving's answer to a path that matches no /v1 route
        self.wait_for(lambda: "forged line" in self.daemon.log_text(), 5, "the access line")
        lines = self.daemon.log_text().splitlines()
        self.assertFalse([l for l in lines if l.startswith("[2030-01-01")], "a client forged a log line")
        self.assertTrue([l for l in lines if "x\\n[2030-01-01" in l and "\\x1b[31m" in l], "escaped path not logged")
        self.assertFalse([l for l in lines if "\x1b" in l])

    def test_hostile_configs_are_refused_and_change_nothing(self):
        before = self.get("/v1/models/affine/config").body
        groups = ", ".join(["{kind: cpu, count: 256}"] * 1000)  # a quarter million threads
        self.assertError(self.req("PUT", "/v1/models/affine/config", f"instances: [{groups}]"), 400,
                         "at most 256 instances per model")
        self.assertError(self.req("PUT", "/v1/models/affine/config", "# " + "x" * (2 << 20)), 413)
        self.assertEqual(self.get("/v1/models/affine/config").body, before)
        self.assertAlive()
        # The largest timeout means no deadline (it overflowed into the past and made every request 504 before),
        # as does a request's own X-Request-Timeout-Us past what the clock holds.
        self.assertStatus(self.req("PUT", "/v1/models/affine/config",
                                   "max_batch_size: 8\ndefault_timeout_us: 9223372036854775807\n"), 200)
        self.assertAlive()
        r = self.post("/v1/models/affine:predict", {"instances": X3}, headers={"X-Request-Timeout-Us": "9223372036854775"})
        self.assertValues(self.assertOkJson(r)["predictions"], affine_expect(X3))
        self.assertStatus(self.req("PUT", "/v1/models/affine/config", before), 200)

    def test_repository_operations_run_on_a_bounded_pool(self):
        # 48 config edits at once: they serialize on the repository, and before, each waited on a thread of its own.
        pid = self.daemon.proc.pid
        config = self.get("/v1/models/affine/config").body
        statuses = []
        peak = [proc_status(pid, "Threads")]
        base = peak[0]
        done = threading.Event()

        def sample():
            while not done.is_set():
                peak[0] = max(peak[0], proc_status(pid, "Threads"))
                time.sleep(0.002)

        def upload(i):
            statuses.append(self.req("PUT", "/v1/models/affine/config", config).status)

        sampler = threading.Thread(target=sample)
        sampler.start()
        run_concurrently(upload, 48)
        done.set()
        sampler.join()
        print(f"\n  48 concurrent config edits: {base} threads before, at most {peak[0]} during", flush=True)
        self.assertTrue(set(statuses) <= {200, 503}, statuses)
        self.assertIn(200, statuses)
        self.assertLessEqual(peak[0] - base, 4, "repository operations started threads of their own")
        self.assertAlive()

    def test_management_needs_a_local_host_and_no_cross_site_origin(self):
        # A web page reaching 127.0.0.1 through DNS rebinding (Host: evil.example) or a cross-site form post
        # (Origin, Sec-Fetch-Site) must not upload, delete, configure or load models. Inference stays open.
        model = model_bytes("affine")
        port = self.daemon.port
        refused = [
            ("PUT", "/v1/models/evil/versions/1", model, {"Host": f"evil.example:{port}"}),
            ("PUT", "/v1/models/evil/versions/1", model,
             {"Origin": "http://evil.example", "Content-Type": "text/plain"}),
            ("PUT", "/v1/models/evil/versions/1", model, {"Sec-Fetch-Site": "cross-site"}),
            ("DELETE", "/v1/models/affine/versions/1", None, {"Host": "rebind.example"}),
            ("PUT", "/v1/models/affine/config", "max_batch_size: 1\n", {"Origin": "null"}),
            ("POST", "/v2/repository/models/affine/unload", None, {"Host": "attacker.test"}),
        ]
        before = os.listdir(self.repo)
        for method, path, body, headers in refused:
            with self.subTest(f"{method} {path} {headers}"):
                self.assertError(self.req(method, path, body, headers=headers), 403)
        self.assertEqual(os.listdir(self.repo), before)
        self.assertAlive()
        ok = {"Host": f"localhost:{port}", "Origin": f"http://localhost:{port}", "Sec-Fetch-Site": "same-origin"}
        self.assertStatus(self.req("POST", "/v2/repository/index", headers=ok), 200)
        r = self.post("/v1/models/affine:predict", {"instances": X3}, headers={"Host": "anything.example"})
        self.assertValues(self.assertOkJson(r)["predictions"], affine_expect(X3))

    def test_errors_do_not_reveal_the_repository_path(self):
        # A hand-copied config.yaml far too large to read: the error names it inside the repository only.
        model_dir = os.path.join(self.repo, "pathleak")
        os.makedirs(os.path.join(model_dir, "1"))
        with open(os.path.join(model_dir, "config.yaml"), "w") as f:
            f.write("#" + "x" * (2 << 20) + "\n")
        try:
            r = self.get("/v1/models/pathleak/config")
            self.assertGreaterEqual(r.status, 400)
            self.assertNotIn(self.repo.encode(), r.body)
            self.assertIn(b"<repository>/pathleak/config.yaml", r.body)
        finally:
            shutil.rmtree(model_dir)

    def test_a_hand_broken_config_is_reported_and_the_server_stays_up(self):
        # Copied in by hand: a config.yaml that does not parse. The model cannot be served and says why; the
        # server and its other models go on.
        model_dir = os.path.join(self.repo, "handbroken")
        os.makedirs(os.path.join(model_dir, "1"))
        with open(os.path.join(model_dir, "1", "model.onnx"), "wb") as f:
            f.write(model_bytes("affine"))
        with open(os.path.join(model_dir, "config.yaml"), "w") as f:
            f.write("instances: [" + ", ".join(["{count: 256}"] * 10) + "]\n")
        try:
            self.assertError(self.post("/v2/repository/models/handbroken/load"), 400, "at most 256 per model")
            js = self.assertOkJson(self.get("/v1/models/handbroken"), 503)
            self.assertIn("at most 256 per model", js["error"])
            self.assertNotIn(self.repo, js["error"])
            self.assertAlive()
        finally:
            shutil.rmtree(model_dir)
            self.post("/v2/repository/models/handbroken/unload")

    def test_upload_flood_streams_to_disk(self):
        # Four 48 MB uploads at once: streamed to spool files, never held in memory. They are not models (a gzip
        # magic, then junk), so each is refused and nothing is left in the repository.
        pid = self.daemon.proc.pid
        junk = b"\x1f\x8b\x08\x00" + os.urandom(1 << 20) * 48
        statuses = []

        def upload(i):
            statuses.append(self.req("PUT", f"/v1/models/flood{i}/versions/1", junk, timeout=120).status)

        grown_mib = self.anon_growth_mib("upload flood (4 x 48 MB)", upload, 4)
        print(f"  upload flood: VmHWM {proc_status(pid, 'VmHWM') / 1024:.0f} MiB", flush=True)
        self.assertEqual(statuses, [400] * 4)
        self.assertLess(grown_mib, 48, "uploads were buffered in memory")
        self.assertEqual([n for n in os.listdir(self.repo) if n.startswith(".")], [".keep-me"],
                         "spool or staging files left")
        self.assertAlive()


class DescriptorExhaustionTest(DaemonCase):
    """At the open-files limit the accept loop backs off instead of spinning, and serves again afterwards."""

    OPEN_FILES = 128

    @classmethod
    def populate(cls, repo):
        place_version(repo, "affine", 1, "affine")

    @classmethod
    def make_daemon(cls):
        config = os.path.join(cls.work, "ferryd.yaml")
        with open(config, "w") as f:
            f.write("max_connections: 1000\nidle_timeout_seconds: 60\nhttp_threads: 1\n")
        return Daemon(cls.repo, cls.work, ["--config", config], open_files=cls.OPEN_FILES)

    def test_accept_backs_off_at_the_descriptor_limit(self):
        pid = self.daemon.proc.pid
        held = []
        for _ in range(self.OPEN_FILES + 40):
            held.append(socket.create_connection(("127.0.0.1", self.daemon.port), timeout=5))
        time.sleep(0.5)  # the server runs out of descriptors and starts backing off
        before, t0 = cpu_seconds(pid), time.monotonic()
        time.sleep(2)
        used = (cpu_seconds(pid) - before) / (time.monotonic() - t0)
        print(f"\n  at the descriptor limit: {used * 100:.1f}% of a core", flush=True)
        self.assertLess(used, 0.25, "the accept loop spins at the descriptor limit")
        for s in held:
            s.close()
        self.wait_for(lambda: self.get("/v2/health/live", timeout=5).status == 200, 15, "serving again")
        self.assertValues(self.predict("affine", {"instances": X3})["predictions"], affine_expect(X3))
        self.assertEqual(self.daemon.log_text().count("backing off"), 1, self.daemon.log_tail())
