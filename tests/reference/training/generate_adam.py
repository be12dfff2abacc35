#!/usr/bin/python3
"""Reference data for IJepa.Training's Adam (the Train sample's linear-probe optimizer): PyTorch's own
torch.optim.Adam (single-tensor path, the defaults betas 0.9/0.999, eps 1e-8, no weight decay, no amsgrad),
float32, learning rate 1e-3, over the two parameters of a Linear(6, 10) and a third, `small`, for five steps with
given gradients. The third step gives the bias no gradient: Adam skips it, and its step count stays behind. `small`
starts at zero and gets gradients of about 1e-8, the size of eps, so that where eps is added shows in its values.
Records the initial parameters, each step's gradients and the parameters after every step.

    /usr/bin/python3 tests/reference/training/generate_adam.py   (PyTorch 1.13 from Debian wrote the committed file)
"""
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from generate import write_safetensors  # noqa: E402

STEPS = 5


def main():
    torch.manual_seed(0)
    weight = torch.nn.Parameter(torch.randn(10, 6))
    bias = torch.nn.Parameter(torch.randn(10))
    small = torch.nn.Parameter(torch.zeros(8))
    tensors = {"init.weight": ("F32", weight.detach().numpy().copy()), "init.bias": ("F32", bias.detach().numpy().copy())}
    optimizer = torch.optim.Adam([weight, bias, small], lr=1e-3, foreach=False)
    for step in range(1, STEPS + 1):
        optimizer.zero_grad(set_to_none=True)
        # Gradients of very different sizes, so that the moments and the epsilon all matter.
        weight.grad = torch.randn(10, 6) * (10.0 ** (step - 3))
        tensors[f"step{step}.grad.weight"] = ("F32", weight.grad.numpy().copy())
        if step != 3:
            bias.grad = torch.randn(10) * 1e-3
            tensors[f"step{step}.grad.bias"] = ("F32", bias.grad.numpy().copy())
        small.grad = torch.randn(8) * 1e-8
        tensors[f"step{step}.grad.small"] = ("F32", small.grad.numpy().copy())
        optimizer.step()
        tensors[f"step{step}.small"] = ("F32", small.detach().numpy().copy())
        tensors[f"step{step}.weight"] = ("F32", weight.detach().numpy().copy())
        tensors[f"step{step}.bias"] = ("F32", bias.detach().numpy().copy())
    write_safetensors(os.path.join(HERE, "adam.safetensors"), tensors,
                      {"torch": torch.__version__, "steps": str(STEPS), "lr": "1e-3"})


if __name__ == "__main__":
    main()
