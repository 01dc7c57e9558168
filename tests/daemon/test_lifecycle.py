"""The daemon's lifecycle: repository polling, hot swap under load, graceful shutdown with a request in flight,
and startup errors (bad config, missing repository, port in use).
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import unittest

from daemon_harness import (CONFIG, DaemonCase, Daemon, TempDir, add_expect, flatten, free_port, http_request,
                            ks_binary_body, ks_parse_response, make_tar, model_bytes, model_file, place_version)

X4 = [[1.0, 2.0, 3.0, 4.0], [-0.5, 0.25, 8.0, -3.0]]


class PollingTest(DaemonCase):

    @classmethod
    def populate(cls, repo):
        place_version(repo, "pm", 1, "add1")
        place_version(repo, "sticky", 1, "add4")

    @classmethod
    def daemon_args(cls, workdir):
        return ["--poll-seconds", "1"]

    def serves(self, model, k):
        r = self.post(f"/v1/models/{model}:predict", {"instances": X4})
        return r.status == 200 and r.json()["predictions"] == add_expect(X4, k)

    def publish(self, model, version, source):
        """Writes the version under a dot name, then renames it into place (how copies are published)."""
        staging = os.path.join(self.repo, model, f".incoming-{version}")
        os.makedirs(staging)
        shutil.copy(model_file(source), os.path.join(staging, "model.onnx"))
        os.rename(staging, os.path.join(self.repo, model, str(version)))

    def test_poll_new_version_then_removal(self):
        self.assertTrue(self.serves("pm", 1))
        self.publish("pm", 2, "add2")
        self.wait_for(lambda: self.serves("pm", 2), 8, "pm version 2 served after the rename")
        self.assertEqual(self.version_states("pm").get(2), "AVAILABLE")
        shutil.rmtree(os.path.join(self.repo, "pm", "2"))
        self.wait_for(lambda: self.version_states("pm").get(2) != "AVAILABLE", 8, "pm version 2 unloaded")
        self.wait_for(lambda: self.serves("pm", 1), 8, "pm version 1 served again")

    def test_poll_new_model(self):
        staging = os.path.join(self.repo, ".newpm")
        place_version(self.repo, ".newpm", 1, "add3")
        time.sleep(1.5)  # a dot-named model is never picked up
        self.assertError(self.get("/v1/models/.newpm"), 404)
        os.rename(staging, os.path.join(self.repo, "newpm"))
        self.wait_for(lambda: self.serves("newpm", 3), 8, "newpm served after the rename")

    def test_poll_unload_sticks(self):
        self.assertTrue(self.serves("sticky", 4))
        self.assertStatus(self.post("/v2/repository/models/sticky/unload"), 200)
        time.sleep(2.5)  # two polls
        self.assertError(self.post("/v1/models/sticky:predict", {"instances": X4}), 404)
        self.assertStatus(self.post("/v2/repository/models/sticky/load"), 200)
        self.assertTrue(self.serves("sticky", 4))


class HotSwapTest(DaemonCase):
    THREADS = 8

    @classmethod
    def populate(cls, repo):
        place_version(repo, "hs", 1, "add1")

    def test_hot_swap_under_load(self):
        port = self.daemon.port
        stop = threading.Event()
        failures = []
        seen = [set() for _ in range(self.THREADS)]
        counts = [0] * self.THREADS
        expected = {k: add_expect(X4, k) for k in (1, 2, 3)}
        ks_body = json.dumps({"inputs": [{"name": "x", "datatype": "FP32", "shape": [2, 4], "data": flatten(X4)}]})

        def client(i):
            while not stop.is_set():
                try:
                    if i % 2:
                        r = http_request(port, "POST", "/v1/models/hs:predict", {"instances": X4}, timeout=30)
                        got = r.json()["predictions"] if r.status == 200 else None
                    else:
                        r = http_request(port, "POST", "/v2/models/hs/infer", ks_body, timeout=30)
                        got = None
                        if r.status == 200:
                            _, outs = ks_parse_response(r)
                            got = [outs["y"][2][:4], outs["y"][2][4:]]
                except Exception as e:  # noqa: BLE001
                    failures.append(f"thread {i}: {type(e).__name__}: {e}")
                    continue
                counts[i] += 1
                match = [k for k, want in expected.items() if got == want]
                if r.status != 200 or not match:
                    failures.append(f"thread {i}: {r!r}")
                else:
                    seen[i].add(match[0])

        threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(self.THREADS)]
        for t in threads:
            t.start()
        try:
            time.sleep(0.7)
            r = self.req("PUT", "/v1/models/hs/versions/2", model_bytes("add2"))
            self.assertEqual(self.assertOkJson(r, 201), {"model": "hs", "version": 2, "state": "AVAILABLE"})
            time.sleep(0.7)
            r = self.post("/v1/models/hs/versions", make_tar([("model.onnx", "file", model_bytes("add3"))], gz=True))
            self.assertEqual(self.assertOkJson(r, 201), {"model": "hs", "version": 3, "state": "AVAILABLE"})
            time.sleep(0.7)
        finally:
            stop.set()
            for t in threads:
                t.join(60)
        print(f"\n  hot swap: {sum(counts)} requests ({counts}), versions seen {sorted(set().union(*seen))}, "
              f"{len(failures)} failed", file=sys.stderr)
        self.assertFalse(failures, f"{len(failures)} failed of {sum(counts)}; first: " + "\n".join(failures[:5]))
        self.assertTrue(all(counts), f"requests per thread: {counts}")
        all_seen = set().union(*seen)
        self.assertIn(3, all_seen, f"versions seen: {all_seen}, requests {counts}")
        self.assertValues(self.predict("hs", {"instances": X4})["predictions"], add_expect(X4, 3))
        self.wait_for(lambda: self.version_states("hs").get(3) == "AVAILABLE" and
                      all(s != "AVAILABLE" for v, s in self.version_states("hs").items() if v != 3), 10,
                      "only version 3 AVAILABLE")


class ShutdownTest(DaemonCase):
    """SIGTERM while a slow request is in flight: the request completes with 200, then ferryd exits 0."""

    @classmethod
    def populate(cls, repo):
        place_version(repo, "slow", 1, "slow")

    def slow_request(self, batch):
        rows = [[((r * 31 + c * 7) % 64) / 8.0 - 4.0 for c in range(1024)] for r in range(batch)]
        header = {"inputs": [{"name": "x", "datatype": "FP32", "shape": [batch, 1024]}],
                  "parameters": {"binary_data_output": True}}
        body, n = ks_binary_body(header, {"x": ("FP32", rows)})
        return body, {"Inference-Header-Content-Length": str(n)}, body[n:]

    def test_graceful_shutdown_with_request_in_flight(self):
        body, headers, raw_in = self.slow_request(64)
        t0 = time.monotonic()
        r = self.post("/v2/models/slow/infer", body, headers=headers)
        t64 = time.monotonic() - t0
        self.assertStatus(r, 200)
        js_len = int(r.headers["inference-header-content-length"])
        self.assertEqual(r.body[js_len:], raw_in, "slow model is the identity")
        batch = max(64, min(2048, int(64 * 1.5 / max(t64, 1e-3)) // 64 * 64))
        body, headers, raw_in = self.slow_request(batch)
        result = {}

        def send():
            try:
                result["resp"] = self.post("/v2/models/slow/infer", body, headers=headers, timeout=120)
            except Exception as e:  # noqa: BLE001
                result["error"] = f"{type(e).__name__}: {e}"
            result["done"] = time.monotonic()

        th = threading.Thread(target=send)
        t_start = time.monotonic()
        th.start()
        time.sleep(min(0.4, 0.25 * t64 * batch / 64))
        t_term = time.monotonic()
        self.daemon.proc.send_signal(signal.SIGTERM)
        # While it drains: either refused connections or 503 for new requests, never a hang.
        time.sleep(0.05)
        try:
            late = self.get("/v2/health/ready", timeout=10)
            self.assertIn(late.status, (503,), f"new request during shutdown: {late!r}")
        except (ConnectionError, OSError):
            pass
        th.join(120)
        print(f"\n  shutdown: batch {batch}, calibration {t64:.3f}s at batch 64, SIGTERM after "
              f"{t_term - t_start:.3f}s, request done after {result['done'] - t_start:.3f}s", file=sys.stderr)
        self.assertNotIn("error", result, result.get("error"))
        resp = result["resp"]
        self.assertStatus(resp, 200, f"in-flight request (batch {batch}, t64 {t64:.3f}s)")
        js_len = int(resp.headers["inference-header-content-length"])
        self.assertEqual(resp.body[js_len:], raw_in)
        self.assertGreater(result["done"], t_term, f"the request finished before SIGTERM (batch {batch}); "
                           "the test did not exercise draining")
        rc = self.daemon.stop(timeout=60)
        self.assertEqual(rc, 0, self.daemon.log_tail())


class StartupTest(unittest.TestCase):
    """Command line and config errors, and starting from a config file; no daemon of its own."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = TempDir("ferry-daemon-startup-")
        cls.repo = os.path.join(cls.tmp.path, "repo")
        place_version(cls.repo, "m", 1, "add1")

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def run_ferryd(self, args, timeout=20):
        try:
            p = subprocess.run([CONFIG["ferryd"]] + args, capture_output=True, timeout=timeout,
                               stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            self.fail(f"ferryd {' '.join(args)} did not exit within {timeout}s")
        return p.returncode, (p.stderr + p.stdout).decode("utf-8", "replace")

    def write(self, name, text):
        path = os.path.join(self.tmp.path, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_unknown_config_key(self):
        cfg = self.write("unknown.yaml", f"model_repository: {self.repo}\nmax_request_byts: 10\n")
        rc, err = self.run_ferryd(["serve", "--config", cfg, "--port", str(free_port())])
        self.assertEqual(rc, 2, err)
        self.assertIn("max_request_byts", err)

    def test_invalid_config_values(self):
        for name, text in (("badyaml.yaml", "port: [\n"), ("badport.yaml", "port: http\n"),
                           ("badlevel.yaml", "log_level: loud\n"), ("badpoll.yaml", "poll_seconds: -1\n")):
            cfg = self.write(name, f"model_repository: {self.repo}\n" + text)
            rc, err = self.run_ferryd(["serve", "--config", cfg, "--port", str(free_port())])
            self.assertEqual(rc, 2, f"{name}: {err}")
            self.assertTrue(err.strip(), f"{name}: no message")

    def test_missing_config_file(self):
        rc, err = self.run_ferryd(["serve", "--config", os.path.join(self.tmp.path, "nope.yaml")])
        self.assertNotEqual(rc, 0, err)
        self.assertTrue(err.strip())

    def test_bad_flags(self):
        rc, err = self.run_ferryd(["serve", "--model-repository", self.repo, "--bogus-flag"])
        self.assertEqual(rc, 2, err)
        rc, err = self.run_ferryd(["serve", "--model-repository", self.repo, "--port", "notaport"])
        self.assertEqual(rc, 2, err)

    def test_missing_repository(self):
        rc, err = self.run_ferryd(["serve", "--model-repository", os.path.join(self.tmp.path, "no_such_repo"),
                                   "--port", str(free_port()), "--host", "127.0.0.1"])
        self.assertEqual(rc, 1, err)
        self.assertIn("no_such_repo", err)

    def test_no_repository_given(self):
        rc, err = self.run_ferryd(["serve", "--port", str(free_port())])
        self.assertNotEqual(rc, 0, err)
        self.assertTrue(err.strip())

    def test_port_in_use(self):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            s.listen(1)
            port = s.getsockname()[1]
            rc, err = self.run_ferryd(["serve", "--model-repository", self.repo, "--port", str(port),
                                       "--host", "127.0.0.1"])
        self.assertEqual(rc, 1, err)
        self.assertTrue(err.strip())

    def test_no_subcommand_serves_and_sigint(self):
        work = os.path.join(self.tmp.path, "nosub")
        os.makedirs(work)
        d = Daemon(self.repo, work, subcommand=False).start()
        try:
            r = d.request("POST", "/v1/models/m:predict", {"instances": X4})
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.json()["predictions"], add_expect(X4, 1))
        finally:
            rc = d.stop(signal.SIGINT)
        self.assertEqual(rc, 0, d.log_tail())

    def test_config_file_and_flag_override(self):
        work = os.path.join(self.tmp.path, "cfgfile")
        os.makedirs(work)
        port = free_port()
        cfg = self.write("serve.yaml", f"model_repository: {self.repo}\nhost: 127.0.0.1\nport: {port}\n"
                                       "poll_seconds: 0\n")
        out = open(os.path.join(work, "log"), "wb")
        p = subprocess.Popen([CONFIG["ferryd"], "serve", "--config", cfg], stdout=out, stderr=out,
                             stdin=subprocess.DEVNULL)
        try:
            ok = False
            for _ in range(200):
                try:
                    ok = http_request(port, "GET", "/v2/health/live", timeout=2).status == 200
                except OSError:
                    pass
                if ok or p.poll() is not None:
                    break
                time.sleep(0.05)
            self.assertTrue(ok, f"not serving on the config file's port {port}")
        finally:
            p.send_signal(signal.SIGTERM)
            rc = p.wait(30)
            out.close()
        self.assertEqual(rc, 0)
        # A flag overrides the file: --model-repository points at another repository.
        other = os.path.join(self.tmp.path, "other_repo")
        place_version(other, "only_here", 1, "add2")
        d = Daemon(other, work, ["--config", cfg]).start()  # --port/--host flags override the file's too
        try:
            r = d.request("POST", "/v1/models/only_here:predict", {"instances": X4})
            self.assertEqual(r.status, 200, r)
            self.assertEqual(d.request("GET", "/v1/models/m").status, 404)
        finally:
            rc = d.stop()
        self.assertEqual(rc, 0, d.log_tail())
