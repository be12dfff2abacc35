#!/usr/bin/python3
"""Checks that a checkpoint written by IJepa.Training is what the original I-JEPA training code saves and
resumes from, using PyTorch itself:
  - torch.load reads it (the zip archive, the protocol-2 pickle, the storages);
  - it is a dict with encoder, predictor, target_encoder, opt, scaler, epoch, loss, batch_size, world_size, lr;
  - the three state dicts carry the DistributedDataParallel `module.` prefix and load strictly into PyTorch
    modules of the paper's architecture (the ones of generate.py, sized from the tensors);
  - `opt` loads into torch.optim.AdamW over the paper's four parameter groups, state for state;
  - the loaded target encoder encodes an image.

    /usr/bin/python3 tests/reference/training/check_checkpoint.py CHECKPOINT [...]
"""
import importlib.util
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
spec = importlib.util.spec_from_file_location("training_reference", os.path.join(HERE, "generate.py"))
ref = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ref)


def strip(state):
    assert all(k.startswith("module.") for k in state), "keys without the module. prefix"
    return {k[len("module."):]: v for k, v in state.items()}


def check(path):
    c = torch.load(path, map_location="cpu")
    expected = {"encoder", "predictor", "target_encoder", "opt", "scaler", "epoch", "loss", "batch_size", "world_size", "lr"}
    missing = expected - set(c)
    assert not missing, f"missing keys {missing}"
    enc, pred, tgt = strip(c["encoder"]), strip(c["predictor"]), strip(c["target_encoder"])
    depth = len({k.split(".")[1] for k in enc if k.startswith("blocks.")})
    pred_depth = len({k.split(".")[1] for k in pred if k.startswith("predictor_blocks.")})
    width = enc["pos_embed"].shape[2]
    patch = enc["patch_embed.proj.weight"].shape[2]
    grid = int(round(enc["pos_embed"].shape[1] ** 0.5))
    heads = int(c.get("ijepa_dotnet", {}).get("num_attention_heads", 1))
    cfg = dict(ref.CFG, image=grid * patch, patch=patch, channels=enc["patch_embed.proj.weight"].shape[1], width=width,
               depth=depth, heads=heads, mlp=enc["blocks.0.mlp.fc1.weight"].shape[0],
               pred_width=pred["predictor_embed.weight"].shape[0], pred_depth=pred_depth)
    encoder, predictor, target = ref.Encoder(cfg), ref.Predictor(cfg), ref.Encoder(cfg)
    encoder.load_state_dict(enc, strict=True)
    predictor.load_state_dict(pred, strict=True)
    target.load_state_dict(tgt, strict=True)

    def decayed(n, p):
        return "bias" not in n and len(p.shape) != 1
    groups = [
        {"params": [p for n, p in encoder.named_parameters() if decayed(n, p)]},
        {"params": [p for n, p in predictor.named_parameters() if decayed(n, p)]},
        {"params": [p for n, p in encoder.named_parameters() if not decayed(n, p)], "WD_exclude": True, "weight_decay": 0},
        {"params": [p for n, p in predictor.named_parameters() if not decayed(n, p)], "WD_exclude": True, "weight_decay": 0},
    ]
    optimizer = torch.optim.AdamW(groups)
    optimizer.load_state_dict(c["opt"])
    states = optimizer.state_dict()["state"]
    # Every parameter that trains has moments of its own shape.
    for group in optimizer.param_groups:
        for p in group["params"]:
            if p.requires_grad and p in optimizer.state:
                assert optimizer.state[p]["exp_avg"].shape == p.shape
    with torch.no_grad():
        out = target(torch.zeros(1, cfg["channels"], cfg["image"], cfg["image"]))
    print(f"{path}: torch {torch.__version__} loads it; encoder {len(enc)} tensors (width {width}, depth {depth}, patch {patch}, "
          f"image {cfg['image']}), predictor {len(pred)} (width {cfg['pred_width']}, depth {pred_depth}), target_encoder {len(tgt)}; "
          f"strict load_state_dict OK; AdamW.load_state_dict OK ({len(states)} parameter states, "
          f"{len(optimizer.param_groups)} groups, WD_exclude on {sum(1 for g in optimizer.param_groups if g.get('WD_exclude'))}); "
          f"epoch {c['epoch']}, loss {c['loss']:.5f}, lr {c['lr']:.3e}, batch_size {c['batch_size']}, world_size {c['world_size']}; "
          f"target encoder output {tuple(out.shape)}")


if __name__ == "__main__":
    for p in sys.argv[1:]:
        check(p)
