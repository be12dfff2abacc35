#!/usr/bin/python3
"""Reference data for IJepa.Training, written from the I-JEPA paper's training algorithm (Assran et al. 2023,
section 3 and appendix C) and not from the C# code. For a tiny model with fixed weights, images and masks it
runs three optimizer steps with the schedules running and records the loss of each step, the gradients of
each step, and the parameters of all three networks after every step.

The algorithm, per step s = 1, 2, 3 (t = s - 1 steps done before it):
  lr  = warm-up from start_lr to lr over `warmup` steps (linear in s), then cosine from lr to final_lr over
        the remaining total - warmup steps
  wd  = final_wd + (wd - final_wd) * (1 + cos(pi * s / total)) / 2, on weights only (not on biases or 1-D
        parameters); m = ema_start + t * (ema_end - ema_start) / total
  h   = layer_norm(target_encoder(images)) over the features, no affine (eps 1e-5), gathered at each
        target block (target-block-major), repeated for each context block
  z   = predictor(encoder(images, context blocks), context blocks, target blocks)
  loss = smooth_l1(z, h) (beta 1, mean); backward; AdamW (betas 0.9/0.999, eps below) with the four groups
        [encoder weights, predictor weights, encoder biases+1-D (no decay), predictor biases+1-D (no decay)]
  target <- m * target + (1 - m) * encoder
Encoder: conv patch embedding + fixed 2-D sin-cos positions, only the context tokens kept, pre-norm blocks
(LayerNorm eps 1e-6, fused qkv, softmax attention, exact GELU MLP), final LayerNorm. Predictor: linear
embedding + positions of the context tokens, one mask token + position per target token, its blocks over
[context, targets], norm, projection of the target tokens back to the encoder width.

AdamW's eps is 1e-4 here, not the usual 1e-8: with 1e-8 a parameter whose exact gradient is zero (the key
rows of qkv.bias: softmax ignores a shift of all scores) or lost in rounding gets a first update of +-lr chosen
by the rounding noise, and float32 and float64 runs of this very script then differ by 1.2e-2 of the tensor's
scale. A larger eps scales those updates down with the gradient, and every implementation can agree.

Computed in float64 (stored as float32): the C# test runs float32 and must agree within 1e-5 of each
tensor's largest magnitude. A float32 run of the same Python is compared too, to show that float32 itself
stays well inside that bound.

Also checks a checkpoint written by the C# code when given one (see check_checkpoint.py).

    /usr/bin/python3 tests/reference/training/generate.py
"""
import copy
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from generate import write_safetensors  # noqa: E402

CFG = dict(image=16, patch=4, channels=3, width=32, depth=2, heads=2, mlp=128,
           pred_width=16, pred_depth=1, batch=2, steps=3,
           total=5, warmup=2, start_lr=2e-3, lr=1e-2, final_lr=1e-6,
           wd=0.04, final_wd=0.4, ema_start=0.996, ema_end=1.0, eps=1e-4)


def sincos_2d(dim, grid):
    """Fixed positions: half the channels from the column coordinate, half from the row; each half sin then cos."""
    def one_axis(d, pos):
        omega = 1.0 / 10000 ** (np.arange(d // 2, dtype=np.float64) / (d / 2.0))
        out = np.outer(pos.reshape(-1), omega)
        return np.concatenate([np.sin(out), np.cos(out)], axis=1)
    cols, rows = np.meshgrid(np.arange(grid, dtype=np.float64), np.arange(grid, dtype=np.float64))
    return np.concatenate([one_axis(dim // 2, cols), one_axis(dim // 2, rows)], axis=1)


class Block(nn.Module):
    def __init__(self, dim, heads, hidden):
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = nn.Module()
        self.attn.qkv = nn.Linear(dim, 3 * dim)
        self.attn.proj = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = nn.Module()
        self.mlp.fc1 = nn.Linear(dim, hidden)
        self.mlp.fc2 = nn.Linear(hidden, dim)

    def attention(self, x):
        b, n, d = x.shape
        qkv = self.attn.qkv(x).reshape(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        weights = torch.softmax(q @ k.transpose(-2, -1) * (d // self.heads) ** -0.5, dim=-1)
        return self.attn.proj((weights @ v).transpose(1, 2).reshape(b, n, d))

    def forward(self, x):
        x = x + self.attention(self.norm1(x))
        return x + self.mlp.fc2(F.gelu(self.mlp.fc1(self.norm2(x))))


def gather(x, masks):
    """x [B, N, D], masks: list of [B, K] index tensors -> [len(masks) * B, K, D], mask-major."""
    return torch.cat([torch.gather(x, 1, m.unsqueeze(-1).expand(-1, -1, x.size(-1))) for m in masks], 0)


def repeat_groups(x, b, repeat):
    return torch.cat([torch.cat([x[i * b:(i + 1) * b] for _ in range(repeat)], 0) for i in range(len(x) // b)], 0)


class Encoder(nn.Module):
    def __init__(self, c):
        super().__init__()
        grid = c["image"] // c["patch"]
        self.pos_embed = nn.Parameter(torch.from_numpy(sincos_2d(c["width"], grid)).float().unsqueeze(0), requires_grad=False)
        self.patch_embed = nn.Module()
        self.patch_embed.proj = nn.Conv2d(c["channels"], c["width"], c["patch"], stride=c["patch"])
        self.blocks = nn.ModuleList([Block(c["width"], c["heads"], c["mlp"]) for _ in range(c["depth"])])
        self.norm = nn.LayerNorm(c["width"], eps=1e-6)

    def forward(self, images, masks=None):
        x = self.patch_embed.proj(images).flatten(2).transpose(1, 2) + self.pos_embed
        if masks is not None:
            x = gather(x, masks)
        for block in self.blocks:
            x = block(x)
        return self.norm(x)


class Predictor(nn.Module):
    def __init__(self, c):
        super().__init__()
        grid = c["image"] // c["patch"]
        w = c["pred_width"]
        self.mask_token = nn.Parameter(torch.zeros(1, 1, w))
        self.predictor_pos_embed = nn.Parameter(torch.from_numpy(sincos_2d(w, grid)).float().unsqueeze(0), requires_grad=False)
        self.predictor_embed = nn.Linear(c["width"], w)
        self.predictor_blocks = nn.ModuleList([Block(w, c["heads"], 4 * w) for _ in range(c["pred_depth"])])
        self.predictor_norm = nn.LayerNorm(w, eps=1e-6)
        self.predictor_proj = nn.Linear(w, c["width"])

    def forward(self, context, context_masks, target_masks):
        b = len(context) // len(context_masks)
        pos = self.predictor_pos_embed.repeat(b, 1, 1)
        x = self.predictor_embed(context) + gather(pos, context_masks)
        n_context = x.size(1)
        queries = self.mask_token + repeat_groups(gather(pos, target_masks), b, len(context_masks))
        x = torch.cat([x.repeat(len(target_masks), 1, 1), queries], 1)
        for block in self.predictor_blocks:
            x = block(x)
        return self.predictor_proj(self.predictor_norm(x)[:, n_context:])


def learning_rate(c, s):
    if s < c["warmup"]:
        return c["start_lr"] + s / max(1, c["warmup"]) * (c["lr"] - c["start_lr"])
    progress = (s - c["warmup"]) / max(1, c["total"] - c["warmup"])
    return max(c["final_lr"], c["final_lr"] + (c["lr"] - c["final_lr"]) * 0.5 * (1 + math.cos(math.pi * progress)))


def weight_decay(c, s):
    value = c["final_wd"] + (c["wd"] - c["final_wd"]) * 0.5 * (1 + math.cos(math.pi * s / c["total"]))
    return min(c["final_wd"], value) if c["final_wd"] > c["wd"] else max(c["final_wd"], value)


def momentum(c, t):
    return c["ema_start"] + t * (c["ema_end"] - c["ema_start"]) / c["total"]


def fixed_inputs(c):
    rng = np.random.default_rng(20261130)
    tokens = (c["image"] // c["patch"]) ** 2
    images = rng.standard_normal((c["steps"], c["batch"], c["channels"], c["image"], c["image"]))
    context = np.stack([[np.sort(rng.choice(tokens, 6, replace=False)) for _ in range(c["batch"])] for _ in range(c["steps"])])
    targets = np.stack([[[np.sort(rng.choice(tokens, 3, replace=False)) for _ in range(c["batch"])] for _ in range(4)] for _ in range(c["steps"])])
    return images, context.astype(np.int64), targets.astype(np.int64)


def initial_weights(c, encoder, predictor):
    """Fixed, deliberately non-trivial values (biases and norm affines away from 0 and 1); positions stay sin-cos."""
    rng = np.random.default_rng(7)
    values = {}
    for prefix, net in (("encoder", encoder), ("predictor", predictor)):
        for name, p in net.named_parameters():
            if "pos_embed" in name:
                values[f"{prefix}.{name}"] = p.detach().double().numpy()
            elif "norm" in name and name.endswith("weight"):
                values[f"{prefix}.{name}"] = 1.0 + 0.2 * rng.standard_normal(tuple(p.shape))
            elif name.endswith("bias"):
                values[f"{prefix}.{name}"] = 0.1 * rng.standard_normal(tuple(p.shape))
            else:
                fan_in = int(np.prod(p.shape[1:])) if p.dim() > 1 else 1
                values[f"{prefix}.{name}"] = rng.standard_normal(tuple(p.shape)) / math.sqrt(max(fan_in, 1)) if name != "mask_token" else 0.5 * rng.standard_normal(tuple(p.shape))
    return values


def run(c, dtype):
    torch.manual_seed(0)
    encoder, predictor = Encoder(c).to(dtype), Predictor(c).to(dtype)
    init = initial_weights(c, encoder, predictor)
    with torch.no_grad():
        for prefix, net in (("encoder", encoder), ("predictor", predictor)):
            for name, p in net.named_parameters():
                p.copy_(torch.from_numpy(init[f"{prefix}.{name}"]))
    target = copy.deepcopy(encoder)
    for p in target.parameters():
        p.requires_grad = False

    def decayed(n, p):
        return "bias" not in n and len(p.shape) != 1
    groups = [
        {"params": [p for n, p in encoder.named_parameters() if decayed(n, p)]},
        {"params": [p for n, p in predictor.named_parameters() if decayed(n, p)]},
        {"params": [p for n, p in encoder.named_parameters() if not decayed(n, p)], "WD_exclude": True, "weight_decay": 0},
        {"params": [p for n, p in predictor.named_parameters() if not decayed(n, p)], "WD_exclude": True, "weight_decay": 0},
    ]
    optimizer = torch.optim.AdamW(groups, betas=(0.9, 0.999), eps=c["eps"])
    images, context, targets = fixed_inputs(c)
    out = {"schedule": []}
    for t in range(c["steps"]):
        s = t + 1
        lr, wd, m = learning_rate(c, s), weight_decay(c, s), momentum(c, t)
        for g in optimizer.param_groups:
            g["lr"] = lr
            if not g.get("WD_exclude"):
                g["weight_decay"] = wd
        x = torch.from_numpy(images[t]).to(dtype)
        cm = [torch.from_numpy(context[t])]
        tm = [torch.from_numpy(targets[t, k]) for k in range(4)]
        with torch.no_grad():
            h = target(x)
            h = F.layer_norm(h, (h.size(-1),))
            h = repeat_groups(gather(h, tm), c["batch"], len(cm))
        z = predictor(encoder(x, cm), cm, tm)
        loss = F.smooth_l1_loss(z, h)
        optimizer.zero_grad()
        loss.backward()
        for prefix, net in (("encoder", encoder), ("predictor", predictor)):
            for name, p in net.named_parameters():
                if p.grad is not None:
                    out[f"grad{s}.{prefix}.{name}"] = p.grad.detach().double().numpy().copy()
        optimizer.step()
        with torch.no_grad():
            for q, k in zip(encoder.parameters(), target.parameters()):
                k.mul_(m).add_((1.0 - m) * q.detach())
        out.setdefault("loss", []).append(loss.item())
        out["schedule"].append((lr, wd, m))
        for prefix, net in (("encoder", encoder), ("predictor", predictor), ("target_encoder", target)):
            for name, p in net.named_parameters():
                out[f"step{s}.{prefix}.{name}"] = p.detach().double().numpy().copy()
    return init, images, context, targets, out


def main():
    c = CFG
    init, images, context, targets, ref = run(c, torch.float64)
    _, _, _, _, single = run(c, torch.float32)
    worst = 0.0
    for key, value in ref.items():
        if key.startswith(("grad", "step")):
            scale = np.abs(value).max()
            if scale > 0:
                worst = max(worst, np.abs(single[key] - value).max() / scale)
    print("losses:", ref["loss"])
    print("schedule (lr, wd, momentum):", ref["schedule"])
    print(f"float32 Python against float64: worst max-abs error / max-abs = {worst:.2e}")
    print("float32 losses:", single["loss"])
    tensors = {}
    for key, value in init.items():
        tensors["init." + key] = ("F32", value.astype(np.float32))
    tensors["images"] = ("F32", images.astype(np.float32))
    tensors["context"] = ("F64", context.astype(np.float64))
    tensors["targets"] = ("F64", targets.astype(np.float64))
    tensors["loss"] = ("F64", np.array(ref["loss"], dtype=np.float64))
    tensors["schedule"] = ("F64", np.array(ref["schedule"], dtype=np.float64))
    # Kept under 1 MB: the gradients of the first and last step and the networks after the last step.
    for key, value in ref.items():
        if key.startswith(("grad1.", "grad3.", "step3.")):
            tensors[key] = ("F32", value.astype(np.float32))
    metadata = {k: str(v) for k, v in c.items()}
    metadata["generator"] = "tests/reference/training/generate.py (torch %s, float64)" % torch.__version__
    path = os.path.join(HERE, "reference.safetensors")
    write_safetensors(path, tensors, metadata)
    print(f"wrote {path}: {os.path.getsize(path)} bytes, {len(tensors)} tensors")


if __name__ == "__main__":
    main()
