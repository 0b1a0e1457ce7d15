# SPDX-License-Identifier: AGPL-3.0-or-later
"""Tiny CLIP-family towers with the real I/O signatures (OpenCLIP ViT, SigLIP, M-CLIP).

Hidden widths are tiny so files stay small; the output dimension is the real embedding size. Gains on the residual
branches are raised above the usual init so that one random block still makes the embedding depend clearly on
the input (a faithful init would leave the constant class/probe token dominating).
"""

from __future__ import annotations

import functools
import math
from typing import Callable

import numpy as np
import onnx
from onnx import TensorProto

from . import calib
from .onnx_builder import GraphBuilder, round_sig, session


def _batch_expand(g: GraphBuilder, like: str, token: str, width: int) -> str:
    """Broadcast a learned [1, 1, W] token to [B, 1, W], B taken from `like`'s first dim."""
    with g.scope("expand"):
        batch = g.op("Slice", [g.op("Shape", [like]), g.const([0]), g.const([1])])
        shape = g.op("Concat", [batch, g.const([1, width])], axis=0)
        return g.op("Expand", [token, shape])


def _transformer(g: GraphBuilder, x: str, layers: int, *args, **kw) -> str:
    """`layers` residual blocks; a single block keeps the unscoped weight names of the small test models."""
    if layers == 1:
        return _residual_block(g, x, *args, **kw)
    for i in range(layers):
        with g.scope(str(i)):
            x = _residual_block(g, x, *args, **kw)
    return x


def _residual_block(
    g: GraphBuilder,
    x: str,
    width: int,
    heads: int,
    seq: int,
    mask: str | None = None,
    eps: float = 1e-5,
    gelu: str = "erf",
    gains: tuple[float, float, float] = (1.0, 1.0, 1.0),
) -> str:
    """Pre-LN transformer block (OpenCLIP / timm layout)."""
    qk_gain, attn_gain, mlp_gain = gains
    with g.scope("resblock"):
        h = g.layer_norm(x, width, eps, leaf="ln_1")
        x = g.op("Add", [x, g.attention(h, h, width, heads, seq, seq, mask, qk_gain=qk_gain, out_gain=attn_gain)])
        h = g.layer_norm(x, width, eps, leaf="ln_2")
        return g.op("Add", [x, g.mlp(h, width, 4 * width, gelu=gelu, out_gain=mlp_gain)])


def vit_visual(
    name: str,
    seed: int,
    embed_dim: int,
    image_size: int = 224,
    patch: int = 32,
    width: int = 16,
    heads: int = 2,
    pool: str = "cls",
    shift: np.ndarray | None = None,
    probe: bool = False,
    layers: int = 1,
) -> onnx.ModelProto:
    """image float32 [batch,3,S,S] -> L2-normalised float32 [batch, embed_dim].

    pool="cls": OpenAI/OpenCLIP ViT (class token, Erf GELU, ln_post on token 0, projection).
    pool="map": SigLIP (no class token, tanh GELU, attention-pool probe, eps 1e-6).
    shift is added to ln_post's bias (cls) or the head bias (map); probe=True outputs the tensor it shifts.
    """
    g = GraphBuilder(name, seed)
    grid = image_size // patch
    n_patches = grid * grid
    siglip = pool == "map"
    eps = 1e-6 if siglip else 1e-5
    gelu = "tanh" if siglip else "erf"
    gains = (2.0, 3.0, 1.5)

    image = g.input("image", TensorProto.FLOAT, ["batch", 3, image_size, image_size])
    with g.scope("visual"):
        with g.scope("conv1"):
            w = g.weight("weight", (width, 3, patch, patch), 1.0 / math.sqrt(3 * patch * patch))
            conv_in = [image, w] + ([g.weight("bias", (width,), 0.02)] if siglip else [])
            x = g.op("Conv", conv_in, kernel_shape=[patch, patch], strides=[patch, patch])
        x = g.op("Reshape", [x, g.const([0, width, n_patches])])
        x = g.op("Transpose", [x], perm=[0, 2, 1])  # [B, N, W]
        seq = n_patches
        if not siglip:
            cls = g.weight("class_embedding", (1, 1, width), 0.5)
            x = g.op("Concat", [_batch_expand(g, x, cls, width), x], axis=1)
            seq += 1
        x = g.op("Add", [x, g.weight("positional_embedding", (seq, width), 0.3)])
        if not siglip:
            x = g.layer_norm(x, width, eps, leaf="ln_pre")
        x = _transformer(g, x, layers, width, heads, seq, eps=eps, gelu=gelu, gains=gains)

        if siglip:
            x = g.layer_norm(x, width, eps, leaf="norm")
            with g.scope("attn_pool"):
                latent = _batch_expand(g, x, g.weight("latent", (1, 1, width), 1.0), width)
                pooled = g.attention(latent, x, width, heads, 1, seq, qk_gain=2.0, out_gain=2.0)
                h = g.layer_norm(pooled, width, eps, leaf="norm")
                pooled = g.op("Add", [pooled, g.mlp(h, width, 4 * width, gelu=gelu)])
                x = g.op("Reshape", [pooled, g.const([-1, width])])
            x = g.linear(x, width, embed_dim, leaf="head", bias_shift=shift)
            tap = x
        else:
            x = g.op("Gather", [x, g.const(0)], axis=1)  # class token -> [B, W]
            x = tap = g.layer_norm(x, width, eps, leaf="ln_post", beta_shift=shift)
            with g.scope("proj"):
                x = g.op("MatMul", [x, g.weight("weight", (width, embed_dim), 1.0 / math.sqrt(width))])
        out = g.l2_normalize(x)
    if probe:
        g.output(tap, "probe", TensorProto.FLOAT, ["batch", embed_dim if siglip else width])
    else:
        g.output(out, "embedding", TensorProto.FLOAT, ["batch", embed_dim])
    return g.build(f"Synthetic test model ({pool} ViT visual tower); random weights, not a real CLIP.")


def calibrated_vit_visual(name: str, seed: int, embed_dim: int, mean, std, **kw) -> onnx.ModelProto:
    """vit_visual with its output centred on the mean of synthetic photos.

    Random towers map every natural image close to one common direction (cosine ~0.8 between unrelated photos);
    removing that mean makes unrelated photos clearly different while near-duplicates stay close.
    """
    size = kw.get("image_size", 224)
    rng = np.random.default_rng(seed + 1)
    imgs = np.stack([calib.synthetic_photo(rng, size, size, faces=int(rng.integers(0, 3))) for _ in range(32)])
    x = ((imgs.astype(np.float32) / 255.0 - np.asarray(mean, np.float32)) / np.asarray(std, np.float32))
    x = np.ascontiguousarray(x.transpose(0, 3, 1, 2), dtype=np.float32)
    return calibrated(functools.partial(vit_visual, name, seed, embed_dim, **kw), {"image": x})


def calibrated(build: Callable[..., onnx.ModelProto], feeds: dict[str, np.ndarray]) -> onnx.ModelProto:
    """Build the probe variant, measure the mean of the tapped tensor on `feeds`, rebuild with it subtracted."""
    feats = session(build(probe=True)).run(None, feeds)[0].astype(np.float64)
    return build(shift=-round_sig(feats.mean(axis=0)))


def _causal_mask(n: int) -> np.ndarray:
    return np.triu(np.full((n, n), -np.inf, dtype=np.float32), k=1)


def openclip_textual(
    name: str,
    seed: int,
    embed_dim: int,
    vocab_size: int,
    context: int = 77,
    width: int = 16,
    heads: int = 2,
    pool: str = "argmax",
    shift: np.ndarray | None = None,
    probe: bool = False,
    layers: int = 1,
) -> onnx.ModelProto:
    """text int32 [batch, context] -> L2-normalised float32 [batch, embed_dim].

    pool="argmax": OpenAI CLIP (causal mask, pooled at the position of the highest token id, i.e. the EOT token).
    pool="last": SigLIP (no causal mask, pooled at the last position, projection with bias, tanh GELU, eps 1e-6).
    shift is added to ln_final's bias (argmax) or the projection bias (last); probe=True outputs what it shifts.
    """
    g = GraphBuilder(name, seed)
    siglip = pool == "last"
    eps = 1e-6 if siglip else 1e-5
    text = g.input("text", TensorProto.INT32, ["batch", context])
    with g.scope("textual"):
        ids = g.op("Cast", [text], to=TensorProto.INT64)
        x = g.op("Gather", [g.weight("token_embedding", (vocab_size, width), 1.0), ids], axis=0)
        x = g.op("Add", [x, g.weight("positional_embedding", (context, width), 0.5)])
        mask = None if siglip else g.init("attn_mask", _causal_mask(context))
        x = _transformer(g, x, layers, width, heads, context, mask, eps, "tanh" if siglip else "erf", (1.5, 2.0, 1.5))
        if siglip:
            x = g.layer_norm(x, width, eps, leaf="ln_final")
            x = g.op("Gather", [x, g.const(context - 1)], axis=1)
            x = tap = g.linear(x, width, embed_dim, leaf="text_projection", bias_shift=shift)
        else:
            x = g.layer_norm(x, width, eps, leaf="ln_final", beta_shift=shift)
            eot = g.op("ArgMax", [ids], axis=-1, keepdims=1)  # [B, 1]
            x = tap = g.op("GatherND", [x, eot], batch_dims=1)  # [B, W]
            with g.scope("text_projection"):
                x = g.op("MatMul", [x, g.weight("weight", (width, embed_dim), 1.0 / math.sqrt(width))])
        out = g.l2_normalize(x)
    if probe:
        g.output(tap, "probe", TensorProto.FLOAT, ["batch", embed_dim if siglip else width])
    else:
        g.output(out, "embedding", TensorProto.FLOAT, ["batch", embed_dim])
    return g.build(f"Synthetic test model ({pool}-pooled text tower); random weights, not a real CLIP.")


def mclip_textual(
    name: str,
    seed: int,
    embed_dim: int,
    vocab_size: int,
    context: int = 77,
    width: int = 16,
    heads: int = 2,
    shift: np.ndarray | None = None,
    probe: bool = False,
) -> onnx.ModelProto:
    """input_ids, attention_mask int32 [batch, context] -> L2-normalised float32 [batch, embed_dim].

    XLM-R style post-LN encoder, masked mean pooling, linear projection (the M-CLIP head).
    shift is added to the projection bias; probe=True outputs the projection.
    """
    g = GraphBuilder(name, seed)
    ids_in = g.input("input_ids", TensorProto.INT32, ["batch", context])
    mask_in = g.input("attention_mask", TensorProto.INT32, ["batch", context])
    with g.scope("transformer"):
        ids = g.op("Cast", [ids_in], to=TensorProto.INT64)
        maskf = g.op("Cast", [mask_in], to=TensorProto.FLOAT)
        x = g.op("Gather", [g.weight("word_embeddings", (vocab_size, width), 1.0), ids], axis=0)
        x = g.op("Add", [x, g.weight("position_embeddings", (context, width), 0.5)])
        x = g.layer_norm(x, width, 1e-5, leaf="embeddings_ln")
        with g.scope("extended_mask"):
            # (1 - mask) * -10000, shaped [B, 1, 1, S] to broadcast over heads and queries (HF BERT-style).
            inv = g.op("Sub", [g.const(1.0, np.float32), maskf])
            bias = g.op("Mul", [inv, g.const(-10000.0, np.float32)])
            bias = g.op("Unsqueeze", [bias, g.const([1, 2])])
        with g.scope("layer"):
            a = g.attention(x, x, width, heads, context, context, bias, qk_gain=1.5, out_gain=2.0)
            x = g.layer_norm(g.op("Add", [x, a]), width, 1e-5, leaf="attention_ln")
            x = g.layer_norm(g.op("Add", [x, g.mlp(x, width, 4 * width, out_gain=1.5)]), width, 1e-5, leaf="output_ln")
    with g.scope("pooling"):
        m3 = g.op("Unsqueeze", [maskf, g.const([2])])  # [B, S, 1]
        summed = g.op("ReduceSum", [g.op("Mul", [x, m3]), g.const([1])], keepdims=0)  # [B, W]
        count = g.op("ReduceSum", [maskf, g.const([1])], keepdims=1)  # [B, 1]
        x = g.op("Div", [summed, count])
    x = g.linear(x, width, embed_dim, leaf="LinearTransformation", bias_shift=shift)
    if probe:
        g.output(x, "probe", TensorProto.FLOAT, ["batch", embed_dim])
    else:
        g.output(g.l2_normalize(x), "embedding", TensorProto.FLOAT, ["batch", embed_dim])
    return g.build("Synthetic test model (M-CLIP style text tower); random weights, not a real M-CLIP.")
