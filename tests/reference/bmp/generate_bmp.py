#!/usr/bin/python3
"""Crafted BMP files judged by Pillow 9.4, for BmpMutantTests (the PillowBmp and BmpHeaderGuard mutants).

Every file is built byte by byte here (header sizes 12/40/52/56/64/108/124, bit depths 1/2/4/8/16/24/32,
palettes grey and not, bitfield masks Pillow knows and one it does not, RLE8/RLE4 with end of line, delta,
absolute runs and end of bitmap, top-down rows, cut files) and judged as transformers' load_image judges it:
Image.open -> ImageOps.exif_transpose -> convert("RGB"), LOAD_TRUNCATED_IMAGES off.

    /usr/bin/python3 tests/reference/bmp/generate_bmp.py
        rewrites tests/reference/bmp/cases/ (the files and verdicts.json)
"""

import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from pillow_judge import write_corpus  # noqa: E402 - the shared judge lives one folder up

HERE = os.path.dirname(os.path.abspath(__file__))


def u16(v):
    return struct.pack("<H", v)


def u32(v):
    return struct.pack("<I", v & 0xFFFFFFFF)


def pack_row(values, bits):
    """One row of pixel values, packed MSB first (1/4/8) or little-endian (16/32), padded to 4 bytes."""
    if bits in (1, 4):
        per = 8 // bits
        out = bytearray()
        for i in range(0, len(values), per):
            b = 0
            for j in range(per):
                v = values[i + j] if i + j < len(values) else 0
                b |= v << (8 - bits * (j + 1))
            out.append(b)
    elif bits == 8:
        out = bytearray(values)
    elif bits == 16:
        out = bytearray(b"".join(u16(v) for v in values))
    elif bits == 24:
        out = bytearray(b"".join(bytes(v) for v in values))  # (b, g, r) triples
    else:
        out = bytearray(b"".join(u32(v) for v in values))
    while len(out) % 4:
        out.append(0)
    return bytes(out)


def info_header(size, width, height, bits, compression=0, colors=0, masks=None, topdown=False):
    h = u32(size) + u32(width) + u32((1 << 32) - height if topdown else height) + u16(1) + u16(bits)
    h += u32(compression) + u32(0) + u32(2835) + u32(2835) + u32(colors) + u32(0)
    if size >= 56 and masks is not None:
        h += b"".join(u32(m) for m in masks)
    return h + b"\0" * (size - len(h))


def bmp(width, height, bits, rows=None, data=None, size=40, compression=0, colors=0, palette=None, masks=None,
        masks_after=None, topdown=False, offset=None, pal_bytes=None, header=None):
    """rows: top to bottom; written bottom-up unless topdown. offset None: right after header, masks and palette."""
    if header is None:
        if size == 12:
            header = u32(12) + u16(width) + u16(height) + u16(1) + u16(bits)
        else:
            header = info_header(size, width, height, bits, compression, colors, masks, topdown)
    extra = b"".join(u32(m) for m in masks_after) if masks_after else b""
    if pal_bytes is None:
        pal_bytes = b""
        for (r, g, b) in palette or []:
            pal_bytes += bytes((b, g, r)) + (b"" if size == 12 else b"\0")
    if data is None:
        ordered = rows if topdown else rows[::-1]
        data = b"".join(pack_row(r, bits) for r in ordered)
    start = 14 + len(header) + len(extra) + len(pal_bytes)
    if offset is None:
        offset = start
    body = header + extra + pal_bytes + data
    return b"BM" + u32(14 + len(body)) + u32(0) + u32(offset) + body


def grid(w, h, f):
    return [[f(x, y) for x in range(w)] for y in range(h)]


COLOURS16 = [(17 * i, 255 - 13 * i, (97 * i) % 256) for i in range(16)]
GREY16 = [(i, i, i) for i in range(16)]


def bgr(x, y):
    return (x * 40 % 256, y * 70 % 256, (x * 13 + y * 29) % 256)


def cases():
    c = {}
    # ---------------------------------------------------------------- paletted raw
    c["b1-pal"] = bmp(19, 3, 1, grid(19, 3, lambda x, y: (x * 7 + y * 3) % 5 % 2), colors=2,
                      palette=[(200, 30, 40), (10, 90, 250)])
    c["b1-bw"] = bmp(19, 3, 1, grid(19, 3, lambda x, y: (x + y) % 3 % 2), colors=2, palette=[(0, 0, 0), (255, 255, 255)])
    c["b1-pal01"] = bmp(9, 2, 1, grid(9, 2, lambda x, y: (x + y) % 2), colors=2, palette=[(0, 0, 0), (1, 1, 1)])
    c["b4-pal"] = bmp(11, 3, 4, grid(11, 3, lambda x, y: (x * 5 + y * 3) % 16), colors=16, palette=COLOURS16)
    c["b4-grey-w4"] = bmp(4, 2, 4, grid(4, 2, lambda x, y: x * 4 + y), colors=16, palette=GREY16)
    c["b4-grey-w10"] = bmp(10, 2, 4, grid(10, 2, lambda x, y: x + y), colors=16, palette=GREY16)
    c["b1-grey3-w40"] = bmp(40, 2, 1, grid(40, 2, lambda x, y: (x + y) % 2), colors=3, palette=[(0, 0, 0), (1, 1, 1), (2, 2, 2)])
    # From a path Pillow memory-maps these (rows of 8 bytes read as 10 or more), if offset + height x stride fits the
    # file: one byte short falls back to decoding, which refuses; a top-down one maps its rows in the other order.
    c["b4-grey-w10-short1"] = c["b4-grey-w10"][:-1]
    c["b4-grey-w10-topdown"] = bmp(10, 3, 4, grid(10, 3, lambda x, y: (x * 3 + y * 5) % 16), colors=16, palette=GREY16, topdown=True)
    c["b4-grey-w12-h3"] = bmp(12, 3, 4, grid(12, 3, lambda x, y: (x * 7 + y) % 16), colors=16, palette=GREY16)
    c["b8-pal16"] = bmp(7, 3, 8, grid(7, 3, lambda x, y: (x * 37 + y * 11) % 40), colors=16, palette=COLOURS16)
    c["b8-grey"] = bmp(5, 3, 8, grid(5, 3, lambda x, y: x * 50 + y * 3), colors=256, palette=[(i, i, i) for i in range(256)])
    c["b8-grey300"] = bmp(5, 2, 8, grid(5, 2, lambda x, y: x * 40 + y), colors=300,
                          palette=[(i & 255, i & 255, i & 255) for i in range(300)])
    pal = b"".join(bytes((i & 255,) * 3) + b"\0" for i in range(300))
    c["b8-grey300-cut"] = bmp(5, 2, 8, data=b"", colors=300, pal_bytes=pal[:-1], offset=100)
    c["b8-pal300"] = bmp(5, 2, 8, grid(5, 2, lambda x, y: x + y), colors=300,
                         palette=[(i & 255, i & 255, 7 if i == 299 else i & 255) for i in range(300)])
    grey12 = b"".join(bytes((i, i, i, 0)) for i in range(12))
    c["b8-pal-cut"] = bmp(2, 2, 8, data=b"", colors=256, pal_bytes=grey12, offset=60)
    for name, k in (("b8-palB", 0), ("b8-palG", 1), ("b8-palR", 2)):
        entries = [list(p) for p in GREY16]
        entries[5][2 - k] = 200  # (r, g, b): k=0 changes blue, the first byte of the BGRX entry
        c[name] = bmp(4, 2, 8, grid(4, 2, lambda x, y: (x + 4 * y) % 8), colors=16, palette=[tuple(e) for e in entries])
    c["b8-colors0"] = bmp(6, 2, 8, grid(6, 2, lambda x, y: (x * 45 + y * 100) % 256), colors=0,
                          palette=[(i, 255 - i, i // 2) for i in range(256)])
    # The file header's offset points at the colour table: Pillow moves it past 4 * colours bytes.
    c["b8-offset-in-table"] = bmp(3, 2, 8, grid(3, 2, lambda x, y: x + 3 * y + 8), colors=16, palette=COLOURS16,
                                  offset=14 + 40)
    c["b8-offset0"] = bmp(3, 2, 8, grid(3, 2, lambda x, y: x + 3 * y + 2), colors=16, palette=COLOURS16, offset=0)
    c["b8-colors65536"] = bmp(3, 2, 8, grid(3, 2, lambda x, y: x + 3 * y), colors=65536,
                              palette=[(i * 20, 3 * i, 100) for i in range(6)], offset=14 + 40 + 4)
    c["b8-colors65537"] = bmp(3, 2, 8, grid(3, 2, lambda x, y: x), colors=65537, palette=COLOURS16)
    c["os2-b8"] = bmp(3, 3, 8, grid(3, 3, lambda x, y: x + 3 * y), size=12, palette=COLOURS16 * 16)
    c["os2-b24"] = bmp(3, 3, 24, grid(3, 3, bgr), size=12)
    c["os2-b4"] = bmp(5, 2, 4, grid(5, 2, lambda x, y: x * 3 + y), size=12, palette=COLOURS16)
    # ---------------------------------------------------------------- direct colour
    c["b16"] = bmp(5, 3, 16, grid(5, 3, lambda x, y: (x * 7919 + y * 104729) & 0xFFFF))
    c["b24-topdown"] = bmp(3, 4, 24, grid(3, 4, bgr), topdown=True)
    c["b24-offset0"] = bmp(3, 2, 24, grid(3, 2, bgr), offset=0)
    c["b32"] = bmp(3, 2, 32, grid(3, 2, lambda x, y: 0x11223344 * (x + 1) + y * 0x01030507))
    for size in (64, 108, 124, 52, 56):
        c[f"h{size}-b24"] = bmp(3, 2, 24, grid(3, 2, bgr), size=size)
    c["h4"] = b"BM" + u32(40) + u32(0) + u32(0) + u32(4) + b"\0" * 22
    c["h2"] = b"BM" + u32(40) + u32(0) + u32(0) + u32(2) + b"\0" * 22
    # ---------------------------------------------------------------- bitfields
    v16 = grid(5, 2, lambda x, y: (x * 12345 + y * 54321 + 777) & 0xFFFF)
    c["bf40-b16-565"] = bmp(5, 2, 16, v16, compression=3, masks_after=(0xF800, 0x7E0, 0x1F))
    c["bf40-b16-555"] = bmp(5, 2, 16, v16, compression=3, masks_after=(0x7C00, 0x3E0, 0x1F))
    c["bf64-b16-565"] = bmp(5, 2, 16, v16, size=64, compression=3, masks=(0xF800, 0x7E0, 0x1F, 0))
    c["bf108-b16-565"] = bmp(5, 2, 16, v16, size=108, compression=3, masks=(0xF800, 0x7E0, 0x1F, 0))
    v32 = grid(3, 2, lambda x, y: (0x10203040 * (x + 1) + y * 0x0A0B0C0D) & 0xFFFFFFFF)
    c["bf40-b32-bgrx"] = bmp(3, 2, 32, v32, compression=3, masks_after=(0xFF0000, 0xFF00, 0xFF))
    c["bf40-b24"] = bmp(3, 2, 24, grid(3, 2, bgr), compression=3, masks_after=(0xFF0000, 0xFF00, 0xFF))
    for name, m in (("xbgr", (0xFF000000, 0xFF0000, 0xFF00, 0)), ("abgr", (0xFF000000, 0xFF0000, 0xFF00, 0xFF)),
                    ("rgba", (0xFF, 0xFF00, 0xFF0000, 0xFF000000)), ("bgra", (0xFF0000, 0xFF00, 0xFF, 0xFF000000)),
                    ("bgrx", (0xFF0000, 0xFF00, 0xFF, 0))):
        c[f"bf108-b32-{name}"] = bmp(3, 2, 32, v32, size=108, compression=3, masks=m)
    c["bf124-b32-zero"] = bmp(3, 2, 32, v32, size=124, compression=3, masks=(0, 0, 0, 0))
    c["bf40-b32-odd"] = bmp(3, 2, 32, v32, compression=3, masks_after=(0xFF000, 0xFF0, 0xF))
    c["bf108-b8"] = bmp(3, 2, 8, grid(3, 2, lambda x, y: x), size=108, compression=3, masks=(0xE0, 0x1C, 0x3, 0),
                        colors=16, palette=COLOURS16)
    whole = c["bf40-b16-565"]
    # Offset 0 (after the header) so that BmpHeaderGuard lets the cut file through to the mask reader.
    c["bf40-masks-cut"] = whole[:10] + u32(0) + whole[14:54 + 6]
    c["bf40-masks-exact"] = whole[:54 + 12]
    # ---------------------------------------------------------------- refusals of the header
    c["comp5"] = bmp(3, 2, 24, grid(3, 2, bgr), compression=5)
    c["bits2"] = bmp(3, 2, 2, data=b"\0" * 8, colors=4, palette=COLOURS16[:4])
    c["w0"] = bmp(0, 2, 24, data=b"\0" * 8)
    c["h0"] = bmp(2, 0, 24, data=b"\0" * 8)
    c["w2g"] = bmp(1 << 31, 1, 24, data=b"\0" * 8)
    c["h2g"] = bmp(1, 1 << 31, 24, data=b"\0" * 8)
    c["wmax"] = bmp((1 << 31) - 1, 1, 24, data=b"\0" * 8)
    c["hmax"] = bmp(1, (1 << 31) - 1, 24, data=b"\0" * 8)
    full = bmp(4, 3, 24, grid(4, 3, bgr))
    c["b24-cut"] = full[:54 + 20]
    c["b24-header-only"] = full[:54]
    c["cut13"] = full[:13]
    c["cut14"] = full[:10] + u32(0)
    c["cut15"] = full[:10] + u32(0) + b"\x28"
    c["cut18"] = full[:10] + u32(0) + full[14:18]
    c["cut28"] = full[:10] + u32(0) + full[14:28]
    # ---------------------------------------------------------------- RLE8
    p8 = [(i * 9 % 256, 255 - i * 5 % 256, i * 31 % 256) for i in range(32)]

    def rle8(w, h, data, palette=p8, bits=8, compression=1, topdown=False, colors=None):
        return bmp(w, h, bits, data=bytes(data), compression=compression, palette=palette,
                   colors=len(palette) if colors is None else colors, topdown=topdown)

    # width 4: a run, an absolute run of 3 (odd: padded), end of line; a run longer than the row; absolute 4
    # (even: not padded); a run
    basic = [2, 5, 0, 3, 7, 8, 9, 0, 0, 0, 6, 11, 0, 4, 1, 2, 3, 4, 4, 17]
    c["rle8-basic"] = rle8(4, 4, basic)
    c["rle8-topdown"] = rle8(4, 4, basic, topdown=True)
    c["rle8-grey"] = rle8(4, 4, basic, palette=[(i, i, i) for i in range(32)])
    c["rle8-bw"] = rle8(4, 1, [4, 1], palette=[(0, 0, 0), (255, 255, 255)])
    c["rle8-b24"] = rle8(4, 4, basic, bits=24, palette=[], colors=0)
    # width 4: absolute 3, then a run of 3 that the row cuts to 1
    c["rle8-abs-then-run"] = rle8(4, 2, [0, 3, 7, 8, 9, 0, 3, 12, 0, 0, 4, 13])
    # delta: Pillow 9.4 skips two bytes, then reads (right, up) from the next two
    c["rle8-delta"] = rle8(5, 3, [2, 4, 0, 2, 3, 0, 1, 1, 3, 6, 0, 0, 5, 7])
    c["rle8-delta-end"] = rle8(5, 3, [3, 4, 0, 2, 9, 9, 2, 2])
    c["rle8-delta-cut2"] = rle8(5, 3, [3, 4, 0, 2, 9, 9])
    c["rle8-delta-cut1"] = rle8(5, 3, [3, 4, 0, 2, 9])
    c["rle8-delta-cut0"] = rle8(5, 3, [3, 4, 0, 2])
    c["rle8-eob-early"] = rle8(4, 2, [4, 3, 0, 0, 0, 1, 4, 5])
    c["rle8-short"] = rle8(4, 2, [4, 3, 2, 5])
    c["rle8-odd-tail"] = rle8(4, 2, [4, 3, 0, 0, 3, 5, 1])
    c["rle8-after-total"] = rle8(4, 2, [4, 3, 0, 0, 4, 5, 0, 2, 1, 1])
    c["rle8-abs-cut"] = rle8(4, 2, [4, 3, 0, 4, 1, 2])
    # ---------------------------------------------------------------- RLE4
    p4 = COLOURS16
    # width 7: a run of 5 alternating nibbles, absolute 5 (Pillow reads 5 // 2 = 2 bytes: 4 pixels), end of line,
    # a run of 7, end of line, absolute 4 (2 bytes), a run of 3
    c["rle4-basic"] = bmp(7, 4, 4, data=bytes([5, 0x1A, 0, 5, 0x23, 0x45, 0, 0, 7, 0xB6, 0, 0, 0, 4, 0x78, 0x9C, 3, 0xDE]),
                          compression=2, palette=p4, colors=16)
    return c


def main():
    write_corpus(os.path.join(HERE, "cases"), "tests/reference/bmp/generate_bmp.py",
                 ((f"{name}.bmp", data) for name, data in cases().items()))


if __name__ == "__main__":
    main()
