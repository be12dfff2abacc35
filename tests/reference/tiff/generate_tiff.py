#!/usr/bin/python3
"""Small striped TIFFs crafted byte by byte and judged by Pillow 9.4.

Covers what PillowTiffRaw (Pillow's own raw reader for 8-bit L/RGB/RGBX/RGBA strips) and TiffStripGuard decide:
byte orders II/MM, RowsPerStrip values (missing, 0, 1, more than the height), more strip offsets than strips,
strips out of file order and past the end, single mapped strips cut short, StripByteCounts missing/zero/short,
BitsPerSample counts other than SamplesPerPixel, ExtraSamples, SampleFormat, photometric 0/1/2, planar and
orientation tags, header and IFD damage, and compressions 5/8/32773 with broken data. Judged as transformers'
load_image does: Image.open -> ImageOps.exif_transpose -> convert("RGB"), LOAD_TRUNCATED_IMAGES = False.
Writes cases/*.tif and cases/verdicts.json (zlib+base64 RGB pixels where Pillow accepts, the error where not).

    /usr/bin/python3 tests/reference/tiff/generate_tiff.py
"""

import os
import random
import sys
import zlib

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from pillow_judge import write_corpus  # noqa: E402 - the shared judge lives one folder up



HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "cases")
SIZES = {1: 1, 3: 2, 4: 4, 8: 2, 5: 8}


def tiff(entries, pixels, mm=False, magic=42, cut=None, ifd_at=None):
    """Header, pixel bytes at offset 8, then the IFD (entries: (tag, type, values)), then out-of-line values.
    Strip offsets given as ("px", k) mean 8 + k."""
    e = ">" if mm else "<"
    ifd = 8 + len(pixels) + (len(pixels) & 1)
    extra_at = ifd + 2 + 12 * len(entries) + 4
    body, extra = b"", b""
    for tag, typ, values in entries:
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


# Files where this library does not (yet) match Pillow; the tests skip them and the report names them.
KNOWN = {
    "l-compression1-byte": "a BYTE-typed Compression tag: Pillow keeps bytes (b'\\x01') and cannot identify the file; we read 1",
    "l-spp-bytes": "a BYTE-typed SamplesPerPixel tag: Pillow keeps bytes and cannot identify the file; we read 1",
    "rgba-extra1": "associated alpha (RGBa): Pillow's unpremultiply rounds differently from ImageSharp's",
    "rgb-bps16": "16-bit samples: Pillow's 16-to-8-bit rounding differs from ImageSharp's",
    "rgb-planar2": "PlanarConfiguration 2 with one strip: Pillow fills red from it, ImageSharp leaves black",
    "deflate-count-zero": "StripByteCounts 0: libtiff still decodes the strip, ImageSharp reads nothing",
    "packbits-count-zero": "StripByteCounts 0: libtiff still decodes the strip, ImageSharp reads nothing",
    "deflate-no-count": "no StripByteCounts: libtiff decodes, ImageSharp refuses with an unwrapped ImageFormatException",
    "packbits-no-count": "no StripByteCounts: libtiff decodes, ImageSharp refuses with an unwrapped ImageFormatException",
    "packbits-garbage": "PackBits data libtiff decodes or refuses differently from ImageSharp",
}


def main():
    write_corpus(OUT, "tests/reference/tiff/generate_tiff.py", ((name + ".tif", data) for name, data in cases()),
                 known={name + ".tif": why for name, why in KNOWN.items()})


if __name__ == "__main__":
    main()
