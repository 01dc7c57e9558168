"""Ferry's management endpoints on a live daemon: version uploads (raw, .tar, .tar.gz, both layouts), next-version
POST, 409, DELETE, model config GET/PUT; upload safety (a bad upload changes nothing on disk, inside or outside the
repository, nor what is served); restart persistence; request and upload size limits (413).
"""

import json
import os

from daemon_harness import (DaemonCase, Daemon, add_expect, flatten, make_tar, model_bytes, place_version,
                            snapshot_tree)

X4 = [[1.0, 2.0, 3.0, 4.0], [-0.5, 0.25, 8.0, -3.0]]
GARBAGE = b"\x13\x37 definitely not protobuf \xff\xfe" * 4


class ManagementTest(DaemonCase):

    @classmethod
    def populate(cls, repo):
        place_version(repo, "mgmt", 1, "add1")
        place_version(repo, "cfg", 1, "add1")
        place_version(repo, "cfg", 2, "add2")
        place_version(repo, "conf", 1, "add1")
        place_version(repo, "del", 1, "add1")
        place_version(repo, "del", 2, "add2", config="version_policy: {all: {}}\n")
        place_version(repo, "nextv", 1, "add1")
        place_version(repo, "nextv", 3, "add3")
        place_version(repo, "safe", 1, "add1")
        place_version(repo, "pinned", 1, "add1", config="version_policy: {specific: {versions: [1]}}\n")
        place_version(repo, "dellatest", 1, "add1")
        place_version(repo, "dellatest", 2, "add2")

    def latest_is(self, model, k):
        js = self.predict(model, {"instances": X4})
        self.assertValues(js["predictions"], add_expect(X4, k), f"{model} serves add{k}")

    def read(self, *parts):
        with open(os.path.join(self.repo, *parts), "rb") as f:
            return f.read()

    # ----------------------------------------------------------------------------------------------------------
    # Uploads

    def test_upload_raw_to_new_model(self):
        r = self.req("PUT", "/v1/models/fresh/versions/1", model_bytes("add4"),
                     headers={"Content-Type": "application/octet-stream"})
        js = self.assertOkJson(r, 201, "PUT raw")
        self.assertEqual(js, {"model": "fresh", "version": 1, "state": "AVAILABLE"})
        self.assertEqual(self.read("fresh", "1", "model.onnx"), model_bytes("add4"))
        self.latest_is("fresh", 4)
        self.assertEqual(self.version_states("fresh"), {1: "AVAILABLE"})

    def test_upload_archives_both_layouts(self):
        cases = [
            (2, False, lambda b: [("model.onnx", "file", b)]),
            (3, False, lambda b: [("./model.onnx", "file", b)]),
            (4, False, lambda b: [("v4dir", "dir", None), ("v4dir/model.onnx", "file", b)]),
            (5, True, lambda b: [("model.onnx", "file", b)]),
            (6, True, lambda b: [("6/model.onnx", "file", b)]),  # no directory member
        ]
        for version, gz, members in cases:
            body = make_tar(members(model_bytes(f"add{version}")), gz=gz)
            r = self.req("PUT", f"/v1/models/mgmt/versions/{version}", body)
            what = f"PUT v{version} {'tar.gz' if gz else 'tar'}"
            js = self.assertOkJson(r, 201, what)
            self.assertEqual(js, {"model": "mgmt", "version": version, "state": "AVAILABLE"}, what)
            self.assertEqual(sorted(os.listdir(os.path.join(self.repo, "mgmt", str(version)))), ["model.onnx"], what)
            self.assertEqual(self.read("mgmt", str(version), "model.onnx"), model_bytes(f"add{version}"), what)
            self.latest_is("mgmt", version)

    def test_upload_post_next_version(self):
        r = self.post("/v1/models/nextv/versions", model_bytes("add4"))
        self.assertEqual(self.assertOkJson(r, 201, "POST"), {"model": "nextv", "version": 4, "state": "AVAILABLE"})
        self.latest_is("nextv", 4)
        r = self.post("/v1/models/nextv/versions", make_tar([("model.onnx", "file", model_bytes("add5"))], gz=True))
        self.assertEqual(self.assertOkJson(r, 201, "POST tar.gz"), {"model": "nextv", "version": 5,
                                                                    "state": "AVAILABLE"})
        self.latest_is("nextv", 5)
        r = self.post("/v1/models/brandnew/versions", model_bytes("add2"))
        self.assertEqual(self.assertOkJson(r, 201, "POST new"), {"model": "brandnew", "version": 1,
                                                                 "state": "AVAILABLE"})
        self.latest_is("brandnew", 2)

    def test_upload_conflict_409(self):
        before = snapshot_tree(self.repo)
        self.assertError(self.req("PUT", "/v1/models/conf/versions/1", model_bytes("add3")), 409)
        self.assertEqual(snapshot_tree(self.repo), before)
        self.latest_is("conf", 1)

    def test_delete_version(self):
        self.assertEqual(self.version_states("del"), {1: "AVAILABLE", 2: "AVAILABLE"})
        r = self.req("DELETE", "/v1/models/del/versions/2")
        self.assertEqual(self.assertOkJson(r, 200, "DELETE"), {"model": "del", "version": 2})
        self.assertFalse(os.path.exists(os.path.join(self.repo, "del", "2")))
        r = self.post("/v1/models/del/versions/2:predict", {"instances": X4})
        self.assertIn(r.status, (404, 503), r)
        self.assertError(r, r.status)
        self.latest_is("del", 1)
        self.assertError(self.req("DELETE", "/v1/models/del/versions/2"), 404)
        self.assertError(self.req("DELETE", "/v1/models/del/versions/9"), 404)
        self.assertError(self.req("DELETE", "/v1/models/nope/versions/1"), 404)

    def test_upload_not_served_by_policy(self):
        r = self.req("PUT", "/v1/models/pinned/versions/2", model_bytes("add2"))
        js = self.assertOkJson(r, 201, "PUT a version the policy does not serve")
        self.assertEqual((js["model"], js["version"]), ("pinned", 2))
        self.assertNotEqual(js["state"], "AVAILABLE", js)
        self.assertTrue(os.path.exists(os.path.join(self.repo, "pinned", "2", "model.onnx")))
        self.latest_is("pinned", 1)

    def test_delete_latest_falls_back(self):
        self.latest_is("dellatest", 2)
        self.assertOkJson(self.req("DELETE", "/v1/models/dellatest/versions/2"), 200)
        self.wait_for(lambda: self.version_states("dellatest").get(1) == "AVAILABLE", 10,
                      "dellatest version 1 loaded once version 2 is gone (latest policy)")
        self.latest_is("dellatest", 1)

    def test_upload_with_expect_continue(self):
        # curl sends "Expect: 100-continue" for bodies over 1 KiB; http.client skips the interim 100 reply.
        r = self.req("PUT", "/v1/models/expect/versions/1", model_bytes("padded"),
                     headers={"Expect": "100-continue"})
        self.assertEqual(self.assertOkJson(r, 201), {"model": "expect", "version": 1, "state": "AVAILABLE"})
        self.latest_is("expect", 1)

    # ----------------------------------------------------------------------------------------------------------
    # Config

    def put_config(self, model, text):
        return self.req("PUT", f"/v1/models/{model}/config", text.encode())

    def test_config_get_put(self):
        cfg_path = os.path.join(self.repo, "cfg", "config.yaml")
        r = self.get("/v1/models/cfg/config")
        self.assertStatus(r, 200)
        self.assertIn("application/yaml", r.headers.get("content-type", ""))
        self.assertIn(b"version_policy", r.body)
        self.assertIn(b"latest", r.body)
        self.assertEqual(self.version_states("cfg").get(2), "AVAILABLE")
        self.assertNotEqual(self.version_states("cfg").get(1), "AVAILABLE")

        # Invalid: 400 and the (absent) file stays absent.
        self.assertError(self.put_config("cfg", "version_policy: [unclosed\n"), 400)
        self.assertError(self.put_config("cfg", "lables: {stable: 1}\n"), 400)
        self.assertError(self.put_config("cfg", "max_batch_size: eight\n"), 400)
        self.assertFalse(os.path.exists(cfg_path))

        # version_policy all: both versions served.
        r = self.put_config("cfg", "version_policy: {all: {}}\n")
        self.assertStatus(r, 200)
        self.assertIn(b"all", r.body)
        self.assertTrue(os.path.exists(cfg_path))
        self.wait_for(lambda: self.version_states("cfg") == {1: "AVAILABLE", 2: "AVAILABLE"}, 10,
                      "both cfg versions AVAILABLE")
        for v in (1, 2):
            js = self.predict("cfg", {"instances": X4}, f"/versions/{v}")
            self.assertValues(js["predictions"], add_expect(X4, v))

        # Invalid again: the existing file is unchanged byte for byte.
        before = self.read("cfg", "config.yaml")
        self.assertError(self.put_config("cfg", "version_policy: {all: {}\n"), 400)
        self.assertError(self.put_config("cfg", "labels: {stable: 1}\nbogus: 2\n"), 400)
        self.assertEqual(self.read("cfg", "config.yaml"), before)
        self.assertFalse([n for n in os.listdir(os.path.join(self.repo, "cfg")) if n not in ("1", "2", "config.yaml")],
                         "leftover files after refused config PUTs")

        # Labels take effect.
        r = self.put_config("cfg", "version_policy: {all: {}}\nlabels: {stable: 1, canary: 2}\n")
        self.assertStatus(r, 200)
        for label, v in (("stable", 1), ("canary", 2)):
            js = self.predict("cfg", {"instances": X4}, f"/labels/{label}")
            self.assertValues(js["predictions"], add_expect(X4, v), label)
        r = self.get("/v1/models/cfg/config")
        self.assertIn(b"canary", r.body)
        self.assertEqual(r.body, self.read("cfg", "config.yaml"), "GET config returns the file's text")

        # Back to latest-1: version 1 unloads.
        self.assertStatus(self.put_config("cfg", "version_policy: {latest: {num_versions: 1}}\n"), 200)
        self.wait_for(lambda: self.version_states("cfg").get(1) != "AVAILABLE", 10, "cfg version 1 unloaded")
        self.latest_is("cfg", 2)

    def test_config_unknown_model(self):
        self.assertError(self.get("/v1/models/nope/config"), 404)
        self.assertError(self.put_config("nope", "version_policy: {all: {}}\n"), 404)
        self.assertFalse(os.path.exists(os.path.join(self.repo, "nope")))

    # ----------------------------------------------------------------------------------------------------------
    # Upload safety

    def test_upload_safety(self):
        good = model_bytes("add2")
        abs_target = os.path.join(self.parent, "abs_escape")
        bad = [
            ("PUT", "/v1/models/safe/versions/2", GARBAGE, "garbage bytes"),
            ("PUT", "/v1/models/safenew/versions/1", GARBAGE, "garbage bytes, new model"),
            ("POST", "/v1/models/safe/versions", GARBAGE, "garbage bytes, POST"),
            ("PUT", "/v1/models/safe/versions/2", make_tar([("model.onnx", "file", GARBAGE)]), "tar, garbage model"),
            ("PUT", "/v1/models/safenew/versions/1", make_tar([("model.onnx", "file", GARBAGE)], gz=True),
             "tar.gz, garbage model, new model"),
            ("PUT", "/v1/models/safe/versions/2", make_tar([("readme.txt", "file", b"hi")]), "tar without model"),
            ("PUT", "/v1/models/safe/versions/2", make_tar([("model.onnx", "file", good)])[:700], "truncated tar"),
            ("PUT", "/v1/models/safe/versions/2", make_tar([("model.onnx", "file", good)], gz=True)[:-20],
             "truncated tar.gz"),
            ("PUT", "/v1/models/safe/versions/2",
             make_tar([("a/model.onnx", "file", good), ("b/model.onnx", "file", good)]), "two top-level dirs"),
            ("PUT", "/v1/models/safe/versions/2", make_tar([("model.onnx", "file", good), ("../x", "file", b"x")]),
             "../x member"),
            ("PUT", "/v1/models/safe/versions/2",
             make_tar([("model.onnx", "file", good), ("sub/../../../../escape_rel", "file", b"x")]), "deep ../"),
            ("PUT", "/v1/models/safe/versions/2",
             make_tar([("model.onnx", "file", good), (abs_target, "file", b"x")]), "absolute member"),
            ("PUT", "/v1/models/safe/versions/2", make_tar([("model.onnx", "file", good), ("/abs/x", "file", b"x")]),
             "/abs/x member"),
            ("PUT", "/v1/models/safe/versions/2", make_tar([("/model.onnx", "file", good)]), "/model.onnx member"),
            ("PUT", "/v1/models/safe/versions/2", make_tar([("model.onnx", "symlink", "/etc/passwd")]),
             "model.onnx symlink"),
            ("PUT", "/v1/models/safe/versions/2",
             make_tar([("model.onnx", "file", good), ("link", "symlink", "../../..")]), "symlink member"),
            ("PUT", "/v1/models/safe/versions/2",
             make_tar([("model.onnx", "file", good), ("d", "symlink", self.parent), ("d/evil", "file", b"x")]),
             "write through a symlinked dir"),
            ("PUT", "/v1/models/safe/versions/2",
             make_tar([("model.onnx", "file", good), ("hl", "hardlink", "/etc/passwd")]), "hardlink member"),
            ("PUT", "/v1/models/safe/versions/2",
             make_tar([("real", "file", good), ("model.onnx", "hardlink", "real")]), "hardlink to a member"),
            ("PUT", "/v1/models/safe/versions/2",
             make_tar([("model.onnx", "file", good), ("model.onnx", "file", GARBAGE)]), "duplicate member"),
        ]
        # Paths that must not name a new model/version: refused (400 or 404), nothing created. "01" is version 1
        # (TF Serving converts \d+ to a number), which exists: 409 is right too.
        bad_paths = [
            ("PUT", "/v1/models/.hid/versions/1", good, "dot model name"),
            ("PUT", "/v1/models/%2e%2e/versions/1", good, "percent-encoded .."),
            ("PUT", "/v1/models/a%2fb/versions/1", good, "percent-encoded slash"),
            ("PUT", "/v1/models/safe/versions/0", good, "version 0"),
            ("PUT", "/v1/models/safe/versions/01", good, "version 01"),
        ]
        allowed_for = {"version 01": (400, 404, 409)}
        parent_before = sorted(os.listdir(self.parent))
        self.assertEqual(parent_before, ["repo"])
        tree_before = snapshot_tree(self.repo)
        status_before = self.get("/v1/models/safe").json()
        index_before = sorted(json.dumps(e, sort_keys=True) for e in self.post("/v2/repository/index").json())
        failures = []
        for method, path, body, what in bad + bad_paths:
            r = self.req(method, path, body)
            allowed = allowed_for.get(what, (400,) if (method, path, body, what) in bad else (400, 404))
            if r.status not in allowed:
                failures.append(f"{what}: {method} {path} -> {r!r}, want {allowed}")
            else:
                try:
                    js = r.json()
                    assert isinstance(js.get("error"), str) and js["error"]
                except Exception:  # noqa: BLE001
                    failures.append(f"{what}: error body is not {{\"error\": str}}: {r!r}")
            if sorted(os.listdir(self.parent)) != parent_before:
                failures.append(f"{what}: parent of the repository now holds {sorted(os.listdir(self.parent))}")
            tree = snapshot_tree(self.repo)
            if tree != tree_before:
                added = sorted(set(tree) - set(tree_before))
                removed = sorted(set(tree_before) - set(tree))
                changed = sorted(k for k in tree if k in tree_before and tree[k] != tree_before[k])
                failures.append(f"{what}: repository changed: added {added}, removed {removed}, changed {changed}")
                tree_before = tree
            if os.path.exists("/abs/x"):
                failures.append(f"{what}: created /abs/x")
        self.assertEqual(self.get("/v1/models/safe").json(), status_before)
        index_after = sorted(json.dumps(e, sort_keys=True) for e in self.post("/v2/repository/index").json())
        self.assertEqual([e for e in index_after if "safe" in e], [e for e in index_before if "safe" in e])
        self.assertError(self.get("/v1/models/safenew"), 404)
        self.latest_is("safe", 1)
        self.assertFalse(failures, "\n".join(failures))


class RestartTest(DaemonCase):
    """What was uploaded is on disk and served again after a restart."""

    @classmethod
    def populate(cls, repo):
        place_version(repo, "base", 1, "add1")

    def test_restart_persistence(self):
        self.assertOkJson(self.req("PUT", "/v1/models/rp/versions/1", model_bytes("add5")), 201)
        r = self.post("/v1/models/base/versions", make_tar([("model.onnx", "file", model_bytes("add2"))]))
        self.assertEqual(self.assertOkJson(r, 201)["version"], 2)
        before = {m: self.predict(m, {"instances": X4}) for m in ("rp", "base")}
        self.assertValues(before["rp"]["predictions"], add_expect(X4, 5))
        self.assertValues(before["base"]["predictions"], add_expect(X4, 2))
        rc = self.daemon.stop()
        self.assertEqual(rc, 0, self.daemon.log_tail())
        type(self).daemon = Daemon(self.repo, self.work, [])
        self.daemon.start()
        after = {m: self.predict(m, {"instances": X4}) for m in ("rp", "base")}
        self.assertEqual(after, before)
        self.assertEqual(self.version_states("rp"), {1: "AVAILABLE"})
        self.assertEqual(self.version_states("base").get(2), "AVAILABLE")


class LimitsTest(DaemonCase):
    """A --config file with small body limits (and JSON logs): 413 past them, with nothing written."""

    MAX_REQUEST = 1024
    MAX_UPLOAD = 3000

    @classmethod
    def populate(cls, repo):
        place_version(repo, "lim", 1, "add1")

    @classmethod
    def daemon_args(cls, workdir):
        path = os.path.join(workdir, "ferryd.yaml")
        with open(path, "w") as f:
            f.write(f"max_request_bytes: {cls.MAX_REQUEST}\nmax_upload_bytes: {cls.MAX_UPLOAD}\n"
                    "poll_seconds: 0\nlog_level: info\nlog_format: json\nshutdown_timeout_seconds: 10\n"
                    "inference_threads: 1\n")
        return ["--config", path]

    def body_of_size(self, n):
        """A valid KServe infer body for lim, padded with spaces to exactly n bytes."""
        js = json.dumps({"inputs": [{"name": "x", "datatype": "FP32", "shape": [2, 4], "data": flatten(X4)}]})
        self.assertLessEqual(len(js), n)
        return js.encode() + b" " * (n - len(js))

    def test_request_limit(self):
        r = self.post("/v2/models/lim/infer", self.body_of_size(self.MAX_REQUEST - 24))
        self.assertStatus(r, 200)
        self.assertError(self.post("/v2/models/lim/infer", self.body_of_size(self.MAX_REQUEST + 1)), 413)
        self.assertError(self.post("/v2/models/lim/infer", self.body_of_size(50000)), 413)
        big = json.dumps({"instances": X4 * 40}).encode()
        self.assertGreater(len(big), self.MAX_REQUEST)
        self.assertError(self.post("/v1/models/lim:predict", big), 413)
        self.assertError(self.req("PUT", "/v1/models/lim/config", b"# " + b"x" * 2000 + b"\n"), 413)
        self.assertFalse(os.path.exists(os.path.join(self.repo, "lim", "config.yaml")))
        self.assertValues(self.predict("lim", {"instances": X4})["predictions"], add_expect(X4, 1))

    def test_upload_limit(self):
        before = snapshot_tree(self.repo)
        big = model_bytes("add2") + b"\0" * self.MAX_UPLOAD
        self.assertError(self.req("PUT", "/v1/models/lim/versions/2", big), 413)
        self.assertError(self.post("/v1/models/lim/versions", big), 413)
        self.assertError(self.req("PUT", "/v1/models/limnew/versions/1", big), 413)
        self.assertEqual(snapshot_tree(self.repo), before)
        self.assertEqual(os.listdir(self.parent), ["repo"])
        # Between the request and the upload limits: an upload is fine.
        padded = model_bytes("padded")
        self.assertGreater(len(padded), self.MAX_REQUEST)
        self.assertLess(len(padded), self.MAX_UPLOAD)
        self.assertOkJson(self.req("PUT", "/v1/models/lim2/versions/1", padded), 201)
        self.assertValues(self.predict("lim2", {"instances": X4})["predictions"], add_expect(X4, 1))

    def test_json_log_format(self):
        self.assertStatus(self.get("/v2/health/live"), 200)
        bad = []
        with open(self.daemon.log_path, "rb") as f:
            for line in f.read().decode("utf-8", "replace").splitlines():
                if not line.strip():
                    continue
                try:
                    if not isinstance(json.loads(line), dict):
                        bad.append(line)
                except ValueError:
                    bad.append(line)
        self.assertFalse(bad, "log lines that are not JSON objects with log_format: json:\n" + "\n".join(bad[:5]))
