# SPDX-License-Identifier: AGPL-3.0-or-later
"""Tiny InsightFace-compatible face models: an SCRFD-style detector and an ArcFace-style recognizer.

Detector: first-layer filters are zero-mean per input channel and nothing before the score head has a bias, so
flat regions (sky, walls, the black letterbox) give exactly zero features and a low score; only textured regions
can fire. Head features are standardised per image (InstanceNormalization) so busy and plain photos fire at
similar rates. The score head's scale and bias are calibrated on synthetic photos so that a small fraction of
anchors passes 0.5 and fewer pass 0.7. On the real photos in shared/testdata that gives 0.1-2% of anchors above
0.5 and a median of 4-11 boxes left after NMS at 0.7 (none on ~10-20% of photos; none on blank images), which
exercises thresholding and NMS without flooding them.

Recognizer: the final feature BatchNormalization's statistics are measured on synthetic face crops, which centres
the embeddings: unrelated faces get cosine similarities around 0.2 instead of ~0.9, and norms of ~20-30 like
ArcFace.
"""

from __future__ import annotations

import math

import numpy as np
import onnx
from onnx import TensorProto

from . import calib
from .onnx_builder import GraphBuilder, round_sig, session

STRIDES = (8, 16, 32)
ANCHORS = 2
# 5 landmarks (eyes, nose, mouth corners) around the anchor centre, in stride units; the ArcFace template's shape.
KPS_PATTERN = np.array([-1.2, -1.2, 1.2, -1.2, 0.0, 0.0, -1.0, 1.3, 1.0, 1.3], np.float32)
# Original insightface output names (torch export ids); Immich and focal read outputs by position only.
DET_OUTPUT_NAMES = ["443", "468", "493", "446", "471", "496", "449", "474", "499"]

# Target share of anchors above 0.5 and above 0.7 on the calibration images.
FRAC_ABOVE_05 = 0.0025
FRAC_ABOVE_07 = 0.0003


def _he(g: GraphBuilder, shape, gain: float = 1.0) -> np.ndarray:
    fan_in = int(np.prod(shape[1:]))
    return (g.rng.standard_normal(shape) * gain * math.sqrt(2.0 / fan_in)).astype(np.float32)


def _conv(g: GraphBuilder, x: str, w: np.ndarray, stride: int = 1, bias: np.ndarray | None = None, leaf="conv") -> str:
    k = w.shape[-1]
    with g.scope(leaf):
        inputs = [x, g.init("weight", w)] + ([g.init("bias", bias)] if bias is not None else [])
        return g.op("Conv", inputs, kernel_shape=[k, k], strides=[stride, stride], pads=[k // 2] * 4)


def scrfd_detector(
    name: str,
    seed: int,
    with_kps: bool = True,
    dynamic_hw: bool = False,
    cls_affine: list[tuple[float, float]] | None = None,
) -> onnx.ModelProto:
    """input.1 float32 [1,3,640,640] (or [1,3,"?","?"]) -> 9 (or 6) outputs: scores, boxes, keypoints per stride.

    cls_affine: per-stride (scale, bias) for the score logits. None builds the calibration variant, whose score
    outputs are the raw logits (no Sigmoid).
    """
    g = GraphBuilder(name, seed)
    size = 640
    hw = ["?", "?"] if dynamic_hw else [size, size]
    x = g.input("input.1", TensorProto.FLOAT, [1, 3, *hw])

    with g.scope("backbone"):
        w0 = _he(g, (8, 3, 3, 3))
        w0 -= w0.mean(axis=(2, 3), keepdims=True)  # edge filters: zero response to any flat colour
        # Edge padding so the frame border itself is not an edge (a plain image must give no detections).
        x = g.op("Pad", [x, g.const([0, 0, 1, 1, 0, 0, 1, 1])], mode="edge")
        with g.scope("stem"):
            x = g.op("Conv", [x, g.init("weight", w0)], kernel_shape=[3, 3], strides=[2, 2])
        x = g.op("Relu", [x])  # /2
        chans = [8, 16, 16, 24, 24]
        feats = {}
        for i, stride in enumerate((4, 8, 16, 32)):
            x = g.op("Relu", [_conv(g, x, _he(g, (chans[i + 1], chans[i], 3, 3)), 2, leaf=f"stage{i}")])
            if stride in STRIDES:
                feats[stride] = x

    scores, boxes, kpss = [], [], []
    for si, stride in enumerate(STRIDES):
        c = chans[si + 2]
        with g.scope(f"bbox_head.stride{stride}"):
            h = g.op("Relu", [_conv(g, feats[stride], _he(g, (16, c, 3, 3)), leaf="shared")])
            # Per-image standardisation: ReLU nets are scale-homogeneous, so without it a high-contrast photo would
            # fire everywhere and a low-contrast one nowhere. Flat regions sit below the mean and stay 0 after ReLU.
            with g.scope("norm"):
                h = g.op("InstanceNormalization", [h, g.const(np.ones(16), np.float32), g.const(np.zeros(16), np.float32)],
                         epsilon=1e-3)
                h = g.op("Relu", [h])
            w_cls = (g.rng.standard_normal((ANCHORS, 16, 3, 3)) / math.sqrt(16 * 9)).astype(np.float32)
            w_reg = (g.rng.standard_normal((ANCHORS * 4, 16, 3, 3)) * 0.5 / math.sqrt(16 * 9)).astype(np.float32)
            w_kps = (g.rng.standard_normal((ANCHORS * 10, 16, 3, 3)) * 0.5 / math.sqrt(16 * 9)).astype(np.float32)
            if cls_affine is None:
                cls = _conv(g, h, w_cls, leaf="stride_cls")
            else:
                scale, bias = cls_affine[si]
                cls = _conv(g, h, w_cls * np.float32(scale), bias=np.full(ANCHORS, bias, np.float32), leaf="stride_cls")
            cls = g.op("Reshape", [g.op("Transpose", [cls], perm=[2, 3, 0, 1]), g.const([-1, 1])])
            scores.append(cls if cls_affine is None else g.op("Sigmoid", [cls]))

            # Distances in stride units, kept in [1, 4] so every box has a sane, positive size.
            reg = g.op("Sigmoid", [_conv(g, h, w_reg, leaf="stride_reg")])
            reg = g.op("Add", [g.op("Mul", [reg, g.const(3.0, np.float32)]), g.const(1.0, np.float32)])
            boxes.append(g.op("Reshape", [g.op("Transpose", [reg], perm=[2, 3, 0, 1]), g.const([-1, 4])]))

            if with_kps:
                kps = g.op("Tanh", [_conv(g, h, w_kps, leaf="stride_kps")])
                kps = g.op("Mul", [kps, g.const(0.3, np.float32)])
                kps = g.op("Add", [kps, g.const(np.tile(KPS_PATTERN, ANCHORS).reshape(-1, 1, 1), np.float32)])
                kpss.append(g.op("Reshape", [g.op("Transpose", [kps], perm=[2, 3, 0, 1]), g.const([-1, 10])]))

    names = iter(DET_OUTPUT_NAMES if with_kps else DET_OUTPUT_NAMES[:6])
    for group, width in ((scores, 1), (boxes, 4), (kpss, 10)):
        for stride, t in zip(STRIDES, group):
            n = None if dynamic_hw else (size // stride) ** 2 * ANCHORS  # anchor count follows the input size
            g.output(t, next(names), TensorProto.FLOAT, [n, width])
    return g.build("Synthetic SCRFD-style face detector; random weights, detects texture, not faces.")


def calibrated_detector(name: str, seed: int, with_kps: bool = True, dynamic_hw: bool = False) -> onnx.ModelProto:
    probe = scrfd_detector(name, seed, with_kps, dynamic_hw=False, cls_affine=None)
    sess = session(probe)
    logits = [[] for _ in STRIDES]
    for blob in calib.detector_set(seed + 1):
        outs = sess.run(None, {"input.1": blob})
        for i in range(len(STRIDES)):
            logits[i].append(outs[i].ravel())
    affine = []
    for z in logits:
        z = np.concatenate(z).astype(np.float64)
        q5, q7 = np.quantile(z, 1 - FRAC_ABOVE_05), np.quantile(z, 1 - FRAC_ABOVE_07)
        scale = math.log(0.7 / 0.3) / max(q7 - q5, 1e-6)  # maps q5 -> logit 0 (0.5) and q7 -> 0.7
        affine.append((float(round_sig(scale)), float(round_sig(-scale * q5))))
    return scrfd_detector(name, seed, with_kps, dynamic_hw, cls_affine=affine)


def arcface_recognizer(
    name: str, seed: int, static_batch: bool = False, bn_stats: tuple[np.ndarray, np.ndarray] | None = None
) -> onnx.ModelProto:
    """input.1 float32 [N,3,112,112] (N = "None", or 1) -> float32 [N,512] raw (not normalised) embedding.

    bn_stats: mean/var for the final feature BatchNormalization; None builds the calibration variant, whose output
    is the pre-BN feature.
    """
    g = GraphBuilder(name, seed)
    n = 1 if static_batch else "None"
    x = g.input("input.1", TensorProto.FLOAT, [n, 3, 112, 112])

    def bn(x: str, c: int, leaf: str, mean=None, var=None) -> str:
        with g.scope(leaf):
            gamma = g.init("weight", (1.0 + 0.1 * g.rng.standard_normal(c)).astype(np.float32))
            beta = g.weight("bias", (c,), 0.05)
            mean = g.init("running_mean", np.zeros(c, np.float32) if mean is None else mean)
            var = g.init("running_var", np.ones(c, np.float32) if var is None else var)
            return g.op("BatchNormalization", [x, gamma, beta, mean, var], epsilon=1e-5)

    def block(x: str, cin: int, cout: int, stride: int, leaf: str) -> str:
        with g.scope(leaf):
            y = bn(_conv(g, x, _he(g, (cout, cin, 3, 3)), stride), cout, "bn")
            with g.scope("prelu"):
                return g.op("PRelu", [y, g.init("weight", np.full((cout, 1, 1), 0.25, np.float32))])

    x = block(x, 3, 16, 2, "conv1")  # 56
    x = block(x, 16, 16, 2, "layer1")  # 28
    with g.scope("layer2"):  # one residual unit, as in IResNet
        y = block(x, 16, 16, 1, "conv_a")
        y = bn(_conv(g, y, _he(g, (16, 16, 3, 3), gain=0.5)), 16, "bn_b")
        x = g.op("Add", [x, y])
    x = block(x, 16, 32, 2, "layer3")  # 14
    x = block(x, 32, 32, 2, "layer4")  # 7
    x = bn(_conv(g, x, _he(g, (4, 32, 3, 3)), 2, leaf="conv_out"), 4, "bn2")  # [N, 4, 4, 4]
    x = g.op("Flatten", [x], axis=1)
    with g.scope("fc"):
        w = (g.rng.standard_normal((512, 64)) / math.sqrt(64)).astype(np.float32)
        x = g.op("Gemm", [x, g.init("weight", w), g.weight("bias", (512,), 0.02)], transB=1)
    if bn_stats is None:
        out = x
    else:
        with g.scope("features"):
            gamma = g.init("weight", (1.0 + 0.1 * g.rng.standard_normal(512)).astype(np.float32))
            beta = g.init("bias", np.zeros(512, np.float32))
            mean, var = (g.init("running_mean", bn_stats[0]), g.init("running_var", bn_stats[1]))
            out = g.op("BatchNormalization", [x, gamma, beta, mean, var], epsilon=1e-5)
    g.output(out, "683", TensorProto.FLOAT, [n, 512])
    return g.build("Synthetic ArcFace-style face recognizer; random weights, embeddings carry no identity.")


def calibrated_recognizer(name: str, seed: int, static_batch: bool = False) -> onnx.ModelProto:
    sess = session(arcface_recognizer(name, seed, static_batch=False))
    feats = sess.run(None, {"input.1": calib.recognizer_set(seed + 1)})[0].astype(np.float64)
    # Centre on "average face" features so different faces point in different directions (cosine well below 1).
    mean, var = round_sig(feats.mean(axis=0)), round_sig(feats.var(axis=0) + 1e-3)
    return arcface_recognizer(name, seed, static_batch, bn_stats=(mean, var))


def describe_scores(model: onnx.ModelProto, blobs: list[np.ndarray]) -> dict:
    """Share of anchors above 0.5 / 0.7 (for checks and the README)."""
    sess = session(model)
    above5 = above7 = total = 0
    for blob in blobs:
        s = np.concatenate([o.ravel() for o in sess.run(None, {"input.1": blob})[: len(STRIDES)]])
        above5 += int((s > 0.5).sum())
        above7 += int((s > 0.7).sum())
        total += s.size
    return {"frac_above_0.5": above5 / total, "frac_above_0.7": above7 / total}

