#!/usr/bin/python3
"""Writes small "never seen" ONNX models, built by hand the way PyTorch and tf2onnx export them, for the
oracle test (tests/oracle/oracle_test.sh), which compares Ferry's outputs with onnxruntime's.

Usage: /usr/bin/python3 tests/models/make_models.py OUT_DIR

Writes OUT_DIR/<name>.onnx for each model and OUT_DIR/models.json, the manifest the oracle driver reads:
[{"name", "file", "opset", "batch_sizes", "inputs": [{"name", "dtype", "shape" (the string "batch" where the
batch size goes), "low", "high"}]}]. Fixed seeds: the same files every run.
"""

import json
import os
import sys

import numpy as np
import onnx

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from graph_builder import (FLOAT, INT64, GraphBuilder, Weights, batchnorm, conv, encoder_block,  # noqa: E402
                           reduce_sum, unsqueeze)

BATCH_SIZES = [1, 3]


def spec(name, shape, dtype="float", low=-1.0, high=1.0):
    return {"name": name, "dtype": dtype, "shape": shape, "low": low, "high": high}


def cnn_lrn_bn_residual():
    """(a) A small classifier CNN, PyTorch opset 11, BatchNorm kept (exported with training=PRESERVE)."""
    g, w = GraphBuilder("cnn_lrn_bn_residual", 11), Weights(101)
    x = g.input("input.1", FLOAT, ["batch", 3, 32, 32])
    y = g.op("Relu", [conv(g, w, x, 3, 16, 3)])
    y = g.op("LRN", [y], size=5, alpha=1e-4, beta=0.75, bias=2.0)
    y = g.op("MaxPool", [y], kernel_shape=[3, 3], strides=[2, 2], pads=[0, 0, 0, 0], ceil_mode=1)  # 32 -> 16
    skip = y
    y = g.op("Relu", [batchnorm(g, w, conv(g, w, y, 16, 16, 3, bias=False), 16)])
    y = batchnorm(g, w, conv(g, w, y, 16, 16, 3, bias=False), 16)
    y = g.op("Relu", [g.op("Add", [y, skip])])
    # A strided block with a 1x1 projection shortcut, as in ResNet's downsampling blocks.
    skip = batchnorm(g, w, conv(g, w, y, 16, 32, 1, stride=2, pad=0, bias=False), 32)
    y = g.op("Relu", [batchnorm(g, w, conv(g, w, y, 16, 32, 3, stride=2, bias=False), 32)])
    y = batchnorm(g, w, conv(g, w, y, 32, 32, 3, bias=False), 32)
    y = g.op("Relu", [g.op("Add", [y, skip])])
    y = g.op("Flatten", [g.op("GlobalAveragePool", [y])], axis=1)
    y = g.op("Gemm", [y, g.init("fc.weight", w.linear(32, 10, transposed=True)), g.init("fc.bias", w.bias(10))],
             outputs=["logits"], alpha=1.0, beta=1.0, transB=1)
    g.output("logits", FLOAT, ["batch", 10])
    return g.model(infer_shapes=True), [spec("input.1", ["batch", 3, 32, 32])]


def mlp_softmax():
    """(b) An MLP, MatMul+Add+Relu x3 then Softmax, symbolic batch, opset 13."""
    g, w = GraphBuilder("mlp_softmax", 13), Weights(202)
    y = g.input("x", FLOAT, ["batch", 64])
    for fan_in, fan_out in [(64, 128), (128, 96), (96, 64)]:
        y = g.op("Relu", [g.op("Add", [g.op("MatMul", [y, g.init("w", w.linear(fan_in, fan_out))]),
                                       g.init("b", w.bias(fan_out))])])
    y = g.op("Add", [g.op("MatMul", [y, g.init("w", w.normal((64, 10), 0.15))]), g.init("b", w.bias(10))])
    g.op("Softmax", [y], outputs=["probs"])  # opset 13 default axis -1
    g.output("probs", FLOAT, ["batch", 10])
    return g.model(), [spec("x", ["batch", 64], low=-2.0, high=2.0)]


def transformer(name, opset, ln_style, scale_style, seed):
    """(c) A transformer encoder block on [batch, seq, 32], 4 heads, GELU via Erf, dynamic reshape chain."""
    g, w = GraphBuilder(name, opset), Weights(seed)
    x = g.input("hidden_states", FLOAT, ["batch", "sequence", 32])
    y = encoder_block(g, w, x, d=32, heads=4, ffn=64, ln_style=ln_style, scale_style=scale_style)
    g.op("Identity", [y], outputs=["last_hidden_state"])
    g.output("last_hidden_state", FLOAT, ["batch", "sequence", 32])
    return g.model(infer_shapes=opset == 17), [spec("hidden_states", ["batch", 16, 32], low=-2.0, high=2.0)]


def decoder_upsample():
    """(d) A decoder head: ConvTranspose, Clip, AveragePool, Resize (nearest and linear), Pad, Slice, Concat,
    Sigmoid, ReduceSum. PyTorch opset 13."""
    g, w = GraphBuilder("decoder_upsample", 13), Weights(303)
    x = g.input("features", FLOAT, ["batch", 4, 8, 8])
    # nn.ConvTranspose2d(4, 8, 3, stride=2, padding=1, output_padding=1): 8 -> 16
    y = g.op("ConvTranspose", [x, g.init("deconv.weight", w.normal((4, 8, 3, 3), 0.4)),
                               g.init("deconv.bias", w.bias(8))],
             kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], output_padding=[1, 1])
    y = g.op("Clip", [y, g.const(np.array(0.0, dtype=np.float32)), g.const(np.array(6.0, dtype=np.float32))])
    y = g.op("AveragePool", [y], kernel_shape=[3, 3], strides=[1, 1], pads=[1, 1, 1, 1], count_include_pad=0)
    # F.interpolate(scale_factor=2, mode="nearest") -> 32x32
    empty_roi = g.init("roi", np.zeros((0,), dtype=np.float32))
    near = g.op("Resize", [y, empty_roi, g.init("scales", np.array([1, 1, 2, 2], dtype=np.float32))],
                mode="nearest", coordinate_transformation_mode="asymmetric", nearest_mode="floor")
    # F.interpolate(size=(32, 32), mode="bilinear", align_corners=False): PyTorch builds the sizes input from
    # Shape (batch and channels) and the constant spatial size.
    shape = g.op("Shape", [y])
    nc = g.op("Slice", [shape, g.const(np.array([0], dtype=np.int64)), g.const(np.array([2], dtype=np.int64)),
                        g.const(np.array([0], dtype=np.int64))])
    sizes = g.op("Concat", [nc, g.const(np.array([32, 32], dtype=np.int64))], axis=0)
    lin = g.op("Resize", [y, empty_roi, g.init("scales", np.zeros((0,), dtype=np.float32)), sizes],
               mode="linear", coordinate_transformation_mode="pytorch_half_pixel")
    # nn.ReflectionPad2d(1) and a zero pad, then crop back with strided slices.
    refl = g.op("Pad", [near, g.init("pads", np.array([0, 0, 1, 1, 0, 0, 1, 1], dtype=np.int64))], mode="reflect")
    zero = g.op("Pad", [lin, g.init("pads", np.array([0, 0, 2, 0, 0, 0, 0, 2], dtype=np.int64)),
                        g.const(np.array(0.5, dtype=np.float32))], mode="constant")
    refl = g.op("Slice", [refl, g.init("starts", np.array([1, 1], dtype=np.int64)),
                          g.init("ends", np.array([33, 33], dtype=np.int64)),
                          g.init("axes", np.array([2, 3], dtype=np.int64))])
    zero = g.op("Slice", [zero, g.init("starts", np.array([2, -3], dtype=np.int64)),
                          g.init("ends", np.array([np.iinfo(np.int64).max, -(2 ** 31)], dtype=np.int64)),
                          g.init("axes", np.array([2, -1], dtype=np.int64)),
                          g.init("steps", np.array([1, -1], dtype=np.int64))])  # flips the width axis
    y = g.op("Concat", [refl, zero], axis=1)  # [b, 16, 32, 32]
    y = g.op("Sigmoid", [conv(g, w, y, 16, 2, 1, pad=0)])
    g.op("Identity", [y], outputs=["mask"])
    g.output("mask", FLOAT, ["batch", 2, 32, 32])
    reduce_sum(g, y, [2, 3], keepdims=0)
    g.nodes[-1].output[0] = "area"
    g.output("area", FLOAT, ["batch", 2])
    return g.model(), [spec("features", ["batch", 4, 8, 8])]


def misc_opset11():
    """(d) Opset 11 forms: Clip/Pad/Slice inputs, Squeeze/Unsqueeze/Split/ReduceSum axes attributes, Gather,
    Tanh, Sigmoid (SiLU), Exp, ReduceMax, Transpose, MatMul, Cast, Where."""
    g, w = GraphBuilder("misc_opset11", 11), Weights(404)
    x = g.input("x", FLOAT, ["batch", 8, 20])
    a, b, c = g.op("Split", [x], n_out=3, axis=2, split=[6, 6, 8])
    a = g.op("Clip", [a, g.const(np.array(-0.5, dtype=np.float32)), g.const(np.array(0.5, dtype=np.float32))])
    b = g.op("Mul", [b, g.op("Sigmoid", [b])])  # SiLU
    c = g.op("Tanh", [g.op("Pad", [c, g.init("pads", np.array([0, 1, 0, 0, 1, 0], dtype=np.int64)),
                                  g.const(np.array(0.25, dtype=np.float32))], mode="constant")])
    c = g.op("Slice", [c, g.init("starts", np.array([1, 0], dtype=np.int64)),
                       g.init("ends", np.array([-1, 6], dtype=np.int64)), g.init("axes", np.array([1, 2], dtype=np.int64))])
    y = g.op("Concat", [a, b, c], axis=-1)  # [b, 8, 18]
    y = g.op("MatMul", [g.op("Transpose", [y], perm=[0, 2, 1]), g.init("w", w.linear(8, 8))])  # [b, 18, 8]
    u = unsqueeze(g, y, [1])  # [b, 1, 18, 8]
    u = g.op("Squeeze", [u], axes=[1])
    s = reduce_sum(g, u, [1], keepdims=0)  # [b, 8]
    m = g.op("ReduceMax", [u], axes=[2], keepdims=1)  # [b, 18, 1]
    e = g.op("Exp", [g.op("Sub", [u, m])])
    sel = g.op("Gather", [e, g.init("idx", np.array([[0, 17], [3, 3], [9, 1]], dtype=np.int64))], axis=1)
    positive = g.op("Greater", [s, g.const(np.array(0.0, dtype=np.float32))])
    g.op("Where", [positive, s, g.op("Neg", [s])], outputs=["abs_sum"])
    g.output("abs_sum", FLOAT, ["batch", 8])
    g.op("Identity", [sel], outputs=["picked"])
    g.output("picked", FLOAT, ["batch", 3, 2, 8])
    count = g.op("Cast", [g.op("Cast", [positive], to=onnx.TensorProto.INT32)], to=onnx.TensorProto.INT64)
    g.op("ReduceSum", [count], outputs=["positive_count"], axes=[1], keepdims=0)
    g.output("positive_count", INT64, ["batch"])
    return g.model(), [spec("x", ["batch", 8, 20], low=-3.0, high=3.0)]


def tf2onnx_nhwc_mobilenet():
    """(d) A MobileNet-style net as tf2onnx writes a Keras model: NHWC input named "input_1:0" with an unk__
    batch dim, Transpose to NCHW, folded BatchNorm (Conv bias), Relu6 as Clip, a depthwise Conv, asymmetric
    SAME padding, ReduceMean over H,W back in NHWC, a constant Reshape, MatMul+Add, Softmax."""
    g, w = GraphBuilder("tf2onnx_nhwc_mobilenet", 13, producer=("tf2onnx", "1.14.0 8f8d49")), Weights(505)
    x = g.input("input_1:0", FLOAT, ["unk__612", 24, 24, 3])
    y = g.op("Transpose", [x], perm=[0, 3, 1, 2])
    six = g.init("const_fold_opt__6", np.array(6.0, dtype=np.float32))
    zero = g.init("const_fold_opt__0", np.array(0.0, dtype=np.float32))
    y = g.op("Clip", [conv(g, w, y, 3, 16, 3, stride=2, pad=[0, 0, 1, 1]), zero, six])  # SAME, stride 2: 24 -> 12
    y = g.op("Clip", [conv(g, w, y, 16, 16, 3, group=16), zero, six])  # depthwise
    y = g.op("Relu", [conv(g, w, y, 16, 24, 1, pad=0)])
    y = g.op("Clip", [conv(g, w, y, 24, 24, 3, stride=2, pad=[0, 0, 1, 1], group=24), zero, six])  # 12 -> 6
    y = g.op("Relu", [conv(g, w, y, 24, 32, 1, pad=0)])
    y = g.op("Transpose", [y], perm=[0, 2, 3, 1])
    y = g.op("ReduceMean", [y], axes=[1, 2], keepdims=0)
    y = g.op("Reshape", [y, g.init("new_shape__15", np.array([-1, 32], dtype=np.int64))])
    y = g.op("Add", [g.op("MatMul", [y, g.init("dense/MatMul/ReadVariableOp:0", w.linear(32, 5))]),
                     g.init("dense/BiasAdd/ReadVariableOp:0", w.bias(5))])
    g.op("Softmax", [y], outputs=["dense/Softmax:0"], axis=-1)
    g.output("dense/Softmax:0", FLOAT, ["unk__613", 5])
    return g.model(), [spec("input_1:0", ["batch", 24, 24, 3], low=0.0, high=1.0)]


def embedding_pool():
    """(d) int64 token ids: Gather from an embedding table, masked mean pooling, Gemm, Sigmoid. Opset 13."""
    g, w = GraphBuilder("embedding_pool", 13), Weights(606)
    ids = g.input("input_ids", INT64, ["batch", 12])
    emb = g.op("Gather", [g.init("embeddings.weight", w.normal((50, 16), 1.0)), ids], axis=0)  # [b, 12, 16]
    mask = g.op("Cast", [g.op("Greater", [ids, g.const(np.array(0, dtype=np.int64))])], to=onnx.TensorProto.FLOAT)
    mask3 = unsqueeze(g, mask, [2])  # [b, 12, 1]
    total = reduce_sum(g, g.op("Mul", [emb, mask3]), [1], keepdims=0)  # [b, 16]
    count = g.op("Add", [reduce_sum(g, mask3, [1], keepdims=0), g.const(np.array(1e-6, dtype=np.float32))])
    pooled = g.op("Div", [total, count])
    y = g.op("Gemm", [pooled, g.init("classifier.weight", w.linear(16, 4, transposed=True)),
                      g.init("classifier.bias", w.bias(4))], transB=1)
    g.op("Sigmoid", [y], outputs=["scores"])
    g.output("scores", FLOAT, ["batch", 4])
    return g.model(), [spec("input_ids", ["batch", 12], dtype="int64", low=0, high=49)]


MODELS = [
    ("cnn_lrn_bn_residual", cnn_lrn_bn_residual),
    ("mlp_softmax", mlp_softmax),
    ("transformer_ln17", lambda: transformer("transformer_ln17", 17, "fused", "div", 707)),
    ("transformer_decomposed13", lambda: transformer("transformer_decomposed13", 13, "decomposed", "mul", 708)),
    ("transformer_decomposed11", lambda: transformer("transformer_decomposed11", 11, "decomposed", "div", 709)),
    ("decoder_upsample", decoder_upsample),
    ("misc_opset11", misc_opset11),
    ("tf2onnx_nhwc_mobilenet", tf2onnx_nhwc_mobilenet),
    ("embedding_pool", embedding_pool),
]


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: make_models.py OUT_DIR")
    out_dir = sys.argv[1]
    os.makedirs(out_dir, exist_ok=True)
    manifest = []
    for name, build in MODELS:
        model, inputs = build()
        path = os.path.join(out_dir, name + ".onnx")
        onnx.save(model, path)
        size = os.path.getsize(path)
        assert size < 2 * 1024 * 1024, f"{name} is {size} bytes; keep test models under 2 MB"
        opset = model.opset_import[0].version
        manifest.append({"name": name, "file": name + ".onnx", "opset": opset, "batch_sizes": BATCH_SIZES,
                         "inputs": inputs})
        print(f"{path}: opset {opset}, {len(model.graph.node)} nodes, {size} bytes")
    with open(os.path.join(out_dir, "models.json"), "w") as f:
        json.dump(manifest, f, indent=1)


if __name__ == "__main__":
    main()
