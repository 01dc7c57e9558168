"""Dynamic batching, metrics and statistics over real HTTP (issue 4): concurrent clients on a model with
dynamic_batching form batches larger than one request (seen in /metrics and /v2/models/stats), every response
holds exactly its own rows (y = 2x + 1, computed by hand), batching settings and instance counts change through
PUT /v1/models/{m}/config under load without a failed request, queue deadlines answer 504, and the queue bound
answers 503 with Retry-After."""

import json
import re
import threading
import time

from daemon_harness import CONFIG, DaemonCase, affine_expect, place_version

BATCHING = "max_batch_size: 16\ndynamic_batching: {max_queue_delay_us: 20000}\n"


def metric(text, name, labels):
    """The value of one sample of the exposition, or None."""
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    for line in text.splitlines():
        if line.startswith(f"{name}{{{want}}} ") or (not labels and line.startswith(name + " ")):
            return float(line.rsplit(" ", 1)[1])
    return None


class BatchingTest(DaemonCase):
    @classmethod
    def populate(cls, repo):
        place_version(repo, "affine", 1, "affine", config=BATCHING)
        place_version(repo, "slow", 1, "slow", config="max_batch_size: 4096\nmax_queue_size: 2\n")

    def hammer(self, clients, per_client, during=None):
        """Each client sends `per_client` predicts with its own rows; returns (failures, wrong answers)."""
        failures, wrong = [], []

        def client(c):
            for i in range(per_client):
                rows = [[float(c), float(i), float(c * 100 + i)]] * (1 + (c + i) % 3)
                r = self.post("/v1/models/affine:predict", json.dumps({"instances": rows}))
                if r.status != 200:
                    failures.append(r)
                    continue
                got = r.json()["predictions"]
                if got != affine_expect(rows):
                    wrong.append((rows, got))

        threads = [threading.Thread(target=client, args=(c,)) for c in range(clients)]
        for t in threads:
            t.start()
        if during:
            during()
        for t in threads:
            t.join()
        return failures, wrong

    def test_concurrent_requests_form_batches(self):
        before = self.get("/v2/models/affine/stats").json()["model_stats"][0]
        failures, wrong = self.hammer(clients=12, per_client=15)
        self.assertEqual(failures, [], "failed requests")
        self.assertEqual(wrong, [], "responses with someone else's rows")
        text = self.get("/metrics").body.decode()
        count = metric(text, "ferry_batch_size_count", {"model": "affine", "version": "1"})
        total = metric(text, "ferry_batch_size_sum", {"model": "affine", "version": "1"})
        self.assertIsNotNone(count, text[:2000])
        ones = metric(text, "ferry_batch_size_bucket", {"model": "affine", "version": "1", "le": "1"})
        self.assertLess(ones, count, "every batch had one row: no batching happened")
        self.assertGreater(total / count, 1.5, "mean batch size")
        ok = metric(text, "ferry_requests_total", {"protocol": "tfs", "model": "affine", "version": "1", "code": "200"})
        self.assertGreaterEqual(ok, 180)
        for name in ("process_resident_memory_bytes", "process_cpu_seconds_total", "process_open_fds"):
            self.assertGreater(metric(text, name, {}) or 0, 0, name)
        self.assertIsNotNone(metric(text, "ferry_model_memory_bytes",
                                    {"model": "affine", "version": "1", "device": "cpu", "kind": "weights"}))
        # The instances' planned memory is on the device they run on: the CPU, or the GPU a model without
        # instances in its config goes to.
        device = CONFIG["gpus"][0] if CONFIG["gpus"] else "cpu"
        self.assertGreater(metric(text, "ferry_model_memory_bytes", {"model": "affine", "version": "1",
                                                                      "device": device,
                                                                      "kind": "planned_intermediates"}) or 0, 0,
                           device)
        self.assertIsNotNone(re.search(r'^ferry_queue_duration_seconds_count\{model="affine",version="1"\} \d+',
                                       text, re.M))
        after = self.get("/v2/models/affine/stats").json()["model_stats"][0]
        self.assertEqual(after["name"], "affine")
        self.assertEqual(after["version"], "1")
        requests = after["inference_stats"]["success"]["count"] - before["inference_stats"]["success"]["count"]
        executions = after["execution_count"] - before["execution_count"]
        self.assertEqual(requests, 180)
        self.assertLess(executions, requests, "the statistics extension shows no batching")
        self.assertTrue(any(b["batch_size"] > 3 for b in after["batch_stats"]), after["batch_stats"])
        # memory_usage by device: the CPU always (the host copy of the weights), and the GPU the instances run on,
        # which holds its copy of the weights its nodes read (x * 2 there when only some ops run on it: 4 of the 8
        # bytes) and its planned memory.
        memory = {(m["type"], m["id"]): m["byte_size"] for m in after["memory_usage"]}
        self.assertGreater(memory.get(("CPU", 0), 0), 0, after["memory_usage"])
        if CONFIG["gpus"]:
            self.assertGreater(memory.get(("GPU", 0), 0), 0, after["memory_usage"])
            weights = metric(text, "ferry_model_memory_bytes",
                             {"model": "affine", "version": "1", "device": CONFIG["gpus"][0], "kind": "weights"})
            host = metric(text, "ferry_model_memory_bytes",
                          {"model": "affine", "version": "1", "device": "cpu", "kind": "weights"})
            self.assertTrue(weights and 0 < weights <= host, (weights, host))
        rows = sum(1 + (c + i) % 3 for c in range(12) for i in range(15))
        self.assertEqual(after["inference_count"] - before["inference_count"], rows)
        all_stats = self.get("/v2/models/stats").json()["model_stats"]
        self.assertEqual(sorted(s["name"] for s in all_stats), ["affine", "slow"])
        self.assertEqual(self.get("/v2/models/nope/stats").status, 404)

    def test_settings_change_under_load_fails_no_request(self):
        configs = [
            "max_batch_size: 16\n",  # batching off
            "max_batch_size: 16\ndynamic_batching: {max_queue_delay_us: 0, preferred_batch_sizes: [4, 8]}\n"
            "instances: [{kind: cpu, count: 2}]\n",
            "max_batch_size: 8\ndynamic_batching: {max_queue_delay_us: 5000}\n",
            BATCHING,
        ]
        changed = []

        def retune():
            for cfg in configs:
                time.sleep(0.15)
                r = self.req("PUT", "/v1/models/affine/config", cfg)
                changed.append(r.status)

        failures, wrong = self.hammer(clients=8, per_client=40, during=retune)
        self.assertEqual(changed, [200] * len(configs))
        self.assertEqual(failures, [], "failed requests while retuning")
        self.assertEqual(wrong, [])
        self.assertEqual(self.version_states("affine"), {1: "AVAILABLE"})  # tuned, never reloaded
        log = self.daemon.log_text()
        self.assertEqual(log.count("version LOADING model=affine"), 1, "the model was reloaded")

    def test_bad_batching_config_is_refused(self):
        for cfg, code in [("dynamic_batching: {max_queue_delay_us: 10}\n", 400),  # needs max_batch_size
                          ("max_batch_size: 4\ndynamic_batching: {preferred_batch_sizes: [8]}\n", 400),
                          ("max_batch_size: 4\ninstances: [{kind: tpu, count: 1}]\n", 400),
                          ("max_batch_size: 4\ninstances: [{kind: cpu, count: 1, gpus: [0]}]\n", 400),
                          # Without a GPU, kind gpu is not implemented here (501); with n of them, gpu n is not one.
                          (f"max_batch_size: 4\ninstances: [{{kind: gpu, count: 1, gpus: [{len(CONFIG['gpus'])}]}}]\n",
                           400 if CONFIG["gpus"] else 501)]:
            r = self.req("PUT", "/v1/models/affine/config", cfg)
            self.assertError(r, code, what=cfg)

    def test_rows_over_max_batch_size(self):
        rows = [[1.0, 2.0, 3.0]] * 17
        self.assertError(self.post("/v1/models/affine:predict", json.dumps({"instances": rows})), 400,
                         "max_batch_size of 16")

    def test_deadline_and_queue_bound(self):
        # One slow request occupies the only instance; the next waits past its 1 ms deadline (504), and with
        # max_queue_size 2 a fourth waiting request is refused (503, Retry-After).
        n = 2048 * 1024
        header = json.dumps({"inputs": [{"name": "x", "datatype": "FP32", "shape": [2048, 1024],
                                         "parameters": {"binary_data_size": 4 * n}}],
                             "outputs": [{"name": "y", "parameters": {"binary_data": True}}]}).encode()
        big = header + b"\x00\x00\x00\x3f" * n  # 0.5f, little-endian
        results = {}

        def slow():
            results["slow"] = self.post("/v2/models/slow/infer", big, timeout=120,
                                        headers={"Inference-Header-Content-Length": str(len(header))})

        t = threading.Thread(target=slow)
        t.start()
        # Wait until the slow request is in the daemon (in flight beside the scrape itself), then a little for it
        # to be decoded and started: its compute takes over a second.
        self.wait_for(lambda: metric(self.get("/metrics").body.decode(), "ferry_inflight_requests", {}) >= 2,
                      what="the slow request arrived")
        time.sleep(0.2)
        small = json.dumps({"inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 1024], "data": [1.0] * 1024}]})
        late = {}

        def waiter(name, headers):
            late[name] = self.post("/v2/models/slow/infer", small, headers=headers)

        w1 = threading.Thread(target=waiter, args=("deadline", {"X-Request-Timeout-Us": "1000"}))
        w2 = threading.Thread(target=waiter, args=("patient", {}))
        w1.start()
        w2.start()
        time.sleep(0.1)
        third = self.post("/v2/models/slow/infer", small)
        t.join()
        w1.join()
        w2.join()
        self.assertStatus(results["slow"], 200)
        self.assertError(late["deadline"], 504)
        self.assertStatus(late["patient"], 200)
        if third.status != 200:  # the queue may have drained already on a fast machine
            self.assertError(third, 503)
            self.assertEqual(third.headers.get("retry-after"), "1")
