#!/usr/bin/python3
"""Writes the small hand-built ONNX models the daemon integration test (daemon_test.py) serves.

Usage: /usr/bin/python3 tests/daemon/make_daemon_models.py OUT_DIR

Every model computes something simple enough that the test computes the expected outputs by hand in Python
(never from ferryd's own output). Exits 77 when python3-onnx or numpy is missing, so ctest reports a skip.

  affine.onnx      x float [batch, 3] -> y = x * 2 + 1
  add{k}.onnx      x float [batch, 4] -> y = x + k, k = 1..6 (versions that compute distinguishable values)
  padded.onnx      add1 with a 2 KiB doc string (an upload between the small request and upload limits)
  two_io.onnx      a, b float [batch, 2] -> sum = a + b, prod = a * b
  dtypes.onnx      i64 int64, i32 int32, f64 double, u8 uint8 [batch, 2], b bool [batch, 2]
                   -> i64_out = i64 * 2 + 1, i32_out = i32 * 2 + 1, f64_out = f64 * 2 + 1, u8_out = u8 + 1,
                      b_out = not b
  fixed.onnx       x float [2, 3] (no batch dim) -> y = x - 1
  slow.onnx        x float [batch, 1024] -> y = x @ I @ I ... (64 MatMuls with one shared identity weight):
                   y == x exactly, and one batch-64 inference takes a measurable time
"""

import os
import sys

try:
    import numpy as np
    from onnx import TensorProto
except ImportError as e:  # python3-onnx / numpy missing: a skip, not a failure
    print(f"make_daemon_models.py: {e}; skipping", file=sys.stderr)
    sys.exit(77)

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "models"))
from graph_builder import FLOAT, GraphBuilder  # noqa: E402

OPSET = 13
SLOW_DIM = 1024
SLOW_LAYERS = 64


def affine():
    g = GraphBuilder("affine", OPSET)
    x = g.input("x", FLOAT, ["batch", 3])
    t = g.op("Mul", [x, g.init("two", np.array(2.0, dtype=np.float32))])
    g.op("Add", [t, g.init("one", np.array(1.0, dtype=np.float32))], outputs=["y"])
    g.output("y", FLOAT, ["batch", 3])
    return g.model()


def add_k(k, doc_bytes=0):
    g = GraphBuilder(f"add{k}", OPSET)
    x = g.input("x", FLOAT, ["batch", 4])
    g.op("Add", [x, g.init("k", np.array(float(k), dtype=np.float32))], outputs=["y"])
    g.output("y", FLOAT, ["batch", 4])
    m = g.model()
    if doc_bytes:
        m.doc_string = "p" * doc_bytes
    return m


def two_io():
    g = GraphBuilder("two_io", OPSET)
    a = g.input("a", FLOAT, ["batch", 2])
    b = g.input("b", FLOAT, ["batch", 2])
    g.op("Add", [a, b], outputs=["sum"])
    g.op("Mul", [a, b], outputs=["prod"])
    g.output("sum", FLOAT, ["batch", 2])
    g.output("prod", FLOAT, ["batch", 2])
    return g.model()


def dtypes():
    g = GraphBuilder("dtypes", OPSET)
    for name, et, npt in [("i64", TensorProto.INT64, np.int64), ("i32", TensorProto.INT32, np.int32),
                          ("f64", TensorProto.DOUBLE, np.float64)]:
        x = g.input(name, et, ["batch", 2])
        t = g.op("Mul", [x, g.init(name + "_two", np.array(2, dtype=npt))])
        g.op("Add", [t, g.init(name + "_one", np.array(1, dtype=npt))], outputs=[name + "_out"])
    u8 = g.input("u8", TensorProto.UINT8, ["batch", 2])
    g.op("Add", [u8, g.init("u8_one", np.array(1, dtype=np.uint8))], outputs=["u8_out"])
    b = g.input("b", TensorProto.BOOL, ["batch", 2])
    g.op("Not", [b], outputs=["b_out"])
    for name, et in [("i64_out", TensorProto.INT64), ("i32_out", TensorProto.INT32),
                     ("f64_out", TensorProto.DOUBLE), ("u8_out", TensorProto.UINT8), ("b_out", TensorProto.BOOL)]:
        g.output(name, et, ["batch", 2])
    return g.model()


def fixed():
    g = GraphBuilder("fixed", OPSET)
    x = g.input("x", FLOAT, [2, 3])
    g.op("Sub", [x, g.init("one", np.array(1.0, dtype=np.float32))], outputs=["y"])
    g.output("y", FLOAT, [2, 3])
    return g.model()


def slow():
    g = GraphBuilder("slow", OPSET)
    y = g.input("x", FLOAT, ["batch", SLOW_DIM])
    w = g.init("eye", np.eye(SLOW_DIM, dtype=np.float32))
    for i in range(SLOW_LAYERS):
        y = g.op("MatMul", [y, w], outputs=["y"] if i == SLOW_LAYERS - 1 else None)
    g.output("y", FLOAT, ["batch", SLOW_DIM])
    return g.model()


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    models = {"affine": affine(), "two_io": two_io(), "dtypes": dtypes(), "fixed": fixed(), "slow": slow(),
              "padded": add_k(1, doc_bytes=2048)}
    for k in range(1, 7):
        models[f"add{k}"] = add_k(k)
    for name, model in models.items():
        with open(os.path.join(out, name + ".onnx"), "wb") as f:
            f.write(model.SerializeToString())
    return 0


if __name__ == "__main__":
    sys.exit(main())
