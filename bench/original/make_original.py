#!/usr/bin/env python3
"""Writes a large random checkpoint in the I-JEPA training code's torch.save layout (encoder, predictor,
target_encoder, an Adam state for encoder + predictor, bookkeeping; `module.` prefixes), to measure
how much memory loading one part of it takes. Weights are random: only sizes and layout matter.

    /usr/bin/python3 bench/original/make_original.py OUT.pth.tar [--width 1024] [--depth 12]
"""
import argparse
from collections import OrderedDict

import torch


def block(prefix, d, hidden, sd):
    sd[prefix + "norm1.weight"] = torch.ones(d)
    sd[prefix + "norm1.bias"] = torch.zeros(d)
    sd[prefix + "attn.qkv.weight"] = torch.randn(3 * d, d) * 0.02
    sd[prefix + "attn.qkv.bias"] = torch.zeros(3 * d)
    sd[prefix + "attn.proj.weight"] = torch.randn(d, d) * 0.02
    sd[prefix + "attn.proj.bias"] = torch.zeros(d)
    sd[prefix + "norm2.weight"] = torch.ones(d)
    sd[prefix + "norm2.bias"] = torch.zeros(d)
    sd[prefix + "mlp.fc1.weight"] = torch.randn(hidden, d) * 0.02
    sd[prefix + "mlp.fc1.bias"] = torch.zeros(hidden)
    sd[prefix + "mlp.fc2.weight"] = torch.randn(d, hidden) * 0.02
    sd[prefix + "mlp.fc2.bias"] = torch.zeros(d)


def encoder(d, depth, patch=14, grid=16):
    sd = OrderedDict()
    sd["module.pos_embed"] = torch.randn(1, grid * grid, d) * 0.02
    sd["module.patch_embed.proj.weight"] = torch.randn(d, 3, patch, patch) * 0.02
    sd["module.patch_embed.proj.bias"] = torch.zeros(d)
    for i in range(depth):
        block(f"module.blocks.{i}.", d, 4 * d, sd)
    sd["module.norm.weight"] = torch.ones(d)
    sd["module.norm.bias"] = torch.zeros(d)
    return sd


def predictor(d, e=384, depth=6, grid=16):
    sd = OrderedDict()
    sd["module.mask_token"] = torch.zeros(1, 1, e)
    sd["module.predictor_pos_embed"] = torch.zeros(1, grid * grid, e)
    sd["module.predictor_embed.weight"] = torch.randn(e, d) * 0.02
    sd["module.predictor_embed.bias"] = torch.zeros(e)
    for i in range(depth):
        block(f"module.predictor_blocks.{i}.", e, 4 * e, sd)
    sd["module.predictor_norm.weight"] = torch.ones(e)
    sd["module.predictor_norm.bias"] = torch.zeros(e)
    sd["module.predictor_proj.weight"] = torch.randn(d, e) * 0.02
    sd["module.predictor_proj.bias"] = torch.zeros(d)
    return sd


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--width", type=int, default=1024)
    parser.add_argument("--depth", type=int, default=12)
    a = parser.parse_args()
    enc, pred = encoder(a.width, a.depth), predictor(a.width)
    target = OrderedDict((k, v.clone()) for k, v in enc.items())
    params = list(enc.values()) + list(pred.values())
    state = {i: {"step": torch.tensor(100.0), "exp_avg": torch.randn_like(p), "exp_avg_sq": torch.rand_like(p)} for i, p in enumerate(params)}
    opt = {"state": state, "param_groups": [{"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.04, "params": list(range(len(params)))}]}
    torch.save({"encoder": enc, "predictor": pred, "target_encoder": target, "opt": opt, "scaler": None,
                "epoch": 300, "loss": 0.1, "batch_size": 2048, "world_size": 16, "lr": 1e-3}, a.out)
    print(f"wrote {a.out}: encoder {sum(v.numel() for v in enc.values()) * 4 / 1e9:.3f} GB per encoder part")


if __name__ == "__main__":
    main()
