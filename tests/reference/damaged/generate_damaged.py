#!/usr/bin/python3
"""Damaged-image corpus judged by Pillow 9.4 (issue 13, part B).

Builds small seed images in seven formats (PNG, JPEG, GIF, BMP, TIFF, WebP, TGA), mutates them
deterministically (truncations, byte flips, broken LZW/deflate/strip/entropy-coded streams, short
pixel data, bad CRCs, crafted headers) and judges every file the way transformers' load_image does:
Image.open(path) -> ImageOps.exif_transpose -> convert("RGB"), with LOAD_TRUNCATED_IMAGES = False.

    /usr/bin/python3 tests/reference/damaged/generate_damaged.py --corpus /tmp/damaged-corpus
        writes the full corpus (every file and verdicts.json) for measurement with
        dotnet run --project tests/IJepa.Fuzz -c Release -- pillow --corpus /tmp/damaged-corpus
    /usr/bin/python3 tests/reference/damaged/generate_damaged.py --commit
        also rewrites the committed subset: tests/reference/damaged/cases/ (files and verdicts.json)

Everything is seeded: the same Pillow gives the same corpus and verdicts.
"""

import argparse
import base64
import hashlib
import io
import json
import os
import random
import struct
import sys
import zlib

import numpy as np
import PIL
from PIL import Image, ImageFile, ImageOps

assert PIL.__version__.startswith("9.4"), f"judge with Pillow 9.4 (Debian's python3-pil), not {PIL.__version__}"
assert not ImageFile.LOAD_TRUNCATED_IMAGES

HERE = os.path.dirname(os.path.abspath(__file__))


# ---------------------------------------------------------------- seed pictures

def picture(width, height, salt=0):
    """Smooth gradients, a few edges and some noise: enough structure for every codec."""
    rng = np.random.RandomState(1234 + salt)
    y, x = np.mgrid[0:height, 0:width]
    r = (x * 255 // max(1, width - 1))
    g = (y * 255 // max(1, height - 1))
    b = ((x + y) * 7 + salt * 31) % 256
    box = (x > width // 3) & (x < 2 * width // 3) & (y > height // 4) & (y < 3 * height // 4)
    r = np.where(box, 255 - r, r)
    noise = rng.randint(-12, 13, size=(height, width))
    rgb = np.stack([r, g, b], axis=-1) + noise[..., None]
    return np.clip(rgb, 0, 255).astype(np.uint8)


def rgb_image(w, h, salt=0):
    return Image.fromarray(picture(w, h, salt), "RGB")


def rgba_image(w, h, salt=0):
    a = np.fromfunction(lambda y, x: (x * 9 + y * 5) % 256, (h, w)).astype(np.uint8)
    return Image.fromarray(np.dstack([picture(w, h, salt), a]), "RGBA")


def save(im, fmt, **kw):
    out = io.BytesIO()
    im.save(out, fmt, **kw)
    return out.getvalue()


def png_chunk(cid, data):
    return struct.pack(">I", len(data)) + cid + data + struct.pack(">I", zlib.crc32(cid + data) & 0xFFFFFFFF)


def png_raw(rows_bytes, width, height, bit_depth, color_type, interlaced=False, extra=(), idat_split=0, palette=None, trns=None):
    """A PNG written by hand: 16-bit, Adam7 and split IDATs, which Pillow's writer does not produce."""
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 1 if interlaced else 0)
    raw = bytearray()
    for filtered in rows_bytes:
        raw += filtered
    z = zlib.compress(bytes(raw), 9)
    out = b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr)
    for cid, data in extra:
        out += png_chunk(cid, data)
    if palette is not None:
        out += png_chunk(b"PLTE", palette)
    if trns is not None:
        out += png_chunk(b"tRNS", trns)
    if idat_split:
        for i in range(0, len(z), idat_split):
            out += png_chunk(b"IDAT", z[i:i + idat_split])
    else:
        out += png_chunk(b"IDAT", z)
    return out + png_chunk(b"IEND", b"")


def png_rows(array, bytes_per_sample, filter_type=1):
    """Filtered scanlines (Sub filter by default) of an (h, w, c) array in big-endian samples."""
    h, w = array.shape[:2]
    c = array.shape[2] if array.ndim == 3 else 1
    dt = ">u2" if bytes_per_sample == 2 else "u1"
    rows = []
    bpp = c * bytes_per_sample
    for y in range(h):
        line = array[y].astype(dt).tobytes()
        if filter_type == 1:
            f = bytes((line[i] - (line[i - bpp] if i >= bpp else 0)) & 0xFF for i in range(len(line)))
        else:
            f = line
        rows.append(bytes([filter_type]) + f)
    return rows


ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


def png_interlaced_rows(array, bytes_per_sample):
    rows = []
    for x0, y0, dx, dy in ADAM7:
        sub = array[y0::dy, x0::dx]
        if sub.shape[0] == 0 or sub.shape[1] == 0:
            continue
        rows += png_rows(sub, bytes_per_sample)
    return rows


def seeds_png():
    s = {}
    s["rgb"] = save(rgb_image(24, 20), "PNG")
    s["rgba"] = save(rgba_image(20, 16, 1), "PNG")
    pal = rgb_image(24, 18, 2).quantize(32)
    s["p"] = save(pal, "PNG", transparency=3)
    s["l"] = save(rgb_image(16, 16, 3).convert("L"), "PNG")
    g16 = (picture(20, 14, 4)[..., 0].astype(np.uint16) * 257 // 3)
    s["gray16"] = png_raw(png_rows(g16, 2), 20, 14, 16, 0)
    s["rgb16"] = png_raw(png_rows(picture(18, 12, 5).astype(np.uint16) * 257, 2), 18, 12, 16, 2)
    s["adam7"] = png_raw(png_interlaced_rows(picture(23, 19, 6), 1), 23, 19, 8, 2, interlaced=True)
    s["split"] = png_raw(png_rows(picture(22, 16, 7), 1), 22, 16, 8, 2, idat_split=97,
                         extra=[(b"tEXt", b"Comment\x00damaged corpus")])
    return s


def seeds_jpeg():
    s = {}
    s["base"] = save(rgb_image(32, 24), "JPEG", quality=85)
    s["prog"] = save(rgb_image(32, 24, 1), "JPEG", quality=80, progressive=True)
    s["gray"] = save(rgb_image(24, 24, 2).convert("L"), "JPEG", quality=90)
    s["s444"] = save(rgb_image(24, 16, 3), "JPEG", quality=90, subsampling=0)
    s["rst"] = save(rgb_image(40, 24, 4), "JPEG", quality=75, restart_marker_blocks=4)
    return s


def seeds_gif():
    s = {}
    s["p"] = save(rgb_image(24, 20).quantize(64), "GIF")
    s["small"] = save(rgb_image(16, 12, 1).quantize(16), "GIF", interlace=False)
    s["l"] = save(rgb_image(20, 18, 2).convert("L"), "GIF")
    frames = [rgb_image(20, 16, 3 + i).quantize(32) for i in range(2)]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    s["anim"] = out.getvalue()
    s["trans"] = save(rgb_image(18, 18, 5).quantize(8), "GIF", transparency=2)
    return s


def bmp_rle8(w, h, salt):
    """An RLE8 BMP written by hand (Pillow reads but does not write RLE)."""
    idx = (picture(w, h, salt)[..., 0] // 32).astype(np.uint8)
    data = bytearray()
    for y in range(h - 1, -1, -1):
        row = idx[y]
        x = 0
        while x < w:
            run = 1
            while x + run < w and run < 255 and row[x + run] == row[x]:
                run += 1
            data += bytes([run, row[x]])
            x += run
        data += b"\x00\x00"
    data[-2:] = b"\x00\x01"
    palette = b"".join(bytes([i * 32, 255 - i * 32, (i * 80) % 256, 0]) for i in range(8))
    off = 14 + 40 + len(palette)
    info = struct.pack("<IiiHHIIiiII", 40, w, h, 1, 8, 1, len(data), 2835, 2835, 8, 0)
    head = b"BM" + struct.pack("<IHHI", off + len(data), 0, 0, off)
    return head + info + palette + bytes(data)


def seeds_bmp():
    s = {}
    s["rgb"] = save(rgb_image(21, 13), "BMP")
    s["p"] = save(rgb_image(20, 12, 1).quantize(16), "BMP")
    s["l1"] = save(rgb_image(30, 10, 2).convert("1"), "BMP")
    s["rgba"] = save(rgba_image(12, 10, 3), "BMP")
    s["rle8"] = bmp_rle8(24, 14, 4)
    return s


def seeds_tiff():
    s = {}
    s["raw"] = save(rgb_image(20, 14), "TIFF")
    s["lzw"] = save(rgb_image(24, 18, 1), "TIFF", compression="tiff_lzw", strip_size=256)
    s["deflate"] = save(rgb_image(20, 16, 2), "TIFF", compression="tiff_adobe_deflate", strip_size=300)
    s["packbits"] = save(rgb_image(18, 12, 3).convert("L"), "TIFF", compression="packbits", strip_size=64)
    s["rgba"] = save(rgba_image(12, 10, 4), "TIFF", compression="tiff_lzw")
    s["strips"] = tiff_by_hand(np.asarray(rgb_image(16, 16, 5)), 4)
    return s


def tiff_by_hand(arr, rows_per_strip):
    """Uncompressed RGB in several strips, data before the IFD (Pillow's own writer puts one strip first)."""
    h, w, c = arr.shape
    strips = [arr[y:y + rows_per_strip].tobytes() for y in range(0, h, rows_per_strip)]
    n = len(strips)
    entries = []
    data_start = 8
    pixel = b"".join(strips)
    ifd_off = data_start + len(pixel)
    # IFD: 10 entries, then arrays after it
    count = 10
    arrays_off = ifd_off + 2 + count * 12 + 4
    bps_off = arrays_off
    so_off = bps_off + 6
    sbc_off = so_off + 4 * n
    offsets = []
    pos = data_start
    for st in strips:
        offsets.append(pos)
        pos += len(st)
    def e(tag, typ, cnt, val):
        return struct.pack("<HHI", tag, typ, cnt) + (struct.pack("<I", val) if typ == 4 or cnt > 2 or typ != 3 else struct.pack("<HH", val, 0))
    entries = [
        e(256, 3, 1, w), e(257, 3, 1, h), struct.pack("<HHII", 258, 3, 3, bps_off), e(259, 3, 1, 1), e(262, 3, 1, 2),
        struct.pack("<HHII", 273, 4, n, so_off), e(277, 3, 1, 3), e(278, 3, 1, rows_per_strip),
        struct.pack("<HHII", 279, 4, n, sbc_off), e(284, 3, 1, 1),
    ]
    ifd = struct.pack("<H", count) + b"".join(entries) + b"\0\0\0\0"
    arrays = struct.pack("<HHH", 8, 8, 8) + struct.pack(f"<{n}I", *offsets) + struct.pack(f"<{n}I", *[len(st) for st in strips])
    return b"II*\0" + struct.pack("<I", ifd_off) + pixel + ifd + arrays


def seeds_webp():
    s = {}
    s["lossy"] = save(rgb_image(32, 24), "WEBP", quality=80)
    s["lossless"] = save(rgb_image(24, 16, 1), "WEBP", lossless=True)
    s["alpha"] = save(rgba_image(20, 16, 2), "WEBP", quality=80)
    s["llalpha"] = save(rgba_image(16, 16, 3), "WEBP", lossless=True)
    return s


def seeds_tga():
    s = {}
    s["rgb"] = save(rgb_image(20, 14), "TGA")
    s["rle"] = save(rgb_image(24, 16, 1), "TGA", rle=True)
    s["rgba_rle"] = save(rgba_image(16, 12, 2), "TGA", rle=True)
    s["l"] = save(rgb_image(18, 12, 3).convert("L"), "TGA")
    s["p_rle"] = save(rgb_image(20, 12, 4).quantize(16), "TGA", rle=True)
    return s


SEEDS = {"png": seeds_png, "jpeg": seeds_jpeg, "gif": seeds_gif, "bmp": seeds_bmp, "tiff": seeds_tiff, "webp": seeds_webp, "tga": seeds_tga}
EXT = {"png": "png", "jpeg": "jpg", "gif": "gif", "bmp": "bmp", "tiff": "tif", "webp": "webp", "tga": "tga"}


# ---------------------------------------------------------------- structure helpers

def data_start(fmt, b):
    """Roughly where the pixel data begins (mutations aim past the header)."""
    try:
        if fmt == "png":
            i = b.find(b"IDAT")
            return i + 4 if i > 0 else 33
        if fmt == "jpeg":
            i = b.find(b"\xff\xda")
            return i + 4 + struct.unpack(">H", b[i + 2:i + 4])[0] - 2 if i > 0 else 2
        if fmt == "gif":
            i = gif_image_data(b)
            return i[0] if i else 13
        if fmt == "bmp":
            return struct.unpack("<I", b[10:14])[0]
        if fmt == "tiff":
            return 8
        if fmt == "webp":
            return 20
        if fmt == "tga":
            return 18 + b[0] + (struct.unpack("<H", b[5:7])[0] * ((b[7] + 7) // 8) if b[1] else 0)
    except Exception:
        pass
    return len(b) // 4


def gif_image_data(b):
    """(offset of the LZW minimum code size byte, offset after the block terminator) of the first image."""
    p = 13
    if b[10] & 0x80:
        p += 3 << ((b[10] & 7) + 1)
    while p < len(b):
        if b[p] == 0x21:
            p += 2
            while p < len(b) and b[p]:
                p += b[p] + 1
            p += 1
        elif b[p] == 0x2C:
            flags = b[p + 9]
            p += 10
            if flags & 0x80:
                p += 3 << ((flags & 7) + 1)
            start = p
            p += 1
            while p < len(b) and b[p]:
                p += b[p] + 1
            return start, p + 1
        else:
            return None
    return None


def png_chunks(b):
    out = []
    p = 8
    while p + 8 <= len(b):
        n = struct.unpack(">I", b[p:p + 4])[0]
        out.append((b[p + 4:p + 8], p, n))
        p += 12 + n
    return out


def png_rebuild(chunks):
    return b"\x89PNG\r\n\x1a\n" + b"".join(png_chunk(c, d) for c, d in chunks)


def png_parse(b):
    return [(c, b[p + 8:p + 8 + n]) for c, p, n in png_chunks(b)]


def tiff_entries(b):
    """{tag: (entry offset, type, count, value/offset)} of the first IFD of a little-endian TIFF."""
    ifd = struct.unpack("<I", b[4:8])[0]
    n = struct.unpack("<H", b[ifd:ifd + 2])[0]
    out = {}
    for i in range(n):
        o = ifd + 2 + 12 * i
        tag, typ, cnt, val = struct.unpack("<HHII", b[o:o + 12])
        out[tag] = (o, typ, cnt, val)
    return out


def tiff_array(b, entry):
    o, typ, cnt, val = entry
    size = {3: 2, 4: 4}[typ]
    fmt = {3: "H", 4: "I"}[typ]
    where = o + 8 if cnt * size <= 4 else val
    return [struct.unpack("<" + fmt, b[where + size * i:where + size * (i + 1)])[0] for i in range(cnt)], where, size, fmt


def tiff_set_array(b, entry, values):
    arr, where, size, fmt = tiff_array(b, entry)
    b = bytearray(b)
    for i, v in enumerate(values):
        b[where + size * i:where + size * (i + 1)] = struct.pack("<" + fmt, v & ((1 << (8 * size)) - 1))
    return bytes(b)


# ---------------------------------------------------------------- mutations

def generic(fmt, name, b, rng):
    """Truncations, flips, random runs, zeroed runs and deletions that every format gets."""
    n = len(b)
    ds = min(data_start(fmt, b), n - 1)
    cuts = sorted(set([4, 8, 12, 16, 26, 40, ds - 1, ds, ds + 1, ds + 3] +
                      [int(n * f) for f in (0.15, 0.3, 0.45, 0.6, 0.75, 0.9)] + [n - k for k in (1, 2, 3, 4, 6, 10, 20)]))
    for c in cuts:
        if 0 < c < n:
            yield f"cut{c}", b[:c]
    for i in range(6):
        m = bytearray(b)
        p = rng.randrange(ds, n)
        m[p] ^= 1 << rng.randrange(8)
        yield f"bit{i}", bytes(m)
    for i in range(6):
        m = bytearray(b)
        p = rng.randrange(ds, n)
        k = rng.randint(3, 16)
        m[p:p + k] = bytes(rng.randrange(256) for _ in range(len(m[p:p + k])))
        yield f"rand{i}", bytes(m)
    for i in range(3):
        m = bytearray(b)
        p = rng.randrange(ds, n)
        k = rng.randint(8, 64)
        m[p:p + k] = bytes(len(m[p:p + k]))
        yield f"zero{i}", bytes(m)
    for i in range(3):
        p = rng.randrange(ds, n)
        k = rng.randint(1, 12)
        yield f"del{i}", b[:p] + b[p + k:]
    for i in range(2):
        m = bytearray(b)
        p = rng.randrange(0, min(ds, n))
        m[p] = rng.randrange(256)
        yield f"hdr{i}", bytes(m)
    yield "appended", b + bytes(rng.randrange(256) for _ in range(37))


def specific_png(name, b, rng):
    chunks = png_parse(b)
    idat = [i for i, (c, _) in enumerate(chunks) if c == b"IDAT"]
    z = b"".join(chunks[i][1] for i in idat)

    def with_z(newz, keep_crc=True):
        first = idat[0]
        rest = [c for i, c in enumerate(chunks) if i not in idat]
        rest.insert(first, (b"IDAT", newz))
        return png_rebuild(rest)

    # bad CRCs: every chunk in turn
    for i, (c, d) in enumerate(chunks):
        out = bytearray(b)
        _, p, n = png_chunks(b)[i]
        out[p + 8 + n] ^= 0x55
        yield f"crc_{c.decode('latin-1')}{i}", bytes(out)
    # broken deflate with valid chunk CRCs
    for k in range(5):
        zz = bytearray(z)
        p = rng.randrange(2, len(zz))
        zz[p] ^= 1 << rng.randrange(8)
        yield f"zflip{k}", with_z(bytes(zz))
    # the zlib stream cut short, chunk structure intact
    for f in (0.2, 0.5, 0.8):
        yield f"zcut{int(f * 100)}", with_z(z[:int(len(z) * f)])
    yield "zno_adler", with_z(z[:-4])
    yield "zbad_adler", with_z(z[:-1] + bytes([z[-1] ^ 1]))
    yield "zcut_end1", with_z(z[:-5])
    # decompressed data cut short or too long, recompressed properly
    raw = zlib.decompress(z)
    yield "short_rows", with_z(zlib.compress(raw[:len(raw) * 3 // 4]))
    yield "short_1byte", with_z(zlib.compress(raw[:-1]))
    yield "long_rows", with_z(zlib.compress(raw + b"\0" * 40))
    bad = bytearray(raw)
    bad[0] = 7
    yield "bad_filter", with_z(zlib.compress(bytes(bad)))
    # chunk-level edits
    yield "no_iend", png_rebuild([c for c in chunks if c[0] != b"IEND"])
    yield "no_idat", png_rebuild([c for c in chunks if c[0] != b"IDAT"])
    yield "empty_idat_extra", png_rebuild(chunks[:idat[0]] + [(b"IDAT", b"")] + chunks[idat[0]:])
    ihdr = bytearray(chunks[0][1])
    for label, field, value in (("w_plus", 0, 1), ("h_plus", 4, 1), ("h_minus", 4, -1)):
        v = struct.unpack(">I", ihdr[field:field + 4])[0] + value
        h2 = bytearray(ihdr)
        h2[field:field + 4] = struct.pack(">I", v)
        yield f"ihdr_{label}", png_rebuild([(b"IHDR", bytes(h2))] + chunks[1:])
    h2 = bytearray(ihdr)
    h2[8] = {8: 16, 16: 8, 1: 2, 2: 4, 4: 8}.get(h2[8], 8)
    yield "ihdr_depth", png_rebuild([(b"IHDR", bytes(h2))] + chunks[1:])
    # an IDAT length field that runs past the end of the file
    c0 = png_chunks(b)[[c for c, _, _ in png_chunks(b)].index(b"IDAT")]
    out = bytearray(b)
    out[c0[1]:c0[1] + 4] = struct.pack(">I", c0[2] + 500)
    yield "idat_len_long", bytes(out)


def specific_jpeg(name, b, rng):
    eoi = b.rfind(b"\xff\xd9")
    sos = b.find(b"\xff\xda")
    yield "no_eoi", b[:eoi]
    yield "no_eoi_pad", b[:eoi] + b"\0" * 16
    scan0 = sos + 2 + struct.unpack(">H", b[sos + 2:sos + 4])[0]
    for k in range(5):
        m = bytearray(b)
        p = rng.randrange(scan0, eoi)
        m[p] = rng.randrange(256)
        if m[p] == 0xFF:
            m[p] = 0xFE
        yield f"ecs{k}", bytes(m)
    for k, marker in enumerate((0xD9, 0xD0, 0xC4)):
        p = rng.randrange(scan0 + 4, eoi - 4)
        yield f"marker{k}", b[:p] + bytes([0xFF, marker]) + b[p:]
    yield "ecs_cut_eoi", b[:scan0 + (eoi - scan0) // 2] + b"\xff\xd9"
    yield "ecs_cut_eoi_late", b[:eoi - 6] + b"\xff\xd9"
    # progressive: cut at each later scan, with and without EOI
    starts = []
    p = sos
    while p >= 0:
        starts.append(p)
        p = b.find(b"\xff\xda", p + 2)
    for i, s in enumerate(starts[1:6]):
        yield f"scans{i + 1}", b[:s]
        yield f"scans{i + 1}_eoi", b[:s] + b"\xff\xd9"
    # damaged tables and frame header
    dqt = b.find(b"\xff\xdb")
    if dqt > 0:
        m = bytearray(b)
        m[dqt + 2:dqt + 4] = b"\x00\x02"
        yield "dqt_len", bytes(m)
    dht = b.find(b"\xff\xc4")
    if dht > 0:
        m = bytearray(b)
        for i in range(dht + 5, dht + 21):
            m[i] = 0xFF
        yield "dht_counts", bytes(m)
    sof = max(b.find(b"\xff\xc0"), b.find(b"\xff\xc2"))
    if sof > 0:
        for label, delta in (("h_plus", 8), ("w_plus", 8), ("h_minus", -3)):
            m = bytearray(b)
            o = sof + 5 if label.startswith("h") else sof + 7
            m[o:o + 2] = struct.pack(">H", struct.unpack(">H", m[o:o + 2])[0] + delta)
            yield f"sof_{label}", bytes(m)


def specific_gif(name, b, rng):
    where = gif_image_data(b)
    if not where:
        return
    start, end = where
    for code in (1, 2, 9, 12, 0):
        m = bytearray(b)
        m[start] = code
        yield f"lzwmin{code}", bytes(m)
    # the sub-block chain: length bytes broken, data cut before the terminator
    m = bytearray(b)
    m[start + 1] = min(255, m[start + 1] + 40)
    yield "subblock_long", bytes(m)
    m = bytearray(b)
    m[start + 1] = max(1, m[start + 1] // 3)
    yield "subblock_short", bytes(m)
    yield "no_terminator", b[:end - 1] + b[end:]
    yield "no_trailer", b[:-1]
    yield "data_then_trailer", b[:start + 1 + (end - start) // 2] + b"\x00\x3b"
    yield "data_then_trailer2", b[:start + 1 + (end - start) * 9 // 10] + b"\x00\x3b"
    # LZW codes broken inside the first sub-block (length bytes intact)
    p = start + 2
    blen = b[start + 1]
    for k in range(6):
        m = bytearray(b)
        q = p + rng.randrange(min(blen, end - p - 1))
        m[q] = rng.randrange(256)
        yield f"lzw{k}", bytes(m)
    m = bytearray(b)
    for q in range(p + blen // 2, min(p + blen, end - 1)):
        m[q] = 0xFF
    yield "lzw_ff", bytes(m)
    m = bytearray(b)
    for q in range(p + blen // 2, min(p + blen, end - 1)):
        m[q] = 0
    yield "lzw_00", bytes(m)
    # descriptor: frame larger than the screen, or off it
    d = b.rfind(b"\x2c", 0, start)
    for label, off, val in (("frame_w", 5, 60), ("frame_h", 7, 60), ("frame_x", 1, 10), ("frame_y", 3, 10)):
        m = bytearray(b)
        m[d + off:d + off + 2] = struct.pack("<H", val)
        yield f"desc_{label}", bytes(m)
    m = bytearray(b)
    m[6:8] = struct.pack("<H", 4)
    yield "screen_w_small", bytes(m)


def specific_bmp(name, b, rng):
    off = struct.unpack("<I", b[10:14])[0]
    n = len(b)
    for k in (1, 2, 4, 8, 16, (n - off) // 2):
        yield f"short{k}", b[:n - k]
    m = bytearray(b)
    m[22:26] = struct.pack("<i", struct.unpack("<i", b[22:26])[0] + 2)
    yield "height_plus", bytes(m)
    m = bytearray(b)
    m[22:26] = struct.pack("<i", -struct.unpack("<i", b[22:26])[0])
    yield "height_topdown", bytes(m)
    m = bytearray(b)
    m[18:22] = struct.pack("<i", struct.unpack("<i", b[18:22])[0] + 3)
    yield "width_plus", bytes(m)
    for label, delta in (("off_plus", 7), ("off_minus", -4), ("off_end", n - off - 1)):
        m = bytearray(b)
        m[10:14] = struct.pack("<I", off + delta)
        yield label, bytes(m)
    m = bytearray(b)
    m[34:38] = struct.pack("<I", 3)
    yield "sizeimage_small", bytes(m)
    m = bytearray(b)
    m[2:6] = struct.pack("<I", 7)
    yield "filesize_small", bytes(m)
    m = bytearray(b)
    m[46:50] = struct.pack("<I", 4096)
    yield "colors_huge", bytes(m)
    for bits in (4, 16, 32, 8, 1):
        m = bytearray(b)
        m[28:30] = struct.pack("<H", bits)
        yield f"bits{bits}", bytes(m)
    for comp in (1, 2, 3, 0):
        m = bytearray(b)
        m[30:34] = struct.pack("<I", comp)
        yield f"comp{comp}", bytes(m)
    if b[30] == 1:
        # RLE8: escape codes broken, end-of-bitmap dropped, delta past the image
        data = b[off:]
        yield "rle_no_eob", b[:-2]
        yield "rle_no_eob_pad", b[:-2] + b"\0\0\0\0"
        m = bytearray(b)
        m[off + 10:off + 12] = b"\x00\x02"
        yield "rle_delta_big", bytes(m[:off + 12]) + b"\xff\xff" + bytes(m[off + 12:])
        m = bytearray(b)
        m[off + 6:off + 8] = b"\x00\xff"
        yield "rle_absolute_long", bytes(m)
        for k in range(4):
            m = bytearray(b)
            q = off + rng.randrange(len(data))
            m[q] = rng.randrange(256)
            yield f"rle{k}", bytes(m)


def specific_tiff(name, b, rng):
    e = tiff_entries(b)
    so, sbc = e.get(273), e.get(279)
    if not so or not sbc:
        return
    offs = tiff_array(b, so)[0]
    counts = tiff_array(b, sbc)[0]
    yield "sbc_zero_all", tiff_set_array(b, sbc, [0] * len(counts))
    yield "sbc_zero_last", tiff_set_array(b, sbc, counts[:-1] + [0])
    yield "sbc_zero_first", tiff_set_array(b, sbc, [0] + counts[1:])
    yield "sbc_half", tiff_set_array(b, sbc, [max(1, c // 2) for c in counts])
    yield "sbc_minus1", tiff_set_array(b, sbc, counts[:-1] + [counts[-1] - 1])
    yield "sbc_plus", tiff_set_array(b, sbc, [c + 50 for c in counts])
    yield "sbc_huge", tiff_set_array(b, sbc, counts[:-1] + [100000])
    yield "so_past_end", tiff_set_array(b, so, offs[:-1] + [len(b) + 100])
    yield "so_near_end", tiff_set_array(b, so, offs[:-1] + [len(b) - 3])
    yield "so_shift", tiff_set_array(b, so, [o + 3 for o in offs])
    yield "so_zero", tiff_set_array(b, so, [0] + offs[1:])
    yield "so_swap", tiff_set_array(b, so, list(reversed(offs)))
    # cut inside the last strip (strip data stored before the IFD in these files)
    last_end = max(o + c for o, c in zip(offs, counts))
    first = min(offs)
    for f in (0.3, 0.7, 0.95):
        p = first + int((last_end - first) * f)
        m = bytearray(b)
        m[p:last_end] = bytes(last_end - p)
        yield f"strip_zeroed{int(f * 100)}", bytes(m)
    for k in range(5):
        m = bytearray(b)
        q = rng.randrange(first, last_end)
        m[q] = rng.randrange(256)
        yield f"strip{k}", bytes(m)
    for tag, values, label in ((259, [5], "comp_lzw"), (259, [1], "comp_none"), (259, [32773], "comp_packbits"), (259, [8], "comp_deflate"),
                               (278, [1], "rps_1"), (278, [2], "rps_2"), (257, [e[257][3] + 4], "height_plus"), (256, [e[256][3] + 2], "width_plus"),
                               (258, [16], "bps16")):
        if tag in e:
            o, typ, cnt, val = e[tag]
            if cnt == 1:
                yield label, tiff_set_array(b, e[tag], values)
            else:
                yield label, tiff_set_array(b, e[tag], values * cnt)
    m = bytearray(b)
    m[4:8] = struct.pack("<I", len(b) + 10)
    yield "ifd_past_end", bytes(m)


def specific_webp(name, b, rng):
    m = bytearray(b)
    m[4:8] = struct.pack("<I", struct.unpack("<I", b[4:8])[0] + 100)
    yield "riff_long", bytes(m)
    m = bytearray(b)
    m[4:8] = struct.pack("<I", 12)
    yield "riff_short", bytes(m)
    p = 12
    chunks = []
    while p + 8 <= len(b):
        cid = b[p:p + 4]
        n = struct.unpack("<I", b[p + 4:p + 8])[0]
        chunks.append((cid, p, n))
        p += 8 + n + (n & 1)
    for cid, p, n in chunks:
        label = cid.decode("latin-1").strip()
        m = bytearray(b)
        m[p + 4:p + 8] = struct.pack("<I", n + 64)
        yield f"{label}_long", bytes(m)
        m = bytearray(b)
        m[p + 4:p + 8] = struct.pack("<I", max(0, n // 2))
        yield f"{label}_short", bytes(m)
        yield f"{label}_cut", b[:p + 8 + n // 2]
        for k in range(3):
            m = bytearray(b)
            q = p + 8 + rng.randrange(max(1, n))
            if q < len(m):
                m[q] = rng.randrange(256)
            yield f"{label}_flip{k}", bytes(m)


def specific_tga(name, b, rng):
    n = len(b)
    for k in (1, 3, 7, 30):
        yield f"short{k}", b[:n - k]
    for label, off, delta in (("w_plus", 12, 2), ("h_plus", 14, 2)):
        m = bytearray(b)
        m[off:off + 2] = struct.pack("<H", struct.unpack("<H", b[off:off + 2])[0] + delta)
        yield label, bytes(m)
    ds = data_start("tga", b)
    for k in range(4):
        m = bytearray(b)
        q = rng.randrange(ds, n)
        m[q] = rng.randrange(256)
        yield f"px{k}", bytes(m)
    if b[2] in (9, 10, 11):
        m = bytearray(b)
        m[ds] = 0xFF
        yield "rle_run_long", bytes(m)
        m = bytearray(b)
        m[ds] = 0x7F
        yield "rle_raw_long", bytes(m)
        m = bytearray(b)
        m[2] = b[2] - 8
        yield "rle_as_raw", bytes(m)
    else:
        m = bytearray(b)
        m[2] = b[2] + 8
        yield "raw_as_rle", bytes(m)
    m = bytearray(b)
    m[16] = 32 if b[16] != 32 else 24
    yield "depth", bytes(m)
    m = bytearray(b)
    m[17] ^= 0x20
    yield "flip_origin", bytes(m)


SPECIFIC = {"png": specific_png, "jpeg": specific_jpeg, "gif": specific_gif, "bmp": specific_bmp, "tiff": specific_tiff, "webp": specific_webp, "tga": specific_tga}


# ---------------------------------------------------------------- judging

def judge(path):
    """load_image(path) as transformers does it, with Pillow's defaults."""
    try:
        with Image.open(path) as im:
            im = ImageOps.exif_transpose(im)
            rgb = im.convert("RGB")
            rgb.load()
            arr = np.asarray(rgb)
    except Exception as e:  # noqa: BLE001 - any exception is a refusal, as for the user
        return {"pillow": "refuse", "reason": f"{type(e).__name__}: {e}"}
    return {"pillow": "accept", "width": arr.shape[1], "height": arr.shape[0],
            "sha256": hashlib.sha256(arr.tobytes()).hexdigest(), "pixels": arr}


def build(corpus):
    os.makedirs(corpus, exist_ok=True)
    cases = []
    for fmt, make in SEEDS.items():
        for seed_name, seed in make().items():
            rng = random.Random(f"{fmt}/{seed_name}")
            variants = [("seed", seed)]
            variants += list(SPECIFIC[fmt](seed_name, seed, rng))
            variants += list(generic(fmt, seed_name, seed, rng))
            seen = set()
            for label, data in variants:
                digest = hashlib.sha256(data).hexdigest()
                if digest in seen or not data:
                    continue
                seen.add(digest)
                file = f"{fmt}-{seed_name}-{label}.{EXT[fmt]}"
                with open(os.path.join(corpus, file), "wb") as f:
                    f.write(data)
                verdict = judge(os.path.join(corpus, file))
                cases.append(dict(file=file, format=fmt, size=len(data), **verdict))
    return cases


def strip(case, with_pixels):
    out = {k: v for k, v in case.items() if k != "pixels"}
    if with_pixels and case["pillow"] == "accept":
        out["pixels"] = base64.b64encode(zlib.compress(case["pixels"].tobytes(), 9)).decode()
    return out


def committed_subset(cases):
    """A few hundred cases, every format and mutation family, both verdicts, small files."""
    chosen = []
    by_format = {}
    for c in cases:
        by_format.setdefault(c["format"], []).append(c)
    for fmt, group in by_format.items():
        rng = random.Random("subset/" + fmt)
        accepted = [c for c in group if c["pillow"] == "accept"]
        refused = [c for c in group if c["pillow"] == "refuse"]
        rng.shuffle(accepted)
        rng.shuffle(refused)
        chosen += sorted(refused[:26], key=lambda c: c["file"]) + sorted(accepted[:18], key=lambda c: c["file"])
    names = {c["file"] for c in chosen}
    chosen += [c for c in cases if c["file"] in FEATURED and c["file"] not in names]
    return chosen


# Cases kept whatever the draw: one or more for each fix of issue 13 part B's last stretch.
FEATURED = {
    # PNG: empty IDAT, IDAT length past the end, cut IEND, short interlaced data, palette indices past PLTE
    "png-p-empty_idat_extra.png", "png-rgb16-hdr1.png", "png-l-cut269.png", "png-adam7-ihdr_h_plus.png",
    "png-p-zero0.png", "png-p-ihdr_h_plus.png",
    # TGA: RLE runs and literals across rows, mmap'd raw L, palette realization, a header ImageSharp refuses
    "tga-rle-rand0.tga", "tga-rgba_rle-zero2.tga", "tga-p_rle-del0.tga", "tga-l-short30.tga", "tga-l-hdr0.tga",
    "tga-p_rle-depth.tga", "tga-rle-cut17.tga",
    # TIFF raw strips: byte counts ignored, an IFD cut before StripByteCounts
    "tiff-raw-sbc_zero_all.tif", "tiff-strips-sbc_minus1.tif", "tiff-strips-cut934.tif", "tiff-raw-height_plus.tif",
    # WebP: RIFF size and chunk sizes against the file
    "webp-lossy-del1.webp", "webp-lossless-cut557.webp", "webp-alpha-hdr1.webp", "webp-llalpha-riff_long.webp",
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", default="/tmp/damaged-corpus")
    ap.add_argument("--commit", action="store_true", help="rewrite tests/reference/damaged/cases (files and verdicts.json)")
    args = ap.parse_args()
    cases = build(args.corpus)
    with open(os.path.join(args.corpus, "verdicts.json"), "w") as f:
        json.dump({"pillow": PIL.__version__, "cases": [strip(c, with_pixels=True) for c in cases]}, f, indent=0)
    summary = {}
    for c in cases:
        s = summary.setdefault(c["format"], [0, 0])
        s[0 if c["pillow"] == "accept" else 1] += 1
    for fmt, (a, r) in summary.items():
        print(f"{fmt:5} {a + r:5} files: Pillow accepts {a}, refuses {r}")
    print(f"total {len(cases)} files in {args.corpus}")
    if args.commit:
        target = os.path.join(HERE, "cases")
        os.makedirs(target, exist_ok=True)
        for old in os.listdir(target):
            os.remove(os.path.join(target, old))
        subset = committed_subset(cases)
        for c in subset:
            with open(os.path.join(args.corpus, c["file"]), "rb") as src, open(os.path.join(target, c["file"]), "wb") as dst:
                dst.write(src.read())
        with open(os.path.join(target, "verdicts.json"), "w") as f:
            json.dump({"pillow": PIL.__version__, "generator": "tests/reference/damaged/generate_damaged.py",
                       "cases": [strip(c, with_pixels=c["format"] in ("jpeg", "webp")) for c in subset]}, f, indent=1)
        print(f"committed subset: {len(subset)} files")


if __name__ == "__main__":
    sys.exit(main())
