#!/usr/bin/python3
"""Writes the benchmark models and their inputs for bench/run_bench.sh.

Usage: /usr/bin/python3 bench/make_bench_models.py OUT_DIR

Models (symbolic batch dim "batch", random weights with fixed seeds, built like PyTorch exports):
  alexnet.onnx      AlexNet as in the original paper (96-256-384-384-256 convs, LRN after conv1/conv2), 224x224,
                    opset 11
  resnet18.onnx     ResNet-18 (BatchNorm kept, residual adds, 1x1 projection shortcuts), 224x224, opset 13
  mlp.onnx          784-1024-1024-10 MLP as nn.Linear exports on 2-D inputs (Gemm transB=1), Relu, Softmax, opset 13
  transformer.onnx  one BERT-style encoder block: d 512, 8 heads, FFN 2048, GELU via Erf, LayerNormalization,
                    dynamic reshape chain, symbolic batch and sequence, opset 17
Inputs, in ferryd's CLI JSON format: <case>.inputs.json for each case in OUT_DIR/cases.txt
("<case> <model file> <inputs file> <repeat>" per line).
"""

import json
import os
import sys

import numpy as np
import onnx

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "models"))
from graph_builder import FLOAT, GraphBuilder, Weights, batchnorm, conv, encoder_block  # noqa: E402


def gemm(g, w, x, fan_in, fan_out):
    return g.op("Gemm", [x, g.init("fc.weight", w.linear(fan_in, fan_out, transposed=True)),
                         g.init("fc.bias", w.bias(fan_out))], alpha=1.0, beta=1.0, transB=1)


def alexnet():
    g, w = GraphBuilder("alexnet", 11), Weights(1)
    x = g.input("data", FLOAT, ["batch", 3, 224, 224])
    y = g.op("Relu", [conv(g, w, x, 3, 96, 11, stride=4, pad=2)])  # 55x55
    y = g.op("LRN", [y], size=5, alpha=1e-4, beta=0.75, bias=1.0)
    y = g.op("MaxPool", [y], kernel_shape=[3, 3], strides=[2, 2])  # 27x27
    y = g.op("Relu", [conv(g, w, y, 96, 256, 5)])
    y = g.op("LRN", [y], size=5, alpha=1e-4, beta=0.75, bias=1.0)
    y = g.op("MaxPool", [y], kernel_shape=[3, 3], strides=[2, 2])  # 13x13
    y = g.op("Relu", [conv(g, w, y, 256, 384, 3)])
    y = g.op("Relu", [conv(g, w, y, 384, 384, 3)])
    y = g.op("Relu", [conv(g, w, y, 384, 256, 3)])
    y = g.op("MaxPool", [y], kernel_shape=[3, 3], strides=[2, 2])  # 6x6
    y = g.op("Flatten", [y], axis=1)
    y = g.op("Relu", [gemm(g, w, y, 256 * 6 * 6, 4096)])
    y = g.op("Relu", [gemm(g, w, y, 4096, 4096)])
    y = gemm(g, w, y, 4096, 1000)
    g.op("Softmax", [y], outputs=["prob"], axis=1)
    g.output("prob", FLOAT, ["batch", 1000])
    return g.model(), ("data", [3, 224, 224])


def resnet18():
    g, w = GraphBuilder("resnet18", 13), Weights(2)
    x = g.input("input", FLOAT, ["batch", 3, 224, 224])
    y = g.op("Relu", [batchnorm(g, w, conv(g, w, x, 3, 64, 7, stride=2, pad=3, bias=False), 64)])  # 112
    y = g.op("MaxPool", [y], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])  # 56
    cin = 64
    for cout, stride in [(64, 1), (128, 2), (256, 2), (512, 2)]:
        for block in range(2):
            s = stride if block == 0 else 1
            skip = y
            if s != 1 or cin != cout:
                skip = batchnorm(g, w, conv(g, w, y, cin, cout, 1, stride=s, pad=0, bias=False), cout)
            h = g.op("Relu", [batchnorm(g, w, conv(g, w, y, cin, cout, 3, stride=s, bias=False), cout)])
            h = batchnorm(g, w, conv(g, w, h, cout, cout, 3, bias=False), cout)
            y = g.op("Relu", [g.op("Add", [h, skip])])
            cin = cout
    y = g.op("Flatten", [g.op("GlobalAveragePool", [y])], axis=1)
    g.op("Gemm", [y, g.init("fc.weight", w.linear(512, 1000, transposed=True)), g.init("fc.bias", w.bias(1000))],
         outputs=["logits"], transB=1)
    g.output("logits", FLOAT, ["batch", 1000])
    return g.model(), ("input", [3, 224, 224])


def mlp():
    g, w = GraphBuilder("mlp", 13), Weights(3)
    y = g.input("x", FLOAT, ["batch", 784])
    y = g.op("Relu", [gemm(g, w, y, 784, 1024)])
    y = g.op("Relu", [gemm(g, w, y, 1024, 1024)])
    g.op("Softmax", [gemm(g, w, y, 1024, 10)], outputs=["probs"], axis=-1)
    g.output("probs", FLOAT, ["batch", 10])
    return g.model(), ("x", [784])


def transformer():
    g, w = GraphBuilder("transformer", 17), Weights(4)
    x = g.input("hidden_states", FLOAT, ["batch", "sequence", 512])
    y = encoder_block(g, w, x, d=512, heads=8, ffn=2048, ln_style="fused")
    g.op("Identity", [y], outputs=["last_hidden_state"])
    g.output("last_hidden_state", FLOAT, ["batch", "sequence", 512])
    return g.model(), ("hidden_states", [128, 512])


# case, model builder, batch, repeat (timed runs after one warm-up)
CASES = [
    ("alexnet_b1", "alexnet", 1, 10),
    ("alexnet_b8", "alexnet", 8, 10),
    ("resnet18_b1", "resnet18", 1, 10),
    ("mlp_b64", "mlp", 64, 20),
    ("transformer_s128_b1", "transformer", 1, 10),
]
BUILDERS = {"alexnet": alexnet, "resnet18": resnet18, "mlp": mlp, "transformer": transformer}


def write_inputs(path, name, shape, seed):
    rng = np.random.default_rng(seed)
    # Multiples of 1/256 in [-1, 1]: exact in float32 and short in JSON, so both engines read the same values.
    data = rng.integers(-256, 257, int(np.prod(shape))) / 256.0
    with open(path, "w") as f:
        f.write('{%s: {"shape": %s, "data": [' % (json.dumps(name), json.dumps(list(shape))))
        f.write(",".join(repr(float(v)) for v in data))
        f.write("]}}\n")


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: make_bench_models.py OUT_DIR")
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    inputs_of = {}
    for name, build in BUILDERS.items():
        model, inputs_of[name] = build()
        onnx.save(model, os.path.join(out, name + ".onnx"))
        print(f"{name}.onnx: {len(model.graph.node)} nodes, {os.path.getsize(os.path.join(out, name + '.onnx'))} bytes")
    with open(os.path.join(out, "cases.txt"), "w") as cases:
        for i, (case, model, batch, repeat) in enumerate(CASES):
            input_name, shape = inputs_of[model]
            write_inputs(os.path.join(out, case + ".inputs.json"), input_name, [batch] + shape, 100 + i)
            cases.write(f"{case} {model}.onnx {case}.inputs.json {repeat}\n")


if __name__ == "__main__":
    main()
