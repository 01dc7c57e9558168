"""Harness for the ferryd daemon integration tests: starts the real binary on a free loopback port, talks HTTP to
it, and provides the independent expected values and the byte-level helpers (binary tensor extension, tar
uploads, repository snapshots). Python 3 stdlib only.

The entry point (daemon_test.py) fills CONFIG before any test runs.
"""

import hashlib
import http.client
import io
import json
import os
import resource
import shutil
import signal
import socket
import struct
import subprocess
import tarfile
import tempfile
import time
import unittest

CONFIG = {
    "ferryd": None,       # path of the ferryd binary
    "models": None,       # directory written by make_daemon_models.py
    "source_dir": None,   # repository root (examples/, tests/oracle/)
    "keep": False,        # keep temporary directories for inspection
    # The accelerator devices the ferryd binary has, by id ([] for a release build on a machine without a GPU;
    # ["sim:0"] for tests/fakes/ferryd-sim): where the instances of a model without a config run.
    "gpus": [],
}

# Every daemon started, so a failing test can print the logs of the ones it used.
STARTED = []


def model_file(name):
    """Path of a model written by make_daemon_models.py (name without .onnx)."""
    return os.path.join(CONFIG["models"], name + ".onnx")


def model_bytes(name):
    with open(model_file(name), "rb") as f:
        return f.read()


def place_version(repo, model, version, source, config=None):
    """Puts <repo>/<model>/<version>/model.onnx (source: a model name, or raw bytes) and optionally config.yaml."""
    d = os.path.join(repo, model, str(version))
    os.makedirs(d, exist_ok=True)
    data = source if isinstance(source, bytes) else model_bytes(source)
    with open(os.path.join(d, "model.onnx"), "wb") as f:
        f.write(data)
    if config is not None:
        with open(os.path.join(repo, model, "config.yaml"), "w") as f:
            f.write(config)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Resp:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # lower-case names
        self.body = body

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def __repr__(self):
        text = self.body[:600]
        return f"HTTP {self.status} {self.headers.get('content-type', '')!r} {text!r}"


def http_request(port, method, path, body=None, headers=None, timeout=60, ssl_context=None):
    """One request on a new connection; HTTPS when ssl_context (an ssl.SSLContext) is given."""
    if isinstance(body, (dict, list)):
        body = json.dumps(body).encode()
    elif isinstance(body, str):
        body = body.encode()
    if ssl_context is not None:
        conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=timeout, context=ssl_context)
    else:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=dict(headers or {}))
        r = conn.getresponse()
        data = r.read()
        return Resp(r.status, {k.lower(): v for k, v in r.getheaders()}, data)
    finally:
        conn.close()


class Daemon:
    """One `ferryd serve` process. Logs (stdout and stderr) go to files under `workdir`."""

    def __init__(self, repo, workdir, extra_args=(), subcommand=True, open_files=None):
        self.repo = repo
        self.workdir = workdir
        self.extra_args = list(extra_args)
        self.subcommand = subcommand
        self.open_files = open_files  # RLIMIT_NOFILE (soft and hard) for the process, or None
        self.proc = None
        self.port = None
        self.log_path = None
        self.returncode = None
        self.ssl_context = None  # set for a daemon that speaks HTTPS: request() then uses it
        self._n = 0

    def argv(self, port):
        argv = [CONFIG["ferryd"]]
        if self.subcommand:
            argv.append("serve")
        argv += ["--model-repository", self.repo, "--port", str(port), "--host", "127.0.0.1"]
        return argv + self.extra_args

    def start(self, timeout=30):
        for _ in range(5):
            self._n += 1
            self.port = free_port()
            self.log_path = os.path.join(self.workdir, f"ferryd-{self.port}-{self._n}.log")
            self.out_path = self.log_path + ".stdout"
            with open(self.log_path, "wb") as err, open(self.out_path, "wb") as out:
                limit = self.open_files
                preexec = (lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))) if limit else None
                self.proc = subprocess.Popen(self.argv(self.port), stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                             preexec_fn=preexec)
            STARTED.append(self)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    break
                if self.ready_line() is not None:
                    return self
                time.sleep(0.05)
            if self.proc.poll() is None:
                self.kill()
                raise RuntimeError(f"ferryd printed no 'ferryd ready' line within {timeout}s:\n{self.log_tail()}")
            log = self.log_text()
            if "in use" in log.lower():
                continue  # another process took the port between free_port() and bind(): pick another
            raise RuntimeError(f"ferryd exited with {self.proc.returncode} at startup:\n{self.log_tail()}")
        raise RuntimeError("could not find a free port for ferryd in 5 tries")

    def ready_line(self):
        for line in self.log_text().splitlines():
            if "ferryd ready" in line:
                return line
        return None

    def log_text(self):
        text = ""
        for p in (self.log_path, getattr(self, "out_path", None)):
            if p and os.path.exists(p):
                with open(p, "rb") as f:
                    text += f.read().decode("utf-8", "replace")
        return text

    def log_tail(self, n=60):
        lines = self.log_text().splitlines()
        return "\n".join(lines[-n:])

    def stop(self, sig=signal.SIGTERM, timeout=40):
        """Sends `sig`, waits for exit, returns the exit code (None on timeout, after which it is killed)."""
        if self.proc is None:
            return self.returncode
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            self.returncode = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            self.returncode = None
        self.proc = None
        return self.returncode

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def request(self, method, path, body=None, headers=None, timeout=60):
        return http_request(self.port, method, path, body, headers, timeout, self.ssl_context)


# ---------------------------------------------------------------------------------------------------------------
# Binary tensor data extension.

PACK = {"FP32": "f", "FP64": "d", "INT64": "q", "INT32": "i", "UINT8": "B", "BOOL": "?", "INT8": "b",
        "INT16": "h", "UINT16": "H", "UINT32": "I", "UINT64": "Q"}


def flatten(v):
    if isinstance(v, list):
        out = []
        for e in v:
            out.extend(flatten(e))
        return out
    return [v]


def reshape(flat, shape):
    if not shape:
        return flat[0]
    if len(shape) == 1:
        return list(flat)
    step = len(flat) // shape[0] if shape[0] else 0
    return [reshape(flat[i * step:(i + 1) * step], shape[1:]) for i in range(shape[0])]


def pack_tensor(datatype, values):
    flat = flatten(values)
    return struct.pack("<%d%s" % (len(flat), PACK[datatype]), *flat)


def unpack_tensor(datatype, data):
    size = struct.calcsize(PACK[datatype])
    if len(data) % size:
        raise AssertionError(f"{len(data)} bytes is not a whole number of {datatype} elements")
    return list(struct.unpack("<%d%s" % (len(data) // size, PACK[datatype]), data))


def ks_binary_body(header, binary_inputs):
    """header: the JSON request object, whose inputs named in binary_inputs {name: (datatype, values)} get
    parameters.binary_data_size; returns (body bytes, json length)."""
    blobs = []
    for inp in header["inputs"]:
        if inp["name"] in binary_inputs:
            dt, values = binary_inputs[inp["name"]]
            blob = pack_tensor(dt, values)
            inp.setdefault("parameters", {})["binary_data_size"] = len(blob)
            inp.pop("data", None)
            blobs.append(blob)
    js = json.dumps(header).encode()
    return js + b"".join(blobs), len(js)


def ks_parse_response(resp):
    """Splits a KServe infer response into its JSON object and, per output name, (datatype, shape, flat values,
    was_binary). Walks binary outputs in JSON order, as the extension says."""
    hl = resp.headers.get("inference-header-content-length")
    if hl is None:
        js, rest = resp.json(), b""
    else:
        n = int(hl)
        js, rest = json.loads(resp.body[:n].decode()), resp.body[n:]
    outs = {}
    offset = 0
    for o in js["outputs"]:
        size = (o.get("parameters") or {}).get("binary_data_size")
        if size is not None:
            if "data" in o:
                raise AssertionError(f"output {o['name']} has both data and binary_data_size")
            values = unpack_tensor(o["datatype"], rest[offset:offset + size])
            offset += size
            outs[o["name"]] = (o["datatype"], o["shape"], values, True)
        else:
            outs[o["name"]] = (o["datatype"], o["shape"], flatten(o["data"]), False)
    if offset != len(rest):
        raise AssertionError(f"binary section has {len(rest)} bytes, outputs account for {offset}")
    return js, outs


# ---------------------------------------------------------------------------------------------------------------
# Uploads and repository snapshots.

def make_tar(members, gz=False):
    """members: list of (name, kind, payload): kind "file" (payload bytes), "dir", "symlink" / "hardlink"
    (payload = link target)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz" if gz else "w", format=tarfile.GNU_FORMAT) as tf:
        for name, kind, payload in members:
            ti = tarfile.TarInfo(name)
            ti.mtime = 1700000000
            if kind == "file":
                ti.size = len(payload)
                ti.mode = 0o644
                tf.addfile(ti, io.BytesIO(payload))
            elif kind == "dir":
                ti.type = tarfile.DIRTYPE
                ti.mode = 0o755
                tf.addfile(ti)
            elif kind == "symlink":
                ti.type = tarfile.SYMTYPE
                ti.linkname = payload
                tf.addfile(ti)
            elif kind == "hardlink":
                ti.type = tarfile.LNKTYPE
                ti.linkname = payload
                tf.addfile(ti)
            else:
                raise ValueError(kind)
    return buf.getvalue()


def snapshot_tree(root):
    """Everything under root, dot entries included: {relpath: ("dir", mode) | ("file", mode, sha256) |
    ("link", target)}."""
    snap = {}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for n in dirnames + filenames:
            p = os.path.join(dirpath, n)
            rel = os.path.relpath(p, root)
            st = os.lstat(p)
            if os.path.islink(p):
                snap[rel] = ("link", os.readlink(p))
            elif os.path.isdir(p):
                snap[rel] = ("dir", st.st_mode)
            else:
                with open(p, "rb") as f:
                    snap[rel] = ("file", st.st_mode, hashlib.sha256(f.read()).hexdigest())
    return snap


class TempDir:
    def __init__(self, prefix):
        self.path = tempfile.mkdtemp(prefix=prefix)

    def cleanup(self):
        if not CONFIG["keep"]:
            shutil.rmtree(self.path, ignore_errors=True)


# ---------------------------------------------------------------------------------------------------------------
# Test case base.

def close(a, b, rel=1e-5, abs_=1e-6):
    return abs(a - b) <= max(abs_, rel * max(abs(a), abs(b)))


class DaemonCase(unittest.TestCase):
    """Base for a test class that serves one repository with one daemon. Subclasses define
    populate(repo) and optionally daemon_args(workdir) -> list."""

    daemon = None
    maxDiff = 4000

    @classmethod
    def populate(cls, repo):
        pass

    @classmethod
    def daemon_args(cls, workdir):
        return []

    @classmethod
    def make_daemon(cls):
        """The class's daemon (not started yet); override for other flags or process limits."""
        return Daemon(cls.repo, cls.work, cls.daemon_args(cls.work))

    @classmethod
    def setUpClass(cls):
        cls.tmp = TempDir(f"ferry-daemon-{cls.__name__}-")
        cls.parent = os.path.join(cls.tmp.path, "parent")  # holds only the repository (upload-escape checks)
        cls.repo = os.path.join(cls.parent, "repo")
        cls.work = os.path.join(cls.tmp.path, "work")
        os.makedirs(cls.repo)
        os.makedirs(cls.work)
        cls.populate(cls.repo)
        cls.daemon = cls.make_daemon()
        try:
            cls.daemon.start()
        except Exception:
            cls.tmp.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        rc = cls.daemon.stop() if cls.daemon else 0
        tail = cls.daemon.log_tail() if cls.daemon else ""
        cls.tmp.cleanup()
        if rc != 0:
            raise AssertionError(f"ferryd exited with {rc} after SIGTERM (want 0):\n{tail}")

    # HTTP shorthands on the class daemon.
    def req(self, method, path, body=None, headers=None, timeout=60):
        return self.daemon.request(method, path, body, headers, timeout)

    def get(self, path, **kw):
        return self.req("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.req("POST", path, body, **kw)

    def assertStatus(self, resp, code, what=""):
        self.assertEqual(resp.status, code, f"{what}: {resp!r}")

    def assertOkJson(self, resp, code=200, what=""):
        self.assertStatus(resp, code, what)
        ct = resp.headers.get("content-type", "")
        self.assertIn("application/json", ct, f"{what}: content-type of {resp!r}")
        try:
            return resp.json()
        except ValueError as e:
            self.fail(f"{what}: body is not JSON ({e}): {resp!r}")

    def assertError(self, resp, code, substring=None, what=""):
        """An error reply: `code`, Content-Type application/json, body {"error": "<str>"} containing substring."""
        self.assertStatus(resp, code, what)
        ct = resp.headers.get("content-type", "")
        self.assertIn("application/json", ct, f"{what}: error content-type of {resp!r}")
        try:
            js = resp.json()
        except ValueError as e:
            self.fail(f"{what}: error body is not JSON ({e}): {resp!r}")
        self.assertIsInstance(js, dict, f"{what}: {resp!r}")
        self.assertIsInstance(js.get("error"), str, f"{what}: no \"error\" string in {resp!r}")
        self.assertTrue(js["error"], f"{what}: empty error message")
        if substring is not None:
            self.assertIn(substring, js["error"], f"{what}: {resp!r}")
        return js["error"]

    def assertValues(self, got, want, what=""):
        """Nested lists compared element by element: floats within tolerance, ints and bools exactly and of the
        same JSON kind (an int64 output must not come back as 3.0, a bool not as 1)."""
        if isinstance(want, list):
            self.assertIsInstance(got, list, f"{what}: got {got!r}, want {want!r}")
            self.assertEqual(len(got), len(want), f"{what}: got {got!r}, want {want!r}")
            for i, (g, w) in enumerate(zip(got, want)):
                self.assertValues(g, w, f"{what}[{i}]")
        elif isinstance(want, bool):
            self.assertIs(got, want, f"{what}: got {got!r}, want {want!r}")
        elif isinstance(want, int):
            self.assertTrue(isinstance(got, int) and not isinstance(got, bool), f"{what}: got {got!r}, want {want!r}")
            self.assertEqual(got, want, what)
        else:
            self.assertTrue(isinstance(got, (int, float)) and not isinstance(got, bool),
                            f"{what}: got {got!r}, want {want!r}")
            self.assertTrue(close(got, want), f"{what}: got {got!r}, want {want!r}")

    def predict(self, model, body, selector="", code=200):
        resp = self.post(f"/v1/models/{model}{selector}:predict", body)
        return self.assertOkJson(resp, code, f"predict {model}{selector}")

    def wait_for(self, fn, timeout=10.0, what="condition"):
        """Polls fn() until it returns a truthy value; fails after timeout with the last value."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            last = fn()
            if last:
                return last
            time.sleep(0.1)
        self.fail(f"{what} not reached within {timeout}s (last: {last!r})")

    def version_states(self, model):
        """{version: state} from TF Serving status; {} when the model is unknown."""
        r = self.get(f"/v1/models/{model}")
        if r.status != 200:
            return {}
        return {int(s["version"]): s["state"] for s in r.json()["model_version_status"]}


# Expected values, computed by hand.

def affine_expect(rows):
    return [[v * 2 + 1 for v in row] for row in rows]


def add_expect(rows, k):
    return [[v + k for v in row] for row in rows]
