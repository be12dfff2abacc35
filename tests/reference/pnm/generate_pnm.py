#!/usr/bin/python3
"""Portable anymap (PBM/PGM/PPM, P1-P6) cases judged by Pillow 9.4.

Crafts small files byte by byte: every magic number, maxvals that Pillow reads raw (255, and 65535 for
grey) and ones it rescales (1, 2, 15, 100, 256, 1000, 65535 for colour), comments and odd whitespace in
headers and plain data, sample values above maxval, extra bytes after the data, and truncations of each.
Every file is judged the way transformers' load_image does: Image.open -> ImageOps.exif_transpose ->
convert("RGB"), with LOAD_TRUNCATED_IMAGES = False. Writes cases/*.pnm and cases/verdicts.json
(zlib+base64 RGB pixels where Pillow accepts, the error where it refuses). Files over Pillow's 1 MiB
read block are committed gzipped (*.pnm.gz); the tests inflate them.

    /usr/bin/python3 tests/reference/pnm/generate_pnm.py
"""

import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from pillow_judge import write_corpus  # noqa: E402 - the shared judge lives one folder up



HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "cases")


def be16(values):
    return b"".join(v.to_bytes(2, "big") for v in values)


def cases():
    rng = random.Random(20261130)
    w, h = 5, 3
    n = w * h
    yield "p6-255", b"P6\n5 3\n255\n" + bytes(rng.randrange(256) for _ in range(3 * n))
    yield "p5-255", b"P5\n5 3\n255\n" + bytes(rng.randrange(256) for _ in range(n))
    # P4 rows are padded to whole bytes: 11 pixels take 2 bytes a row.
    yield "p4-11x3", b"P4\n11 3\n" + bytes(rng.randrange(256) for _ in range(2 * 3))
    yield "p4-8x2", b"P4 8 2\n" + bytes([0b10110001, 0b01001110])
    for maxval in (1, 2, 15, 100, 254):
        yield f"p5-max{maxval}", b"P5\n5 3\n%d\n" % maxval + bytes(rng.randrange(maxval + 1) for _ in range(n))
        yield f"p6-max{maxval}", b"P6\n5 3\n%d\n" % maxval + bytes(rng.randrange(maxval + 1) for _ in range(3 * n))
    for maxval in (256, 1000, 65534, 65535):
        yield f"p5-max{maxval}", b"P5\n5 3\n%d\n" % maxval + be16(rng.randrange(maxval + 1) for _ in range(n))
        yield f"p6-max{maxval}", b"P6\n5 3\n%d\n" % maxval + be16(rng.randrange(maxval + 1) for _ in range(3 * n))
    # 16-bit grey below 255: Pillow keeps "I" values that the RGB conversion passes through.
    yield "p5-max65535-dark", b"P5\n5 3\n65535\n" + be16(rng.randrange(300) for _ in range(n))
    yield "p5-max1000-dark", b"P5\n5 3\n1000\n" + be16(rng.randrange(5) for _ in range(n))
    # Samples above maxval.
    yield "p5-max100-over", b"P5\n5 3\n100\n" + bytes(rng.randrange(256) for _ in range(n))
    yield "p6-max1000-over", b"P6\n5 3\n1000\n" + be16(rng.randrange(65536) for _ in range(3 * n))
    # Plain formats.
    yield "p1", b"P1\n5 3\n" + b"\n".join(b" ".join(b"%d" % rng.randrange(2) for _ in range(w)) for _ in range(h)) + b"\n"
    yield "p1-packed", b"P1\n5 3\n" + bytes(rng.choice(b"01") for _ in range(n))
    yield "p2-255", b"P2\n5 3\n255\n" + b" ".join(b"%d" % rng.randrange(256) for _ in range(n)) + b"\n"
    yield "p2-max15", b"P2\n5 3\n15\n" + b"\t".join(b"%d" % rng.randrange(16) for _ in range(n)) + b"\n"
    yield "p2-max1000", b"P2\n5 3\n1000\n" + b" ".join(b"%d" % rng.randrange(1001) for _ in range(n))
    yield "p3-255", b"P3\n5 3\n255\n" + b"\n".join(b"%d %d %d" % tuple(rng.randrange(256) for _ in range(3)) for _ in range(n)) + b"\n"
    yield "p3-max7", b"P3 5 3 7 " + b" ".join(b"%d" % rng.randrange(8) for _ in range(3 * n))
    yield "p3-max65535", b"P3\n5 3\n65535\n" + b" ".join(b"%d" % rng.randrange(65536) for _ in range(3 * n))
    yield "p2-over", b"P2\n5 3\n15\n" + b" ".join(b"16" for _ in range(n))
    yield "p2-longtoken", b"P2\n5 3\n255\n" + b"00000000001 " * n
    yield "p2-comment", b"P2\n5 3\n255\n1 2 3 # a comment\n4 5 6 7 8 9 10\n11 12#x\n13 14 15"
    yield "p1-badtoken", b"P1\n5 3\n" + b"0 1 2 " * 5
    # Python's int(): signs and underscores; a negative sample wraps in 8 bits and fails in 32.
    yield "p2-signs", b"P2\n3 1\n255\n+7 -1 1_0\n"
    yield "p2-wide-negative", b"P2\n3 1\n1000\n7 -1 10\n"
    yield "p2-bad-underscore", b"P2\n3 1\n255\n7 1__0 10\n"
    yield "p2-extra", b"P2\n5 3\n255\n" + b" ".join(b"%d" % rng.randrange(256) for _ in range(n + 4)) + b"\n"
    # Headers.
    yield "p6-comments", b"P6\n# made by hand\n5 # width\n3\n#maxval next\n255\n" + bytes(rng.randrange(256) for _ in range(3 * n))
    yield "p5-crlf", b"P5\r\n5\r\n3\r\n255\r" + bytes(rng.randrange(256) for _ in range(n))
    yield "p5-tabs", b"P5\t5\x0b3\x0c255 " + bytes(rng.randrange(256) for _ in range(n))
    yield "p5-plus", b"P5\n+5 3\n255\n" + bytes(rng.randrange(256) for _ in range(n))
    yield "p5-leading-zeros", b"P5\n0005 003\n0255\n" + bytes(rng.randrange(256) for _ in range(n))
    yield "p5-maxval0", b"P5\n5 3\n0\n" + bytes(n)
    yield "p5-maxval65536", b"P5\n5 3\n65536\n" + bytes(2 * n)
    yield "p5-width0", b"P5\n0 3\n255\n" + bytes(n)
    yield "p5-negative", b"P5\n-5 3\n255\n" + bytes(n)
    yield "p5-hex", b"P5\n0x5 3\n255\n" + bytes(n)
    yield "p5-token11", b"P5\n00000000005 3\n255\n" + bytes(n)
    yield "p5-token10", b"P5\n0000000005 3\n255\n" + bytes(n)
    yield "p5-header-eof", b"P5\n5 3\n"
    yield "p5-header-eof2", b"P5\n5 3\n255"
    yield "p6-extra", b"P6\n5 3\n255\n" + bytes(rng.randrange(256) for _ in range(3 * n + 7))
    yield "p7", b"P7\nWIDTH 1\nHEIGHT 1\nDEPTH 3\nMAXVAL 255\nTUPLTYPE RGB\nENDHDR\n" + bytes(3)
    # Truncations of every kind of data.
    base = dict(cases_base(rng, w, h, n))
    for name, data in base.items():
        for cut in (1, len(data) // 2):
            yield f"{name}-cut{cut}", data[:-cut]
    yield from block_cases()


BLOCK = 1024 * 1024  # Pillow's ImageFile.SAFEBLOCK: plain data is read in blocks of this size


def block_cases():
    """Plain files over one block: comments and tokens cut by the block's end (committed gzipped). The blocks
    start where the pixel data starts, after the header."""
    # P3 (RGB, rescaled from maxval 999): 2 x 2 pixels, 12 values.
    head = b"P3\n2 2\n999\n"
    tail = b" 7 80 900 11 12 130 140 150\n"
    # A token cut by the block's end joins its two halves; the data ends in whitespace, complete.
    pad = BLOCK - len(b"10 20 30") - 1
    yield "big-p3-split-token.gz", head + b"10 20 30" + b" " * pad + b"45" + b"6" + tail
    # The same, one value short: Pillow reads the stale half token ("4") again to fill the image.
    yield "big-p3-stale-half.gz", head + b"10 20 30" + b" " * pad + b"45" + b"6" + tail[:-5] + b"\n"
    # A comment left open at the block's end ends at the next block's first line end.
    pad = BLOCK - len(b"10 20 ") - 6
    yield "big-p3-open-comment.gz", head + b"10 20 " + b" " * pad + b"#" + b"abcde" + b"xyz\n30 456" + tail
    # The same for plain PBM.
    bhead = b"P1\n3 3\n"
    pad = BLOCK - len(b"101 #") - 3
    yield "big-p1-open-comment.gz", bhead + b"101" + b" " * pad + b" #" + b"abc" + b"222\n010 111\n"


def cases_base(rng, w, h, n):
    yield "t-p4", b"P4\n11 3\n" + bytes(rng.randrange(256) for _ in range(6))
    yield "t-p5", b"P5\n5 3\n255\n" + bytes(rng.randrange(256) for _ in range(n))
    yield "t-p5-max15", b"P5\n5 3\n15\n" + bytes(rng.randrange(16) for _ in range(n))
    yield "t-p5-max65535", b"P5\n5 3\n65535\n" + be16(rng.randrange(65536) for _ in range(n))
    yield "t-p6", b"P6\n5 3\n255\n" + bytes(rng.randrange(256) for _ in range(3 * n))
    yield "t-p6-max1000", b"P6\n5 3\n1000\n" + be16(rng.randrange(1001) for _ in range(3 * n))
    yield "t-p1", b"P1\n5 3\n" + b" ".join(b"%d" % rng.randrange(2) for _ in range(n))
    yield "t-p2", b"P2\n5 3\n255\n" + b" ".join(b"%d" % rng.randrange(256) for _ in range(n))
    yield "t-p3", b"P3\n5 3\n255\n" + b" ".join(b"%d" % rng.randrange(256) for _ in range(3 * n))


def main():
    # Files over Pillow's 1 MiB read block are committed gzipped (name.gz -> name.pnm.gz).
    write_corpus(OUT, "tests/reference/pnm/generate_pnm.py",
                 ((name[:-3] + ".pnm.gz" if name.endswith(".gz") else name + ".pnm", data) for name, data in cases()))


if __name__ == "__main__":
    main()
