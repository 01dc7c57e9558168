"""Serving endpoints of one daemon over a fixed repository: TF Serving REST (status, metadata, predict) and KServe
v2 (health, metadata, ready, infer JSON and binary, repository extension), with every error class.

Expected values are computed by hand from what each test model computes (make_daemon_models.py), and for the
bundled digits example, by onnxruntime (tests/oracle/ort_run.js).
"""

import http.client
import json
import os
import shutil
import subprocess

from daemon_harness import (CONFIG, DaemonCase, add_expect, affine_expect, flatten, ks_binary_body,
                            ks_parse_response, place_version)

GARBAGE = b"this is not an onnx model \x00\x01\x02" * 8

X3 = [[1.0, 2.0, 3.0], [0.5, -1.25, 4.0]]  # affine input, dyadic so float32 math is exact
X4 = [[1.0, 2.0, 3.0, 4.0], [-0.5, 0.25, 8.0, -3.0]]  # add{k} input
A = [[1.0, 2.0], [-0.5, 3.0], [0.25, 0.0]]
B = [[3.0, 4.0], [2.0, -1.5], [8.0, 5.0]]
SUM = [[a + b for a, b in zip(ra, rb)] for ra, rb in zip(A, B)]
PROD = [[a * b for a, b in zip(ra, rb)] for ra, rb in zip(A, B)]

DT_IN = {
    "i64": ("INT64", [[3, -4], [2 ** 40, 7]]),
    "i32": ("INT32", [[5, 6], [-2, 0]]),
    "f64": ("FP64", [[0.5, 1.5], [-2.25, 1e10]]),
    "u8": ("UINT8", [[0, 254], [7, 100]]),
    "b": ("BOOL", [[True, False], [False, True]]),
}
DT_OUT = {
    "i64_out": ("INT64", [[v * 2 + 1 for v in r] for r in DT_IN["i64"][1]]),
    "i32_out": ("INT32", [[v * 2 + 1 for v in r] for r in DT_IN["i32"][1]]),
    "f64_out": ("FP64", [[v * 2 + 1 for v in r] for r in DT_IN["f64"][1]]),
    "u8_out": ("UINT8", [[v + 1 for v in r] for r in DT_IN["u8"][1]]),
    "b_out": ("BOOL", [[not v for v in r] for r in DT_IN["b"][1]]),
}
TF_DTYPES = {"i64": "DT_INT64", "i32": "DT_INT32", "f64": "DT_DOUBLE", "u8": "DT_UINT8", "b": "DT_BOOL",
             "i64_out": "DT_INT64", "i32_out": "DT_INT32", "f64_out": "DT_DOUBLE", "u8_out": "DT_UINT8",
             "b_out": "DT_BOOL"}

ALL_POLICY = "version_policy: {all: {}}\n"


def ok_status(version):
    return {"version": str(version), "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}


class ServingTest(DaemonCase):

    @classmethod
    def populate(cls, repo):
        place_version(repo, "affine", 1, "affine", config="max_batch_size: 4\n")
        place_version(repo, "two_io", 1, "two_io")
        place_version(repo, "dtypes", 1, "dtypes")
        place_version(repo, "fixed", 1, "fixed")
        os.makedirs(os.path.join(repo, "digits", "1"))
        shutil.copy(os.path.join(CONFIG["source_dir"], "examples/models/digits/1/model.onnx"),
                    os.path.join(repo, "digits", "1", "model.onnx"))
        place_version(repo, "lab", 1, "add1")
        place_version(repo, "lab", 2, "add2", config=ALL_POLICY + "labels: {stable: 1, canary: 2}\n")
        place_version(repo, "latest", 1, "add1")  # default policy: only version 2 is served
        place_version(repo, "latest", 2, "add2")
        place_version(repo, "broken", 1, "add1")
        place_version(repo, "broken", 2, GARBAGE, config=ALL_POLICY)
        place_version(repo, "allbroken", 1, GARBAGE)
        place_version(repo, "unl", 1, "add3")
        place_version(repo, ".hidden", 1, "add1")  # dot entries are ignored

    # ----------------------------------------------------------------------------------------------------------
    # Startup and logs

    def test_ready_line_names_address(self):
        line = self.daemon.ready_line()
        self.assertIn(f"127.0.0.1:{self.daemon.port}", line)
        self.assertIn(self.repo, line)

    def test_access_log_line(self):
        self.assertStatus(self.get("/v2/health/live"), 200)
        self.assertStatus(self.post("/v1/models/affine:predict", {"instances": [[1, 2, 3]]}), 200)
        self.wait_for(lambda: "/v1/models/affine:predict" in self.daemon.log_text(), 5, "access line in the log")

    def test_http_keep_alive_and_chunked(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.daemon.port, timeout=30)
        try:
            for _ in range(3):  # one connection, several requests (tritonclient keeps connections open)
                conn.request("POST", "/v1/models/affine:predict", json.dumps({"instances": X3}))
                r = conn.getresponse()
                body = r.read()
                self.assertEqual(r.status, 200, body)
                self.assertValues(json.loads(body)["predictions"], affine_expect(X3))
            # A chunked request body (curl -T -, streaming clients).
            payload = json.dumps({"instances": X3}).encode()
            conn.putrequest("POST", "/v1/models/affine:predict")
            conn.putheader("Transfer-Encoding", "chunked")
            conn.endheaders()
            for part in (payload[:10], payload[10:]):
                conn.send(b"%x\r\n%s\r\n" % (len(part), part))
            conn.send(b"0\r\n\r\n")
            r = conn.getresponse()
            body = r.read()
            self.assertEqual(r.status, 200, body)
            self.assertValues(json.loads(body)["predictions"], affine_expect(X3))
        finally:
            conn.close()

    def test_model_config_get(self):
        r = self.get("/v1/models/lab/config")
        self.assertStatus(r, 200)
        self.assertIn("application/yaml", r.headers.get("content-type", ""))
        with open(os.path.join(self.repo, "lab", "config.yaml"), "rb") as f:
            self.assertEqual(r.body, f.read())

    # ----------------------------------------------------------------------------------------------------------
    # TF Serving: status

    def test_tfs_status_all_versions(self):
        js = self.assertOkJson(self.get("/v1/models/affine"))
        self.assertEqual(js, {"model_version_status": [ok_status(1)]})
        js = self.assertOkJson(self.get("/v1/models/lab"))
        self.assertEqual(sorted(js["model_version_status"], key=lambda s: s["version"]), [ok_status(1), ok_status(2)])

    def test_tfs_status_one_version(self):
        js = self.assertOkJson(self.get("/v1/models/lab/versions/2"))
        self.assertEqual(js, {"model_version_status": [ok_status(2)]})

    def test_tfs_status_by_label(self):
        js = self.assertOkJson(self.get("/v1/models/lab/labels/stable"))
        self.assertEqual(js, {"model_version_status": [ok_status(1)]})
        js = self.assertOkJson(self.get("/v1/models/lab/labels/canary"))
        self.assertEqual(js, {"model_version_status": [ok_status(2)]})
        self.assertError(self.get("/v1/models/lab/labels/nolabel"), 404)

    def test_tfs_status_unknown(self):
        self.assertError(self.get("/v1/models/nope"), 404, "Could not find any versions of model nope")
        self.assertError(self.get("/v1/models/affine/versions/9"), 404, "Could not find version 9 of model affine")
        self.assertError(self.get("/v1/models/.hidden"), 404)

    def test_tfs_status_failed_version(self):
        js = self.assertOkJson(self.get("/v1/models/broken"))
        by_v = {s["version"]: s for s in js["model_version_status"]}
        self.assertEqual(by_v.get("1"), ok_status(1), js)
        v2 = by_v.get("2")
        self.assertIsNotNone(v2, js)
        self.assertEqual(v2["state"], "END", js)
        self.assertNotEqual(v2["status"]["error_code"], "OK", js)
        self.assertTrue(v2["status"]["error_message"], js)

    def test_tfs_paths_case_insensitive(self):
        js = self.assertOkJson(self.get("/V1/MODELS/affine"))
        self.assertEqual(js, {"model_version_status": [ok_status(1)]})
        js = self.assertOkJson(self.post("/V1/Models/affine:PREDICT", {"instances": X3}))
        self.assertValues(js["predictions"], affine_expect(X3))

    def test_tfs_malformed_paths(self):
        self.assertError(self.get("/v1/models"), 400, "Missing model name in request.")
        self.assertError(self.get("/v1/models/affine/versions/abc"), 400, "Malformed request")
        self.assertError(self.get("/v1/models/affine/version/1"), 400, "Malformed request")
        self.assertError(self.get("/v1/models/affine/versions/1/labels/x"), 400, "Malformed request")

    # ----------------------------------------------------------------------------------------------------------
    # TF Serving: metadata

    def check_tfs_signature(self, js, model, version, inputs, outputs):
        self.assertEqual(js["model_spec"], {"name": model, "signature_name": "", "version": str(version)})
        sig = js["metadata"]["signature_def"]["signature_def"]["serving_default"]
        self.assertEqual(sig["method_name"], "tensorflow/serving/predict")
        for key, want in (("inputs", inputs), ("outputs", outputs)):
            self.assertEqual(sorted(sig[key]), sorted(want), f"{key} of {js}")
            for name, (dtype, dims) in want.items():
                t = sig[key][name]
                self.assertEqual(t["dtype"], dtype, f"{name}: {t}")
                self.assertEqual(t["name"], name, f"{name}: {t}")
                self.assertIs(t["tensor_shape"]["unknown_rank"], False, f"{name}: {t}")
                self.assertEqual([d["size"] for d in t["tensor_shape"]["dim"]], [str(d) for d in dims], f"{name}: {t}")
                for d in t["tensor_shape"]["dim"]:
                    self.assertIn("name", d, t)

    def test_tfs_metadata(self):
        js = self.assertOkJson(self.get("/v1/models/two_io/metadata"))
        self.check_tfs_signature(js, "two_io", 1, {"a": ("DT_FLOAT", [-1, 2]), "b": ("DT_FLOAT", [-1, 2])},
                                 {"sum": ("DT_FLOAT", [-1, 2]), "prod": ("DT_FLOAT", [-1, 2])})
        js = self.assertOkJson(self.get("/v1/models/dtypes/metadata"))
        self.check_tfs_signature(js, "dtypes", 1, {n: (TF_DTYPES[n], [-1, 2]) for n in DT_IN},
                                 {n: (TF_DTYPES[n], [-1, 2]) for n in DT_OUT})
        js = self.assertOkJson(self.get("/v1/models/fixed/metadata"))
        self.check_tfs_signature(js, "fixed", 1, {"x": ("DT_FLOAT", [2, 3])}, {"y": ("DT_FLOAT", [2, 3])})
        js = self.assertOkJson(self.get("/v1/models/digits/metadata"))
        self.check_tfs_signature(js, "digits", 1, {"pixels": ("DT_FLOAT", [-1, 64])},
                                 {"probabilities": ("DT_FLOAT", [-1, 10]), "label": ("DT_INT64", [-1])})

    def test_tfs_metadata_by_version_and_label(self):
        sig_in, sig_out = {"x": ("DT_FLOAT", [-1, 4])}, {"y": ("DT_FLOAT", [-1, 4])}
        js = self.assertOkJson(self.get("/v1/models/lab/versions/1/metadata"))
        self.check_tfs_signature(js, "lab", 1, sig_in, sig_out)
        js = self.assertOkJson(self.get("/v1/models/lab/labels/canary/metadata"))
        self.check_tfs_signature(js, "lab", 2, sig_in, sig_out)
        js = self.assertOkJson(self.get("/v1/models/lab/metadata"))
        self.check_tfs_signature(js, "lab", 2, sig_in, sig_out)  # latest

    def test_tfs_metadata_unknown(self):
        self.assertError(self.get("/v1/models/nope/metadata"), 404, "Servable not found for request: Latest(nope)")
        self.assertError(self.get("/v1/models/lab/versions/7/metadata"), 404,
                         "Servable not found for request: Specific(lab, 7)")
        self.assertError(self.get("/v1/models/lab/labels/nolabel/metadata"), 404,
                         "Unrecognized servable version label: nolabel")

    # ----------------------------------------------------------------------------------------------------------
    # TF Serving: predict

    def test_tfs_predict_row_single(self):
        js = self.predict("affine", {"instances": X3})
        self.assertEqual(list(js), ["predictions"])
        self.assertValues(js["predictions"], affine_expect(X3))
        js = self.predict("affine", {"signature_name": "serving_default", "instances": [X3[0]]})
        self.assertValues(js["predictions"], affine_expect([X3[0]]))

    def test_tfs_predict_columnar_single(self):
        js = self.predict("affine", {"inputs": X3})
        self.assertEqual(list(js), ["outputs"])
        self.assertValues(js["outputs"], affine_expect(X3))
        js = self.predict("affine", {"inputs": {"x": X3}})
        self.assertValues(js["outputs"], affine_expect(X3))

    def test_tfs_predict_row_multi(self):
        inst = [{"a": a, "b": b} for a, b in zip(A, B)]
        js = self.predict("two_io", {"instances": inst})
        self.assertEqual(len(js["predictions"]), len(A), js)
        for i, p in enumerate(js["predictions"]):
            self.assertEqual(sorted(p), ["prod", "sum"], js)
            self.assertValues(p["sum"], SUM[i], f"sum[{i}]")
            self.assertValues(p["prod"], PROD[i], f"prod[{i}]")

    def test_tfs_predict_columnar_multi(self):
        js = self.predict("two_io", {"inputs": {"a": A, "b": B}})
        self.assertEqual(sorted(js["outputs"]), ["prod", "sum"], js)
        self.assertValues(js["outputs"]["sum"], SUM, "sum")
        self.assertValues(js["outputs"]["prod"], PROD, "prod")

    def test_tfs_predict_dtypes(self):
        js = self.predict("dtypes", {"inputs": {n: v for n, (_, v) in DT_IN.items()}})
        for n, (_, want) in DT_OUT.items():
            self.assertValues(js["outputs"][n], want, n)
        rows = [{n: v[i] for n, (_, v) in DT_IN.items()} for i in range(2)]
        js = self.predict("dtypes", {"instances": rows})
        for i in range(2):
            for n, (_, want) in DT_OUT.items():
                self.assertValues(js["predictions"][i][n], want[i], f"{n}[{i}]")

    def test_tfs_predict_fixed_shape(self):
        x = [[1.0, 2.0, 3.0], [4.0, 5.5, -6.0]]
        js = self.predict("fixed", {"inputs": x})
        self.assertValues(js["outputs"], [[v - 1 for v in r] for r in x])
        self.assertError(self.post("/v1/models/fixed:predict", {"inputs": [[1.0, 2.0, 3.0]]}), 400)

    def test_tfs_predict_by_version_and_label(self):
        for sel, k in (("/versions/1", 1), ("/versions/2", 2), ("/labels/stable", 1), ("/labels/canary", 2),
                       ("", 2)):
            js = self.predict("lab", {"instances": X4}, sel)
            self.assertValues(js["predictions"], add_expect(X4, k), f"lab{sel}")

    def test_tfs_predict_default_policy_serves_latest(self):
        js = self.predict("latest", {"instances": X4})
        self.assertValues(js["predictions"], add_expect(X4, 2))
        self.assertEqual(self.version_states("latest").get(2), "AVAILABLE")
        self.assertError(self.post("/v1/models/latest/versions/1:predict", {"instances": X4}), 404,
                         "Servable not found for request: Specific(latest, 1)")

    def test_tfs_predict_failed_version_is_503(self):
        self.assertError(self.post("/v1/models/broken/versions/2:predict", {"instances": X4}), 503)
        js = self.predict("broken", {"instances": X4})  # the latest AVAILABLE version
        self.assertValues(js["predictions"], add_expect(X4, 1))

    def test_tfs_predict_unknown(self):
        body = {"instances": X3}
        self.assertError(self.post("/v1/models/nope:predict", body), 404, "Servable not found for request: Latest(nope)")
        self.assertError(self.post("/v1/models/affine/versions/9:predict", body), 404,
                         "Servable not found for request: Specific(affine, 9)")
        # Contract: 404. TF Serving's code answers 400 for an unknown label (server_core.cc:891).
        self.assertError(self.post("/v1/models/lab/labels/nolabel:predict", {"instances": X4}), 404,
                         "Unrecognized servable version label: nolabel")
        self.assertError(self.post("/v1/models/.hidden:predict", {"instances": X4}), 404)

    def test_tfs_predict_bad_json(self):
        self.assertError(self.post("/v1/models/affine:predict", b"{\"instances\": [[1, 2, 3]"), 400)
        self.assertError(self.post("/v1/models/affine:predict", b""), 400)
        self.assertError(self.post("/v1/models/affine:predict", b"[1, 2]"), 400)
        # JSON is checked before the model lookup (TF Serving's order).
        self.assertError(self.post("/v1/models/nope:predict", b"{not json"), 400)

    def test_tfs_predict_bad_requests(self):
        post = lambda m, b: self.post(f"/v1/models/{m}:predict", b)  # noqa: E731
        self.assertError(post("affine", {"instances": [[1.0, 2.0]]}), 400, what="wrong shape")
        self.assertError(post("affine", {"instances": [[1.0, 2.0, 3.0], [1.0, 2.0]]}), 400, what="ragged")
        self.assertError(post("affine", {"instances": [["a", "b", "c"]]}), 400, what="strings for float")
        self.assertError(post("affine", {"inputs": [[[1.0, 2.0, 3.0]]]}), 400, what="wrong rank")
        self.assertError(post("affine", {"instances": X3, "inputs": X3}), 400, what="both keys")
        self.assertError(post("affine", {"foo": X3}), 400, "Missing 'inputs' or 'instances' key")
        self.assertError(post("affine", {"instances": []}), 400, what="empty instances")
        self.assertError(post("affine", {"signature_name": "other", "instances": X3}), 400, what="signature")
        self.assertError(post("dtypes", {"inputs": {**{n: v for n, (_, v) in DT_IN.items()},
                                                    "i64": [[1.5, 2], [3, 4]]}}), 400, what="float for int64")
        self.assertError(post("dtypes", {"inputs": {**{n: v for n, (_, v) in DT_IN.items()},
                                                    "b": [[1, 0], [0, 1]]}}), 400, what="ints for bool")
        self.assertError(post("two_io", {"inputs": {"a": A}}), 400, what="missing input (columnar)")
        self.assertError(post("two_io", {"instances": [{"a": A[0]}]}), 400, what="missing input (row)")
        self.assertError(post("two_io", {"instances": A}), 400, what="plain list for two inputs")
        self.assertError(post("two_io", {"instances": [{"a": A[0], "b": B[0], "c": B[0]}]}), 400,
                         what="extra input (row)")

    def test_tfs_predict_max_batch_size(self):
        rows = [[float(i), 1.0, 2.0] for i in range(4)]
        js = self.predict("affine", {"instances": rows})
        self.assertValues(js["predictions"], affine_expect(rows))
        self.assertError(self.post("/v1/models/affine:predict", {"instances": rows + [[5.0, 1.0, 2.0]]}), 400)

    def test_tfs_classify_regress_501(self):
        # Contract: 501 for what this server does not support; ONNX models have no tf.Example signatures.
        self.assertError(self.post("/v1/models/affine:classify", {"examples": [{"x": 1.0}]}), 501)
        self.assertError(self.post("/v1/models/affine:regress", {"examples": [{"x": 1.0}]}), 501)

    def test_tfs_wrong_method(self):
        # Contract: 405 on a known route. (TF Serving's own server answers 400 "Malformed request: GET ...".)
        self.assertError(self.get("/v1/models/affine:predict"), 405)
        self.assertError(self.req("DELETE", "/v1/models/affine"), 405)
        self.assertError(self.post("/v1/models/affine/metadata", {}), 405)

    # ----------------------------------------------------------------------------------------------------------
    # KServe v2: server, health, model metadata, ready

    def test_ks_server_metadata(self):
        js = self.assertOkJson(self.get("/v2"))
        self.assertEqual(js["name"], "ferry")
        self.assertEqual(js["version"], "0.1.0")
        self.assertIn("binary_tensor_data", js["extensions"])
        self.assertIn("model_repository", js["extensions"])

    def test_ks_health_live(self):
        r = self.get("/v2/health/live")
        self.assertStatus(r, 200)
        self.assertEqual(r.body, b"")

    def test_ks_health_ready(self):
        # allbroken was tried and failed, so the server is not ready until it is explicitly unloaded.
        js = self.assertOkJson(self.get("/v1/models/allbroken/versions/1"))
        self.assertEqual(js["model_version_status"][0]["state"], "END", js)
        self.assertNotEqual(js["model_version_status"][0]["status"]["error_code"], "OK", js)
        self.assertStatus(self.get("/v2/health/ready"), 400)
        self.assertStatus(self.post("/v2/repository/models/allbroken/unload"), 200)
        r = self.get("/v2/health/ready")
        self.assertStatus(r, 200)
        self.assertEqual(r.body, b"")

    def check_ks_tensors(self, got, want):
        self.assertEqual(sorted(t["name"] for t in got), sorted(want), got)
        for t in got:
            self.assertEqual((t["datatype"], t["shape"]), want[t["name"]], t)

    def test_ks_model_metadata(self):
        js = self.assertOkJson(self.get("/v2/models/two_io"))
        self.assertEqual((js["name"], js["versions"], js["platform"]), ("two_io", ["1"], "onnx"), js)
        self.check_ks_tensors(js["inputs"], {"a": ("FP32", [-1, 2]), "b": ("FP32", [-1, 2])})
        self.check_ks_tensors(js["outputs"], {"sum": ("FP32", [-1, 2]), "prod": ("FP32", [-1, 2])})
        js = self.assertOkJson(self.get("/v2/models/dtypes/versions/1"))
        self.check_ks_tensors(js["inputs"], {n: (dt, [-1, 2]) for n, (dt, _) in DT_IN.items()})
        self.check_ks_tensors(js["outputs"], {n: (dt, [-1, 2]) for n, (dt, _) in DT_OUT.items()})
        js = self.assertOkJson(self.get("/v2/models/fixed"))
        self.check_ks_tensors(js["inputs"], {"x": ("FP32", [2, 3])})
        js = self.assertOkJson(self.get("/v2/models/digits"))
        self.check_ks_tensors(js["outputs"], {"probabilities": ("FP32", [-1, 10]), "label": ("INT64", [-1])})
        js = self.assertOkJson(self.get("/v2/models/lab"))
        self.assertEqual(sorted(js["versions"]), ["1", "2"], js)
        js = self.assertOkJson(self.get("/v2/models/lab/versions/1"))
        self.assertIn("1", js["versions"], js)

    def test_ks_model_metadata_unknown(self):
        self.assertError(self.get("/v2/models/nope"), 404)
        self.assertError(self.get("/v2/models/lab/versions/9"), 404)
        self.assertError(self.get("/v2/models/lab/versions/abc"), 404)

    def test_ks_model_ready(self):
        for path in ("/v2/models/affine/ready", "/v2/models/affine/versions/1/ready", "/v2/models/lab/versions/2/ready"):
            r = self.get(path)
            self.assertStatus(r, 200, path)
            self.assertEqual(r.body, b"", path)
        self.assertError(self.get("/v2/models/nope/ready"), 404)
        self.assertError(self.get("/v2/models/affine/versions/9/ready"), 404)
        self.assertError(self.get("/v2/models/broken/versions/2/ready"), 503)

    # ----------------------------------------------------------------------------------------------------------
    # KServe v2: infer

    def infer(self, model, body, headers=None, code=200, version=None):
        path = f"/v2/models/{model}" + (f"/versions/{version}" if version else "") + "/infer"
        r = self.post(path, body, headers=headers)
        self.assertStatus(r, code, f"infer {model}")
        return r

    def test_ks_infer_flat_and_nested(self):
        for data in (flatten(X3), X3):
            r = self.infer("affine", {"inputs": [{"name": "x", "datatype": "FP32", "shape": [2, 3], "data": data}]})
            self.assertIn("application/json", r.headers.get("content-type", ""))
            js = r.json()
            self.assertEqual(js["model_name"], "affine")
            self.assertEqual(js.get("model_version"), "1")
            self.assertNotIn("id", js)
            self.assertEqual(len(js["outputs"]), 1, js)
            o = js["outputs"][0]
            self.assertEqual((o["name"], o["datatype"], o["shape"]), ("y", "FP32", [2, 3]), o)
            self.assertValues(flatten(o["data"]), flatten(affine_expect(X3)))

    def test_ks_infer_multi_io_outputs_selection_and_id(self):
        inputs = [{"name": "a", "datatype": "FP32", "shape": [3, 2], "data": flatten(A)},
                  {"name": "b", "datatype": "FP32", "shape": [3, 2], "data": B}]
        js = self.infer("two_io", {"id": "req-42", "inputs": inputs}).json()
        self.assertEqual(js["id"], "req-42")
        _, outs = ks_parse_response(self.infer("two_io", {"inputs": inputs}))
        self.assertEqual(sorted(outs), ["prod", "sum"])
        self.assertValues(outs["sum"][2], flatten(SUM), "sum")
        self.assertValues(outs["prod"][2], flatten(PROD), "prod")
        self.assertEqual(outs["sum"][1], [3, 2])
        js = self.infer("two_io", {"id": "x", "inputs": inputs, "outputs": [{"name": "prod"}]}).json()
        self.assertEqual([o["name"] for o in js["outputs"]], ["prod"], js)
        self.assertValues(flatten(js["outputs"][0]["data"]), flatten(PROD))

    def test_ks_infer_dtypes_json(self):
        inputs = [{"name": n, "datatype": dt, "shape": [2, 2], "data": flatten(v)} for n, (dt, v) in DT_IN.items()]
        _, outs = ks_parse_response(self.infer("dtypes", {"inputs": inputs}))
        self.assertEqual(sorted(outs), sorted(DT_OUT))
        for n, (dt, want) in DT_OUT.items():
            self.assertEqual(outs[n][0], dt, n)
            self.assertEqual(outs[n][1], [2, 2], n)
            self.assertFalse(outs[n][3], n)
            self.assertValues(outs[n][2], flatten(want), n)

    def test_ks_infer_binary_request(self):
        for header_name in ("inference-header-content-length", "INFERENCE-HEADER-CONTENT-LENGTH",
                            "Inference-Header-Content-Length"):
            header = {"inputs": [{"name": "a", "datatype": "FP32", "shape": [3, 2]},
                                 {"name": "b", "datatype": "FP32", "shape": [3, 2], "data": flatten(B)}]}
            body, n = ks_binary_body(header, {"a": ("FP32", A)})
            r = self.infer("two_io", body, headers={header_name: str(n), "Content-Type": "application/octet-stream"})
            _, outs = ks_parse_response(r)
            self.assertValues(outs["sum"][2], flatten(SUM), header_name)
            self.assertValues(outs["prod"][2], flatten(PROD), header_name)
        # Header length equal to the whole body (the C++ client always sends it): all JSON.
        body = json.dumps({"inputs": [{"name": "x", "datatype": "FP32", "shape": [2, 3], "data": flatten(X3)}]})
        r = self.infer("affine", body, headers={"Inference-Header-Content-Length": str(len(body))})
        _, outs = ks_parse_response(r)
        self.assertValues(outs["y"][2], flatten(affine_expect(X3)))

    def test_ks_infer_binary_response(self):
        inputs = [{"name": "a", "datatype": "FP32", "shape": [3, 2], "data": flatten(A)},
                  {"name": "b", "datatype": "FP32", "shape": [3, 2], "data": flatten(B)}]
        r = self.infer("two_io", {"inputs": inputs, "parameters": {"binary_data_output": True}})
        self.assertIn("inference-header-content-length", r.headers, r)
        self.assertIn("application/octet-stream", r.headers.get("content-type", ""))
        _, outs = ks_parse_response(r)
        self.assertTrue(outs["sum"][3] and outs["prod"][3], outs)
        self.assertValues(outs["sum"][2], flatten(SUM))
        self.assertValues(outs["prod"][2], flatten(PROD))
        # Per-output binary_data: sum binary, prod JSON; order as requested.
        r = self.infer("two_io", {"inputs": inputs, "outputs": [{"name": "prod"},
                                                               {"name": "sum", "parameters": {"binary_data": True}}]})
        js, outs = ks_parse_response(r)
        self.assertEqual(sorted(outs), ["prod", "sum"])
        self.assertTrue(outs["sum"][3], js)
        self.assertFalse(outs["prod"][3], js)
        self.assertValues(outs["sum"][2], flatten(SUM))
        self.assertValues(outs["prod"][2], flatten(PROD))
        # binary_data_output overridden per output.
        r = self.infer("two_io", {"inputs": inputs, "parameters": {"binary_data_output": True},
                                  "outputs": [{"name": "sum", "parameters": {"binary_data": False}}, {"name": "prod"}]})
        js, outs = ks_parse_response(r)
        self.assertFalse(outs["sum"][3], js)
        self.assertTrue(outs["prod"][3], js)
        self.assertValues(outs["prod"][2], flatten(PROD))

    def test_ks_infer_dtypes_binary_both_ways(self):
        header = {"inputs": [{"name": n, "datatype": dt, "shape": [2, 2]} for n, (dt, _) in DT_IN.items()],
                  "parameters": {"binary_data_output": True}}
        body, n = ks_binary_body(header, {n: (dt, v) for n, (dt, v) in DT_IN.items()})
        r = self.infer("dtypes", body, headers={"Inference-Header-Content-Length": str(n)})
        _, outs = ks_parse_response(r)
        for name, (dt, want) in DT_OUT.items():
            self.assertEqual(outs[name][0], dt, name)
            self.assertTrue(outs[name][3], name)
            self.assertValues(outs[name][2], flatten(want), name)

    def test_ks_infer_by_version(self):
        inp = {"inputs": [{"name": "x", "datatype": "FP32", "shape": [2, 4], "data": flatten(X4)}]}
        for v in (1, 2):
            js = self.infer("lab", inp, version=v).json()
            self.assertEqual(js.get("model_version"), str(v))
            self.assertValues(flatten(js["outputs"][0]["data"]), flatten(add_expect(X4, v)))
        js = self.infer("lab", inp).json()
        self.assertValues(flatten(js["outputs"][0]["data"]), flatten(add_expect(X4, 2)))
        self.assertError(self.post("/v2/models/broken/versions/2/infer", inp), 503)
        self.assertError(self.post("/v2/models/lab/versions/9/infer", inp), 404)
        self.assertError(self.post("/v2/models/nope/infer", inp), 404, "Request for unknown model: 'nope' is not found")

    def test_ks_infer_bad_requests(self):
        def x(**kw):
            d = {"name": "x", "datatype": "FP32", "shape": [2, 3], "data": flatten(X3)}
            d.update(kw)
            return {"inputs": [d]}

        p = lambda body, **kw: self.post("/v2/models/affine/infer", body, **kw)  # noqa: E731
        self.assertError(p(b"{\"inputs\": ["), 400, what="bad JSON")
        self.assertError(p({"inputs": "x"}), 400, what="inputs not a list")
        self.assertError(p({"foo": 1}), 400, what="no inputs")
        self.assertError(p(x(shape=[2, 4], data=[0.0] * 8)), 400, what="wrong shape")
        self.assertError(p(x(shape=[3, 2])), 400, what="wrong shape, right count")
        self.assertError(p(x(shape=[2, 3], data=[1.0] * 5)), 400, what="too few elements")
        self.assertError(p(x(datatype="INT32", data=[1] * 6)), 400, what="wrong dtype")
        self.assertError(p(x(datatype="FLOAT32")), 400, what="unknown dtype name")
        self.assertError(p(x(data=["a"] * 6)), 400, what="strings for FP32")
        self.assertError(p(x(name="z")), 400, what="unknown input")
        self.assertError(p({"inputs": [x()["inputs"][0], x()["inputs"][0]]}), 400, what="duplicate input")
        self.assertError(self.post("/v2/models/fixed/infer", {"inputs": [
            {"name": "x", "datatype": "FP32", "shape": [1, 2, 3], "data": [0.0] * 6}]}), 400, what="batch dim on fixed")
        self.assertError(p(x(shape=[5, 3], data=[1.0] * 15)), 400, what="batch over max_batch_size")
        self.assertError(p({**x(), "outputs": [{"name": "nope"}]}), 400, what="unknown output")
        self.assertError(self.post("/v2/models/two_io/infer", {"inputs": [
            {"name": "a", "datatype": "FP32", "shape": [3, 2], "data": flatten(A)}]}), 400, what="missing input")
        # Binary section shorter / longer than declared.
        header = {"inputs": [{"name": "x", "datatype": "FP32", "shape": [2, 3]}]}
        body, n = ks_binary_body(header, {"x": ("FP32", X3)})
        self.assertError(p(body[:-4], headers={"Inference-Header-Content-Length": str(n)}), 400, what="short binary")
        self.assertError(p(body + b"\0\0\0\0", headers={"Inference-Header-Content-Length": str(n)}), 400,
                         what="extra binary")
        self.assertError(p(body, headers={"Inference-Header-Content-Length": str(len(body) + 10)}), 400,
                         what="header length past the body")
        self.assertError(p(body, headers={"Inference-Header-Content-Length": "abc"}), 400, what="header not a number")
        # Bad JSON to an unknown model: 404 or 400 are both defensible (Triton looks the model up first).
        r = self.post("/v2/models/nope/infer", b"{")
        self.assertIn(r.status, (400, 404), r)

    def test_wrong_method_405(self):
        for method, path in (("DELETE", "/v2/models/affine/infer"), ("GET", "/v2/models/affine/infer"),
                             ("POST", "/v2/health/live"), ("POST", "/v2/health/ready"), ("PUT", "/v2"),
                             ("GET", "/v2/repository/index"), ("GET", "/v2/repository/models/affine/load"),
                             ("POST", "/v2/models/affine/ready"), ("POST", "/v2/models/affine")):
            self.assertError(self.req(method, path), 405, what=f"{method} {path}")

    def test_unknown_routes_404(self):
        for method, path in (("GET", "/"), ("GET", "/v3/models/affine"), ("GET", "/v2/nope"),
                             ("POST", "/v2/models/affine/bogus"), ("GET", "/v2/health/bogus"), ("GET", "/metrics2")):
            self.assertError(self.req(method, path), 404, what=f"{method} {path}")

    # ----------------------------------------------------------------------------------------------------------
    # KServe v2: repository extension

    def test_repository_index(self):
        for body in (None, {}, {"ready": False}):
            js = self.assertOkJson(self.post("/v2/repository/index", body), what=f"index {body}")
            self.assertIsInstance(js, list)
            entries = {(e["name"], e.get("version")): e for e in js}
            self.assertEqual(entries.get(("affine", "1"), {}).get("state"), "READY", js)
            self.assertEqual(entries.get(("lab", "2"), {}).get("state"), "READY", js)
            failed = entries.get(("broken", "2"))
            self.assertIsNotNone(failed, js)
            self.assertEqual(failed["state"], "UNAVAILABLE", js)
            self.assertTrue(failed.get("reason"), js)
            self.assertNotIn(".hidden", {e["name"] for e in js})
        js = self.assertOkJson(self.post("/v2/repository/index", {"ready": True}))
        self.assertTrue(js and all(e["state"] == "READY" for e in js), js)
        self.assertNotIn(("broken", "2"), {(e["name"], e.get("version")) for e in js})
        self.assertError(self.post("/v2/repository/index", {"ready": "yes"}), 400)
        self.assertError(self.post("/v2/repository/index", b"{"), 400)

    def test_repository_unload_then_load(self):
        tfs = {"instances": X4}
        ks = {"inputs": [{"name": "x", "datatype": "FP32", "shape": [2, 4], "data": flatten(X4)}]}
        self.assertValues(self.predict("unl", tfs)["predictions"], add_expect(X4, 3))
        r = self.post("/v2/repository/models/unl/unload")
        self.assertStatus(r, 200)
        self.assertEqual(r.body, b"")
        r = self.post("/v1/models/unl:predict", tfs)
        self.assertError(r, 404)
        r = self.post("/v1/models/unl/versions/1:predict", tfs)
        self.assertIn(r.status, (404, 503), r)
        self.assertError(r, r.status)
        self.assertError(self.post("/v2/models/unl/infer", ks), 404)
        r = self.post("/v2/models/unl/versions/1/infer", ks)
        self.assertIn(r.status, (404, 503), r)
        self.assertError(self.get("/v2/models/unl/ready"), 404)
        states = {e.get("version"): e for e in self.post("/v2/repository/index").json() if e["name"] == "unl"}
        self.assertTrue(states and all(e["state"] == "UNAVAILABLE" for e in states.values()), states)
        # Load (with a body, as tritonclient sends it) and it serves again.
        r = self.post("/v2/repository/models/unl/load", {})
        self.assertStatus(r, 200)
        self.assertValues(self.predict("unl", tfs)["predictions"], add_expect(X4, 3))
        _, outs = ks_parse_response(self.infer("unl", ks))
        self.assertValues(outs["y"][2], flatten(add_expect(X4, 3)))
        # Unload with tritonclient's body, then load with no body.
        self.assertStatus(self.post("/v2/repository/models/unl/unload", {"parameters": {"unload_dependents": False}}),
                          200)
        self.assertError(self.post("/v1/models/unl:predict", tfs), 404)
        self.assertStatus(self.post("/v2/repository/models/unl/load"), 200)
        self.assertValues(self.predict("unl", tfs)["predictions"], add_expect(X4, 3))

    def test_repository_load_rescans(self):
        # Without polling, a model copied in later is unknown until an explicit load rescans the repository.
        place_version(self.repo, "late", 1, "add5")
        self.assertError(self.post("/v1/models/late:predict", {"instances": X4}), 404)
        self.assertStatus(self.post("/v2/repository/models/late/load"), 200)
        self.assertValues(self.predict("late", {"instances": X4})["predictions"], add_expect(X4, 5))
        # A new version on disk: load picks it up per the policy (latest 1).
        place_version(self.repo, "late", 2, "add6")
        self.assertStatus(self.post("/v2/repository/models/late/load"), 200)
        self.assertValues(self.predict("late", {"instances": X4})["predictions"], add_expect(X4, 6))

    def test_repository_load_errors(self):
        self.assertError(self.post("/v2/repository/models/nope/load"), 404)
        self.assertStatus(self.post("/v2/repository/models/nope/unload"), 200)
        self.assertError(self.post("/v2/repository/models/allbroken/load"), 400)
        r = self.post("/v2/repository/models/.hidden/load")  # not in the repository, or an invalid name
        self.assertIn(r.status, (400, 404), r)
        self.assertError(r, r.status)

    # ----------------------------------------------------------------------------------------------------------
    # The bundled example against onnxruntime

    def test_digits_vs_onnxruntime(self):
        src = CONFIG["source_dir"]
        if shutil.which("node") is None:
            self.skipTest("node is not installed: no onnxruntime oracle")
        ens = subprocess.run(["bash", os.path.join(src, "tests/oracle/ensure_ort.sh")], capture_output=True)
        if ens.returncode != 0:
            self.skipTest(f"onnxruntime-node unavailable: {ens.stderr.decode()[-300:]}")
        with open(os.path.join(src, "examples/digits/sample_input.json")) as f:
            pixels = f.read()
        sample = json.loads(pixels)["pixels"]["data"]
        rows = [sample[:64], sample[64:]]
        rows += [[((i * 7 + r * 13) % 17) / 16.0 for i in range(64)] for r in range(3)]
        in_path = os.path.join(self.work, "digits_in.json")
        out_path = os.path.join(self.work, "digits_out.json")
        with open(in_path, "w") as f:
            json.dump({"pixels": {"shape": [len(rows), 64], "data": flatten(rows)}}, f)
        model = os.path.join(src, "examples/models/digits/1/model.onnx")
        run = subprocess.run(["node", os.path.join(src, "tests/oracle/ort_run.js"), model, in_path, out_path],
                             capture_output=True, timeout=120)
        self.assertEqual(run.returncode, 0, run.stderr.decode()[-500:])
        with open(out_path) as f:
            ort = json.load(f)
        want_p, want_l = ort["probabilities"]["data"], ort["label"]["data"]
        self.assertEqual(want_l[:2], [2, 0])  # examples/README.md: the sample is a 2 and a 0

        js = self.predict("digits", {"instances": rows})
        self.assertValues([p["probabilities"] for p in js["predictions"]],
                          [want_p[i * 10:(i + 1) * 10] for i in range(len(rows))], "row probabilities")
        self.assertValues([p["label"] for p in js["predictions"]], want_l, "row label")
        js = self.predict("digits", {"inputs": {"pixels": rows}})
        self.assertValues(flatten(js["outputs"]["probabilities"]), want_p, "columnar probabilities")
        self.assertValues(js["outputs"]["label"], want_l, "columnar label")
        header = {"inputs": [{"name": "pixels", "datatype": "FP32", "shape": [len(rows), 64]}],
                  "parameters": {"binary_data_output": True}}
        body, n = ks_binary_body(header, {"pixels": ("FP32", rows)})
        _, outs = ks_parse_response(self.infer("digits", body, headers={"Inference-Header-Content-Length": str(n)}))
        self.assertEqual(outs["label"][:2], ("INT64", [len(rows)]))
        self.assertValues(outs["probabilities"][2], want_p, "binary probabilities")
        self.assertValues(outs["label"][2], want_l, "binary label")
