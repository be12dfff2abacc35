#!/usr/bin/python3
"""Reference (approximate, see "exact" below) for PreprocessingBackend.TorchvisionFloat: torchvision's float route for uint8 images, written from
its documented steps and run with Debian's python3-torch (1.13) and Pillow 9.4.

torchvision.transforms.v2.functional.resize, for a uint8 image it does not hand to libtorch's uint8 kernel
(bilinear where torch.backends.cpu.get_cpu_capability() is not "AVX2", anything on a GPU): convert to float32,
interpolate (antialias=True, align_corners=False), clamp to 0..255 for bicubic, round, convert back to uint8.
transformers 5's torchvision backend then normalizes with the rescale folded in: (x - mean/rescale) / (std/rescale)
in float32. Images are loaded as transformers' load_image does (exif_transpose, convert("RGB")).

    /usr/bin/python3 tests/reference/transformers5/torchvision_float.py
"""
import hashlib
import json
import os

import numpy as np
import torch
from PIL import Image, ImageOps

HERE = os.path.dirname(os.path.abspath(__file__))
INPUTS = os.path.join(HERE, "..", "images", "input")
CASES = [("torchvision_float_224_bilinear", 224, 224, "bilinear", 2),
         ("torchvision_float_224_bicubic", 224, 224, "bicubic", 3),
         ("torchvision_float_37x53_bilinear", 37, 53, "bilinear", 2)]


def load(path):
    image = Image.open(path)
    image = ImageOps.exif_transpose(image)
    return image.convert("RGB")


def main():
    torch.set_num_threads(1)
    files = sorted(os.listdir(INPUTS))
    mean = torch.tensor([0.5, 0.5, 0.5]) * (1.0 / (1 / 255))
    std = torch.tensor([0.5, 0.5, 0.5]) * (1.0 / (1 / 255))
    # Not bit-exact by nature: libtorch's float antialiased kernel rounds differently across releases (torch 1.13
    # and libtorch 2.10 differ by up to 4.6e-5 in a quarter of the floats of one photo), and the few values that
    # straddle .5 then round to the other level. The test checks closeness here, bit-exactness elsewhere.
    out = {"source": f"torch {torch.__version__} float interpolate, see torchvision_float.py", "exact": False, "cases": []}
    for name, height, width, mode, resample in CASES:
        images = []
        for file in files:
            pixels = torch.from_numpy(np.array(load(os.path.join(INPUTS, file)))).permute(2, 0, 1).contiguous()[None]
            if tuple(pixels.shape[-2:]) == (height, width):
                resized = pixels
            else:
                resized = torch.nn.functional.interpolate(pixels.to(torch.float32), size=[height, width], mode=mode,
                                                          align_corners=False, antialias=True)
                if mode == "bicubic":
                    resized = resized.clamp_(min=0, max=255)
                resized = resized.round_().to(torch.uint8)
            values = (resized[0].to(torch.float32) - mean.view(-1, 1, 1)) / std.view(-1, 1, 1)
            u8 = resized[0].numpy()
            images.append({
                "file": file,
                "float32_sha256": hashlib.sha256(values.contiguous().numpy().astype("<f4").tobytes()).hexdigest(),
                "uint8_sha256": hashlib.sha256(np.ascontiguousarray(u8).tobytes()).hexdigest(),
                "channel_sums": [int(s) for s in u8.reshape(3, -1).sum(axis=1, dtype=np.int64)],
            })
        out["cases"].append({"name": name, "backend": "TorchvisionFloat", "height": height, "width": width,
                             "resample": resample, "images": images})
    target = os.path.join(HERE, "torchvision_float_reference.json")
    with open(target, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    print("wrote", target)


if __name__ == "__main__":
    main()
