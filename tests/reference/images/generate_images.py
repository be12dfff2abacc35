#!/usr/bin/env python3
"""Test images for IJepa's preprocessing and the pixels Pillow makes of them.

For every input image under input/, the pipeline of transformers' load_image (EXIF transpose, then
convert("RGB")) followed by each preset's resize is run with Pillow, and the resulting 8-bit RGB
pixels are written losslessly to expected/<image>__<preset>.png. The C# tests decode the same input
with ImageSharp, resample with our Pillow-compatible resampler and compare.

Run with Debian's python3-pil (Pillow 9.4) and python3-numpy:
    apt-get install python3-pil python3-numpy mate-backgrounds dataset-fashion-mnist
    /usr/bin/python3 tests/reference/images/generate_images.py
With --expected-only the committed inputs are kept and only expected/ is written again (no photos needed);
with the same Pillow the files already there come out byte for byte the same.
Real photos come from Debian's mate-backgrounds (GPL-2+, see LICENSES.md), the grayscale
garment from dataset-fashion-mnist (MIT); set IJEPA_DEBIAN_ROOT to look for them under another root.
"""
import gzip
import io
import json
import os
import struct
import sys
import zlib

import numpy as np
from PIL import Image, ImageOps

HERE = os.path.dirname(os.path.abspath(__file__))
INPUT = os.path.join(HERE, "input")
EXPECTED = os.path.join(HERE, "expected")
ROOT = os.environ.get("IJEPA_DEBIAN_ROOT", "/")

# preset name -> (kind, parameters); mirrored by the C# tests
PRESETS = {
    "bilinear_224": ("resize", (224, 224), Image.BILINEAR),
    "bicubic_224": ("resize", (224, 224), Image.BICUBIC),
    "bilinear_37x53": ("resize", (37, 53), Image.BILINEAR),   # (height, width)
    "bicubic_37x53": ("resize", (37, 53), Image.BICUBIC),
    "paper_224": ("paper", 224, Image.BICUBIC),
    # Pillow's other filters (preprocessor_config.json's resample 1, 4, 5), on a few inputs only.
    "lanczos_37x53": ("resize", (37, 53), Image.LANCZOS),
    "box_37x53": ("resize", (37, 53), Image.BOX),
    "hamming_37x53": ("resize", (37, 53), Image.HAMMING),
}
OTHER_FILTERS = ["box_37x53", "hamming_37x53", "lanczos_37x53"]


def rng(seed):
    return np.random.default_rng(seed)


def png_16bit(path, array, color_type):
    """Pillow cannot write 16-bit RGB PNGs: write one by hand (big-endian samples, filter 0)."""
    h, w = array.shape[:2]
    raw = b"".join(b"\x00" + array[y].astype(">u2").tobytes() for y in range(h))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n")
        f.write(chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, color_type, 0, 0, 0)))
        f.write(chunk(b"IDAT", zlib.compress(raw, 9)))
        f.write(chunk(b"IEND", b""))


def asymmetric(w, h, seed):
    """A pattern whose every flip and rotation differs: gradients plus a marker in one corner."""
    y, x = np.mgrid[0:h, 0:w]
    a = np.stack([x * 255 // max(w - 1, 1), y * 255 // max(h - 1, 1), (x * 7 + y * 13) % 256], axis=-1).astype(np.uint8)
    a[: h // 4, : w // 4] = [255, 0, 0]
    a += (rng(seed).integers(0, 20, a.shape)).astype(np.uint8)
    return a


def make_inputs():
    os.makedirs(INPUT, exist_ok=True)
    r = rng(1)
    made = []

    def save(name, image, **kw):
        image.save(os.path.join(INPUT, name), **kw)
        made.append(name)

    # Real photographs, reduced to keep the repository small.
    photos = os.path.join(ROOT, "usr/share/backgrounds/mate/nature")
    ladybird = Image.open(os.path.join(photos, "LadyBird.jpg")).convert("RGB")
    ladybird = ladybird.resize((640, 400), Image.LANCZOS)
    save("photo_ladybird.jpg", ladybird, quality=90)
    flower = Image.open(os.path.join(photos, "FreshFlower.jpg")).convert("RGB")
    flower = flower.resize((300, 225), Image.LANCZOS).crop((20, 10, 271, 200))  # 251 x 190, odd sizes
    save("photo_flower.png", flower)
    save("photo_flower_1024x768.jpg", Image.open(os.path.join(photos, "FreshFlower.jpg")).convert("RGB").resize((1024, 768), Image.LANCZOS), quality=85)

    with gzip.open(os.path.join(ROOT, "usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz")) as f:
        data = f.read()
    garment = np.frombuffer(data, dtype=np.uint8, offset=16, count=28 * 28).reshape(28, 28)
    save("gray_garment_28x28.png", Image.fromarray(garment, "L"))

    # Synthetic hard cases.
    save("pixel_1x1.png", Image.fromarray(np.array([[[200, 30, 90]]], dtype=np.uint8)))
    save("strip_1x5000.png", Image.fromarray(r.integers(0, 256, (5000, 1, 3), dtype=np.uint8)))  # width 1
    save("strip_5000x1.png", Image.fromarray(r.integers(0, 256, (1, 5000, 3), dtype=np.uint8)))  # height 1
    y, x = np.mgrid[0:61, 0:97]
    checker = np.where(((x + y) % 2 == 0)[..., None], [255, 255, 255], [0, 40, 200]).astype(np.uint8)
    save("checker_97x61.png", Image.fromarray(checker))
    save("exact_224.png", Image.fromarray(r.integers(0, 256, (224, 224, 3), dtype=np.uint8)))
    save("small_17x23.png", Image.fromarray(asymmetric(17, 23, 2)))
    save("noise_9x6.png", Image.fromarray(rng(13).integers(0, 256, (6, 9, 3), dtype=np.uint8)))  # resample matrix
    save("bmp_33x17.bmp", Image.fromarray(asymmetric(33, 17, 3)))
    palette = Image.fromarray(asymmetric(50, 40, 4)).quantize(colors=16)
    save("palette_50x40.png", palette)
    rgba = np.concatenate([asymmetric(60, 45, 5), r.integers(0, 256, (45, 60, 1), dtype=np.uint8)], axis=-1)
    save("rgba_60x45.png", Image.fromarray(rgba, "RGBA"))
    la = np.stack([asymmetric(30, 20, 6)[..., 0], r.integers(0, 256, (20, 30), dtype=np.uint8)], axis=-1)
    save("gray_alpha_30x20.png", Image.fromarray(la, "LA"))
    gray16 = (np.mgrid[0:30, 0:40][1] * 1600 + 17).astype(np.uint16)
    png_16bit(os.path.join(INPUT, "gray16_40x30.png"), gray16, color_type=0)
    made.append("gray16_40x30.png")
    rgb16 = r.integers(0, 65536, (30, 40, 3)).astype(np.uint16)
    png_16bit(os.path.join(INPUT, "rgb16_40x30.png"), rgb16, color_type=2)
    made.append("rgb16_40x30.png")
    cmyk = Image.fromarray(asymmetric(48, 32, 7)).convert("CMYK")
    save("cmyk_48x32.jpg", cmyk, quality=95)
    base = Image.fromarray(asymmetric(40, 24, 8))
    for orientation in range(1, 9):
        exif = Image.Exif()
        exif[0x0112] = orientation
        save(f"exif_orientation_{orientation}.jpg", base, quality=95, exif=exif.tobytes())
    frames = [Image.fromarray(asymmetric(32, 24, 9 + i)).quantize(colors=32) for i in range(2)]
    frames[0].save(os.path.join(INPUT, "animated_32x24.gif"), save_all=True, append_images=frames[1:], duration=100, loop=0)
    made.append("animated_32x24.gif")
    rgb_frames = [Image.fromarray(asymmetric(32, 24, 11 + i)) for i in range(2)]
    rgb_frames[0].save(os.path.join(INPUT, "animated_32x24.webp"), save_all=True, append_images=rgb_frames[1:], duration=100, lossless=True)
    made.append("animated_32x24.webp")
    return made


def load_like_transformers(path):
    image = Image.open(path)
    image = ImageOps.exif_transpose(image)
    return image.convert("RGB")


def apply(preset, image):
    kind, size, resample = PRESETS[preset]
    if kind == "resize":
        h, w = size
        return image.resize((w, h), resample=resample)
    # Paper / timm evaluation: torchvision Resize(floor(size / 0.9)) on the shorter side, CenterCrop(size).
    target = int(size / 0.9)
    w, h = image.size
    short, long = (w, h) if w <= h else (h, w)
    new_long = int(target * long / short)
    new_w, new_h = (target, new_long) if w <= h else (new_long, target)
    image = image.resize((new_w, new_h), resample=resample)
    top = int(round((new_h - size) / 2.0))
    left = int(round((new_w - size) / 2.0))
    return image.crop((left, top, left + size, top + size))


def main():
    if "--expected-only" in sys.argv[1:]:
        made = sorted(f for f in os.listdir(INPUT) if not f.startswith("."))
    else:
        made = make_inputs()
    os.makedirs(EXPECTED, exist_ok=True)
    for f in os.listdir(EXPECTED):
        os.remove(os.path.join(EXPECTED, f))
    manifest = {}
    big = {"bilinear_224", "bicubic_224", "paper_224"}
    for name in sorted(made):
        image = load_like_transformers(os.path.join(INPUT, name))
        presets = ["bilinear_37x53", "bicubic_37x53"]
        if name.startswith(("photo_", "strip_", "pixel_", "exact_", "small_", "checker_")):
            presets += sorted(big)
        if name in ("photo_flower_1024x768.jpg", "exact_224.png"):
            presets = ["bilinear_224"]
        if name.startswith("checker_"):
            presets.remove("paper_224")
        # Down (photo, checker), up (small, pixel) and one side of 1 (strip): every branch of the other kernels.
        if name in ("photo_flower.png", "checker_97x61.png", "small_17x23.png", "pixel_1x1.png", "strip_1x5000.png", "photo_ladybird.jpg"):
            presets += OTHER_FILTERS
        manifest[name] = {"decoded_size": list(image.size), "presets": presets}
        if image.size[0] * image.size[1] <= 64 * 64:
            image.save(os.path.join(EXPECTED, f"{name}__decoded.png"))
            manifest[name]["presets"] = presets + ["decoded"]
        for preset in presets:
            apply(preset, image).save(os.path.join(EXPECTED, f"{name}__{preset}.png"))

    # Normalized tensors, computed the way each Python pipeline computes them.
    # (Small sizes keep the file small: only the arithmetic after resizing is under test here.)
    from_pil = np.asarray(apply("bilinear_37x53", load_like_transformers(os.path.join(INPUT, "photo_flower.png"))))
    hf = (from_pil.astype(np.float64) * (1 / 255)).astype(np.float32)          # ViTImageProcessor.rescale
    hf = (hf - np.float32(0.5)) / np.float32(0.5)                                  # normalize in float32
    paper_pixels = np.asarray(apply("bicubic_37x53", load_like_transformers(os.path.join(INPUT, "photo_flower.png"))))
    tv = paper_pixels.astype(np.float32) / np.float32(255)                         # torchvision to_tensor
    mean = np.array([0.485, 0.456, 0.406], dtype=np.float32)
    std = np.array([0.229, 0.224, 0.225], dtype=np.float32)
    tv = (tv - mean) / std                                                          # torchvision normalize
    write_f32(os.path.join(EXPECTED, "photo_flower.png__normalized.safetensors"), {
        "hf_bilinear_37x53": hf.transpose(2, 0, 1).copy(),
        "imagenet_bicubic_37x53": tv.transpose(2, 0, 1).copy(),
    })
    write_resample_matrix()
    with open(os.path.join(EXPECTED, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1, sort_keys=True)
    print(f"{len(made)} inputs, {sum(len(v['presets']) for v in manifest.values())} expected images")


# Every Pillow filter at many scales from one 9 x 6 noise image: exact ratios (3 -> 2, 2x, 3x, 1/2, 1/3) put kernel
# samples exactly on the filters' edges, one side may stay, and consecutive sizes reuse pooled buffers.
MATRIX_FILTERS = {"lanczos": Image.LANCZOS, "bilinear": Image.BILINEAR, "bicubic": Image.BICUBIC, "box": Image.BOX, "hamming": Image.HAMMING}
MATRIX_SIZES = [(w, (w * 5) % 14 + 1) for w in range(1, 25)] + [(9, 3), (9, 12), (9, 4), (3, 6), (18, 6), (6, 6), (27, 18), (3, 2), (9, 6)]


def write_resample_matrix():
    """expected/resample_matrix.json (sizes, filters) and .bin: the zlib-compressed RGB bytes, filter by filter, size by size."""
    image = load_like_transformers(os.path.join(INPUT, "noise_9x6.png"))
    raw = b"".join(image.resize(size, resample=f).tobytes() for f in MATRIX_FILTERS.values() for size in MATRIX_SIZES)
    with open(os.path.join(EXPECTED, "resample_matrix.bin"), "wb") as f:
        f.write(zlib.compress(raw, 9))
    with open(os.path.join(EXPECTED, "resample_matrix.json"), "w") as f:
        json.dump({"input": "noise_9x6.png", "filters": list(MATRIX_FILTERS), "sizes": MATRIX_SIZES}, f)


def write_f32(path, tensors):
    header, blobs, offset = {}, [], 0
    for name, a in tensors.items():
        raw = np.ascontiguousarray(a, dtype=np.float32).tobytes()
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
        blobs.append(raw)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


if __name__ == "__main__":
    main()
