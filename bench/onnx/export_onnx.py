#!/usr/bin/env python3
"""Exports a Hugging Face I-JEPA folder (config.json + model.safetensors) to ONNX, for the ONNX Runtime
peer in IJepa's benchmark: the same weights, the same function.

The encoder is written here in plain PyTorch from the published architecture (ViT without a class
token, pre-LayerNorm blocks, exact erf GELU, final LayerNorm, mean-pooled output), independently of
transformers and of the C# code; the module names follow the checkpoint's keys so the weights load
by name. Outputs: last_hidden_state [B, N, D] and pooled [B, D]; the batch dimension is dynamic.

    /usr/bin/python3 bench/onnx/export_onnx.py MODEL_DIR OUT.onnx      # Debian's python3-torch 1.13

Opset 17 (LayerNormalization). Models over 2 GB are written with external data next to OUT.onnx.
"""
import json
import math
import os
import struct
import sys

import numpy as np
import torch
from torch import nn

DTYPES = {"F32": np.float32, "F16": np.float16, "F64": np.float64, "BF16": np.uint16}


def read_safetensors(path):
    with open(path, "rb") as f:
        (length,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(length))
        base = 8 + length
        tensors = {}
        for name, info in header.items():
            if name == "__metadata__":
                continue
            start, end = info["data_offsets"]
            f.seek(base + start)
            array = np.frombuffer(f.read(end - start), dtype=DTYPES[info["dtype"]]).reshape(info["shape"])
            if info["dtype"] == "BF16":
                array = (array.astype(np.uint32) << 16).view(np.float32)
            tensors[name] = torch.from_numpy(array.astype(np.float32))
    return tensors


class SelfAttention(nn.Module):
    def __init__(self, d, heads, bias):
        super().__init__()
        self.heads = heads
        self.query = nn.Linear(d, d, bias=bias)
        self.key = nn.Linear(d, d, bias=bias)
        self.value = nn.Linear(d, d, bias=bias)

    def forward(self, x):
        b, n, d = x.shape
        split = lambda t: t.reshape(b, n, self.heads, d // self.heads).transpose(1, 2)
        q, k, v = split(self.query(x)), split(self.key(x)), split(self.value(x))
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(d // self.heads)
        context = torch.matmul(scores.softmax(dim=-1), v)
        return context.transpose(1, 2).reshape(b, n, d)


class Dense(nn.Module):
    def __init__(self, d_in, d_out):
        super().__init__()
        self.dense = nn.Linear(d_in, d_out)


class Attention(nn.Module):
    def __init__(self, d, heads, bias):
        super().__init__()
        self.attention = SelfAttention(d, heads, bias)
        self.output = Dense(d, d)


class Layer(nn.Module):
    def __init__(self, c):
        super().__init__()
        d, eps = c["hidden_size"], c["layer_norm_eps"]
        self.layernorm_before = nn.LayerNorm(d, eps=eps)
        self.attention = Attention(d, c["num_attention_heads"], c.get("qkv_bias", True))
        self.layernorm_after = nn.LayerNorm(d, eps=eps)
        self.intermediate = Dense(d, c["intermediate_size"])
        self.output = Dense(c["intermediate_size"], d)

    def forward(self, x):
        h = x + self.attention.output.dense(self.attention.attention(self.layernorm_before(x)))
        y = self.layernorm_after(h)
        y = nn.functional.gelu(self.intermediate.dense(y))  # exact (erf) GELU, as "gelu" means in HF configs
        return h + self.output.dense(y)


class Encoder(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.layer = nn.ModuleList([Layer(c) for _ in range(c["num_hidden_layers"])])


class PatchEmbeddings(nn.Module):
    def __init__(self, c):
        super().__init__()
        p = c["patch_size"]
        self.projection = nn.Conv2d(c.get("num_channels", 3), c["hidden_size"], kernel_size=p, stride=p)


class Embeddings(nn.Module):
    def __init__(self, c):
        super().__init__()
        grid = c["image_size"] // c["patch_size"]
        self.patch_embeddings = PatchEmbeddings(c)
        self.position_embeddings = nn.Parameter(torch.zeros(1, grid * grid, c["hidden_size"]))


class IJepaEncoderModel(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.embeddings = Embeddings(c)
        self.encoder = Encoder(c)
        self.layernorm = nn.LayerNorm(c["hidden_size"], eps=c["layer_norm_eps"])

    def forward(self, pixel_values):
        x = self.embeddings.patch_embeddings.projection(pixel_values).flatten(2).transpose(1, 2)
        x = x + self.embeddings.position_embeddings
        for layer in self.encoder.layer:
            x = layer(x)
        last = self.layernorm(x)
        return last, last.mean(dim=1)


def main(model_dir, out_path):
    with open(os.path.join(model_dir, "config.json")) as f:
        config = json.load(f)
    assert config.get("hidden_act", "gelu") == "gelu", "only the erf GELU is exported"
    model = IJepaEncoderModel(config).eval()
    weights = read_safetensors(os.path.join(model_dir, "model.safetensors"))
    weights = {k[len("ijepa."):] if k.startswith("ijepa.") else k: v for k, v in weights.items()
               if not k.startswith(("pooler.", "classifier."))}
    model.load_state_dict(weights, strict=True)
    size = config["image_size"]
    dummy = torch.zeros(1, config.get("num_channels", 3), size, size)
    with torch.no_grad():
        torch.onnx.export(model, (dummy,), out_path, opset_version=17,
                          input_names=["pixel_values"], output_names=["last_hidden_state", "pooled"],
                          dynamic_axes={"pixel_values": {0: "batch"}, "last_hidden_state": {0: "batch"}, "pooled": {0: "batch"}},
                          do_constant_folding=True)
    print(f"wrote {out_path}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
