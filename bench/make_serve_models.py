#!/usr/bin/python3
"""Writes the model repository and request bodies of bench/serve_bench.sh.

Usage: /usr/bin/python3 bench/make_serve_models.py OUT_DIR

OUT_DIR/repo/<model>/1/model.onnx and OUT_DIR/repo/<model>/config.yaml (max_batch_size: 64, batching off), for
(symbolic batch dim "batch", random weights with fixed seeds, opset 13, built like PyTorch exports):
  mlp   x[batch, 256] -> Gemm 512 -> Relu -> Gemm 512 -> Relu -> Gemm 10 -> Softmax
  cnn   x[batch, 1, 28, 28] -> Conv 32 3x3 -> Relu -> MaxPool 2 -> Conv 64 3x3 -> Relu -> MaxPool 2 -> Flatten
        -> Gemm 128 -> Relu -> Gemm 10 (about 8.5 MFLOP per image: one image is dominated by per-run overhead)
  cnn_large  the same with 64 and 128 channels and Gemm 1024 (about 43 MFLOP and 26 MB of weights per image:
        compute-bound, and much cheaper per image in a batch, where the Gemm weights are read once)
  tiny  x[batch, 4] -> Add a constant [4] (the REST overhead with next to no compute)
  mlp784  x[batch, 784] -> Gemm 256 -> Relu -> Gemm 10 -> Softmax (an MNIST-sized MLP, bench/http_bench.sh)
  image128  image[batch, 3, 128, 128] -> Conv 16 3x3/2 -> Relu -> MaxPool 2 -> Conv 32 3x3/2 -> Relu
        -> GlobalAveragePool -> Gemm 10 (a cheap model behind a 1 MB JSON request, bench/http_bench.sh)
and per model, one example (values are multiples of 1/256 in [-1, 1], exact in float32 and short in JSON):
  <model>.tfs.json       TF Serving predict, row format, one instance
  <model>.kserve.json    KServe v2 infer, one row, flat data
  <model>.b<B>.json      `ferryd run --inputs` at batch B for B in 1, 8, 16, 32, 64 (the example repeated B times)
"""

import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "models"))
from graph_builder import FLOAT, GraphBuilder, Weights, conv  # noqa: E402

BATCHES = [1, 8, 16, 32, 64]
CONFIG = "max_batch_size: 64\n"


def gemm(g, w, x, fan_in, fan_out):
    return g.op("Gemm", [x, g.init("fc.weight", w.linear(fan_in, fan_out, transposed=True)),
                         g.init("fc.bias", w.bias(fan_out))], alpha=1.0, beta=1.0, transB=1)


def mlp():
    g, w = GraphBuilder("mlp", 13), Weights(11)
    y = g.input("x", FLOAT, ["batch", 256])
    y = g.op("Relu", [gemm(g, w, y, 256, 512)])
    y = g.op("Relu", [gemm(g, w, y, 512, 512)])
    g.op("Softmax", [gemm(g, w, y, 512, 10)], outputs=["probs"], axis=-1)
    g.output("probs", FLOAT, ["batch", 10])
    return g.model(), ("x", [256])


def cnn():
    g, w = GraphBuilder("cnn", 13), Weights(12)
    y = g.input("image", FLOAT, ["batch", 1, 28, 28])
    y = g.op("Relu", [conv(g, w, y, 1, 32, 3)])
    y = g.op("MaxPool", [y], kernel_shape=[2, 2], strides=[2, 2])  # 14x14
    y = g.op("Relu", [conv(g, w, y, 32, 64, 3)])
    y = g.op("MaxPool", [y], kernel_shape=[2, 2], strides=[2, 2])  # 7x7
    y = g.op("Flatten", [y], axis=1)
    y = g.op("Relu", [gemm(g, w, y, 64 * 7 * 7, 128)])
    g.op("Identity", [gemm(g, w, y, 128, 10)], outputs=["logits"])
    g.output("logits", FLOAT, ["batch", 10])
    return g.model(), ("image", [1, 28, 28])


def cnn_large():
    g, w = GraphBuilder("cnn_large", 13), Weights(13)
    y = g.input("image", FLOAT, ["batch", 1, 28, 28])
    y = g.op("Relu", [conv(g, w, y, 1, 64, 3)])
    y = g.op("MaxPool", [y], kernel_shape=[2, 2], strides=[2, 2])  # 14x14
    y = g.op("Relu", [conv(g, w, y, 64, 128, 3)])
    y = g.op("MaxPool", [y], kernel_shape=[2, 2], strides=[2, 2])  # 7x7
    y = g.op("Flatten", [y], axis=1)
    y = g.op("Relu", [gemm(g, w, y, 128 * 7 * 7, 1024)])
    g.op("Identity", [gemm(g, w, y, 1024, 10)], outputs=["logits"])
    g.output("logits", FLOAT, ["batch", 10])
    return g.model(), ("image", [1, 28, 28])


def tiny():
    g = GraphBuilder("tiny", 13)
    x = g.input("x", FLOAT, ["batch", 4])
    g.op("Add", [x, g.init("offset", np.array([0.5, -0.5, 1.0, -1.0], dtype=np.float32))], outputs=["y"])
    g.output("y", FLOAT, ["batch", 4])
    return g.model(), ("x", [4])


def mlp784():
    g, w = GraphBuilder("mlp784", 13), Weights(14)
    y = g.input("x", FLOAT, ["batch", 784])
    y = g.op("Relu", [gemm(g, w, y, 784, 256)])
    g.op("Softmax", [gemm(g, w, y, 256, 10)], outputs=["probs"], axis=-1)
    g.output("probs", FLOAT, ["batch", 10])
    return g.model(), ("x", [784])


def image128():
    g, w = GraphBuilder("image128", 13), Weights(15)
    y = g.input("image", FLOAT, ["batch", 3, 128, 128])
    y = g.op("Relu", [conv(g, w, y, 3, 16, 3, stride=2)])  # 64x64
    y = g.op("MaxPool", [y], kernel_shape=[2, 2], strides=[2, 2])  # 32x32
    y = g.op("Relu", [conv(g, w, y, 16, 32, 3, stride=2)])  # 16x16
    y = g.op("GlobalAveragePool", [y])
    y = g.op("Flatten", [y], axis=1)
    g.op("Identity", [gemm(g, w, y, 32, 10)], outputs=["logits"])
    g.output("logits", FLOAT, ["batch", 10])
    return g.model(), ("image", [3, 128, 128])


BUILDERS = {"mlp": mlp, "cnn": cnn, "cnn_large": cnn_large, "tiny": tiny, "mlp784": mlp784, "image128": image128}
# Bodies written with full float32 values (17 significant digits in JSON, as json.dumps of numpy float32 data
# prints them) instead of short multiples of 1/256: image128's KServe body is then about 1 MB, like a real
# client's 3x128x128 image.
FULL_PRECISION = {"image128"}


def dump(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, separators=(",", ":"))
        f.write("\n")


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: make_serve_models.py OUT_DIR")
    out = sys.argv[1]
    for i, (name, build) in enumerate(BUILDERS.items()):
        model, (input_name, shape) = build()
        version_dir = os.path.join(out, "repo", name, "1")
        os.makedirs(version_dir, exist_ok=True)
        model_path = os.path.join(version_dir, "model.onnx")
        with open(model_path, "wb") as f:
            f.write(model.SerializeToString())
        with open(os.path.join(out, "repo", name, "config.yaml"), "w") as f:
            f.write(CONFIG)
        rng = np.random.default_rng(200 + i)
        if name in FULL_PRECISION:
            example = rng.random(int(np.prod(shape)), dtype=np.float32).astype(np.float64).reshape(shape)
        else:
            example = (rng.integers(-256, 257, int(np.prod(shape))) / 256.0).reshape(shape)
        dump(os.path.join(out, f"{name}.tfs.json"), {"instances": [example.tolist()]})
        dump(os.path.join(out, f"{name}.kserve.json"),
             {"inputs": [{"name": input_name, "datatype": "FP32", "shape": [1] + shape,
                          "data": example.reshape(-1).tolist()}]})
        for b in BATCHES if name not in FULL_PRECISION else [1]:
            flat = np.tile(example.reshape(-1), b).tolist()
            dump(os.path.join(out, f"{name}.b{b}.json"), {input_name: {"shape": [b] + shape, "data": flat}})
        print(f"{name}: {len(model.graph.node)} nodes, {os.path.getsize(model_path)} bytes")


if __name__ == "__main__":
    main()
