#!/usr/bin/python3
"""Truevision TGA cases judged by Pillow 9.4.

Crafts small files byte by byte: every image type Pillow reads (1, 2, 3 raw; 9, 10, 11 RLE) at every depth it
maps (8-bit colour-mapped; 16/24/32-bit true colour; 1/8/16-bit grey), colour maps of 15/16/24/32 bits with
starts and lengths that leave part of the grey ramp, colour maps on modes that cannot take one, ID fields, both
origin bits, RLE runs and literals at and across row ends, files that end exactly where the data ends, and
truncations. Every file is judged the way transformers' load_image does: Image.open -> ImageOps.exif_transpose ->
convert("RGB"), with LOAD_TRUNCATED_IMAGES = False. Writes cases/*.tga and cases/verdicts.json (zlib+base64 RGB
pixels where Pillow accepts, the error where it refuses).

    /usr/bin/python3 tests/reference/tga/generate_tga.py
"""

import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from pillow_judge import write_corpus  # noqa: E402 - the shared judge lives one folder up



HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "cases")


def header(image_type, width, height, depth, flags=0, id_length=0, map_type=0, map_start=0, map_length=0, map_depth=0):
    return bytes([id_length, map_type, image_type]) + map_start.to_bytes(2, "little") + map_length.to_bytes(2, "little") \
        + bytes([map_depth]) + bytes(4) + width.to_bytes(2, "little") + height.to_bytes(2, "little") + bytes([depth, flags])


def cases():
    rng = random.Random(20261130)

    def noise(n):
        return bytes(rng.randrange(256) for _ in range(n))

    w, h = 5, 3
    # Raw true colour at each depth, every orientation; no trailing bytes (the data ends with the file).
    for flags in (0x00, 0x10, 0x20, 0x30):
        yield f"t2-24-o{flags:02x}", header(2, w, h, 24, flags) + noise(3 * w * h)
    yield "t2-32", header(2, w, h, 32, 0x08) + noise(4 * w * h)
    yield "t2-16", header(2, w, h, 16) + noise(2 * w * h)
    yield "t2-16-top", header(2, w, h, 16, 0x20) + noise(2 * w * h)
    # Raw grey: 8 bits, 16 (grey + alpha), 1 (rows padded to whole bytes: 11 pixels take 2).
    yield "t3-8", header(3, w, h, 8) + noise(w * h)
    yield "t3-16", header(3, w, h, 16, 0x30) + noise(2 * w * h)
    yield "t3-1", header(3, 11, 3, 1) + noise(2 * 3)
    yield "t3-1-top-flip", header(3, 11, 3, 1, 0x30) + noise(2 * 3)
    # An ID field, and one longer than the file.
    yield "t2-24-id7", header(2, w, h, 24, id_length=7) + b"made-by" + noise(3 * w * h)
    yield "t2-24-id-past-end", header(2, w, h, 24, id_length=200) + noise(40)
    # Colour maps: full, short (the rest of the grey ramp shows), with a start (black entries before it).
    yield "t1-map24-full", header(1, w, h, 8, map_type=1, map_length=256, map_depth=24) + noise(3 * 256) + noise(w * h)
    yield "t1-map24-start3-len5", header(1, w, h, 8, map_type=1, map_start=3, map_length=5, map_depth=24) + noise(15) \
        + bytes([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 200, 255, 128, 7, 3])
    yield "t1-map16-start2-len6", header(1, 4, 4, 8, 0x20, map_type=1, map_start=2, map_length=6, map_depth=16) \
        + bytes([0xFF, 0x7F, 0x00, 0x7C, 0xE0, 0x03, 0x1F, 0x00, 0x21, 0x84, 0xB5, 0x56]) + bytes(range(16))
    yield "t1-map16-noise", header(1, w, h, 8, map_type=1, map_length=40, map_depth=16) + noise(80) \
        + bytes(rng.randrange(40) for _ in range(w * h))
    yield "t1-map24-start100-len156", header(1, w, h, 8, map_type=1, map_start=100, map_length=156, map_depth=24) \
        + noise(3 * 156) + bytes([0, 99, 100, 101, 255] * 3)
    yield "t1-map24-start100-len157", header(1, w, h, 8, map_type=1, map_start=100, map_length=157, map_depth=24) \
        + noise(3 * 157) + noise(w * h)
    yield "t1-map32", header(1, w, h, 8, map_type=1, map_length=4, map_depth=32) + noise(16) + noise(w * h)
    yield "t1-map15", header(1, w, h, 8, map_type=1, map_length=4, map_depth=15) + noise(w * h)
    yield "t1-nomap", header(1, w, h, 8) + noise(w * h)
    yield "t1-map24-cut", header(1, w, h, 8, map_type=1, map_length=20, map_depth=24) + noise(30)
    # Colour maps on grey images (L becomes P, LA becomes PA) and on modes that cannot take one.
    yield "t3-8-map24", header(3, w, h, 8, map_type=1, map_start=1, map_length=4, map_depth=24) + noise(12) \
        + bytes([0, 1, 2, 3, 4, 5, 60, 255] + [2] * 7)
    yield "t3-16-map24", header(3, w, h, 16, map_type=1, map_length=3, map_depth=24) + noise(9) + noise(2 * w * h)
    yield "t3-1-map24", header(3, 11, 3, 1, map_type=1, map_length=3, map_depth=24) + noise(9) + noise(6)
    yield "t2-24-map24", header(2, w, h, 24, map_type=1, map_length=3, map_depth=24) + noise(9) + noise(3 * w * h)
    yield "t2-32-map24", header(2, w, h, 32, map_type=1, map_length=3, map_depth=24) + noise(9) + noise(4 * w * h)
    yield "t2-16-map16", header(2, w, h, 16, map_type=1, map_length=3, map_depth=16) + noise(6) + noise(2 * w * h)
    # Depths Pillow has no decoder for.
    yield "t1-16", header(1, w, h, 16) + noise(2 * w * h)
    yield "t2-8", header(2, w, h, 8) + noise(w * h)
    yield "t3-24", header(3, w, h, 24) + noise(3 * w * h)
    yield "t10-1", header(10, w, h, 1) + noise(w * h)
    # Headers Pillow's check refuses.
    yield "w0", header(2, 0, h, 24) + noise(3 * w * h)
    yield "h0", header(2, w, 0, 24) + noise(3 * w * h)
    yield "depth12", header(2, w, h, 12) + noise(3 * w * h)
    yield "map-type2", header(2, w, h, 24)[:1] + b"\x02" + header(2, w, h, 24)[2:] + noise(3 * w * h)
    yield "type4", header(4, w, h, 24) + noise(3 * w * h)
    # Raw truncations: one byte short, and a bare header.
    yield "t2-24-short1", header(2, w, h, 24) + noise(3 * w * h - 1)
    yield "t3-8-bare", header(3, w, h, 8)
    yield from rle_cases(rng, noise)


def run(count, pixel):
    return bytes([0x80 | (count - 1)]) + pixel


def literal(pixels):
    return bytes([len(pixels) - 1]) + b"".join(pixels)


def rle_cases(rng, noise):
    px = noise
    # 24-bit, 4 x 3: a literal of 6 pixels crossing rows 0 and 1, a run of 2 finishing row 1, a run of 4 (row 2): the
    # file ends exactly with that run.
    rows = literal([px(3) for _ in range(6)]) + run(2, px(3)) + run(4, px(3))
    for flags in (0x00, 0x20, 0x10):
        yield f"t10-24-o{flags:02x}-ends-with-run", header(10, 4, 3, 24, flags) + rows
    # Ends exactly with a literal that crosses two rows, and the same with bytes after it (ignored).
    rows = run(3, px(3)) + literal([px(3) for _ in range(9)])
    yield "t10-24-ends-with-literal", header(10, 4, 3, 24) + rows
    yield "t10-24-trailing", header(10, 4, 3, 24) + rows + b"TRUEVISION-XFILE.\0"
    # One literal of all 12 pixels.
    yield "t10-24-one-literal", header(10, 4, 3, 24, 0x20) + literal([px(3) for _ in range(12)])
    # A run crossing a row's end: Pillow's buffer overrun.
    yield "t10-24-run-crosses-row", header(10, 4, 3, 24) + run(3, px(3)) + run(2, px(3)) + run(7, px(3))
    # Truncations: a run's pixel cut, a literal cut, whole packets missing, nothing at all.
    full = run(4, px(3)) + literal([px(3) for _ in range(4)]) + run(4, px(3))
    yield "t10-24-run-cut", header(10, 4, 3, 24) + full[:-1]
    yield "t10-24-literal-cut", header(10, 4, 3, 24) + full[:4 + 10]
    yield "t10-24-one-row", header(10, 4, 3, 24) + full[:4]
    yield "t10-24-empty", header(10, 4, 3, 24)
    # Other depths.
    yield "t10-32", header(10, 3, 2, 32) + run(2, px(4)) + literal([px(4) for _ in range(4)])
    yield "t10-16", header(10, 3, 2, 16, 0x20) + literal([px(2) for _ in range(2)]) + run(1, px(2)) + run(3, px(2))
    yield "t11-8", header(11, 5, 2, 8) + run(5, px(1)) + literal([px(1) for _ in range(5)])
    yield "t11-16", header(11, 3, 2, 16) + literal([px(2) for _ in range(4)]) + run(2, px(2))
    yield "t11-1", header(11, 8, 2, 1) + bytes([0x80, 0xFF, 0x00, 0xAA, 0x81, 0x0F])
    yield "t9-8-map16", header(9, 4, 2, 8, 0x20, map_type=1, map_start=1, map_length=3, map_depth=16) \
        + bytes([0x00, 0x7C, 0xE0, 0x03, 0x1F, 0x00]) + literal([bytes([i]) for i in (0, 1, 2, 3, 4, 9)]) + run(2, b"\x02")


def main():
    write_corpus(OUT, "tests/reference/tga/generate_tga.py", ((name + ".tga", data) for name, data in cases()))


if __name__ == "__main__":
    main()
