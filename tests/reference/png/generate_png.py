#!/usr/bin/python3
"""PNG chunk-structure and image-data cases judged by Pillow 9.4, for PngStreamGuard and PngInterlaceGuard.

Crafts small files chunk by chunk, with right and wrong CRCs: every colour type and bit depth Pillow maps, plain and
Adam7 rows (sizes that leave passes empty), chunks cut at each field before the image data (length, type, data,
CRC), chunk types at the edges of Pillow's \\w\\w\\w\\w check, IHDR fields Pillow refuses or ignores (filter method,
compression method, interlace method 2, a short IHDR, a second IHDR), short palettes, zlib streams that end early
(on a row boundary or inside a row), end late, break, or carry a wrong Adler-32 (in the last row's IDAT or a later
one), filter types 4 and 5, empty and split IDATs, chunks after the image data (whole, cut short, with bad CRCs, an
eXIf that turns the image, junk after IEND), and files without an IEND. Every file is judged the way transformers'
load_image does: Image.open -> ImageOps.exif_transpose -> convert("RGB"), with LOAD_TRUNCATED_IMAGES = False.
Writes cases/*.png and cases/verdicts.json.

    /usr/bin/python3 tests/reference/png/generate_png.py
"""

import os
import random
import struct
import sys
import zlib

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from pillow_judge import write_corpus  # noqa: E402 - the shared judge lives one folder up

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "cases")

SIG = b"\x89PNG\r\n\x1a\n"
CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]

# Known differences from Pillow (file -> reason); the tests skip these files' verdicts. Neither guard causes them:
# ImageSharp 2.1 decodes these valid files wrongly, and the guards hand them over unchanged. (Adam7 files under 5
# pixels wide, which ImageSharp hangs on or misreads, are de-interlaced by PngStreamGuard and no longer differ.)
SPLIT = "ImageSharp 2.1 throws IndexOutOfRangeException on a zlib stream split into one-byte IDAT chunks"
KNOWN = {
    "rgb-split1.png": SPLIT, "adam7-split1.png": SPLIT, "g1-split1.png": SPLIT, "g1-adam7-split1.png": SPLIT,
}


def chunk(kind, data=b"", crc=None):
    value = zlib.crc32(kind + data) if crc is None else crc
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", value & 0xFFFFFFFF)


def bad(kind, data=b""):
    """A chunk whose CRC is off by one."""
    return chunk(kind, data, zlib.crc32(kind + data) ^ 1)


def ihdr_data(w, h, depth, colour, interlace=0, compression=0, filtering=0):
    return struct.pack(">IIBBBBB", w, h, depth, colour, compression, filtering, interlace)


def ihdr(w, h, depth, colour, interlace=0, compression=0, filtering=0):
    return chunk(b"IHDR", ihdr_data(w, h, depth, colour, interlace, compression, filtering))


def row_lengths(w, h, depth, colour, interlace=0):
    """The filtered rows' lengths (filter byte included), in stream order."""
    bits = CHANNELS[colour] * depth
    if not interlace:
        return [1 + (w * bits + 7) // 8] * h
    rows = []
    for x, y, dx, dy in ADAM7:
        pw, ph = (w - x + dx - 1) // dx if w > x else 0, (h - y + dy - 1) // dy if h > y else 0
        if pw > 0 and ph > 0:
            rows += [1 + (pw * bits + 7) // 8] * ph
    return rows


class Maker:
    def __init__(self, seed):
        self.rng = random.Random(seed)

    def noise(self, n):
        return bytes(self.rng.randrange(256) for _ in range(n))

    def rows(self, w, h, depth, colour, interlace=0, filters=(0, 1, 2, 3, 4), limit=None):
        """Filtered rows of random samples; palette indices stay below `limit` (if given) so that rows are valid."""
        out = b""
        for i, n in enumerate(row_lengths(w, h, depth, colour, interlace)):
            body = self.noise(n - 1)
            if limit is not None:
                if depth == 8:
                    body = bytes(b % limit for b in body)
                else:
                    body = bytes(0 for _ in body)  # index 0 everywhere; the depth-specific cases set their own
            out += bytes([filters[i % len(filters)]]) + body
        return out


def png(w, h, depth, colour, raw, interlace=0, before=b"", after=b"", end=True, ihdr_chunk=None):
    return SIG + (ihdr_chunk or ihdr(w, h, depth, colour, interlace)) + before + chunk(b"IDAT", zlib.compress(raw, 9)) \
        + after + (chunk(b"IEND") if end else b"")


def exif(orientation):
    """A little-endian TIFF header with one IFD entry: Orientation."""
    return b"II*\x00" + struct.pack("<I", 8) + struct.pack("<H", 1) + struct.pack("<HHII", 0x0112, 3, 1, orientation) \
        + struct.pack("<I", 0)


def forged(kind, data, crc):
    """A chunk whose data ends in four bytes chosen so that its CRC is the four bytes `crc` (CRC-32 is linear)."""
    base = zlib.crc32(kind + data + bytes(4))
    want = int.from_bytes(crc, "big")
    # The CRC of the same message with a 4-byte suffix x is base ^ L(x) for a linear L; solve bit by bit.
    columns = [zlib.crc32(kind + data + (1 << i).to_bytes(4, "big")) ^ zlib.crc32(kind + data + bytes(4)) for i in range(32)]
    target, suffix = base ^ want, 0
    basis = {}
    for i, col in enumerate(columns):
        value, combo = col, 1 << i
        while value:
            top = value.bit_length() - 1
            if top not in basis:
                basis[top] = (value, combo)
                break
            value, combo = value ^ basis[top][0], combo ^ basis[top][1]
    value = target
    while value:
        top = value.bit_length() - 1
        value, suffix = value ^ basis[top][0], suffix ^ basis[top][1]
    out = chunk(kind, data + suffix.to_bytes(4, "big"))
    assert out[-4:] == crc
    return out


def adam7_paeth(pixels):
    """An 8-bit grey Adam7 stream from rows of pixels, every pass row Paeth-filtered (filter type 4)."""
    height, width = len(pixels), len(pixels[0])
    out = b""
    for x0, y0, dx, dy in ADAM7:
        rows = [[pixels[y][x] for x in range(x0, width, dx)] for y in range(y0, height, dy)]
        if not rows or not rows[0]:
            continue
        prior = [0] * len(rows[0])
        for row in rows:
            filtered = []
            for i, value in enumerate(row):
                a, b, c = (row[i - 1] if i else 0), prior[i], (prior[i - 1] if i else 0)
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                predicted = a if pa <= pb and pa <= pc else b if pb <= pc else c
                filtered.append((value - predicted) & 0xFF)
            out += bytes([4] + filtered)
            prior = row
    return out


def cases():
    m = Maker(20261130)
    w, h = 5, 3

    # Every colour type and depth Pillow maps, plain and interlaced (sizes that leave Adam7 passes empty or not).
    for colour, depths in ((0, (1, 2, 4, 8, 16)), (2, (8, 16)), (4, (8, 16)), (6, (8, 16))):
        for depth in depths:
            yield f"c{colour}-d{depth}", png(w, h, depth, colour, m.rows(w, h, depth, colour))
            yield f"c{colour}-d{depth}-adam7", png(w, h, depth, colour, m.rows(w, h, depth, colour, 1), 1)
    for size in ((1, 1), (2, 1), (1, 2), (3, 3), (4, 5), (5, 4), (8, 8), (9, 9), (7, 1), (1, 7), (16, 3)):
        sw, sh = size
        yield f"adam7-{sw}x{sh}", png(sw, sh, 8, 2, m.rows(sw, sh, 8, 2, 1), 1)
    yield "adam7-1x1-d1", png(1, 1, 1, 0, m.rows(1, 1, 1, 0, 1), 1)
    yield "adam7-9x5-d2", png(9, 5, 2, 0, m.rows(9, 5, 2, 0, 1), 1)
    yield "adam7-11x6-d4", png(11, 6, 4, 0, m.rows(11, 6, 4, 0, 1), 1)

    # Palettes: full, short (Pillow's grey ramp shows past the entries), one entry per depth, none, odd lengths.
    plte3 = chunk(b"PLTE", bytes([255, 0, 0, 0, 255, 0, 0, 0, 255]))
    idx8 = bytes([0] + [0, 1, 2, 3, 200]) + bytes([0] + [255, 7, 2, 1, 0]) + bytes([0] + [4, 5, 6, 2, 129])
    yield "p8-plte3", png(w, h, 8, 3, idx8, before=plte3)
    yield "p8-plte256", png(w, h, 8, 3, m.rows(w, h, 8, 3, limit=256), before=chunk(b"PLTE", m.noise(768)))
    yield "p8-plte257", png(w, h, 8, 3, m.rows(w, h, 8, 3, limit=256), before=chunk(b"PLTE", m.noise(771)))
    yield "p8-plte-8bytes", png(w, h, 8, 3, idx8, before=chunk(b"PLTE", m.noise(8)))
    yield "p8-noplte", png(w, h, 8, 3, idx8)
    yield "p8-plte3-after-text", png(w, h, 8, 3, idx8, before=chunk(b"tEXt", b"Comment\x00a palette follows") + plte3)
    yield "p8-plte3-adam7", png(w, h, 8, 3, bytes(b % 4 for b in m.rows(w, h, 8, 3, 1, filters=(0,))), 1, before=plte3)
    idx4 = bytes([0, 0x01, 0x23, 0xF0]) * h  # 5 pixels: 0 1 2 3 15
    yield "p4-plte3", png(w, h, 4, 3, idx4, before=plte3)
    yield "p4-plte16", png(w, h, 4, 3, idx4, before=chunk(b"PLTE", m.noise(48)))
    yield "p2-plte3", png(w, h, 2, 3, bytes([0, 0b00011011, 0b11000000]) * h, before=plte3)
    yield "p2-plte4", png(w, h, 2, 3, bytes([0, 0b00011011, 0b11000000]) * h, before=chunk(b"PLTE", m.noise(12)))
    yield "p1-plte1", png(w, h, 1, 3, bytes([0, 0b01011000]) * h, before=chunk(b"PLTE", bytes([10, 200, 30])))
    yield "p1-plte2", png(w, h, 1, 3, bytes([0, 0b01011000]) * h, before=chunk(b"PLTE", bytes([10, 200, 30, 1, 2, 3])))
    yield "p16", png(w, h, 16, 3, m.rows(w, h, 16, 3), before=plte3)
    yield "rgb-with-plte", png(w, h, 8, 2, m.rows(w, h, 8, 2), before=plte3)
    # A short palette with image data that ends on a row boundary: the padded PLTE moves the rebuilt IDAT.
    raw = bytes([0, 0, 1, 2, 3, 200]) + bytes([0, 255, 7, 2, 1, 0])
    yield "p8-plte3-two-rows", png(w, h, 8, 3, raw, before=plte3)
    yield "p8-plte3-two-rows-text", png(w, h, 8, 3, raw, before=chunk(b"tEXt", b"k\x00v") + plte3)

    # Chunks cut short before the image data.
    good = m.rows(w, h, 8, 2)
    head = SIG + ihdr(w, h, 8, 2)
    yield "sig-only", SIG
    yield "ihdr-only", head
    yield "ihdr-cut12", head[:-1]
    yield "ihdr-then-7", head + b"\x00\x00\x00\x05IDA"
    yield "ihdr-then-idat-header", head + b"\x00\x00\x00\x00IDAT"
    text = chunk(b"tEXt", b"Comment\x00twenty bytes")
    for cut in (1, 2, 3, 4, 5, 12):
        yield f"text-cut{cut}", head + text[:-cut]
    yield "text-whole-then-end", head + text
    yield "text-huge-length", head + struct.pack(">I", 0xFFFFFFF0) + b"tEXt" + bytes(40)
    yield "text-length-2g", head + struct.pack(">I", 0x80000000) + b"tEXt" + bytes(40)

    # Chunk types at the edges of \w: every class's first and last character passes, the neighbours do not.
    for i, kind in enumerate((b"aAz_", b"ZZ09", b"_zZa", b"pr9v")):
        yield f"type-ok{i}", png(w, h, 8, 2, good, before=chunk(kind, b"private"))
    for name, c in (("at", b"@"), ("bracket", b"["), ("backtick", b"`"), ("brace", b"{"), ("slash", b"/"),
                    ("colon", b":"), ("space", b" "), ("high", b"\xc3")):
        yield f"type-bad-{name}", png(w, h, 8, 2, good, before=chunk(b"pr" + c + b"v", b"private"))
    yield "type-bad-first", png(w, h, 8, 2, good, before=chunk(b"@rvT", b"private"))

    # CRCs before the image data, critical and ancillary: all checked.
    yield "crc-ihdr", SIG + bad(b"IHDR", ihdr_data(w, h, 8, 2)) + chunk(b"IDAT", zlib.compress(good)) + chunk(b"IEND")
    yield "crc-plte", png(w, h, 8, 3, idx8, before=bad(b"PLTE", bytes(9)))
    yield "crc-text", png(w, h, 8, 2, good, before=bad(b"tEXt", b"k\x00v"))
    yield "crc-private", png(w, h, 8, 2, good, before=bad(b"prVt", b"x"))
    yield "crc-high-byte", png(w, h, 8, 2, good, before=chunk(b"tEXt", b"k\x00v", zlib.crc32(b"tEXtk\x00v") ^ 0x80000000))

    # IHDR fields.
    yield "ihdr-len12", SIG + chunk(b"IHDR", ihdr_data(w, h, 8, 2)[:12]) + chunk(b"IDAT", zlib.compress(good)) + chunk(b"IEND")
    yield "ihdr-len14", png(w, h, 8, 2, good, ihdr_chunk=chunk(b"IHDR", ihdr_data(w, h, 8, 2) + b"\x00"))
    yield "ihdr-filter1", png(w, h, 8, 2, good, ihdr_chunk=ihdr(w, h, 8, 2, filtering=1))
    yield "ihdr-compression1", png(w, h, 8, 2, good, ihdr_chunk=ihdr(w, h, 8, 2, compression=1))
    yield "ihdr-interlace2-adam7-data", png(w, h, 8, 2, m.rows(w, h, 8, 2, 1), ihdr_chunk=ihdr(w, h, 8, 2, interlace=2))
    yield "ihdr-interlace2-plain-data", png(w, h, 8, 2, good, ihdr_chunk=ihdr(w, h, 8, 2, interlace=2))
    for colour in (1, 5, 7):
        yield f"ihdr-colour{colour}", png(w, h, 8, colour, good)
    for depth in (0, 3, 32):
        yield f"ihdr-depth{depth}", png(w, h, depth, 0, good)
    yield "ihdr-rgb-d4", png(w, h, 4, 2, m.rows(w, h, 4, 2))
    yield "ihdr-grey-alpha-d4", png(w, h, 4, 4, m.rows(w, h, 4, 4))
    yield "ihdr-w0", png(0, h, 8, 2, bytes([0]) * h)
    yield "ihdr-h0", png(w, 0, 8, 2, b"")
    yield "ihdr-w2g", png(0x80000000, 1, 8, 0, bytes(16))
    yield "ihdr-w4g", png(0xFFFFFFFF, 1, 8, 0, bytes(16))
    yield "ihdr-second-bigger", SIG + ihdr(3, 2, 8, 2) + ihdr(w, h, 8, 2) + chunk(b"IDAT", zlib.compress(good)) + chunk(b"IEND")
    yield "ihdr-second-plain-then-adam7", SIG + ihdr(w, h, 8, 2) + ihdr(w, h, 8, 2, 1) \
        + chunk(b"IDAT", zlib.compress(m.rows(w, h, 8, 2, 1))) + chunk(b"IEND")
    yield "ihdr-after-text", SIG + chunk(b"tEXt", b"k\x00v") + ihdr(w, h, 8, 2) + chunk(b"IDAT", zlib.compress(good)) + chunk(b"IEND")
    yield "ihdr-after-text-adam7", SIG + chunk(b"tEXt", b"k\x00v") + ihdr(w, h, 8, 2, 1) \
        + chunk(b"IDAT", zlib.compress(m.rows(w, h, 8, 2, 1))) + chunk(b"IEND")
    yield "no-ihdr", SIG + chunk(b"IDAT", zlib.compress(good)) + chunk(b"IEND")
    yield "iend-before-idat", SIG + ihdr(w, h, 8, 2) + chunk(b"IEND") + chunk(b"IDAT", zlib.compress(good))
    yield "iend-only", SIG + ihdr(w, h, 8, 2) + chunk(b"IEND")

    # Image data that ends early, late, or breaks.
    for name, (cw, ch, depth, colour, interlace) in (("rgb", (w, h, 8, 2, 0)), ("adam7", (9, 9, 8, 2, 1)),
                                                     ("g1", (11, 3, 1, 0, 0)), ("g1-adam7", (11, 9, 1, 0, 1))):
        raw = m.rows(cw, ch, depth, colour, interlace)
        lengths = row_lengths(cw, ch, depth, colour, interlace)
        ihdr_chunk = ihdr(cw, ch, depth, colour, interlace)

        def file(stream, after=b"", end=True):
            return SIG + ihdr_chunk + chunk(b"IDAT", stream) + after + (chunk(b"IEND") if end else b"")

        yield f"{name}-ok", file(zlib.compress(raw))
        yield f"{name}-short1", file(zlib.compress(raw[:-1]))
        yield f"{name}-one-row-less", file(zlib.compress(raw[:-lengths[-1]]))
        yield f"{name}-first-row", file(zlib.compress(raw[:lengths[0]]))
        yield f"{name}-first-row-and-1", file(zlib.compress(raw[:lengths[0] + 1]))
        yield f"{name}-empty-stream", file(zlib.compress(b""))
        yield f"{name}-extra-ff", file(zlib.compress(raw + b"\xff" * 40))
        yield f"{name}-last-filter4", file(zlib.compress(raw[:-lengths[-1]] + b"\x04" + raw[-lengths[-1] + 1:]))
        yield f"{name}-last-filter5", file(zlib.compress(raw[:-lengths[-1]] + b"\x05" + raw[-lengths[-1] + 1:]))
        yield f"{name}-first-filter255", file(zlib.compress(b"\xff" + raw[1:]))
        stream = zlib.compress(raw)
        yield f"{name}-no-adler", file(stream[:-4])
        yield f"{name}-cut-in-data", file(stream[:len(stream) // 2])
        yield f"{name}-bad-adler", file(stream[:-4] + bytes(b ^ 0x55 for b in stream[-4:]))
        yield f"{name}-bad-adler-later-idat", SIG + ihdr_chunk + chunk(b"IDAT", stream[:-4]) \
            + chunk(b"IDAT", bytes(b ^ 0x55 for b in stream[-4:])) + chunk(b"IEND")
        yield f"{name}-bad-zlib-header", file(b"\x78\x00" + stream[2:])
        yield f"{name}-bad-block", file(stream[:2] + b"\xff" + stream[3:])
        # The stream in one-byte IDATs, and with empty IDATs among them.
        yield f"{name}-split1", SIG + ihdr_chunk + b"".join(chunk(b"IDAT", stream[i:i + 1]) for i in range(len(stream))) \
            + chunk(b"IEND")
        yield f"{name}-empty-idats", SIG + ihdr_chunk + chunk(b"IDAT") + chunk(b"IDAT", stream[:5]) + chunk(b"IDAT") \
            + chunk(b"IDAT", stream[5:]) + chunk(b"IDAT") + chunk(b"IEND")
        yield f"{name}-no-iend", file(stream, end=False)
        yield f"{name}-iend-cut", file(stream, end=False) + chunk(b"IEND")[:-2]

    # The IDAT chunks themselves: cut, CRCs, split by other chunks, followed by other data chunks.
    stream = zlib.compress(good, 9)
    cut_idat = chunk(b"IDAT", stream)
    yield "idat-cut-after-data", head + cut_idat[:-4]
    yield "idat-cut-in-adler", head + cut_idat[:-6]
    yield "idat-length-long", head + struct.pack(">I", len(stream) + 100) + cut_idat[4:] + chunk(b"IEND")
    yield "idat-crc", head + bad(b"IDAT", stream) + chunk(b"IEND")
    yield "idat-crc-iend-crc", head + bad(b"IDAT", stream) + bad(b"IEND")
    yield "idat-split-by-text-whole", head + chunk(b"IDAT", stream) + chunk(b"tEXt", b"k\x00v") + chunk(b"IDAT", b"\x00") + chunk(b"IEND")
    half = len(stream) // 2
    yield "idat-split-by-text-half", head + chunk(b"IDAT", stream[:half]) + chunk(b"tEXt", b"k\x00v") \
        + chunk(b"IDAT", stream[half:]) + chunk(b"IEND")
    yield "idat-then-ddat", head + chunk(b"IDAT", stream[:half]) + chunk(b"DDAT", stream[half:]) + chunk(b"IEND")
    yield "idat-then-extra-idat-cut", head + chunk(b"IDAT", stream) + chunk(b"IDAT", bytes(30))[:20]
    yield "idat-then-extra-idat", head + chunk(b"IDAT", stream) + chunk(b"IDAT", bytes(30)) + chunk(b"IEND")

    # Chunks after the image data: read whole, never CRC-checked; an eXIf there turns the image.
    yield "after-text", png(w, h, 8, 2, good, after=chunk(b"tEXt", b"Comment\x00after the data"))
    yield "after-private", png(w, h, 8, 2, good, after=chunk(b"prVt", b"0123456789"))
    yield "after-two", png(w, h, 8, 2, good, after=chunk(b"tEXt", b"k\x00v") + chunk(b"zzZz", b"abc"))
    yield "after-text-crc", png(w, h, 8, 2, good, after=bad(b"tEXt", b"Comment\x00after the data"))
    yield "after-text-cut", png(w, h, 8, 2, good, after=chunk(b"tEXt", b"Comment\x00after the data")[:-10], end=False)
    yield "after-text-cut-crc", png(w, h, 8, 2, good, after=chunk(b"tEXt", b"Comment\x00after")[:-2], end=False)
    yield "after-text-no-crc", png(w, h, 8, 2, good, after=chunk(b"tEXt", b"Comment\x00after")[:-4], end=False)
    yield "after-private-cut", png(w, h, 8, 2, good, after=chunk(b"prVt", b"0123456789")[:-6], end=False)
    yield "after-text-no-iend", png(w, h, 8, 2, good, after=chunk(b"tEXt", b"k\x00v"), end=False)
    yield "after-header-7", png(w, h, 8, 2, good, after=b"\x00\x00\x00\x05tEX", end=False)
    yield "after-header-8", png(w, h, 8, 2, good, after=b"\x00\x00\x00\x05tEXt", end=False)
    yield "after-header-11", png(w, h, 8, 2, good, after=b"\x00\x00\x00\x05tEXtabc", end=False)
    yield "after-bad-type", png(w, h, 8, 2, good, after=chunk(b"t@Xt", b"abc") + chunk(b"tEXt", bytes(100))[:30], end=False)
    yield "after-iend-cut", png(w, h, 8, 2, good, end=False) + b"\x00\x00\x00\x00IEND"
    yield "after-iend-junk", png(w, h, 8, 2, good) + b"\xff\xff\xff\xf0junkjunkjunkjunk"
    yield "after-iend-chunk", png(w, h, 8, 2, good) + chunk(b"tEXt", b"k\x00v")
    for o in (3, 6):
        yield f"exif{o}-before", png(w, h, 8, 2, good, before=chunk(b"eXIf", exif(o)))
        yield f"exif{o}-after", png(w, h, 8, 2, good, after=chunk(b"eXIf", exif(o)))
        yield f"exif{o}-after-crc", png(w, h, 8, 2, good, after=bad(b"eXIf", exif(o)))
        yield f"exif{o}-after-no-iend", png(w, h, 8, 2, good, after=chunk(b"eXIf", exif(o)), end=False)
        yield f"exif{o}-after-empty-idat", png(w, h, 8, 2, good, after=chunk(b"IDAT") + chunk(b"eXIf", exif(o)))
    yield "exif6-after-short-data", png(w, h, 8, 2, good[:2 * 16], after=chunk(b"eXIf", exif(6)))
    yield "exif6-after-text-no-iend", png(w, h, 8, 2, good, after=chunk(b"tEXt", b"k\x00v") + chunk(b"eXIf", exif(6)), end=False)
    yield "exif6-after-adam7-short", png(9, 9, 8, 2, m.rows(9, 9, 8, 2, 1)[:row_lengths(9, 9, 8, 2, 1)[0] * 2], 1,
                                          after=chunk(b"eXIf", exif(6)))

    # Adam7 under 5 pixels wide, which PngStreamGuard de-interlaces itself: every filter type, sub-byte, 16-bit,
    # grey + alpha and paletted rows, a short stream (zero rows) and an eXIf after the data.
    yield "adam7-3x9-d2", png(3, 9, 2, 0, m.rows(3, 9, 2, 0, 1), 1)
    yield "adam7-4x17-rgba16", png(4, 17, 16, 6, m.rows(4, 17, 16, 6, 1), 1)
    yield "adam7-2x11-la8", png(2, 11, 8, 4, m.rows(2, 11, 8, 4, 1), 1)
    yield "adam7-4x9-p4", png(4, 9, 4, 3, bytes(m.rows(4, 9, 4, 3, 1, filters=(0,))), 1,
                              before=chunk(b"PLTE", bytes(range(48))))
    yield "adam7-4x9-short", png(4, 9, 8, 2, m.rows(4, 9, 8, 2, 1)[:40], 1)
    yield "adam7-3x5-exif6-after", png(3, 5, 8, 2, m.rows(3, 5, 8, 2, 1), 1, after=chunk(b"eXIf", exif(6)))

    # Aimed at the survivors of Stryker's run over PngStreamGuard (added last, so the files above stay as they were).
    # DDAT counts as image data however many there are; an empty IDAT header after the data; a cut chunk after a whole one.
    third = len(stream) // 3
    yield "idat-then-two-ddat", head + chunk(b"IDAT", stream[:third]) + chunk(b"DDAT", stream[third:2 * third]) \
        + chunk(b"DDAT", stream[2 * third:]) + chunk(b"IEND")
    yield "idat-then-empty-idat-header", head + chunk(b"IDAT", stream) + b"\x00\x00\x00\x00IDAT"
    yield "after-text-then-text-cut", png(w, h, 8, 2, good, after=chunk(b"tEXt", b"k\x00v")
                                          + chunk(b"tEXt", b"Comment\x00after the data")[:-10], end=False)
    # An eXIf before the image data wins over one after it, an empty one too; a chunk whose CRC spells "eXIf".
    yield "exif3-before-exif6-after", png(w, h, 8, 2, good, before=chunk(b"eXIf", exif(3)), after=chunk(b"eXIf", exif(6)))
    yield "exif-empty-before-exif6-after", png(w, h, 8, 2, good, before=chunk(b"eXIf"), after=chunk(b"eXIf", exif(6)))
    yield "exif3-after-exif6-after", png(w, h, 8, 2, good, after=chunk(b"eXIf", exif(3)) + chunk(b"eXIf", exif(6)))
    yield "exif3-after-text-exif6-after-no-iend", png(w, h, 8, 2, good, after=chunk(b"eXIf", exif(3)) + chunk(b"tEXt", b"k\x00v")
                                                      + chunk(b"eXIf", exif(6)), end=False)
    yield "exif6-after-crc-spells-exif", png(w, h, 8, 2, good, before=forged(b"prVt", b"private", b"eXIf"),
                                             after=chunk(b"eXIf", exif(6)))
    # A narrow Adam7 stream that ends properly after the first pass: the rest of the rows are zeros, far past 256 bytes.
    pass1 = row_lengths(4, 60, 8, 2, 1)[0] * 8
    yield "adam7-4x60-first-rows", png(4, 60, 8, 2, m.rows(4, 60, 8, 2, 1)[:pass1], 1)
    # Paeth ties between the left or upper neighbour and the upper-left one, in a narrow Adam7 file.
    yield "adam7-4x4-paeth-ties", png(4, 4, 8, 0, adam7_paeth([[1, 2, 3, 4], [10, 11, 10, 8], [5, 6, 7, 9], [8, 50, 11, 60]]), 1)
    # Palettes: an empty PLTE (Pillow's ramp), and two PLTEs (Pillow keeps the last).
    yield "p8-plte0", png(w, h, 8, 3, idx8, before=chunk(b"PLTE"))
    yield "p8-plte3-then-plte2", png(w, h, 8, 3, idx8, before=plte3 + chunk(b"PLTE", bytes([9, 99, 199, 1, 101, 201])))
    yield "p8-plte2-then-plte3", png(w, h, 8, 3, idx8, before=chunk(b"PLTE", bytes([9, 99, 199, 1, 101, 201])) + plte3)
    # Data after the last row: exactly 64 KiB of it, and one byte more.
    yield "rgb-extra-64k", png(w, h, 8, 2, good + bytes(65536))
    yield "rgb-extra-64k-and-1", png(w, h, 8, 2, good + bytes(65537))
    # After IEND, a chunk cut in its CRC (Pillow stops at IEND).
    yield "after-iend-cut-chunk", png(w, h, 8, 2, good) + chunk(b"tEXt", b"k\x00v")[:-2]


def main():
    write_corpus(OUT, "tests/reference/png/generate_png.py", ((name + ".png", data) for name, data in cases()), KNOWN)


if __name__ == "__main__":
    main()
