"""A small helper to build ONNX graphs by hand, shaped the way exporters write them.

Shared by tests/models/make_models.py and bench/make_bench_models.py. Needs python3-onnx and numpy
(/usr/bin/python3 on the project machines).
"""

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

NP_TO_ONNX = {
    np.dtype(np.float32): TensorProto.FLOAT,
    np.dtype(np.float64): TensorProto.DOUBLE,
    np.dtype(np.int64): TensorProto.INT64,
    np.dtype(np.int32): TensorProto.INT32,
    np.dtype(np.bool_): TensorProto.BOOL,
}

FLOAT = TensorProto.FLOAT
INT64 = TensorProto.INT64


class GraphBuilder:
    """Collects nodes, initializers and graph inputs/outputs; names nodes like PyTorch 1.x does (Conv_3)."""

    def __init__(self, name, opset, producer=("pytorch", "1.13.1")):
        self.name = name
        self.opset = opset
        self.producer = producer
        self.nodes = []
        self.initializers = []
        self.inputs = []
        self.outputs = []
        self._counter = 0
        self._used = set()

    def _fresh(self, hint):
        self._counter += 1
        name = f"{hint}_{self._counter}"
        while name in self._used:
            self._counter += 1
            name = f"{hint}_{self._counter}"
        self._used.add(name)
        return name

    def input(self, name, elem_type, shape):
        """shape entries: int for a fixed dim, str for a dim_param, None for an unnamed unknown dim."""
        self.inputs.append(helper.make_tensor_value_info(name, elem_type, shape))
        self._used.add(name)
        return name

    def output(self, tensor_name, elem_type, shape=None):
        self.outputs.append(helper.make_tensor_value_info(tensor_name, elem_type, shape))

    def init(self, hint, array, name=None):
        """Adds an initializer (the way tf2onnx and newer PyTorch store weights and constants)."""
        array = np.asarray(array)
        name = name or self._fresh(hint)
        self._used.add(name)
        self.initializers.append(numpy_helper.from_array(array, name))
        return name

    def const(self, array, hint="Constant"):
        """Adds a Constant node (the way PyTorch writes small constants such as sqrt(d) or reshape targets)."""
        array = np.asarray(array)
        out = self._fresh(hint)
        self.nodes.append(helper.make_node("Constant", [], [out], name=self._fresh("Constant"),
                                           value=numpy_helper.from_array(array)))
        return out

    def op(self, op_type, inputs, n_out=1, outputs=None, **attrs):
        if outputs is None:
            outputs = [self._fresh(op_type + "_out") for _ in range(n_out)]
        for o in outputs:
            self._used.add(o)
        self.nodes.append(helper.make_node(op_type, list(inputs), list(outputs), name=self._fresh(op_type), **attrs))
        return outputs[0] if len(outputs) == 1 else outputs

    def model(self, infer_shapes=False):
        graph = helper.make_graph(self.nodes, self.name, self.inputs, self.outputs, initializer=self.initializers)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", self.opset)],
                                  producer_name=self.producer[0], producer_version=self.producer[1])
        # IR 7 is what exporters of the opset 11-13 era write; opset 17 needs IR 8.
        model.ir_version = 8 if self.opset >= 15 else 7
        onnx.checker.check_model(model)
        if infer_shapes:
            model = onnx.shape_inference.infer_shapes(model)
        return model


class Weights:
    """Deterministic, well-scaled random weights so activations stay O(1) through deep stacks."""

    def __init__(self, seed):
        self.rng = np.random.default_rng(seed)

    def normal(self, shape, std):
        return self.rng.standard_normal(shape, dtype=np.float32) * np.float32(std)

    def uniform(self, shape, low, high):
        return (low + (high - low) * self.rng.random(shape, dtype=np.float32)).astype(np.float32)

    def conv(self, cout, cin_per_group, kh, kw):
        return self.normal((cout, cin_per_group, kh, kw), np.sqrt(2.0 / (cin_per_group * kh * kw)))

    def linear(self, fan_in, fan_out, transposed=False):
        """A [fan_in, fan_out] matrix for MatMul, or [fan_out, fan_in] for Gemm with transB=1."""
        shape = (fan_out, fan_in) if transposed else (fan_in, fan_out)
        return self.normal(shape, np.sqrt(1.0 / fan_in))

    def bias(self, n, scale=0.1):
        return self.uniform((n,), -scale, scale)

    def batchnorm(self, c):
        return (self.uniform((c,), 0.8, 1.2), self.uniform((c,), -0.1, 0.1), self.uniform((c,), -0.2, 0.2),
                self.uniform((c,), 0.5, 1.5))


def conv(g, w, x, cin, cout, k, stride=1, pad=None, group=1, bias=True, dilation=1):
    """Conv the way PyTorch exports nn.Conv2d: weights and bias as initializers, explicit pads."""
    if pad is None:
        pad = (k // 2) * dilation
    pads = list(pad) if isinstance(pad, (list, tuple)) else [pad] * 4
    ins = [x, g.init("conv.weight", w.conv(cout, cin // group, k, k))]
    if bias:
        ins.append(g.init("conv.bias", w.bias(cout)))
    return g.op("Conv", ins, kernel_shape=[k, k], strides=[stride, stride], pads=pads, group=group,
                dilations=[dilation, dilation])


def batchnorm(g, w, x, c, epsilon=1e-5):
    scale, bias, mean, var = w.batchnorm(c)
    return g.op("BatchNormalization", [x, g.init("bn.weight", scale), g.init("bn.bias", bias),
                                       g.init("bn.running_mean", mean), g.init("bn.running_var", var)],
                epsilon=epsilon, momentum=0.9)


def unsqueeze(g, x, axes):
    """Unsqueeze with axes as an attribute before opset 13 and as an input from 13 on."""
    if g.opset >= 13:
        return g.op("Unsqueeze", [x, g.const(np.array(axes, dtype=np.int64))])
    return g.op("Unsqueeze", [x], axes=axes)


def reduce_sum(g, x, axes, keepdims=1):
    if g.opset >= 13:
        return g.op("ReduceSum", [x, g.init("axes", np.array(axes, dtype=np.int64))], keepdims=keepdims)
    return g.op("ReduceSum", [x], axes=axes, keepdims=keepdims)


def layer_norm(g, w, x, d, style, eps=1e-5):
    """LayerNorm over the last axis: the opset 17 op, or the ReduceMean/Sub/Pow/Sqrt/Div chain older exports use."""
    gamma = g.init("LayerNorm.weight", w.uniform((d,), 0.8, 1.2))
    beta = g.init("LayerNorm.bias", w.bias(d))
    if style == "fused":
        assert g.opset >= 17
        return g.op("LayerNormalization", [x, gamma, beta], axis=-1, epsilon=eps)
    mean = g.op("ReduceMean", [x], axes=[-1], keepdims=1)
    centered = g.op("Sub", [x, mean])
    sq = g.op("Pow", [centered, g.const(np.array(2.0, dtype=np.float32))])
    var = g.op("ReduceMean", [sq], axes=[-1], keepdims=1)
    std = g.op("Sqrt", [g.op("Add", [var, g.const(np.array(eps, dtype=np.float32))])])
    normed = g.op("Div", [centered, std])
    return g.op("Add", [g.op("Mul", [normed, gamma]), beta])


def gelu_erf(g, x):
    """GELU as PyTorch exports it before opset 20: x * 0.5 * (1 + erf(x / sqrt(2)))."""
    e = g.op("Erf", [g.op("Div", [x, g.const(np.array(1.4142135381698608, dtype=np.float32))])])
    return g.op("Mul", [g.op("Mul", [x, g.op("Add", [e, g.const(np.array(1.0, dtype=np.float32))])]),
                        g.const(np.array(0.5, dtype=np.float32))])


def linear3d(g, w, x, fan_in, fan_out, bias_first=True):
    """nn.Linear on a 3-D input: MatMul then Add (PyTorch writes the bias as the first Add input)."""
    mm = g.op("MatMul", [x, g.init("linear.weight", w.linear(fan_in, fan_out))])
    b = g.init("linear.bias", w.bias(fan_out))
    return g.op("Add", [b, mm] if bias_first else [mm, b])


def encoder_block(g, w, x, d, heads, ffn, ln_style, scale_style="div"):
    """A post-norm (BERT-style) encoder block on x [batch, seq, d], with the dynamic reshape chain
    Shape -> Gather -> Unsqueeze -> Concat -> Reshape that PyTorch writes for view(b, s, h, dh)."""
    dh = d // heads
    shape = g.op("Shape", [x])
    b = g.op("Gather", [shape, g.const(np.array(0, dtype=np.int64))], axis=0)
    s = g.op("Gather", [shape, g.const(np.array(1, dtype=np.int64))], axis=0)
    bu = unsqueeze(g, b, [0])
    su = unsqueeze(g, s, [0])
    heads_shape = g.op("Concat", [bu, su, g.const(np.array([heads], dtype=np.int64)),
                                  g.const(np.array([dh], dtype=np.int64))], axis=0)

    def split_heads(t, perm):
        return g.op("Transpose", [g.op("Reshape", [t, heads_shape])], perm=perm)

    q = split_heads(linear3d(g, w, x, d, d), [0, 2, 1, 3])  # [b, h, s, dh]
    k = split_heads(linear3d(g, w, x, d, d, bias_first=False), [0, 2, 3, 1])  # [b, h, dh, s]
    v = split_heads(linear3d(g, w, x, d, d), [0, 2, 1, 3])  # [b, h, s, dh]
    if scale_style == "mul":  # nn.MultiheadAttention scales q first
        q = g.op("Mul", [q, g.const(np.array(1.0 / np.sqrt(dh), dtype=np.float32))])
        scores = g.op("MatMul", [q, k])
    else:  # HF BERT divides the scores
        scores = g.op("Div", [g.op("MatMul", [q, k]), g.const(np.array(np.sqrt(dh), dtype=np.float32))])
    probs = g.op("Softmax", [scores], axis=-1 if g.opset >= 13 else 3)
    ctx = g.op("Transpose", [g.op("MatMul", [probs, v])], perm=[0, 2, 1, 3])  # [b, s, h, dh]
    merged_shape = g.op("Concat", [bu, su, g.const(np.array([d], dtype=np.int64))], axis=0)
    ctx = g.op("Reshape", [ctx, merged_shape])
    attn = linear3d(g, w, ctx, d, d)
    h = layer_norm(g, w, g.op("Add", [x, attn]), d, ln_style)
    f = linear3d(g, w, gelu_erf(g, linear3d(g, w, h, d, ffn)), ffn, d)
    return layer_norm(g, w, g.op("Add", [h, f]), d, ln_style)
