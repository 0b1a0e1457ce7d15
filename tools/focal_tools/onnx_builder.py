# SPDX-License-Identifier: AGPL-3.0-or-later
"""A tiny, deterministic ONNX graph builder.

Node and tensor names are derived from a scope path (PyTorch-exporter style, e.g. "/visual/attn/MatMul"), so two
runs with the same seed produce byte-identical files. Scoped names also never start with "Sub"/"Mul", which matters
for the recognizer: insightface treats a graph whose first nodes are named Sub*/Mul* as MXNet-converted.
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from typing import Iterator, Sequence

import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper, numpy_helper

OPSET = 17
IR_VERSION = 8  # onnxruntime 1.21 reads ir_version <= 10; 8 keeps older runtimes happy too
PRODUCER = "focal-gen_test_models"
PRODUCER_VERSION = "1"

Dim = int | str | None  # int: fixed, str: dim_param, None: unknown

class GraphBuilder:
    def __init__(self, name: str, seed: int):
        self.name = name
        self.rng = np.random.default_rng(seed)
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self.inputs: list[onnx.ValueInfoProto] = []
        self.outputs: list[onnx.ValueInfoProto] = []
        self._scope: list[str] = []
        self._used: dict[str, int] = {}
        self._consts: dict[tuple, str] = {}

    # ---- naming -------------------------------------------------------------------------------------------------
    @contextmanager
    def scope(self, name: str) -> Iterator[None]:
        self._scope.append(name)
        try:
            yield
        finally:
            self._scope.pop()

    def _unique(self, base: str) -> str:
        n = self._used.get(base, 0)
        self._used[base] = n + 1
        return base if n == 0 else f"{base}_{n}"

    def _path(self, leaf: str) -> str:
        return "/" + "/".join(self._scope + [leaf])

    # ---- tensors ------------------------------------------------------------------------------------------------
    def input(self, name: str, elem_type: int, shape: Sequence[Dim]) -> str:
        self.inputs.append(helper.make_tensor_value_info(name, elem_type, list(shape)))
        return name

    def output(self, tensor: str, name: str, elem_type: int, shape: Sequence[Dim]) -> str:
        """Expose node output `tensor` as a graph output called `name` (renamed in place, as exporters do)."""
        if tensor != name:
            for node in self.nodes:
                for seq in (node.input, node.output):
                    for i, t in enumerate(seq):
                        if t == tensor:
                            seq[i] = name
        self.outputs.append(helper.make_tensor_value_info(name, elem_type, list(shape)))
        return name

    def init(self, leaf: str, array: np.ndarray) -> str:
        name = self._unique(".".join(self._scope + [leaf]).lstrip("."))
        self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def weight(self, leaf: str, shape: Sequence[int], std: float) -> str:
        return self.init(leaf, (self.rng.standard_normal(shape) * std).astype(np.float32))

    def const(self, values, dtype=np.int64) -> str:
        """Shared small constant (shapes, axes, scalars), deduplicated by value."""
        arr = np.asarray(values, dtype=dtype)
        key = (arr.dtype.str, arr.shape, arr.tobytes())
        if key not in self._consts:
            name = self._unique(f"const_{len(self._consts)}")
            self.initializers.append(numpy_helper.from_array(arr, name))
            self._consts[key] = name
        return self._consts[key]

    # ---- nodes --------------------------------------------------------------------------------------------------
    def op(self, op_type: str, inputs: Sequence[str], n_out: int = 1, leaf: str | None = None, **attrs):
        node_name = self._unique(self._path(leaf or op_type))
        outs = [f"{node_name}_output_{i}" for i in range(n_out)]
        self.nodes.append(helper.make_node(op_type, list(inputs), outs, name=node_name, **attrs))
        return outs[0] if n_out == 1 else outs

    # ---- common blocks ------------------------------------------------------------------------------------------
    def linear(
        self,
        x: str,
        d_in: int,
        d_out: int,
        std: float | None = None,
        bias: bool = True,
        leaf: str = "fc",
        bias_shift: np.ndarray | None = None,
    ) -> str:
        with self.scope(leaf):
            w = self.weight("weight", (d_in, d_out), std if std is not None else 1.0 / math.sqrt(d_in))
            y = self.op("MatMul", [x, w])
            if bias:
                b = (self.rng.standard_normal(d_out) * 0.02).astype(np.float32)
                y = self.op("Add", [y, self.init("bias", b if bias_shift is None else b + bias_shift)])
        return y

    def layer_norm(
        self, x: str, dim: int, eps: float = 1e-5, leaf: str = "ln", beta_shift: np.ndarray | None = None
    ) -> str:
        with self.scope(leaf):
            gamma = self.init("weight", (1.0 + 0.1 * self.rng.standard_normal(dim)).astype(np.float32))
            beta = (self.rng.standard_normal(dim) * 0.05).astype(np.float32)
            beta = self.init("bias", beta if beta_shift is None else beta + beta_shift)
            return self.op("LayerNormalization", [x, gamma, beta], axis=-1, epsilon=eps)

    def gelu_erf(self, x: str) -> str:
        with self.scope("gelu"):
            t = self.op("Div", [x, self.const(math.sqrt(2.0), np.float32)])
            t = self.op("Erf", [t])
            t = self.op("Add", [t, self.const(1.0, np.float32)])
            t = self.op("Mul", [x, t])
            return self.op("Mul", [t, self.const(0.5, np.float32)])

    def gelu_tanh(self, x: str) -> str:
        with self.scope("gelu"):
            cube = self.op("Pow", [x, self.const(3.0, np.float32)])
            inner = self.op("Add", [x, self.op("Mul", [cube, self.const(0.044715, np.float32)])])
            t = self.op("Tanh", [self.op("Mul", [inner, self.const(math.sqrt(2.0 / math.pi), np.float32)])])
            t = self.op("Add", [t, self.const(1.0, np.float32)])
            return self.op("Mul", [self.op("Mul", [x, t]), self.const(0.5, np.float32)])

    def l2_normalize(self, x: str) -> str:
        with self.scope("normalize"):
            norm = self.op("ReduceL2", [x], axes=[-1], keepdims=1)
            return self.op("Div", [x, norm])

    def attention(
        self,
        q_in: str,
        kv_in: str,
        width: int,
        heads: int,
        seq_q: int,
        seq_kv: int,
        mask: str | None = None,
        qk_gain: float = 1.0,
        out_gain: float = 1.0,
    ) -> str:
        """Multi-head attention on [B, S, W] tensors. `mask` is added to the [B, H, Sq, Skv] logits."""
        dh = width // heads
        with self.scope("attn"):
            q = self.linear(q_in, width, width, std=qk_gain / math.sqrt(width), leaf="q_proj")
            k = self.linear(kv_in, width, width, std=qk_gain / math.sqrt(width), leaf="k_proj")
            v = self.linear(kv_in, width, width, leaf="v_proj")
            q = self.op("Transpose", [self.op("Reshape", [q, self.const([0, seq_q, heads, dh])])], perm=[0, 2, 1, 3])
            k = self.op("Transpose", [self.op("Reshape", [k, self.const([0, seq_kv, heads, dh])])], perm=[0, 2, 3, 1])
            v = self.op("Transpose", [self.op("Reshape", [v, self.const([0, seq_kv, heads, dh])])], perm=[0, 2, 1, 3])
            logits = self.op("Mul", [self.op("MatMul", [q, k]), self.const(1.0 / math.sqrt(dh), np.float32)])
            if mask is not None:
                logits = self.op("Add", [logits, mask])
            probs = self.op("Softmax", [logits], axis=-1)
            ctx = self.op("Transpose", [self.op("MatMul", [probs, v])], perm=[0, 2, 1, 3])
            ctx = self.op("Reshape", [ctx, self.const([0, seq_q, width])])
            return self.linear(ctx, width, width, std=out_gain / math.sqrt(width), leaf="out_proj")

    def mlp(self, x: str, width: int, hidden: int, gelu: str = "erf", out_gain: float = 1.0) -> str:
        with self.scope("mlp"):
            h = self.linear(x, width, hidden, leaf="fc1")
            h = self.gelu_erf(h) if gelu == "erf" else self.gelu_tanh(h)
            return self.linear(h, hidden, width, std=out_gain / math.sqrt(hidden), leaf="fc2")

    # ---- output -------------------------------------------------------------------------------------------------
    def build(self, doc: str = "") -> onnx.ModelProto:
        graph = helper.make_graph(self.nodes, self.name, self.inputs, self.outputs, self.initializers)
        model = helper.make_model(
            graph,
            opset_imports=[helper.make_opsetid("", OPSET)],
            producer_name=PRODUCER,
            producer_version=PRODUCER_VERSION,
            doc_string=doc,
        )
        model.ir_version = IR_VERSION
        onnx.checker.check_model(model, full_check=True)
        return model


def session(model: onnx.ModelProto) -> ort.InferenceSession:
    """CPU session used for calibration and checks; single-threaded so results don't depend on the core count."""
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    return ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])


def round_sig(values, digits: int = 4) -> np.ndarray:
    """Round calibrated constants to `digits` significant digits, so last-bit float differences between machines
    (SIMD paths in ORT/OpenCV) cannot change the generated file."""
    arr = np.asarray(values, dtype=np.float64)
    out = np.array([0.0 if v == 0 else float(f"{v:.{digits - 1}e}") for v in arr.ravel()])
    return out.reshape(arr.shape).astype(np.float32)


def save(model: onnx.ModelProto, path) -> None:
    # SerializeToString is deterministic for a given message; write bytes ourselves to avoid any external-data logic.
    with open(path, "wb") as f:
        f.write(model.SerializeToString(deterministic=True))
