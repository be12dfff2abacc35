#!/usr/bin/python3
"""Small striped TIFFs crafted byte by byte and judged by Pillow 9.4.

Covers what PillowTiffRaw (Pillow's own raw reader for 8-bit L/RGB/RGBX/RGBA strips) and TiffStripGuard decide:
byte orders II/MM, RowsPerStrip values (missing, 0, 1, more than the height), more strip offsets than strips,
strips out of file order and past the end, single mapped strips cut short, StripByteCounts missing/zero/short,
BitsPerSample counts other than SamplesPerPixel, ExtraSamples, SampleFormat, photometric 0/1/2, planar and
orientation tags, header and IFD damage, and compressions 5/8/32773 with broken data; also tags of every type and
negative values, tags given twice, directories cut by a value past the end of the file, and FillOrder 2. Judged as
transformers' load_image does: Image.open -> ImageOps.exif_transpose -> convert("RGB"), LOAD_TRUNCATED_IMAGES = False.
Writes cases/*.tif and cases/verdicts.json (zlib+base64 RGB pixels where Pillow accepts, the error where not).

    /usr/bin/python3 tests/reference/tiff/generate_tiff.py
"""

import os
import random
import struct
import sys
import io
import zlib

from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from pillow_judge import write_corpus  # noqa: E402 - the shared judge lives one folder up



HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "cases")
SIZES = {1: 1, 3: 2, 4: 4, 8: 2, 5: 8}


class Raw:
    """A tag's value bytes as they stand in the file, with the count its entry declares."""

    def __init__(self, count, data):
        self.count, self.data = count, data


def tiff(entries, pixels, mm=False, magic=42, cut=None, ifd_at=None):
    """Header, pixel bytes at offset 8, then the IFD (entries: (tag, type, values)), then out-of-line values.
    Strip offsets given as ("px", k) mean 8 + k."""
    e = ">" if mm else "<"
    ifd = 8 + len(pixels) + (len(pixels) & 1)
    extra_at = ifd + 2 + 12 * len(entries) + 4
    body, extra = b"", b""
    for tag, typ, values in entries:
        if isinstance(values, Raw):
            data, values = values.data, range(values.count)
        else:
            values = [8 + v[1] if isinstance(v, tuple) else v for v in values]
            data = b"".join(int(v).to_bytes(SIZES.get(typ, 4), "big" if mm else "little", signed=(typ == 8)) for v in values)
        if len(data) <= 4:
            field = data.ljust(4, b"\0")
        else:
            field = (extra_at + len(extra)).to_bytes(4, "big" if mm else "little")
            extra += data + (b"\0" if len(data) & 1 else b"")
        body += tag.to_bytes(2, "big" if mm else "little") + typ.to_bytes(2, "big" if mm else "little") \
            + len(values).to_bytes(4, "big" if mm else "little") + field
    head = (b"MM" if mm else b"II") + magic.to_bytes(2, "big" if mm else "little") \
        + (ifd if ifd_at is None else ifd_at).to_bytes(4, "big" if mm else "little")
    out = head + pixels + (b"\0" if len(pixels) & 1 else b"") + len(entries).to_bytes(2, "big" if mm else "little") \
        + body + b"\0\0\0\0" + extra
    del e
    return out if cut is None else out[:cut]


def pillow_strip(mode, size, data, compression):
    """One strip compressed by Pillow's libtiff encoder (a small image is written as a single strip)."""
    buf = io.BytesIO()
    Image.frombytes(mode, size, data).save(buf, "TIFF", compression=compression)
    raw = buf.getvalue()
    with Image.open(io.BytesIO(raw)) as im:
        (offset,), (count,) = im.tag_v2[273], im.tag_v2[279]
    return raw[offset:offset + count]


def lzw_stream(codes):
    """LZW codes packed MSB first at the width a decoder reads them: 9 bits after each Clear, one more bit once the
    table reaches 2**bits - 2 entries (libtiff's early change), never more than 12."""
    bits, width, free = [], 9, None
    for c in codes:
        bits.append(format(c, f"0{width}b"))
        if c == 256:
            width, free = 9, None
        elif free is None:
            free = 258
        else:
            free += 1
            if free > (1 << width) - 2 and width < 12:
                width += 1
    text = "".join(bits)
    text += "0" * (-len(text) % 8)
    return bytes(int(text[i:i + 8], 2) for i in range(0, len(text), 8))


def compressed(w, h, strips_data, comp, rps, spp=1, photometric=None, bps=None, counts=None, offsets=None, at_end=False,
               more=(), mm=False, override=None):
    """A striped file whose strips (already compressed) follow the header; at_end puts them after the IFD instead,
    so that the last strip can end exactly at the end of the file. override replaces tags' values (a Raw for its
    count and bytes; None drops the tag), mm writes it big-endian."""
    blob = b"".join(strips_data)
    starts = [sum(len(d) for d in strips_data[:i]) for i in range(len(strips_data))]

    def build(base):
        offs = offsets if offsets is not None else [base + s for s in starts]
        entries = [e for e in strips(w, h, spp, rps, photometric, counts=None, offsets=offs, bps=bps, more=more)
                   if e[0] != 259]
        entries.append((259, 3, [comp]))
        entries.append((279, 4, counts if counts is not None else [len(d) for d in strips_data]))
        entries = [(t, typ, (override or {}).get(t, v)) for t, typ, v in entries if (override or {}).get(t, v) is not None]
        return sorted(entries, key=lambda e: e[0])

    if not at_end:
        return tiff(build(8), blob, mm=mm)
    size = len(tiff(build(0), b"", mm=mm))
    return tiff(build(size), b"", mm=mm) + blob


def strips(w, h, spp, rps, photometric=None, counts="right", offsets=None, extra=(), more=(), bps=None, total=None):
    line = w * spp
    tag_rps, rps = rps, (h if rps is None else rps)
    offs = offsets if offsets is not None else [("px", i * rps * line) for i in range(-(-h // rps))]
    entries = [(256, 3, [w]), (257, 3, [h]), (258, 3, bps if bps is not None else [8] * spp), (259, 3, [1]),
               (262, 3, [photometric if photometric is not None else (1 if spp == 1 else 2)]), (273, 4, offs),
               (277, 3, [spp])]
    if tag_rps is not None:
        entries.append((278, 3, [rps]))
    if counts == "right":
        entries.append((279, 4, [max(0, min(rps, h - i * rps)) * line for i in range(len(offs))]))
    elif counts == "zero":
        entries.append((279, 4, [0] * len(offs)))
    elif counts == "short":
        entries.append((279, 4, [1] * len(offs)))
    if extra:
        entries.append((338, 3, list(extra)))
    entries += list(more)
    return sorted(entries, key=lambda t: t[0])


def cases():
    rng = random.Random(20261130)
    w, h = 5, 3

    def px(n):
        return bytes(rng.randrange(256) for _ in range(n))

    for spp, name, pm, ex in ((1, "l", 1, ()), (1, "li", 0, ()), (3, "rgb", 2, ()), (4, "rgbx", 2, (0,)), (4, "rgba", 2, (2,))):
        data = px(w * h * spp)
        for rps in (1, 2, 3):
            yield f"{name}-rps{rps}", tiff(strips(w, h, spp, rps, pm, extra=ex), data)
            yield f"{name}-rps{rps}-mm", tiff(strips(w, h, spp, rps, pm, extra=ex), data, mm=True)
        yield f"{name}-norps", tiff(strips(w, h, spp, None, pm, extra=ex), data)
        yield f"{name}-zerocounts-mm", tiff(strips(w, h, spp, 1, pm, counts="zero", extra=ex), data, mm=True)
        yield f"{name}-nocounts", tiff(strips(w, h, spp, 1, pm, counts=None, extra=ex), data)
        yield f"{name}-zerocounts", tiff(strips(w, h, spp, 1, pm, counts="zero", extra=ex), data)
        yield f"{name}-shortcounts", tiff(strips(w, h, spp, 1, pm, counts="short", extra=ex), data)
        yield f"{name}-rps9", tiff(strips(w, h, spp, 9, pm, extra=ex), data)
        # Strips stored bottom to top.
        line = w * spp
        yield f"{name}-reversed", tiff(strips(w, h, spp, 1, pm, extra=ex, offsets=[("px", 2 * line), ("px", line), ("px", 0)]), data)
        # Four offsets for three strips: the fourth starts over at the top.
        yield f"{name}-wrap", tiff(strips(w, h, spp, 1, pm, extra=ex, counts=None,
                                          offsets=[("px", 0), ("px", line), ("px", 2 * line), ("px", 1)]), data)
        # The same strip twice.
        yield f"{name}-dup", tiff(strips(w, h, spp, 3, pm, extra=ex, counts=None, offsets=[("px", 0), ("px", 1)]), data)
        # The last strip runs past the end of the file / the lone strip is cut short.
        full = tiff(strips(w, h, spp, 1, pm, extra=ex, offsets=[("px", 0), ("px", line), ("px", 10_000)]), data)
        yield f"{name}-strip-past-end", full
        yield f"{name}-one-strip-past-end", tiff(strips(w, h, spp, 3, pm, extra=ex, offsets=[("px", 10_000)]), data)
        yield f"{name}-one-strip-short", tiff(strips(w, h, spp, 3, pm, extra=ex, offsets=[("px", len(data) - 4)]), data)
        # The lone strip starts 4 bytes before the end of the file.
        size = len(tiff(strips(w, h, spp, 3, pm, extra=ex, offsets=[0]), data))
        yield f"{name}-one-strip-at-end", tiff(strips(w, h, spp, 3, pm, extra=ex, offsets=[size - 4]), data)
        yield f"{name}-strip-short", tiff(strips(w, h, spp, 1, pm, extra=ex, offsets=[("px", 0), ("px", len(data) - 4), ("px", line)]), data)
        yield f"{name}-rps0", tiff(strips(w, h, spp, 0, pm, extra=ex, counts=None, offsets=[("px", 0)]), data)

    data = px(w * h * 3)
    rgb = dict(w=w, h=h, spp=3, rps=3, photometric=2)
    yield "rgb-bps1", tiff(strips(**rgb, bps=[8]), data)
    yield "rgb-bps4", tiff(strips(**rgb, bps=[8, 8, 8, 8]), data)
    yield "rgb-bps2", tiff(strips(**rgb, bps=[8, 8]), data)
    yield "rgb-bps16", tiff(strips(**rgb, bps=[16, 16, 16]), px(w * h * 6))
    # Zero StripByteCounts: Pillow's raw reader ignores them, so these tell its reader from ImageSharp's.
    rgb0 = dict(rgb, counts="zero", rps=1)
    yield "rgb-bps1-zerocounts", tiff(strips(**rgb0, bps=[8]), data)
    yield "rgb-bps4-zerocounts", tiff(strips(**rgb0, bps=[8, 8, 8, 8]), data)
    yield "rgb-bps-mixed", tiff(strips(**rgb, bps=[8, 8, 16]), data)
    yield "l-extra-two", tiff(strips(w, h, 1, 3, 1, extra=(0, 0)), px(w * h))
    yield "l-zerocounts-xres", tiff(sorted(strips(w, h, 1, 1, 1, counts="zero") + [(282, 5, [72, 1])]), px(w * h))
    yield "l-width-sshort-mm", tiff(sorted([e if e[0] != 256 else (256, 8, [5]) for e in strips(w, h, 1, 3, 1)]), px(w * h), mm=True)
    yield "l-height0", tiff(sorted([e if e[0] != 257 else (257, 3, [0]) for e in strips(w, h, 1, 3, 1)]), px(w * h))
    # One L strip: at offset 0 of a file too short for it, at the very end of the file, and ending exactly there.
    yield "l-offset0-short", tiff(strips(20, 20, 1, 20, 1, offsets=[0]), px(40))
    size = len(tiff(strips(w, h, 1, 3, 1, offsets=[0]), px(w * h)))
    yield "l-one-strip-at-eof", tiff(strips(w, h, 1, 3, 1, offsets=[size]), px(w * h))
    yield "l-one-strip-ends-at-eof", tiff(strips(w, h, 1, 3, 1, offsets=[size - 15]), px(w * h))
    yield "rgb-sf1", tiff(strips(**rgb, more=[(339, 3, [1, 1, 1])]), data)
    yield "rgb-sf-mixed", tiff(strips(**rgb, more=[(339, 3, [2, 2, 1])]), data)
    yield "rgb-sf2", tiff(strips(**rgb, more=[(339, 3, [2])]), data)
    yield "rgb-planar2", tiff(strips(**rgb, more=[(284, 3, [2])]), data)
    yield "rgb-planar1", tiff(strips(**rgb, more=[(284, 3, [1])]), data)
    yield "rgb-orient1", tiff(strips(**rgb, more=[(274, 3, [1])]), data)
    yield "rgb-orient3", tiff(strips(**rgb, more=[(274, 3, [3])]), data)
    yield "rgb-fill1", tiff(strips(**rgb, more=[(266, 3, [1])]), data)
    yield "rgb-photometric1", tiff(strips(**rgb), data).replace(b"\x06\x01\x03\x00\x01\x00\x00\x00\x02", b"\x06\x01\x03\x00\x01\x00\x00\x00\x01", 1)
    yield "rgba-extra1", tiff(strips(w, h, 4, 3, 2, extra=(1,)), px(w * h * 4))
    yield "rgbx-extra-two", tiff(strips(w, h, 4, 3, 2, extra=(0, 0)), px(w * h * 4))
    yield "l-extra0", tiff(strips(w, h, 1, 3, 1, extra=(0,)), px(w * h))
    yield "l-spp-bytes", tiff(sorted([e if e[0] != 277 else (277, 1, [1]) for e in strips(w, h, 1, 3, 1)]), px(w * h))
    yield "l-width-long", tiff(sorted([e if e[0] != 256 else (256, 4, [5]) for e in strips(w, h, 1, 3, 1)]), px(w * h))
    yield "l-width-sshort", tiff(sorted([e if e[0] != 256 else (256, 8, [5]) for e in strips(w, h, 1, 3, 1)]), px(w * h))
    yield "l-width0", tiff(sorted([e if e[0] != 256 else (256, 3, [0]) for e in strips(w, h, 1, 3, 1)]), px(w * h))
    yield "l-no-width", tiff([e for e in strips(w, h, 1, 3, 1) if e[0] != 256], px(w * h))
    yield "l-no-offsets", tiff([e for e in strips(w, h, 1, 3, 1) if e[0] != 273], px(w * h))
    yield "l-unknown-type", tiff(sorted(strips(w, h, 1, 3, 1) + [(700, 99, [1])]), px(w * h))
    yield "l-compression1-byte", tiff(sorted([e if e[0] != 259 else (259, 1, [1]) for e in strips(w, h, 1, 3, 1)]), px(w * h))
    # Header damage.
    good = tiff(strips(w, h, 1, 3, 1), px(w * h))
    yield "bad-magic", tiff(strips(w, h, 1, 3, 1), px(w * h), magic=43)
    yield "ifd-zero", tiff(strips(w, h, 1, 3, 1), px(w * h), ifd_at=0)
    yield "ifd-past-end", tiff(strips(w, h, 1, 3, 1), px(w * h), ifd_at=len(good) - 1)
    yield "ifd-cut", good[:len(good) - 30]
    yield "ifd-cut-mid", good[:8 + 16 + 2 + 12 * 5]
    # Compressed strips with broken data.
    for comp, name in ((5, "lzw"), (8, "deflate"), (32773, "packbits")):
        for variant, blob in (("garbage", px(20)), ("short", px(3)), ("zeros", bytes(15))):
            entries = [e if e[0] != 259 else (259, 3, [comp]) for e in strips(w, h, 1, 3, 1, counts=None)]
            entries.append((279, 4, [len(blob)]))
            yield f"{name}-{variant}", tiff(sorted(entries), blob)
        good_blob = {5: None, 8: zlib.compress(px(w * h)), 32773: bytes([w * h - 1]) + px(w * h)}[comp]
        if good_blob is not None:
            entries = [e if e[0] != 259 else (259, 3, [comp]) for e in strips(w, h, 1, 3, 1, counts=None)]
            yield f"{name}-ok", tiff(sorted(entries + [(279, 4, [len(good_blob)])]), good_blob)
            yield f"{name}-count-past-end", tiff(sorted(entries + [(279, 4, [len(good_blob) + 500])]), good_blob)
            yield f"{name}-count-zero", tiff(sorted(entries + [(279, 4, [0])]), good_blob)
            yield f"{name}-no-count", tiff(sorted(entries), good_blob)

    # BYTE-typed tags, which Pillow keeps as bytes (PillowTiffRaw.PillowBytesTag): refused, or read where bytes work.
    def byte_tag(tag, data, spp=1, pm=1, ex=(), count=None):
        entries = strips(w, h, spp, 3, pm, extra=ex)
        return sorted([e if e[0] != tag else (tag, 1, Raw(len(data) if count is None else count, data)) for e in entries],
                      key=lambda e: e[0])
    for tag, name in ((256, "width"), (257, "height"), (258, "bps"), (262, "photometric"), (278, "rps")):
        yield f"l-{name}-byte", tiff(byte_tag(tag, bytes([{256: 5, 257: 3, 258: 8, 262: 1, 278: 3}[tag]])), px(w * h))
    yield "l-fill-byte", tiff(sorted(strips(w, h, 1, 3, 1) + [(266, 1, Raw(1, b"\1"))]), px(w * h))
    yield "rgba-extra-byte", tiff(byte_tag(338, bytes([2]), 4, 2, (2,)), px(w * h * 4))
    yield "l-sf-byte", tiff(sorted(strips(w, h, 1, 3, 1) + [(339, 1, Raw(1, b"\1"))]), px(w * h))
    yield "rgb-sf-bytes111", tiff(sorted(strips(w, h, 3, 3, 2) + [(339, 1, Raw(3, b"\1\1\1"))]), px(w * h * 3))
    yield "rgb-sf-bytes112", tiff(sorted(strips(w, h, 3, 3, 2) + [(339, 1, Raw(3, b"\1\1\2"))]), px(w * h * 3))
    yield "l-orient3-byte", tiff(sorted(strips(w, h, 1, 3, 1) + [(274, 1, Raw(1, b"\3"))]), px(w * h))
    yield "rgb-planar2-byte", tiff(sorted(strips(w, h, 3, 3, 2) + [(284, 1, Raw(1, b"\2"))]), px(w * h * 3))
    # int() of the bytes: ASCII digits with blanks, a sign and underscores; anything else is a ValueError.
    for text, name in ((b"5", "5"), (b" +5\n", "blank-plus"), (b"0_5", "underscore"), (b"1_0", "ten"), (b"0", "0"),
                       (b"-5", "minus"), (b"5_", "trailing-underscore"), (b"_5", "leading-underscore"),
                       (b"1__0", "double-underscore"), (b"5\0", "nul"), (b"+", "sign-only"), (b"99999999999", "huge")):
        yield f"l-width-ascii-{name}", tiff(byte_tag(256, text), px(w * h))
    yield "l-height-ascii-3", tiff(byte_tag(257, b"3"), px(w * h))
    # Three strips whose offsets are BYTE-typed: iterating bytes gives the integers.
    yield "l-offsets-bytes", tiff(sorted([e if e[0] != 273 else (273, 1, [8, 18, 13]) for e in strips(w, h, 1, 1, 1)],
                                         key=lambda e: e[0]), px(w * h))
    # Signed, IFD and LONG8 types are plain integers to Pillow.
    for typ, name in ((6, "sbyte"), (9, "slong"), (13, "ifd"), (16, "long8")):
        yield f"l-width-{name}", tiff(sorted([e if e[0] != 256 else (256, typ, Raw(1, (5).to_bytes(
            {6: 1, 9: 4, 13: 4, 16: 8}[typ], "little"))) for e in strips(w, h, 1, 3, 1)], key=lambda e: e[0]), px(w * h))
    # Entries the raw reader must not read: one past the entry count (the next-IFD offset and what follows spell a
    # Photometric 0 entry), and a last entry ending exactly at the end of the file.
    plain = tiff(strips(w, h, 1, 3, 1), px(w * h))
    yield "l-phantom-entry", plain[:-4] + (262 | 3 << 16).to_bytes(4, "little") + (1).to_bytes(4, "little") + bytes(4)
    last = sorted(strips(w, h, 1, 3, 1), key=lambda e: e[0] == 262)
    yield "l-last-entry-at-eof", tiff(last, px(w * h))[:-4]

    # Compressed strips (TiffStripGuard): libtiff's verdict on the data, and Pillow's pixels where it reads them.
    img = px(w * h)
    rgb_img = px(w * h * 3)
    for comp, name in ((5, "lzw"), (8, "deflate"), (32946, "deflate-old"), (32773, "packbits")):
        codec = {5: "tiff_lzw", 8: "tiff_adobe_deflate", 32946: "tiff_adobe_deflate", 32773: "packbits"}[comp]
        rows = [pillow_strip("L", (w, 1), img[r * w:(r + 1) * w], codec) for r in range(h)]
        whole = pillow_strip("L", (w, h), img, codec)
        yield f"{name}-rps1-ok", compressed(w, h, rows, comp, 1)
        yield f"{name}-rps2-ok", compressed(w, h, [pillow_strip("L", (w, 2), img[:2 * w], codec),
                                                  pillow_strip("L", (w, 1), img[2 * w:], codec)], comp, 2)
        yield f"{name}-rgb-ok", compressed(w, h, [pillow_strip("RGB", (w, h), rgb_img, codec)], comp, 3, spp=3, photometric=2)
        yield f"{name}-rgb-bps1-ok", compressed(w, h, [pillow_strip("RGB", (w, h), rgb_img, codec)], comp, 3, spp=3,
                                                photometric=2, bps=[8])
        yield f"{name}-norps-ok", compressed(w, h, [whole], comp, None)
        yield f"{name}-two-offsets", compressed(w, h, rows, comp, 1, offsets=[8, 8 + len(rows[0])])
        yield f"{name}-two-counts", compressed(w, h, rows, comp, 1, counts=[len(rows[0]), len(rows[1])])
        yield f"{name}-at-eof", compressed(w, h, [whole], comp, 3, at_end=True)
        yield f"{name}-past-eof", compressed(w, h, [whole], comp, 3, at_end=True, counts=[len(whole) + 1])
        yield f"{name}-offset-past-eof", compressed(w, h, [whole], comp, 3, offsets=[100_000])
        yield f"{name}-rps1-zero-count", compressed(w, h, rows, comp, 1, counts=[len(rows[0]), 0, len(rows[2])])
        yield f"{name}-cut", compressed(w, h, [whole[:len(whole) // 2]], comp, 3)
        # Big-endian: the guard reads MM directories too.
        yield f"{name}-mm-ok", compressed(w, h, [whole], comp, 3, mm=True)
        yield f"{name}-mm-cut", compressed(w, h, [whole[:len(whole) // 2]], comp, 3, mm=True)
        # One BitsPerSample value for RGB means 8 bits for each of the three: data for a third of that is too short.
        rgb_whole = pillow_strip("RGB", (w, h), rgb_img, codec)
        yield f"{name}-rgb-bps1-cut", compressed(w, h, [rgb_whole[:len(rgb_whole) // 2]], comp, 3, spp=3, photometric=2,
                                                 bps=[8])
    big = bytes(rng.randrange(256) for _ in range(64 * 64))
    big_lzw = pillow_strip("L", (64, 64), big, "tiff_lzw")
    yield "lzw-big-ok", compressed(64, 64, [big_lzw], 5, 64)
    yield "lzw-big-cut", compressed(64, 64, [big_lzw[:len(big_lzw) * 3 // 5]], 5, 64)
    yield "lzw-repeat-ok", compressed(64, 64, [pillow_strip("L", (64, 64), bytes(64 * 64), "tiff_lzw")], 5, 64)
    # Hand-made LZW codes for a 3 × 1 image: the code just being defined (KwKwK), one past it, no Clear first, a
    # Clear followed by a table code, a Clear and the end, and a stream with no end code.
    for name, codes in (("kwkwk", [256, 65, 258, 257]), ("code-past-table", [256, 65, 259, 257]),
                        ("no-clear", [65, 66, 67, 257]), ("clear-then-table-code", [256, 258, 257]),
                        ("clear-end", [256, 257]), ("no-end", [256, 65, 66, 67]), ("two-clears", [256, 65, 256, 66, 67, 257]),
                        ("clear-end-after-clear", [256, 65, 256, 257]), ("short-then-end", [256, 65, 66, 257])):
        yield f"lzw-codes-{name}", compressed(3, 1, [lzw_stream(codes)], 5, 1)
    yield "lzw-old-style", compressed(3, 1, [bytes([0, 1]) + bytes(6)], 5, 1)
    yield "lzw-old-style-short", compressed(3, 1, [bytes([0, 1])], 5, 1)
    # Consecutive Clear codes (libtiff 4.5 skips them), a first byte of 0 that is not old-style LZW (the second byte's
    # low bit is 0), codes that fill the strip to its last bit with no end code, and a bad code after the rows are full.
    for name, codes, size in (("clear-clear", [256, 256, 65, 66, 67, 257], (3, 1)), ("clear-clear-short", [256, 256, 65, 66, 257], (3, 1)),
                              ("clear-clear-table-code", [256, 256, 258, 257], (3, 1)), ("clear-clear-end", [256, 256, 257], (3, 1)),
                              ("zero-first", [0, 65, 66, 257], (3, 1)), ("exact-fill", [256, 65, 66, 67, 68, 69, 70, 71], (7, 1)),
                              ("exact-fill-short", [256, 65, 66, 67, 68, 69, 70, 71], (8, 1)),
                              ("exact-then-bad", [256, 65, 66, 67, 300, 257], (3, 1))):
        yield f"lzw-codes-{name}", compressed(*size, [lzw_stream(codes)], 5, size[1])
    # A table that grows past 4,094 entries stays at 12-bit codes; one that reaches libtiff's 5,119 entries is corrupt.
    yield "lzw-codes-12-bit-ok", compressed(43, 107, [lzw_stream([256] + [65] * 4601 + [257])], 5, 107)
    yield "lzw-codes-table-full", compressed(100, 50, [lzw_stream([256] + [65] * 4900 + [257])], 5, 50)
    # Deflate: a stream of fewer bytes than the rows, one of more, a raw deflate stream, a broken checksum.
    yield "deflate-fewer", compressed(w, h, [zlib.compress(img[:10])], 8, 3)
    yield "deflate-more", compressed(w, h, [zlib.compress(img + bytes(20))], 8, 3)
    raw_deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    yield "deflate-raw", compressed(w, h, [raw_deflate.compress(img) + raw_deflate.flush()], 8, 3)
    good = bytearray(zlib.compress(img))
    good[-1] ^= 0xFF
    yield "deflate-bad-checksum", compressed(w, h, [bytes(good)], 8, 3)
    # PackBits: no-op headers (-128), replicate runs, a run longer than the rows, a replicate header with no byte,
    # a literal run cut short, and 1-bit rows (5 pixels in one byte).
    yield "packbits-noop", compressed(w, h, [bytes([128, 14]) + img[:15]], 32773, 3)
    yield "packbits-replicate", compressed(w, h, [bytes([256 - 14, 7])], 32773, 3)
    yield "packbits-replicate-long", compressed(w, h, [bytes([256 - 127, 7])], 32773, 3)
    yield "packbits-literal-long", compressed(w, h, [bytes([20]) + img + bytes(6)], 32773, 3)
    yield "packbits-replicate-no-byte", compressed(w, h, [bytes([13]) + img[:14] + bytes([255])], 32773, 3)
    yield "packbits-literal-cut", compressed(w, h, [bytes([14]) + img[:10]], 32773, 3)
    yield "packbits-exact-then-more", compressed(w, h, [bytes([14]) + img + bytes([255])], 32773, 3)
    yield "packbits-bw-ok", compressed(w, h, [bytes([2, 0xA8, 0x50, 0xF8])], 32773, 3, bps=[1])
    yield "packbits-bw-short", compressed(w, h, [bytes([1, 0xA8, 0x50])], 32773, 3, bps=[1])
    # No-op headers before a short literal run, and a replicate run whose byte must not be read as the next header.
    yield "packbits-noop-cut", compressed(w, h, [bytes([128, 128, 4]) + img[:5]], 32773, 3)
    yield "packbits-replicate-cut", compressed(w, h, [bytes([256 - 2, 0x41, 0, 0x42])], 32773, 3)
    # Directories the guard cannot model, which it must leave to the decoders without failing itself: an IFD offset
    # at the end of the file, entries running past it, a count-0 RowsPerStrip, no BitsPerSample for RGB, RowsPerStrip
    # 0, width 0 or 0-bit samples with a strip past the end, and planar (one strip per plane) data.
    lzw_whole = pillow_strip("L", (w, h), img, "tiff_lzw")
    lzw_good = compressed(w, h, [lzw_whole], 5, 3)
    yield "lzw-ifd-past-eof", lzw_good[:4] + (len(lzw_good) - 1).to_bytes(4, "little") + lzw_good[8:]
    yield "lzw-dir-past-eof", lzw_good[:-6]
    yield "lzw-dir-at-eof-cut", compressed(w, h, [lzw_whole[:len(lzw_whole) // 2]], 5, 3)[:-4]
    yield "lzw-rps-count0", compressed(w, h, [lzw_whole], 5, 3, override={278: Raw(0, b"")})
    yield "lzw-rps0", compressed(w, h, [lzw_whole], 5, 3, override={278: [0]})
    yield "lzw-rgb-no-bps", compressed(w, h, [pillow_strip("RGB", (w, h), rgb_img, "tiff_lzw")], 5, 3, spp=3, photometric=2,
                                       override={258: None})
    yield "lzw-width0-offset-past-eof", compressed(w, h, [lzw_whole], 5, 3, offsets=[100_000], override={256: [0]})
    yield "lzw-bps0-offset-past-eof", compressed(w, h, [lzw_whole], 5, 3, offsets=[100_000], bps=[0])
    # The out-of-line values before the IFD and the IFD ending the file, cut inside its last entry's value offset
    # (StripByteCounts, three values): the entry cannot be read at all.
    lzw_rows = [pillow_strip("L", (w, 1), img[r * w:(r + 1) * w], "tiff_lzw") for r in range(h)]
    blob = b"".join(lzw_rows)
    values_at = 8 + len(blob)
    offsets = [8 + sum(len(r) for r in lzw_rows[:i]) for i in range(h)]
    values = b"".join(v.to_bytes(4, "little") for v in offsets + [len(r) for r in lzw_rows])
    ifd_at = values_at + len(values)
    entries = [(256, 3, w), (257, 3, h), (258, 3, 8), (259, 3, 5), (262, 3, 1), (273, 4, values_at), (277, 3, 1),
               (278, 3, 1), (279, 4, values_at + 12)]
    ifd = len(entries).to_bytes(2, "little") + b"".join(
        t.to_bytes(2, "little") + typ.to_bytes(2, "little") + (3 if t in (273, 279) else 1).to_bytes(4, "little")
        + v.to_bytes(4 if typ == 4 else 2, "little").ljust(4, b"\0") for t, typ, v in entries)
    yield "lzw-ifd-last-cut", b"II*\0" + ifd_at.to_bytes(4, "little") + blob + values + ifd[:-2]
    planes = [pillow_strip("L", (w, h), rgb_img[k::3], "tiff_lzw") for k in range(3)]
    yield "lzw-planar2-ok", compressed(w, h, planes, 5, 3, spp=3, photometric=2, more=[(284, 3, [2])])
    # Uncompressed files Pillow reads raw but PillowTiffRaw does not take (1-bit): TiffStripGuard.CheckRaw.
    bw = bytes([0xA8, 0x50, 0xF8])
    bw_entries = [e if e[0] != 258 else (258, 3, [1]) for e in strips(w, h, 1, 1, 1, counts=None)] + [(279, 4, [1, 1, 1])]
    yield "bw-rps1-ok", tiff(bw_entries, bw)
    yield "bw-strip-past-end", tiff(sorted([e if e[0] != 273 else (273, 4, [("px", 0), ("px", 1), 5000]) for e in bw_entries],
                                          key=lambda e: e[0]), bw)
    bw_size = len(tiff(bw_entries, bw))
    yield "bw-strip-at-eof", tiff(sorted([e if e[0] != 273 else (273, 4, [("px", 0), ("px", 1), bw_size - 1]) for e in bw_entries],
                                        key=lambda e: e[0]), bw)
    yield "bw-strip-after-eof", tiff(sorted([e if e[0] != 273 else (273, 4, [("px", 0), ("px", 1), bw_size]) for e in bw_entries],
                                           key=lambda e: e[0]), bw)
    yield "bw-wrap", tiff(sorted([e if e[0] != 273 else (273, 4, [("px", 0), ("px", 1), ("px", 2), 5000]) for e in bw_entries],
                                 key=lambda e: e[0]), bw)
    yield "bw-rps2-last-past-end", tiff(sorted([e if e[0] not in (273, 278) else
                                               ((273, 4, [("px", 0), bw_size - 1]) if e[0] == 273 else (278, 3, [2]))
                                               for e in bw_entries], key=lambda e: e[0]), bw)

    # PillowTiffRaw.ReadFirstIfd and TryDecode, past the survivors of a mutation run. L 5 × 3, one strip unless said.
    img = px(w * h)
    base = strips(w, h, 1, 3, 1)

    def swap(entries, tag, typ, values):
        """The entries with the tag's entry replaced (or added), sorted."""
        return sorted([e for e in entries if e[0] != tag] + [(tag, typ, values)], key=lambda e: e[0])

    def typed(typ, values, mm=False):
        """Integer values in a type tiff() does not size itself: signed, and LONG8."""
        size = {6: 1, 8: 2, 9: 4, 16: 8}[typ]
        return Raw(len(values), b"".join(v.to_bytes(size, "big" if mm else "little", signed=typ != 16) for v in values))

    # Signed and LONG8 StripOffsets of three strips (values after the first read from the right place), both byte
    # orders, and a LONG8 width big-endian.
    rows3 = strips(w, h, 1, 1, 1, counts=None)
    for typ, name in ((6, "sbyte"), (8, "sshort"), (9, "slong"), (16, "long8")):
        for mm in (False, True):
            yield f"l-offsets-{name}{'-mm' if mm else ''}", tiff(swap(rows3, 273, typ, typed(typ, [8, 13, 18], mm)), img, mm=mm)
    yield "l-width-long8-mm", tiff(swap(base, 256, 16, typed(16, [5], True)), img, mm=True)
    # A second Photometric entry with count 0 after the real one: Pillow skips an entry without data, so the first
    # value stands (an entry that replaced it with nothing would leave the reader no value to read).
    yield "l-photometric-count0-after", tiff(sorted(base + [(262, 3, Raw(0, b""))], key=lambda e: e[0]), img)
    def rational(n):
        """One RATIONAL (or SRATIONAL) value n/1."""
        return Raw(1, n.to_bytes(4, "little") + (1).to_bytes(4, "little"))

    def first(typ):
        """A sort key putting a tag's entry of this type before its other entry."""
        return lambda e: (e[0], e[1] != typ)

    # Types Pillow does not read as plain integers, in tags the raw reader uses, which leaves them to ImageSharp: RATIONAL,
    # SRATIONAL, FLOAT, DOUBLE, UNDEFINED and ASCII ("-long": 6 bytes, out of line at the very end of the file).
    for name, tag, typ, value in (("compression-rational", 259, 5, rational(1)),
                                  ("compression-double", 259, 12, Raw(1, struct.pack("<d", 1))),
                                  ("compression-undefined", 259, 7, Raw(1, b"\1")), ("compression-ascii", 259, 2, Raw(2, b"1\0")),
                                  ("width-rational", 256, 5, rational(5)), ("width-float", 256, 11, Raw(1, struct.pack("<f", 5))),
                                  ("width-ascii", 256, 2, Raw(2, b"5\0")), ("width-undefined", 256, 7, Raw(1, b"\5")),
                                  ("width-ascii-long", 256, 2, Raw(6, b"5" + bytes(5))), ("fill-rational", 266, 5, rational(1)),
                                  ("fill-ascii", 266, 2, Raw(2, b"1\0")), ("orient-srational", 274, 10, rational(1)),
                                  ("orient-undefined", 274, 7, Raw(1, b"\1")), ("orient-ascii-long", 274, 2, Raw(6, b"1" + bytes(5)))):
        yield f"l-{name}", tiff(swap(base, tag, typ, value), img)
    # Negative signed values: alone, and beside values that are not.
    yield "l-compression-sshort-minus1", tiff(swap(base, 259, 8, typed(8, [-1])), img)
    yield "l-orient-sshort-minus1", tiff(swap(base, 274, 8, typed(8, [-1])), img)
    yield "l-width-sshort-minus5", tiff(swap(base, 256, 8, typed(8, [-5])), img)
    yield "l-bps-sshort-8-minus1", tiff(swap(base, 258, 8, typed(8, [8, -1])), img)
    yield "l-offsets-sshort-minus1", tiff(swap(rows3, 273, 8, typed(8, [-1, 13, 18])), img)
    yield "l-offsets-sshort-8-minus1", tiff(swap(rows3, 273, 8, typed(8, [8, -1, 18])), img)
    # A tag given twice: the last entry decides, whatever the type of the first.
    yield "l-width-rational-then-short", tiff(sorted(base + [(256, 5, rational(5))], key=first(5)), img)
    yield "l-width-short-then-rational", tiff(sorted(base + [(256, 5, rational(5))], key=first(3)), img)
    yield "l-compression-byte-then-short", tiff(sorted(base + [(259, 1, Raw(1, b"\1"))], key=first(1)), img)
    # A BYTE RowsPerStrip is refused under Compression 1 only, so these tell which Compression entry counts.
    rps_byte = swap(base, 278, 1, Raw(1, b"\3"))
    yield "l-rps-byte-compression-lzw-then-rational", tiff(sorted(swap(rps_byte, 259, 3, [5]) + [(259, 5, rational(1))], key=first(3)), img)
    yield "l-rps-byte-compression-minus1", tiff(swap(rps_byte, 259, 8, typed(8, [-1])), img)
    yield "l-rps-byte-compression-lzw-then-minus1", tiff(sorted(swap(rps_byte, 259, 3, [5]) + [(259, 8, typed(8, [-1]))],
                                                                key=first(3)), img)
    # Headers that are neither II nor MM, in either byte order, and MM with the magic number's bytes swapped.
    yield "l-header-im", b"IM" + tiff(base, img)[2:]
    yield "l-header-mi", b"MI" + tiff(base, img, mm=True)[2:]
    yield "l-header-mm-magic-swapped", b"MM*\0" + tiff(base, img, mm=True)[4:]
    # int() of blanks only.
    yield "l-width-ascii-blanks", tiff(byte_tag(256, b" \t"), img)
    # One strip given twice, both copies cut short by the end of the file: Pillow reads only the later one.
    size = len(tiff(strips(w, h, 1, 3, 1, counts=None, offsets=[0, 0]), img))
    yield "l-dup-both-short", tiff(strips(w, h, 1, 3, 1, counts=None, offsets=[size - 4, size - 2]), img)
    # A value past the end of the file ends Pillow's reading of the directory (_safe_read raises): before ImageWidth,
    # between ImageWidth and ImageLength, before StripOffsets, before PlanarConfiguration 2 (unseen: the RGB strip
    # is read chunky), and after all the tags that matter.
    past = Raw(20, bytes(20))
    yield "l-cut-before-width", tiff(sorted(base + [(254, 4, Raw(2, bytes(8)))], key=lambda e: e[0]), img)[:-8]
    yield "l-cut-after-width", tiff(base[:1] + [(270, 2, past)] + base[1:], img)[:-20]
    yield "l-cut-before-offsets", tiff(sorted(base + [(270, 2, past)], key=lambda e: e[0]), img)[:-20]
    rgb3 = px(w * h * 3)
    yield "rgb-cut-before-planar2", tiff(sorted(strips(w, h, 3, 3, 2, more=[(284, 3, [2])]) + [(282, 5, Raw(1, bytes(8)))],
                                               key=lambda e: e[0]), rgb3)[:-8]
    yield "l-cut-after-all", tiff(sorted(base + [(315, 2, past)], key=lambda e: e[0]), img)[:-20]
    # Directories whose entries Pillow cannot read, the file ending first: its count read from the header of an
    # 8-byte file, and a count of 1 in the file's last two bytes. Pillow then has no ImageWidth.
    yield "ifd-in-header", b"II*\0" + (4).to_bytes(4, "little")
    yield "ifd-at-end", tiff(base, img, ifd_at=len(tiff(base, img))) + (1).to_bytes(2, "little")
    # FillOrder 2: Pillow's L;R, L;IR and RGB;R raw modes reverse the bits of each byte; RGBX and RGBA have none.
    for spp, name, pm, ex in ((1, "l", 1, ()), (1, "li", 0, ()), (3, "rgb", 2, ()), (4, "rgbx", 2, (0,)), (4, "rgba", 2, (2,))):
        data = px(w * h * spp)
        yield f"{name}-fill2", tiff(strips(w, h, spp, 1, pm, extra=ex, more=[(266, 3, [2])]), data)
    yield "l-fill2-mm", tiff(strips(w, h, 1, 2, 1, more=[(266, 3, [2])]), img, mm=True)
    yield "l-fill3", tiff(strips(w, h, 1, 3, 1, more=[(266, 3, [3])]), img)
    # Sizes of exactly int.MaxValue.
    yield "l-width-intmax", tiff(swap(base, 256, 4, [2147483647]), img)
    yield "l-height-intmax", tiff(swap(base, 257, 4, [2147483647]), img)


# Files where this library does not (yet) match Pillow; the tests skip them and the report names them.
KNOWN = {
    "rgba-extra1": "associated alpha (RGBa): Pillow's unpremultiply rounds differently from ImageSharp's",
    "rgb-bps16": "16-bit samples: Pillow's 16-to-8-bit rounding differs from ImageSharp's",
    "rgb-planar2": "PlanarConfiguration 2 with one strip: Pillow fills red from it, ImageSharp leaves black",
    "deflate-count-zero": "StripByteCounts 0: libtiff still decodes the strip, ImageSharp reads nothing",
    "packbits-count-zero": "StripByteCounts 0: libtiff still decodes the strip, ImageSharp reads nothing",
    "deflate-no-count": "no StripByteCounts: libtiff decodes, ImageSharp refuses with an unwrapped ImageFormatException",
    "packbits-no-count": "no StripByteCounts: libtiff decodes, ImageSharp refuses with an unwrapped ImageFormatException",
    "packbits-garbage": "PackBits data libtiff decodes or refuses differently from ImageSharp",
    "packbits-two-offsets": "libtiff pads the short StripOffsets with 0 and decodes the header as PackBits; ImageSharp differs",
    "packbits-exact-then-more": "a PackBits run past the rows: libtiff stops, ImageSharp's decoder fails (IndexOutOfRange)",
    "packbits-literal-long": "a PackBits run past the rows: libtiff stops, ImageSharp's decoder fails (destination too short)",
    "packbits-replicate-long": "a PackBits run past the rows: libtiff stops, ImageSharp's decoder fails (IndexOutOfRange)",
    "lzw-old-style": "old-style (LSB-first) LZW: libtiff decodes it, ImageSharp cannot",
    "lzw-rgb-bps1-ok": "one BitsPerSample value for RGB: Pillow repeats it, ImageSharp refuses the variant",
    "deflate-rgb-bps1-ok": "one BitsPerSample value for RGB: Pillow repeats it, ImageSharp refuses the variant",
    "deflate-old-rgb-bps1-ok": "one BitsPerSample value for RGB: Pillow repeats it, ImageSharp refuses the variant",
    "packbits-rgb-bps1-ok": "one BitsPerSample value for RGB: Pillow repeats it, ImageSharp refuses the variant",
    "lzw-codes-clear-clear": "two Clear codes in a row: libtiff 4.5 skips the second, ImageSharp refuses it as a code",
    "lzw-codes-12-bit-ok": "an LZW table past 4,096 entries (libtiff keeps 12-bit codes up to 5,119): ImageSharp's decoder "
                           "fails (IndexOutOfRange)",
    "lzw-rps-count0": "a RowsPerStrip entry with no values: libtiff rejects the field and Pillow the file; ImageSharp reads it",
    # Tags the raw reader does not interpret (a type other than an integer, a negative value) leave the file to
    # ImageSharp, which reads them otherwise than Pillow's _setup does.
    "l-compression-undefined": "an UNDEFINED Compression: Pillow's COMPRESSION_INFO has no bytes key (refused); ImageSharp reads the file",
    "l-compression-ascii": "an ASCII Compression: Pillow's COMPRESSION_INFO has no str key (refused); ImageSharp reads the file",
    "l-compression-sshort-minus1": "Compression -1: not in Pillow's COMPRESSION_INFO (refused); ImageSharp reads the file",
    "l-fill-ascii": "an ASCII FillOrder: no OPEN_INFO key holds a str (refused); ImageSharp reads the file",
    "l-width-rational": "a RATIONAL ImageWidth: Pillow takes int() of it; ImageSharp finds no ImageWidth",
    "l-width-float": "a FLOAT ImageWidth: Pillow takes int() of it; ImageSharp finds no ImageWidth",
    "l-width-ascii": "an ASCII ImageWidth: Pillow takes int() of the text; ImageSharp finds no ImageWidth",
    "l-bps-sshort-8-minus1": "BitsPerSample 8, -1 for one sample: Pillow keeps the 8; ImageSharp fails on the signed values",
    "l-header-mm-magic-swapped": "MM*\\0 (the magic number's bytes swapped): Pillow reads it as big-endian; TiffStripGuard.Handles and "
                                 "ImageSharp do not take the signature",
}


def main():
    write_corpus(OUT, "tests/reference/tiff/generate_tiff.py", ((name + ".tif", data) for name, data in cases()),
                 known={name + ".tif": why for name, why in KNOWN.items()})


if __name__ == "__main__":
    main()
