#!/usr/bin/python3
"""Derives hf5_reference.json from the transformers 5.17 processor outputs (27 inputs × 6 cases).

Input: the folder of hf5_*.safetensors made as its README says (transformers 5.17.0, torch 2.11, CPU):
ViTImageProcessor (torchvision backend) and ViTImageProcessorPil, each at 224×224 bilinear, 224×224 bicubic and
37×53 bilinear, mean = std = 0.5. Output, per case and image: SHA-256 of the float32 [3, H, W] row exactly as
transformers returned it, plus the uint8 image it encodes (value × 127.5 + 127.5, checked to be whole) as a
SHA-256 and per-channel sums, so that a failing test can tell a resize difference from a rounding one.

    /usr/bin/python3 tests/reference/transformers5/derive.py ../shared/reference/transformers-5.17
"""
import hashlib
import json
import os
import struct
import sys

import numpy as np

CASES = {
    "hf5_torchvision_224_bilinear": ("Torchvision", 224, 224, 2),
    "hf5_torchvision_224_bicubic": ("Torchvision", 224, 224, 3),
    "hf5_torchvision_37x53_bilinear": ("Torchvision", 37, 53, 2),
    "hf5_pil_224_bilinear": ("Pil", 224, 224, 2),
    "hf5_pil_224_bicubic": ("Pil", 224, 224, 3),
    "hf5_pil_37x53_bilinear": ("Pil", 37, 53, 2),
}


def read_safetensors(path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        data = f.read()
    meta = header.pop("__metadata__", {})
    (name, info), = header.items()
    assert info["dtype"] == "F32", info
    start, end = info["data_offsets"]
    return meta, np.frombuffer(data[start:end], dtype="<f4").reshape(info["shape"])


def main(folder):
    out = {"source": "transformers 5.17.0, torch 2.11.0 (CPU), see derive.py", "exact": True, "cases": []}
    for case, (backend, height, width, resample) in CASES.items():
        meta, values = read_safetensors(os.path.join(folder, case + ".safetensors"))
        files = json.loads(meta["files"])
        assert values.shape == (len(files), 3, height, width), values.shape
        levels = values.astype(np.float64) * 127.5 + 127.5
        u8 = np.rint(levels)
        assert np.abs(levels - u8).max() < 1e-3 and u8.min() >= 0 and u8.max() <= 255, case
        u8 = u8.astype(np.uint8)
        images = []
        for i, name in enumerate(files):
            images.append({
                "file": name,
                "float32_sha256": hashlib.sha256(np.ascontiguousarray(values[i]).tobytes()).hexdigest(),
                "uint8_sha256": hashlib.sha256(np.ascontiguousarray(u8[i]).tobytes()).hexdigest(),
                "channel_sums": [int(s) for s in u8[i].reshape(3, -1).sum(axis=1, dtype=np.int64)],
            })
        out["cases"].append({"name": case, "backend": backend, "height": height, "width": width,
                             "resample": resample, "images": images})
    target = os.path.join(os.path.dirname(os.path.abspath(__file__)), "hf5_reference.json")
    with open(target, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    print("wrote", target)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "../shared/reference/transformers-5.17")
