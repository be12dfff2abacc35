#!/usr/bin/env python3
"""Writes the reference data for IJepa's original-checkpoint tests: tiny checkpoints in the layout of
the I-JEPA training code's torch.save (a dict with encoder, predictor, target_encoder, opt, scaler,
epoch, loss, batch_size, world_size, lr; state-dict keys with the DistributedDataParallel `module.`
prefix; an Adam-style optimizer state twice the size of the model) and, for fixed inputs and masks,
the expected outputs computed in float64 with numpy from the published architecture:

  encoder:   x = conv(pixels) + pos_embed; x = x[:, kept indices] (masked encoding only);
             per block x = x + proj(attn(norm1(x))), x = x + fc2(gelu(fc1(norm2(x)))); x = norm(x)
             (attn from one fused qkv projection, split as [3, heads, head_dim]; LayerNorm eps 1e-6)
  predictor: x = predictor_embed(context) + pos[context idx]; targets = mask_token + pos[target idx];
             for each target mask: blocks over [x, targets], predictor_norm, keep the target tokens,
             predictor_proj; pos = fixed 2-D sin-cos of the predictor width
  actual:    layer_norm(target_encoder(pixels)) without affine, eps 1e-5, at the target indices

Needs Debian's python3-torch (only to write the torch.save archives) and python3-numpy:
    /usr/bin/python3 tests/reference/generate_original.py
"""
import json
import math
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from generate import gelu, layer_norm, softmax, write_safetensors  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "original")

CFG = {"image": 42, "patch": 7, "dim": 32, "depth": 2, "heads": 4, "mlp": 64,
       "pred_dim": 24, "pred_depth": 2, "pred_mlp": 48}


def sincos_1d(dim, pos):
    omega = np.arange(dim // 2, dtype=np.float64) / (dim / 2.0)
    omega = 1.0 / 10000 ** omega
    out = np.einsum("m,d->md", pos.reshape(-1), omega)
    return np.concatenate([np.sin(out), np.cos(out)], axis=1)


def sincos_2d(dim, grid):
    """The I-JEPA code's fixed positions: the first half of the channels from one grid axis, the second from the other."""
    gh = np.arange(grid, dtype=np.float64)
    gw = np.arange(grid, dtype=np.float64)
    mesh = np.meshgrid(gw, gh)  # w first
    emb_h = sincos_1d(dim // 2, mesh[0])
    emb_w = sincos_1d(dim // 2, mesh[1])
    return np.concatenate([emb_h, emb_w], axis=1)


def block_weights(rng, prefix, d, mlp, w):
    def linear(name, o, i):
        w[prefix + name + ".weight"] = rng.standard_normal((o, i)) / math.sqrt(i)
        w[prefix + name + ".bias"] = 0.1 * rng.standard_normal(o)

    def norm(name):
        w[prefix + name + ".weight"] = 1.0 + 0.2 * rng.standard_normal(d)
        w[prefix + name + ".bias"] = 0.1 * rng.standard_normal(d)

    norm("norm1")
    linear("attn.qkv", 3 * d, d)
    linear("attn.proj", d, d)
    norm("norm2")
    linear("mlp.fc1", mlp, d)
    linear("mlp.fc2", d, mlp)


def encoder_weights(rng):
    d, p, grid = CFG["dim"], CFG["patch"], CFG["image"] // CFG["patch"]
    w = {"pos_embed": sincos_2d(d, grid)[None]}
    w["patch_embed.proj.weight"] = rng.standard_normal((d, 3, p, p)) / math.sqrt(3 * p * p)
    w["patch_embed.proj.bias"] = 0.1 * rng.standard_normal(d)
    for i in range(CFG["depth"]):
        block_weights(rng, f"blocks.{i}.", d, CFG["mlp"], w)
    w["norm.weight"] = 1.0 + 0.2 * rng.standard_normal(d)
    w["norm.bias"] = 0.1 * rng.standard_normal(d)
    return w


def predictor_weights(rng):
    d, e, grid = CFG["dim"], CFG["pred_dim"], CFG["image"] // CFG["patch"]
    w = {"mask_token": 0.02 * rng.standard_normal((1, 1, e)), "predictor_pos_embed": sincos_2d(e, grid)[None]}
    w["predictor_embed.weight"] = rng.standard_normal((e, d)) / math.sqrt(d)
    w["predictor_embed.bias"] = 0.1 * rng.standard_normal(e)
    for i in range(CFG["pred_depth"]):
        block_weights(rng, f"predictor_blocks.{i}.", e, CFG["pred_mlp"], w)
    w["predictor_norm.weight"] = 1.0 + 0.2 * rng.standard_normal(e)
    w["predictor_norm.bias"] = 0.1 * rng.standard_normal(e)
    w["predictor_proj.weight"] = rng.standard_normal((d, e)) / math.sqrt(e)
    w["predictor_proj.bias"] = 0.1 * rng.standard_normal(d)
    return w


def block(w, prefix, x, heads):
    B, N, D = x.shape
    hd = D // heads
    lin = lambda name, v: v @ w[prefix + name + ".weight"].T + w[prefix + name + ".bias"]
    h = layer_norm(x, w[prefix + "norm1.weight"], w[prefix + "norm1.bias"], 1e-6)
    qkv = lin("attn.qkv", h).reshape(B, N, 3, heads, hd).transpose(2, 0, 3, 1, 4)
    q, k, v = qkv[0], qkv[1], qkv[2]
    att = softmax(q @ k.transpose(0, 1, 3, 2) * hd ** -0.5) @ v
    x = x + lin("attn.proj", att.transpose(0, 2, 1, 3).reshape(B, N, D))
    h = layer_norm(x, w[prefix + "norm2.weight"], w[prefix + "norm2.bias"], 1e-6)
    return x + lin("mlp.fc2", gelu(lin("mlp.fc1", h)))


def apply_masks(x, masks):
    """Gathers the tokens of each mask and stacks the results mask-major: [len(masks) * B, K, D]."""
    return np.concatenate([np.take_along_axis(x, m[:, :, None], axis=1) for m in masks], axis=0)


def encoder_forward(w, pixels, masks=None):
    B, C, H, W = pixels.shape
    p, d = CFG["patch"], CFG["dim"]
    g = H // p
    patches = pixels.reshape(B, C, g, p, g, p).transpose(0, 2, 4, 1, 3, 5).reshape(B, g * g, C * p * p)
    x = patches @ w["patch_embed.proj.weight"].reshape(d, -1).T + w["patch_embed.proj.bias"] + w["pos_embed"]
    if masks is not None:
        x = apply_masks(x, masks)
    for i in range(CFG["depth"]):
        x = block(w, f"blocks.{i}.", x, CFG["heads"])
    return layer_norm(x, w["norm.weight"], w["norm.bias"], 1e-6)


def predictor_forward(w, context, masks_x, masks):
    B = context.shape[0] // len(masks_x)
    x = context @ w["predictor_embed.weight"].T + w["predictor_embed.bias"]
    pos = np.repeat(w["predictor_pos_embed"], B, axis=0)
    x = x + apply_masks(pos, masks_x)
    n_ctx = x.shape[1]
    pos_t = apply_masks(pos, masks)
    targets = w["mask_token"] + pos_t
    x = np.concatenate([np.tile(x, (len(masks), 1, 1)), targets], axis=1)
    for i in range(CFG["pred_depth"]):
        x = block(w, f"predictor_blocks.{i}.", x, CFG["heads"])
    x = layer_norm(x, w["predictor_norm.weight"], w["predictor_norm.bias"], 1e-6)[:, n_ctx:]
    return x @ w["predictor_proj.weight"].T + w["predictor_proj.bias"]


def as_state_dict(w, prefix="module."):
    from collections import OrderedDict
    return OrderedDict((prefix + k, torch.from_numpy(np.ascontiguousarray(v.astype(np.float32)))) for k, v in w.items())


def optimizer_state(rng, weights):
    """An Adam-style optimizer state dict: two moments per parameter, as large as the model twice."""
    state, params = {}, []
    for i, (name, v) in enumerate(weights):
        state[i] = {"step": torch.tensor(300.0), "exp_avg": torch.from_numpy(rng.standard_normal(v.shape).astype(np.float32)),
                    "exp_avg_sq": torch.from_numpy(np.abs(rng.standard_normal(v.shape)).astype(np.float32))}
        params.append(i)
    groups = [{"lr": 0.001, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.04, "amsgrad": False,
               "maximize": False, "foreach": None, "capturable": False, "params": params}]
    return {"state": state, "param_groups": groups}


def formats_checkpoint(path):
    """Tensors the way torch.save stores them beyond the training checkpoints' plain float32 state dicts: one per
    storage type, views that keep their base's storage (an element offset, transposed strides, a zero stride), an
    empty tensor and an nn.Parameter; the C# tests read them back and compare with the values written here."""
    base = torch.arange(12, dtype=torch.float32)
    halves = torch.arange(6, dtype=torch.float16) / 4
    tensors = {
        "float32": torch.tensor([1.5, -2.25], dtype=torch.float32),
        "float16": torch.tensor([1.5, -2.25], dtype=torch.float16),
        "bfloat16": torch.tensor([1.5, -2.25], dtype=torch.bfloat16),
        "float64": torch.tensor([1.5, -2.25], dtype=torch.float64),
        "int64": torch.tensor([3, -4], dtype=torch.int64),
        "int32": torch.tensor([3, -4], dtype=torch.int32),
        "int16": torch.tensor([3, -4], dtype=torch.int16),
        "int8": torch.tensor([3, -4], dtype=torch.int8),
        "uint8": torch.tensor([3, 250], dtype=torch.uint8),
        "bool": torch.tensor([True, False]),
        "offset": base[4:7],  # contiguous, element offset 4 into a 12-element storage
        "strided": base.view(3, 4).t()[1:],  # shape (3, 3), stride (1, 4), offset 1
        "expanded": torch.tensor([2.5]).expand(3),  # stride (0,)
        "half_offset": halves[2:5],  # contiguous float16 at element offset 2
        "empty": torch.zeros(0, 3),
        "parameter": torch.nn.Parameter(torch.tensor([1.0, 2.0])),
    }
    torch.save(tensors, path)


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(2301)
    encoder = encoder_weights(rng)
    target = {k: v + 0.05 * rng.standard_normal(v.shape) if k != "pos_embed" else v for k, v in encoder.items()}
    predictor = predictor_weights(rng)
    # The values a float32 reader sees: expected outputs come from exactly those.
    f32 = lambda w: {k: v.astype(np.float32).astype(np.float64) for k, v in w.items()}
    encoder, target, predictor = f32(encoder), f32(target), f32(predictor)

    checkpoint = {
        "encoder": as_state_dict(encoder),
        "predictor": as_state_dict(predictor),
        "target_encoder": as_state_dict(target),
        "opt": optimizer_state(rng, list(encoder.items()) + list(predictor.items())),
        "scaler": {"scale": 65536.0, "growth_factor": 2.0, "backoff_factor": 0.5, "growth_interval": 2000, "_growth_tracker": 17},
        "epoch": 300, "loss": 0.1234, "batch_size": 128, "world_size": 16, "lr": 0.001,
    }
    torch.save(checkpoint, os.path.join(OUT, "tiny-ijepa.pth.tar"))
    without = dict(checkpoint)
    del without["predictor"]
    torch.save(without, os.path.join(OUT, "tiny-no-predictor.pth.tar"))
    bad = dict(checkpoint)
    bad["target_encoder"] = as_state_dict(dict(target, **{"blocks.1.mlp.fc1.weight": np.zeros((CFG["mlp"] + 1, CFG["dim"]))}))
    torch.save(bad, os.path.join(OUT, "tiny-bad-shape.pth.tar"))
    formats_checkpoint(os.path.join(OUT, "tiny-formats.pth.tar"))

    grid = CFG["image"] // CFG["patch"]
    n = grid * grid
    B = 2
    pixels = rng.standard_normal((B, 3, CFG["image"], CFG["image"])).astype(np.float32).astype(np.float64)
    masks_enc = [np.stack([np.sort(rng.choice(n, 20, replace=False)) for _ in range(B)])]
    masks_pred = [np.stack([np.sort(rng.choice(n, 6, replace=False)) for _ in range(B)]) for _ in range(4)]

    context = encoder_forward(encoder, pixels, masks_enc)
    predicted = predictor_forward(predictor, context, masks_enc, masks_pred)
    full_target = encoder_forward(target, pixels)
    actual = apply_masks(layer_norm(full_target, 1.0, 0.0, 1e-5), masks_pred)
    out = {
        "pixel_values": ("F32", pixels.astype(np.float32)),
        "encoder_last_hidden_state": ("F64", encoder_forward(encoder, pixels)),
        "target_encoder_last_hidden_state": ("F64", full_target),
        "masked_context": ("F64", context),
        "predicted": ("F64", predicted),
        "actual": ("F64", actual),
        "predictor_pos_embed": ("F64", sincos_2d(CFG["pred_dim"], grid)[None]),
    }
    meta = {"masks_enc": json.dumps([m.tolist() for m in masks_enc]), "masks_pred": json.dumps([m.tolist() for m in masks_pred]),
            "heads": str(CFG["heads"])}
    write_safetensors(os.path.join(OUT, "expected.safetensors"), out, meta)
    print("wrote", OUT, "with torch", torch.__version__)


if __name__ == "__main__":
    main()
