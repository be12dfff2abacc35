#!/usr/bin/env python3
"""Writes the reference data for IJepa's tests: tiny random I-JEPA checkpoints in the Hugging Face
layout (config.json, preprocessor_config.json, model.safetensors or shards + index) and, for fixed
inputs, the expected encoder outputs computed in float64 with numpy.

The forward pass below is written from the published architecture (I-JEPA / ViT, Hugging Face
`IJepaModel` key names), independently of the C# code:
  x = conv(pixels, kernel = stride = patch) -> tokens [B, N, D] + position embeddings (no class token)
  per block: h = x + attn(LN_before(x)); x = h + fc2(gelu_erf(fc1(LN_after(h))))
  last_hidden_state = LN(x); pooled = mean over tokens.
Other input sizes interpolate the position grid bicubically (PyTorch semantics, A = -0.75,
align_corners = False), as HF's `interpolate_pos_encoding` does.

Run with Debian's python3-numpy (python3-torch, if present, cross-checks the bicubic resampler):
    /usr/bin/python3 tests/reference/generate.py
Deterministic: the same numpy and BLAS write the same bytes (another BLAS moves the float64 outputs by ~1e-15).
"""
import json
import math
import os
import struct
import sys

import numpy as np

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")

# ---------------------------------------------------------------- safetensors writer

def bf16_bits(a):
    """float32 -> bfloat16 bit patterns (round to nearest even), as uint16."""
    bits = np.ascontiguousarray(a, dtype=np.float32).view(np.uint32).astype(np.uint64)
    rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16
    return rounded.astype(np.uint16)


def bf16_to_f64(bits):
    return (bits.astype(np.uint32) << 16).view(np.float32).astype(np.float64)


def write_safetensors(path, tensors, metadata=None):
    """tensors: name -> (dtype string, numpy array already in that storage type)."""
    header = {}
    offset = 0
    blobs = []
    for name, (dtype, array) in tensors.items():
        raw = np.ascontiguousarray(array).tobytes()
        header[name] = {"dtype": dtype, "shape": list(array.shape), "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
        blobs.append(raw)
    if metadata:
        header["__metadata__"] = metadata
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for raw in blobs:
            f.write(raw)


def stored(dtype, a):
    if dtype == "F32":
        return ("F32", a.astype(np.float32))
    if dtype == "F16":
        return ("F16", a.astype(np.float16))
    if dtype == "BF16":
        return ("BF16", bf16_bits(a))
    if dtype == "F64":
        return ("F64", a.astype(np.float64))
    raise ValueError(dtype)


def as_f64(dtype, a):
    """The exact values a reader of the stored tensor sees, in float64."""
    if dtype == "BF16":
        return bf16_to_f64(bf16_bits(a))
    if dtype == "F16":
        return a.astype(np.float16).astype(np.float64)
    return a.astype(np.float32).astype(np.float64)

# ---------------------------------------------------------------- model

def random_weights(cfg, rng):
    D, I, P, C = cfg["hidden_size"], cfg["intermediate_size"], cfg["patch_size"], cfg["num_channels"]
    n = (cfg["image_size"] // P) ** 2
    w = {}

    def linear(name, out_f, in_f):
        w[name + ".weight"] = rng.standard_normal((out_f, in_f)) / math.sqrt(in_f)
        w[name + ".bias"] = 0.1 * rng.standard_normal(out_f)

    def norm(name):
        w[name + ".weight"] = 1.0 + 0.2 * rng.standard_normal(D)
        w[name + ".bias"] = 0.1 * rng.standard_normal(D)

    w["embeddings.patch_embeddings.projection.weight"] = rng.standard_normal((D, C, P, P)) / math.sqrt(C * P * P)
    w["embeddings.patch_embeddings.projection.bias"] = 0.1 * rng.standard_normal(D)
    w["embeddings.position_embeddings"] = 0.5 * rng.standard_normal((1, n, D))
    for i in range(cfg["num_hidden_layers"]):
        p = f"encoder.layer.{i}."
        norm(p + "layernorm_before")
        for q in ("query", "key", "value"):
            linear(p + "attention.attention." + q, D, D)
        linear(p + "attention.output.dense", D, D)
        norm(p + "layernorm_after")
        linear(p + "intermediate.dense", I, D)
        linear(p + "output.dense", D, I)
    norm("layernorm")
    return w


def layer_norm(x, weight, bias, eps):
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * weight + bias


_erf = np.frompyfunc(math.erf, 1, 1)


def gelu(x):
    return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)).astype(np.float64))


def softmax(x):
    x = x - x.max(axis=-1, keepdims=True)
    e = np.exp(x)
    return e / e.sum(axis=-1, keepdims=True)


def cubic_weights(t, a=-0.75):
    def near(x):  # |x| <= 1
        return ((a + 2) * x - (a + 3)) * x * x + 1

    def far(x):  # 1 < |x| < 2
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a

    return [far(t + 1), near(t), near(1 - t), far(2 - t)]


def bicubic_matrix(n_in, n_out):
    """Row i holds the weights of output i over the inputs (PyTorch bicubic, align_corners=False)."""
    m = np.zeros((n_out, n_in))
    scale = n_in / n_out
    for i in range(n_out):
        src = (i + 0.5) * scale - 0.5
        x0 = math.floor(src)
        t = src - x0
        for k, wk in zip(range(x0 - 1, x0 + 3), cubic_weights(t)):
            m[i, min(max(k, 0), n_in - 1)] += wk
    return m


def interpolate_positions(pos, grid_h, grid_w):
    """pos [1, n, D] on a square grid -> [1, grid_h * grid_w, D]."""
    n, d = pos.shape[1], pos.shape[2]
    side = int(round(math.sqrt(n)))
    grid = pos.reshape(side, side, d)
    rows, cols = bicubic_matrix(side, grid_h), bicubic_matrix(side, grid_w)
    out = np.einsum("hi,ijd->hjd", rows, grid)
    out = np.einsum("wj,hjd->hwd", cols, out)
    return out.reshape(1, grid_h * grid_w, d)


def forward(cfg, w, pixels, interpolate=False):
    B, C, H, W = pixels.shape
    P, D, heads, eps = cfg["patch_size"], cfg["hidden_size"], cfg["num_attention_heads"], cfg["layer_norm_eps"]
    gh, gw = H // P, W // P
    patches = pixels[:, :, : gh * P, : gw * P].reshape(B, C, gh, P, gw, P).transpose(0, 2, 4, 1, 3, 5)
    patches = patches.reshape(B, gh * gw, C * P * P)
    kernel = w["embeddings.patch_embeddings.projection.weight"].reshape(D, C * P * P)
    x = patches @ kernel.T + w["embeddings.patch_embeddings.projection.bias"]
    pos = w["embeddings.position_embeddings"]
    if interpolate and not (gh * gw == pos.shape[1] and H == W):
        pos = interpolate_positions(pos, gh, gw)
    x = x + pos
    hidden = [x]
    hd = D // heads
    N = x.shape[1]
    for i in range(cfg["num_hidden_layers"]):
        p = f"encoder.layer.{i}."
        lin = lambda name, v: v @ w[p + name + ".weight"].T + w[p + name + ".bias"]
        h = layer_norm(x, w[p + "layernorm_before.weight"], w[p + "layernorm_before.bias"], eps)
        q, k, v = (lin("attention.attention." + n, h).reshape(B, N, heads, hd).transpose(0, 2, 1, 3) for n in ("query", "key", "value"))
        att = softmax(q @ k.transpose(0, 1, 3, 2) * hd ** -0.5) @ v
        x = x + lin("attention.output.dense", att.transpose(0, 2, 1, 3).reshape(B, N, D))
        h = layer_norm(x, w[p + "layernorm_after.weight"], w[p + "layernorm_after.bias"], eps)
        x = x + lin("output.dense", gelu(lin("intermediate.dense", h)))
        hidden.append(x)
    last = layer_norm(x, w["layernorm.weight"], w["layernorm.bias"], eps)
    last4 = np.concatenate([hs.mean(axis=1) for hs in hidden[-4:]], axis=-1)
    return {
        "last_hidden_state": last,
        "pooled": last.mean(axis=1),
        "hidden_states": np.stack(hidden),
        "last4_mean": last4,
    }

# ---------------------------------------------------------------- output


def write_checkpoint(folder, cfg, weights, dtype, shards):
    os.makedirs(folder, exist_ok=True)
    config = dict(cfg)
    config.update({
        "architectures": ["IJepaModel"], "model_type": "ijepa", "hidden_act": "gelu",
        "hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0, "qkv_bias": True,
        "initializer_range": 0.02, "torch_dtype": {"F32": "float32", "F16": "float16", "BF16": "bfloat16"}[dtype],
    })
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(config, f, indent=2, sort_keys=True)
    size = cfg["image_size"]
    with open(os.path.join(folder, "preprocessor_config.json"), "w") as f:
        json.dump({"do_normalize": True, "do_rescale": True, "do_resize": True, "image_mean": [0.5, 0.5, 0.5],
                   "image_processor_type": "ViTImageProcessor", "image_std": [0.5, 0.5, 0.5], "resample": 2,
                   "rescale_factor": 1 / 255, "size": {"height": size, "width": size}}, f, indent=2, sort_keys=True)
    names = list(weights)
    if shards == 1:
        write_safetensors(os.path.join(folder, "model.safetensors"), {n: stored(dtype, weights[n]) for n in names}, {"format": "pt"})
        return
    per = math.ceil(len(names) / shards)
    index = {"metadata": {"total_size": 0}, "weight_map": {}}
    for s in range(shards):
        part = names[s * per:(s + 1) * per]
        file = f"model-{s + 1:05d}-of-{shards:05d}.safetensors"
        tensors = {n: stored(dtype, weights[n]) for n in part}
        index["metadata"]["total_size"] += sum(t[1].nbytes for t in tensors.values())
        for n in part:
            index["weight_map"][n] = file
        write_safetensors(os.path.join(folder, file), tensors, {"format": "pt"})
    with open(os.path.join(folder, "model.safetensors.index.json"), "w") as f:
        json.dump(index, f, indent=2, sort_keys=True)


def write_case(folder, name, cfg, weights64, pixels, interpolate=False):
    out = forward(cfg, weights64, pixels.astype(np.float64), interpolate)
    tensors = {"pixel_values": ("F32", pixels.astype(np.float32))}
    tensors.update({k: ("F64", v) for k, v in out.items()})
    write_safetensors(os.path.join(folder, f"expected_{name}.safetensors"), tensors,
                      {"interpolate_pos_encoding": str(interpolate).lower()})


def check_bicubic_against_torch():
    try:
        import torch
    except ImportError:
        print("python3-torch not found: bicubic cross-check skipped")
        return
    rng = np.random.default_rng(7)
    grid = rng.standard_normal((1, 5, 5, 3))
    for gh, gw in [(6, 8), (3, 4), (5, 5), (9, 2)]:
        ours = interpolate_positions(grid.reshape(1, 25, 3), gh, gw).reshape(gh, gw, 3)
        t = torch.from_numpy(grid).permute(0, 3, 1, 2)
        theirs = torch.nn.functional.interpolate(t, size=(gh, gw), mode="bicubic", align_corners=False)
        theirs = theirs.permute(0, 2, 3, 1)[0].numpy()
        err = np.abs(ours - theirs).max()
        assert err < 1e-12, (gh, gw, err)
    print("bicubic position interpolation matches torch", torch.__version__)


def main():
    check_bicubic_against_torch()
    # Every dimension differs from ViT-H/14 (and from each other); grids 5x5 and 6x6 are not powers of two.
    p14 = {"image_size": 70, "patch_size": 14, "num_channels": 3, "hidden_size": 48, "num_hidden_layers": 4,
           "num_attention_heads": 6, "intermediate_size": 100, "layer_norm_eps": 1e-6}
    p16 = {"image_size": 96, "patch_size": 16, "num_channels": 3, "hidden_size": 40, "num_hidden_layers": 5,
           "num_attention_heads": 5, "intermediate_size": 72, "layer_norm_eps": 1e-5}
    rng = np.random.default_rng(20230101)

    # p14: float32, one file. Batch 3, plus a non-square input with interpolated positions.
    w = random_weights(p14, rng)
    folder = os.path.join(OUT, "ijepa_tiny_p14")
    write_checkpoint(folder, p14, w, "F32", shards=1)
    w64 = {k: as_f64("F32", v) for k, v in w.items()}
    write_case(folder, "batch3", p14, w64, rng.standard_normal((3, 3, 70, 70)).astype(np.float32))
    write_case(folder, "interpolated_84x112", p14, w64, rng.standard_normal((2, 3, 84, 112)).astype(np.float32), interpolate=True)
    # Input sizes that are not multiples of the patch: the convolution drops the remainder.
    write_case(folder, "interpolated_60x75", p14, w64, rng.standard_normal((1, 3, 60, 75)).astype(np.float32), interpolate=True)

    # The same weights stored as float16: expected values come from the rounded weights.
    folder16 = os.path.join(OUT, "ijepa_tiny_p14_f16")
    write_checkpoint(folder16, p14, w, "F16", shards=1)
    w16 = {k: as_f64("F16", v) for k, v in w.items()}
    write_case(folder16, "batch3", p14, w16, rng.standard_normal((3, 3, 70, 70)).astype(np.float32))

    # p16: bfloat16, three shards with an index.
    w = random_weights(p16, rng)
    folder = os.path.join(OUT, "ijepa_tiny_p16_sharded")
    write_checkpoint(folder, p16, w, "BF16", shards=3)
    wbf = {k: as_f64("BF16", v) for k, v in w.items()}
    write_case(folder, "batch2", p16, wbf, rng.standard_normal((2, 3, 96, 96)).astype(np.float32))

    # A large layer_norm_eps, so that a loader ignoring it (or a norm using another) moves outputs by ~1e-2, not ~1e-7.
    # Its own generator, so that adding it left every file above byte-identical.
    eps = {"image_size": 42, "patch_size": 14, "num_channels": 3, "hidden_size": 24, "num_hidden_layers": 4,
           "num_attention_heads": 4, "intermediate_size": 40, "layer_norm_eps": 0.05}
    rng = np.random.default_rng(20261130)
    w = random_weights(eps, rng)
    folder = os.path.join(OUT, "ijepa_tiny_p14_eps")
    write_checkpoint(folder, eps, w, "F32", shards=1)
    write_case(folder, "batch2", eps, {k: as_f64("F32", v) for k, v in w.items()}, rng.standard_normal((2, 3, 42, 42)).astype(np.float32))
    print("wrote", OUT)


if __name__ == "__main__":
    sys.exit(main())
