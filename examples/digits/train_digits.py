#!/usr/bin/python3
"""Trains the bundled example model: a small MLP that classifies scikit-learn's 8x8 digits.

Writes, relative to this file:
  ../models/digits/1/model.onnx   the model, in the <repo>/<model>/<version>/model.onnx layout
  sample_input.json               two real test digits in the ferryd CLI input format

Run with Debian's python (/usr/bin/python3, packages python3-sklearn, python3-onnx, python3-numpy).
skl2onnx is not packaged for Debian, so the ONNX graph is written by hand with onnx.helper.
The output is byte-for-byte the same on every run: fixed seeds, single-threaded BLAS, no timestamps.
"""
import os

# Multi-threaded BLAS may sum in a different order from run to run; one thread keeps the
# trained weights, and so the committed model file, identical on every run.
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = "1"

import hashlib
import json
import warnings

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier

HERE = os.path.dirname(os.path.abspath(__file__))
MODEL_PATH = os.path.join(HERE, "..", "models", "digits", "1", "model.onnx")
SAMPLE_PATH = os.path.join(HERE, "sample_input.json")
SEED = 0
# Test-set rows written to sample_input.json (chosen to be two different digits).
SAMPLE_ROWS = (0, 1)


def train():
    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)  # pixel values are 0..16
    y = digits.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.25, random_state=SEED, stratify=y)
    clf = MLPClassifier(hidden_layer_sizes=(64,), activation="relu", max_iter=500, random_state=SEED)
    with warnings.catch_warnings():
        # Stopping at max_iter is fine for an example model; the test accuracy is what matters.
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(x_train, y_train)
    assert list(clf.classes_) == list(range(10)), clf.classes_
    assert clf.out_activation_ == "softmax", clf.out_activation_
    return clf, x_test, y_test


def export(clf):
    w1, w2 = (np.asarray(w, dtype=np.float32) for w in clf.coefs_)
    b1, b2 = (np.asarray(b, dtype=np.float32) for b in clf.intercepts_)
    inits = [
        numpy_helper.from_array(w1, "W1"),
        numpy_helper.from_array(b1, "B1"),
        numpy_helper.from_array(w2, "W2"),
        numpy_helper.from_array(b2, "B2"),
    ]
    nodes = [
        helper.make_node("MatMul", ["pixels", "W1"], ["hidden_mm"], name="dense1_matmul"),
        helper.make_node("Add", ["hidden_mm", "B1"], ["hidden_pre"], name="dense1_bias"),
        helper.make_node("Relu", ["hidden_pre"], ["hidden"], name="dense1_relu"),
        helper.make_node("MatMul", ["hidden", "W2"], ["logits_mm"], name="dense2_matmul"),
        helper.make_node("Add", ["logits_mm", "B2"], ["logits"], name="dense2_bias"),
        helper.make_node("Softmax", ["logits"], ["probabilities"], name="softmax", axis=1),
        # Argmax of the logits equals argmax of the probabilities but cannot tie through rounding in exp().
        helper.make_node("ArgMax", ["logits"], ["label"], name="argmax", axis=1, keepdims=0),
    ]
    graph = helper.make_graph(
        nodes,
        "digits_mlp",
        inputs=[helper.make_tensor_value_info("pixels", TensorProto.FLOAT, ["batch", 64])],
        outputs=[
            helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["batch", 10]),
            helper.make_tensor_value_info("label", TensorProto.INT64, ["batch"]),
        ],
        initializer=inits,
        doc_string="8x8 digit images (row-major, pixel value / 16, in [0, 1]) -> digit 0..9",
    )
    model = helper.make_model(
        graph,
        producer_name="ferry-examples",
        producer_version="1",
        opset_imports=[helper.make_opsetid("", 13)],
        doc_string="MLP (64 -> 64 ReLU -> 10 softmax) trained on scikit-learn's digits dataset",
    )
    onnx.checker.check_model(model, full_check=True)
    os.makedirs(os.path.dirname(MODEL_PATH), exist_ok=True)
    onnx.save(model, MODEL_PATH)


def run_onnx_math(path, x):
    """Evaluates the saved graph's math in float32 numpy from the weights stored in the file."""
    model = onnx.load(path)
    onnx.checker.check_model(model, full_check=True)
    w = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    ops = [n.op_type for n in model.graph.node]
    assert ops == ["MatMul", "Add", "Relu", "MatMul", "Add", "Softmax", "ArgMax"], ops
    x = x.astype(np.float32)
    hidden = np.maximum(x @ w["W1"] + w["B1"], np.float32(0))
    logits = hidden @ w["W2"] + w["B2"]
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    probs = e / e.sum(axis=1, keepdims=True)
    return probs, np.argmax(logits, axis=1).astype(np.int64)


def main():
    clf, x_test, y_test = train()
    accuracy = clf.score(x_test, y_test)
    print(f"test accuracy: {accuracy:.4f} ({int(round(accuracy * len(y_test)))}/{len(y_test)})")

    export(clf)
    probs, labels = run_onnx_math(MODEL_PATH, x_test)
    max_diff = float(np.max(np.abs(probs - clf.predict_proba(x_test))))
    print(f"max |onnx math - sklearn predict_proba| over the test set: {max_diff:.3g}")
    assert max_diff <= 1e-5, max_diff
    assert np.array_equal(labels, clf.predict(x_test))

    rows = list(SAMPLE_ROWS)
    sample = {"pixels": {"shape": [len(rows), 64], "data": [float(v) for v in x_test[rows].ravel()]}}
    with open(SAMPLE_PATH, "w") as f:
        json.dump(sample, f)
        f.write("\n")
    print(f"sample_input.json: test rows {rows}, true digits {[int(y_test[r]) for r in rows]}, "
          f"predicted {[int(labels[r]) for r in rows]}")
    for r in rows:
        print(f"  row {r} probabilities: {np.array2string(probs[r], precision=6, max_line_width=200)}")

    with open(MODEL_PATH, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    print(f"wrote {os.path.relpath(MODEL_PATH)} ({os.path.getsize(MODEL_PATH)} bytes, sha256 {digest})")


if __name__ == "__main__":
    main()
