"""Model bombs and leftovers on a live daemon (issue 9, "bounded by construction" and "leave nothing behind").

ModelBombsTest: models of a few hundred bytes that declare gigabytes (an initializer of 2^30 floats carrying 4
bytes; ConstantOfShape, Expand, Range and Tile whose outputs take 4 GiB; shapes whose element count overflows
int64; a Range with a NaN step) are uploaded to a daemon whose address space is capped (RLIMIT_AS), so that an
attempt to take the memory fails instead of swapping. Each upload must be refused (4xx with a message) or leave a
FAILED version with a message (TF Serving shows it as END with an error_message); ferryd stays up, its peak
resident memory stays far below the 4 GiB declared, and the model beside keeps serving.

EndedVersionsTest: 20 versions uploaded, served once and deleted, one after the other. Every ended version's
series leave /metrics, and the status keeps at most the 4 most recent END entries.

The models are written here with the onnx package (no checker: the bombs are invalid on purpose)."""

import os
import sys
import unittest

from daemon_harness import CONFIG, Daemon, DaemonCase, place_version

try:
    from onnx import TensorProto, helper
except ImportError:  # daemon_test.py already exits 77 without python3-onnx
    helper = None

MiB = 1 << 20
GiB = 1 << 30
# Address space of the daemon under test: anything near a 4 GiB tensor fails to map. Its threads reserve stacks
# they barely touch (8 MiB each, a few per core) and malloc arenas (64 MiB each, limited to 2 by the shim), so the
# cap sits well above its resident memory (about 20 MiB resident in 600 MiB of address space on 2 cores).
ADDRESS_SPACE = 3 * GiB + 16 * MiB * (os.cpu_count() or 1)
X4 = [[1.0, 2.0, 3.0, 4.0], [-0.5, 0.25, 8.0, -3.0]]  # add{k} input


def proc_status_kib(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise AssertionError(f"no {key} in /proc/{pid}/status")


def bomb_model(name, nodes, initializers, rank):
    """x float [1] -> Identity -> y, beside `nodes` over `initializers` whose output z (float, of `rank` symbolic
    dims) is a graph output."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])
    graph_outputs = [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1]),
                     helper.make_tensor_value_info("z", TensorProto.FLOAT, [f"d{i}" for i in range(rank)])]
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"], name="id")] + nodes, name, [x],
                              graph_outputs, initializer=initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="bombs")
    model.ir_version = 7
    return model.SerializeToString()


def scalar(name, elem_type, value):
    return helper.make_tensor(name, elem_type, [], [value])


def vector(name, values):
    return helper.make_tensor(name, TensorProto.INT64, [len(values)], values)


def declared_but_missing():
    """An initializer that declares 2^30 floats (4 GiB) and carries 4 bytes, added to x."""
    t = TensorProto()
    t.name = "w"
    t.data_type = TensorProto.FLOAT
    t.dims.extend([1 << 30])
    t.raw_data = b"\0\0\0\0"
    return bomb_model("declared", [helper.make_node("Add", ["x", "w"], ["z"], name="add")], [t], 1)


def constant_of_shape(dims):
    return bomb_model("cos", [helper.make_node("ConstantOfShape", ["n"], ["z"], name="fill",
                                               value=helper.make_tensor("v", TensorProto.FLOAT, [1], [1.0]))],
                      [vector("n", dims)], len(dims))


def expand(dims):
    return bomb_model("expand", [helper.make_node("Expand", ["one", "n"], ["z"], name="expand")],
                      [helper.make_tensor("one", TensorProto.FLOAT, [1], [1.0]), vector("n", dims)], len(dims))


def float_range(start, limit, delta):
    return bomb_model("range", [helper.make_node("Range", ["s", "l", "d"], ["z"], name="range")],
                      [scalar("s", TensorProto.FLOAT, start), scalar("l", TensorProto.FLOAT, limit),
                       scalar("d", TensorProto.FLOAT, delta)], 1)


def tile(repeats):
    return bomb_model("tile", [helper.make_node("Tile", ["four", "r"], ["z"], name="tile")],
                      [helper.make_tensor("four", TensorProto.FLOAT, [4], [1.0, 2.0, 3.0, 4.0]),
                       vector("r", [repeats])], 1)


def built_with_asan(path):
    """True for a ferryd built with AddressSanitizer (.ci/sanitize.sh), whose shadow memory reserves terabytes of
    address space at start: no RLIMIT_AS can hold it."""
    with open(path, "rb") as f:
        return b"__asan_init" in f.read()


class CappedDaemon(Daemon):
    """ferryd exec'd by a small Python shim that first sets RLIMIT_AS and MALLOC_ARENA_MAX (the pid stays
    ferryd's)."""

    def argv(self, port):
        shim = ("import os, resource, sys; "
                "resource.setrlimit(resource.RLIMIT_AS, (int(sys.argv[1]), int(sys.argv[1]))); "
                "os.environ['MALLOC_ARENA_MAX'] = '2'; "
                "os.execv(sys.argv[2], sys.argv[2:])")
        return [sys.executable, "-c", shim, str(ADDRESS_SPACE)] + super().argv(port)


@unittest.skipIf(helper is None, "python3-onnx missing")
class ModelBombsTest(DaemonCase):

    @classmethod
    def setUpClass(cls):
        if built_with_asan(CONFIG["ferryd"]):
            raise unittest.SkipTest("ferryd is built with AddressSanitizer, which cannot run under RLIMIT_AS")
        super().setUpClass()

    @classmethod
    def populate(cls, repo):
        place_version(repo, "good", 1, "add4")

    @classmethod
    def make_daemon(cls):
        return CappedDaemon(cls.repo, cls.work, cls.daemon_args(cls.work))

    def outcome(self, model, body):
        """Uploads `body` as version 1 of `model`: ("refused", message) for a 4xx, ("failed", message) for a
        version that ends FAILED. Fails the test on anything else (a 5xx, a version that loads, a crash)."""
        r = self.req("PUT", f"/v1/models/{model}/versions/1", body, {"Content-Type": "application/octet-stream"})
        self.assertTrue(self.daemon.alive(), f"{model}: ferryd died on the upload:\n{self.daemon.log_tail()}")
        if 400 <= r.status < 500:
            return "refused", self.assertError(r, r.status, what=model)
        self.assertIn(r.status, (200, 201), f"{model}: {r!r}")

        def settled():
            s = self.get(f"/v1/models/{model}")
            if s.status != 200:
                return None
            (v,) = s.json()["model_version_status"]
            return v if v["state"] not in ("LOADING", "START") else None

        v = self.wait_for(settled, timeout=60, what=f"{model} settles")
        self.assertEqual(v["state"], "END", f"{model}: {v!r}")  # FAILED shows as END with an error
        self.assertTrue(v["status"]["error_message"], f"{model}: a failed version without a message: {v!r}")
        return "failed", v["status"]["error_message"]

    def test_bombs_are_refused_and_the_daemon_keeps_serving(self):
        pid = self.daemon.proc.pid
        with open(f"/proc/{pid}/limits") as f:
            (line,) = [l for l in f if l.startswith("Max address space")]
        self.assertEqual(line.split()[3:5], [str(ADDRESS_SPACE)] * 2, "the daemon runs without its RLIMIT_AS")
        cases = [
            ("declared", declared_but_missing(), None),
            ("cos4g", constant_of_shape([1 << 30]), None),
            ("expand4g", expand([1 << 30]), None),
            ("range4g", float_range(0.0, float(1 << 30), 1.0), None),
            ("tile4g", tile(1 << 28), None),
            # Element counts past int64 and the kernels' 2^40 cap: refused by the shape check, naming the node.
            ("cos_overflow", constant_of_shape([1 << 40, 1 << 40]), "too large"),
            ("expand_overflow", expand([1 << 40, 1 << 40]), "too large"),
            ("tile_overflow", tile(1 << 62), "too large"),
            ("range_nan", float_range(0.0, 4.0, float("nan")), "delta must be nonzero and all inputs finite"),
            ("range_huge", float_range(0.0, 1e30, 1e-30), "Range: output would have"),
        ]
        for model, body, want in cases:
            with self.subTest(model=model):
                self.assertLess(len(body), 400, f"{model} is not a small model")
                kind, message = self.outcome(model, body)
                print(f"\n  {model} ({len(body)} bytes): {kind}: {message}", flush=True)
                if want is not None:
                    self.assertIn(want, message, model)
                # Nothing of the bombs is served, and the model beside still answers with add4's values.
                r = self.post(f"/v1/models/{model}:predict", {"instances": [[1.0]]})
                self.assertGreaterEqual(r.status, 400, f"{model} serves: {r!r}")
                js = self.predict("good", {"instances": X4})
                self.assertEqual(js["predictions"], [[v + 4 for v in row] for row in X4], model)
        self.assertTrue(self.daemon.alive())
        peak = proc_status_kib(pid, "VmHWM") * 1024
        print(f"  peak resident memory after the bombs: {peak / MiB:.0f} MiB", flush=True)
        # Each bomb declares 4 GiB or more; the daemon's own footprint is tens of MiB.
        self.assertLess(peak, 512 * MiB)
        self.assertEqual(self.get("/metrics").status, 200)


def series_of(metrics_text, model):
    return [l for l in metrics_text.splitlines() if not l.startswith("#") and f'model="{model}"' in l]


@unittest.skipIf(helper is None, "python3-onnx missing")
class EndedVersionsTest(DaemonCase):

    @classmethod
    def populate(cls, repo):
        place_version(repo, "steady", 1, "add1")

    def test_deleted_versions_leave_no_series_and_bounded_status(self):
        add2 = open(os.path.join(CONFIG["models"], "add2.onnx"), "rb").read()
        counts = []
        for v in range(1, 21):
            r = self.req("PUT", f"/v1/models/churn/versions/{v}", add2, {"Content-Type": "application/octet-stream"})
            self.assertIn(r.status, (200, 201), f"upload {v}: {r!r}")
            self.wait_for(lambda: self.version_states("churn").get(v) == "AVAILABLE", what=f"churn/{v} AVAILABLE")
            js = self.predict("churn", {"instances": X4}, f"/versions/{v}")
            self.assertEqual(js["predictions"], [[x + 2 for x in row] for row in X4])
            during = series_of(self.get("/metrics").body.decode(), "churn")
            self.assertTrue(any(f'version="{v}"' in l for l in during), f"no series of churn/{v} while it serves")
            self.assertStatus(self.req("DELETE", f"/v1/models/churn/versions/{v}"), 200, f"delete {v}")
            self.wait_for(lambda: self.version_states("churn").get(v) in (None, "END"), what=f"churn/{v} ended")
            left = series_of(self.get("/metrics").body.decode(), "churn")
            counts.append(len(left))
            self.assertEqual(left, [], f"series of deleted versions of churn after version {v}")
            states = self.version_states("churn")
            self.assertLessEqual(len(states), 4, f"status entries after version {v}: {states}")
            self.assertTrue(all(s == "END" for s in states.values()), states)
        # The 4 most recent to end are the ones listed.
        self.assertEqual(self.version_states("churn"), {17: "END", 18: "END", 19: "END", 20: "END"})
        # The model beside was never touched, and its series are still there.
        self.assertEqual(self.predict("steady", {"instances": X4})["predictions"],
                         [[x + 1 for x in row] for row in X4])
        self.assertTrue(series_of(self.get("/metrics").body.decode(), "steady"))


if __name__ == "__main__":
    unittest.main()
