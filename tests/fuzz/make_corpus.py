#!/usr/bin/python3
"""Writes the binary seed corpora of the fuzzers, from the repository's own test models.

Usage: /usr/bin/python3 tests/fuzz/make_corpus.py [CORPUS_DIR]   (default: tests/fuzz/corpus beside this script)

Writes, deterministically (fixed seeds, fixed tar and gzip timestamps), and replaces what these files held:
  onnx_loader/      small models: the daemon test models (tests/daemon/make_daemon_models.py), the smaller oracle
                    models (tests/models/make_models.py), and a few made here for paths those miss: external data in
                    weights.bin (which the fuzzer provides), a Reshape whose target is an input (value-keyed
                    planning), ConstantOfShape/Range/Expand folding, an opset outside the supported range, and
                    what the fuzzer found (a Conv with a stride of 0);
  version_archive/  upload bodies: a raw model.onnx, .tar and .tar.gz with members at the top level and under one
                    directory, and refused ones (a "../" member, a symbolic link, a gzip inside a gzip);
  kserve_binary/    bodies in the fuzzer's layout (kserve_binary_fuzzer.cc): control byte, header value + "\\n",
                    body: JSON + binary inputs, a raw request (header 0), header values that do not fit.
The text corpora (JSON bodies, YAML files) are written by hand and kept as they are.
Needs python3-onnx and numpy.
"""

import gzip
import io
import json
import os
import struct
import sys
import tarfile

import numpy as np
from onnx import TensorProto, helper

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "models"))
sys.path.insert(0, os.path.join(HERE, "..", "daemon"))
import make_daemon_models  # noqa: E402
import make_models  # noqa: E402
from graph_builder import FLOAT, INT64, GraphBuilder  # noqa: E402

MAX_MODEL_BYTES = 12 * 1024  # seeds stay small: the fuzzer mutates them byte by byte


def external_data_model():
    """y = x + w, where w (4 floats) lies in weights.bin at offset 16 (the fuzzer writes bytes 0..255 there)."""
    w = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[4])
    w.data_location = TensorProto.EXTERNAL
    for k, v in [("location", "weights.bin"), ("offset", "16"), ("length", "16")]:
        entry = w.external_data.add()
        entry.key, entry.value = k, v
    graph = helper.make_graph([helper.make_node("Add", ["x", "w"], ["y"])], "external",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 4])], [w])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8)


def reshape_by_input():
    """Reshape whose target shape is an input: plans depend on its value."""
    g = GraphBuilder("reshape_by_input", 13)
    x = g.input("x", FLOAT, ["batch", 6])
    s = g.input("s", INT64, [2])
    g.op("Reshape", [x, s], outputs=["y"])
    g.output("y", FLOAT, ["rows", "cols"])
    return g.model()


def folding():
    """ConstantOfShape, Range and Expand on constants (folded at load), then used at run time."""
    g = GraphBuilder("folding", 13)
    x = g.input("x", FLOAT, ["batch", 8])
    shape = g.init("shape", np.array([1, 8], dtype=np.int64))
    ones = g.op("ConstantOfShape", [shape], value=helper.make_tensor("v", TensorProto.FLOAT, [1], [1.0]))
    r = g.op("Range", [g.init("start", np.array(0.0, dtype=np.float32)),
                       g.init("limit", np.array(8.0, dtype=np.float32)),
                       g.init("delta", np.array(1.0, dtype=np.float32))])
    e = g.op("Expand", [r, shape])
    y = g.op("Add", [g.op("Mul", [x, ones]), e])
    g.op("Tile", [y, g.init("reps", np.array([1, 2], dtype=np.int64))], outputs=["y"])
    g.output("y", FLOAT, ["batch", 16])
    return g.model()


def conv_pool():
    """A tiny Conv + MaxPool + Gemm with explicit pads and strides (kernels whose shapes come from attributes)."""
    g = GraphBuilder("conv_pool", 11)
    x = g.input("x", FLOAT, ["batch", 1, 5, 5])
    rng = np.random.default_rng(7)
    y = g.op("Conv", [x, g.init("w", rng.normal(size=(2, 1, 3, 3)).astype(np.float32)),
                      g.init("b", np.zeros(2, dtype=np.float32))], pads=[1, 1, 1, 1], strides=[2, 2])
    y = g.op("MaxPool", [y], kernel_shape=[2, 2], strides=[1, 1])
    y = g.op("Flatten", [y], axis=1)
    g.op("Gemm", [y, g.init("fc", rng.normal(size=(8, 3)).astype(np.float32))], outputs=["y"])
    g.output("y", FLOAT, ["batch", 3])
    return g.model()


def zero_stride_conv():
    """A Conv with strides [1, 0]: ONNX 1.12's shape inference divided by it (SIGFPE) before the loader refused it."""
    g = GraphBuilder("zero_stride_conv", 13)
    x = g.input("x", FLOAT, [1, 1, 4, 4])
    g.op("Conv", [x, g.init("w", np.ones((1, 1, 1, 1), dtype=np.float32))], outputs=["y"], strides=[1, 0])
    g.output("y", FLOAT, [1, 1, "h", "w"])
    return g.model()


def future_opset():
    m = make_daemon_models.add_k(1)
    m.opset_import[0].version = 99
    return m


def onnx_models():
    models = {
        "affine": make_daemon_models.affine(),
        "add1": make_daemon_models.add_k(1),
        "two_io": make_daemon_models.two_io(),
        "dtypes": make_daemon_models.dtypes(),
        "fixed": make_daemon_models.fixed(),
        "external_data": external_data_model(),
        "reshape_by_input": reshape_by_input(),
        "folding": folding(),
        "conv_pool": conv_pool(),
        "future_opset": future_opset(),
        "zero_stride_conv": zero_stride_conv(),
    }
    for name in ["decoder_upsample", "embedding_pool", "misc_opset11", "tf2onnx_nhwc_mobilenet"]:
        models[name] = getattr(make_models, name)()[0]
    out = {}
    for name, m in models.items():
        data = m.SerializeToString()
        if len(data) <= MAX_MODEL_BYTES:
            out[name + ".onnx"] = data
    return out


def tar_bytes(members, gz=False):
    """members: list of (name, bytes | None for a directory | ("symlink", target))."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.mtime = 1700000000
            info.uname = info.gname = "ferry"
            if data is None:
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
            elif isinstance(data, tuple):
                info.type, info.linkname = tarfile.SYMTYPE, data[1]
                tar.addfile(info)
            else:
                info.size, info.mode = len(data), 0o644
                tar.addfile(info, io.BytesIO(data))
    # tarfile pads to a 10 KiB record; keep the members and the two zero blocks that end the archive.
    raw = buf.getvalue().rstrip(b"\0")
    raw += b"\0" * (-len(raw) % 512 + 1024)
    return gzip_bytes(raw) if gz else raw


def gzip_bytes(data):
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", mtime=0) as f:
        f.write(data)
    return out.getvalue()


def archives():
    model = make_daemon_models.add_k(1).SerializeToString()
    top = [("model.onnx", model), ("assets", None), ("assets/labels.txt", b"cat\ndog\n")]
    nested = [("1", None), ("1/model.onnx", model), ("1/weights.bin", bytes(range(64)))]
    return {
        "raw.onnx": model,
        "top.tar": tar_bytes(top),
        "top.tar.gz": tar_bytes(top, gz=True),
        "nested.tar": tar_bytes(nested),
        "nested.tar.gz": tar_bytes(nested, gz=True),
        "dot_slash.tar": tar_bytes([(".", None), ("./model.onnx", model)]),
        "escape.tar": tar_bytes([("model.onnx", model), ("../evil", b"x")]),
        "symlink.tar": tar_bytes([("model.onnx", model), ("link", ("symlink", "/etc/passwd"))]),
        "gzip_in_gzip.tar.gz": gzip_bytes(tar_bytes(top, gz=True)),
    }


def kserve_binary():
    def seed(body, header=None, raw_signature=0):
        control = (raw_signature << 1) | (1 if header is not None else 0)
        prefix = bytes([control]) + ((header.encode() + b"\n") if header is not None else b"")
        return prefix + body

    def request(inputs, outputs=None, parameters=None):
        doc = {"id": "1", "inputs": inputs}
        if outputs is not None:
            doc["outputs"] = outputs
        if parameters is not None:
            doc["parameters"] = parameters
        return json.dumps(doc, separators=(",", ":")).encode()

    fp32 = struct.pack("<4f", 1.0, -2.5, 0.0, float("nan"))
    i16 = struct.pack("<2h", 1, -1)
    js = request([{"name": "x", "shape": [2, 2], "datatype": "FP32", "parameters": {"binary_data_size": 16}},
                  {"name": "y", "shape": [2], "datatype": "INT16", "parameters": {"binary_data_size": 4}},
                  {"name": "z", "shape": [3], "datatype": "BOOL", "data": [True, False, True]}],
                 outputs=[{"name": "x", "parameters": {"binary_data": True}}],
                 parameters={"binary_data_output": False})
    fp16 = request([{"name": "h", "shape": [1, 2], "datatype": "FP16", "parameters": {"binary_data_size": 4}},
                    {"name": "b", "shape": [2], "datatype": "BOOL", "parameters": {"binary_data_size": 2}}])
    u64 = request([{"name": "u", "shape": [1], "datatype": "UINT64", "parameters": {"binary_data_size": 8}}])
    return {
        "mixed.bin": seed(js + fp32 + i16, str(len(js))),
        "fp16_bool.bin": seed(fp16 + struct.pack("<2H", 0x3C00, 0x7C00) + b"\x01\x02", str(len(fp16))),
        "misaligned.bin": seed(u64 + struct.pack("<Q", 2**64 - 1), f" {len(u64)}\t"),
        "json_only.bin": seed(js),
        "raw_fp32.bin": seed(struct.pack("<6f", *range(6)), "0", raw_signature=0),
        "raw_u8.bin": seed(b"\x00\x01\x02\xff", "0", raw_signature=1),
        "raw_bool.bin": seed(b"\x00\x01\x02\x01", "0", raw_signature=2),
        "raw_zero_dim.bin": seed(b"", "0", raw_signature=3),
        "header_too_long.bin": seed(js, str(len(js) + 1)),
        "header_not_a_number.bin": seed(js, "0x10"),
    }


def write(corpus_dir, name, files):
    d = os.path.join(corpus_dir, name)
    os.makedirs(d, exist_ok=True)
    for file_name, data in files.items():
        with open(os.path.join(d, file_name), "wb") as f:
            f.write(data)


def main():
    corpus_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "corpus")
    np.random.seed(0)
    write(corpus_dir, "onnx_loader", onnx_models())
    write(corpus_dir, "version_archive", archives())
    write(corpus_dir, "kserve_binary", kserve_binary())
    return 0


if __name__ == "__main__":
    sys.exit(main())
