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
    yield from header_cases(rng)
    yield from plain_cases(rng)
    yield from block_cases()


def header_cases(rng):
    """Magic numbers, header tokens and image sizes at their bounds."""
    yield "h-1byte", b"P"
    yield "h-p5-2bytes", b"P5"
    yield "h-p4-2bytes", b"P4"
    yield "h-p5-space", b"P5 "
    yield "h-p0", b"P0\n1 1\n255\n\0"
    yield "h-p5x", b"P5x 1 1 255 \0"
    # Every whitespace byte after the magic number and between tokens.
    yield "h-p6-tab", b"P6\t1\t1\t255\t" + bytes(3)
    yield "h-p5-vt", b"P5\x0b2\x0b1\x0b255\x0b\x10\x20"
    yield "h-p2-ff", b"P2\x0c2\x0c1\x0c255\x0c7 9"
    yield "h-p3-cr", b"P3\r1\r1\r255\r1 2 3"
    yield "h-p4-space", b"P4 9 1 \xa5\x80"
    # Comments: ended by CR, by LF, by the end of the file, and inside a token, which goes on after the line.
    yield "h-comment-cr", b"P5 #c\r1 1 255 \x07"
    yield "h-comment-in-token", b"P5\n1#x\n2 1\n255\n" + bytes(range(1, 13))
    yield "h-comment-in-token-cr", b"P5\n1#x\r2 1\n255\n" + bytes(range(1, 13))
    yield "h-comment-eof", b"P5 #abc"
    yield "h-comment-eof-token", b"P5 1 1 2#abc"
    # Sizes: one pixel, zero and negative heights, and past the limits (Pillow's decompression-bomb check).
    yield "h-1x1", b"P5 1 1 255 \x07"
    yield "h-height0", b"P5 1 0 255 "
    yield "h-height-negative", b"P5 1 -1 255 "
    yield "h-wmax", b"P5 2147483647 1 255 "
    yield "h-hmax", b"P5 1 2147483647 255 "
    yield "h-w2g", b"P5 2147483648 1 255 "
    yield "h-h2g", b"P6 1 2147483648 255 "
    yield "h-p4-w2g", b"P4 2147483648 1 "
    yield "h-p1-hmax", b"P1 1 2147483647 "
    yield "h-huge", b"P2 9999999999 9999999999 255 "
    yield "h-20000x20000", b"P5 20000 20000 255 "
    yield "h-maxval-huge", b"P5 1 1 9999999999 "
    yield "h-maxval-negative", b"P5 1 1 -1 "
    yield "h-maxval-underscore", b"P5 2 1 2_55 \x01\xfe"
    yield "h-width-underscore", b"P5 1_2 1 255 " + bytes(range(12))
    # Python's int() refuses these tokens.
    for name, token in (("trailing-underscore", b"1_"), ("leading-underscore", b"_1"), ("sign-only", b"-"),
                        ("plus-only", b"+"), ("double-sign", b"+-1"), ("sign-underscore", b"+_1"),
                        ("letter", b"1a")):
        yield f"h-int-{name}", b"P5 " + token + b" 1 255 \0\0"
        yield f"p2-int-{name}", b"P2 2 1 255 7 " + token + b" "
    yield "p2-int-forms", b"P2 4 1 255 -0 +0_7 0_0_1 1_0_0"


def plain_cases(rng):
    """Plain data: token lengths, values at maxval, every separator, comments and short data."""
    yield "p2-token10", b"P2 3 1 255 0000000255 0000000001 +000000017 "
    yield "p2-token10-end", b"P2 3 1 255 1 2 0000000255"
    yield "p2-token11-end", b"P2 3 1 255 1 2 00000000255"
    yield "p2-token11-mid", b"P2 3 1 255 1 00000000255 2 "
    yield "p2-at-max", b"P2 3 1 200 0 200 100\n"
    yield "p3-at-max", b"P3 1 1 300 300 0 150\n"
    yield "p2-wide-zero", b"P2 4 1 1000 0 1000 1 3\n"
    yield "p2-wide-max65535", b"P2 3 1 65535 0 65535 200\n"
    yield "p2-wide-over", b"P2 2 1 1000 1 1001\n"
    yield "p2-seps", b"P2\n3 2\n255\n1\x0b2\x0c3\r4\t5\r\n6"
    yield "p1-seps", b"P1\n3 2\n1\x0b0\x0c1\r0\t1\r\n0"
    # Pillow shows a bad token as Python's repr of bytes: \\xhh outside printable ASCII, backslashes and quotes escaped.
    yield "p1-x1c", b"P1\n3 1\n1\x1c0 1"
    yield "p1-quote", b"P1 2 1 1'"
    yield "p1-double-quote", b'P1 2 1 1"'
    yield "p1-backslash", b"P1 2 1 1\\"
    yield "p1-high", b"P1 2 1 1\xe9"
    yield "p1-del", b"P1 2 1 1\x7f"
    yield "p2-int-del", b"P2 2 1 255 1 7\x7e\x7f "
    yield "p2-int-high", b"P2 2 1 255 1 7\x80 "
    yield "p2-int-quote", b"P2 2 1 255 1 7' "
    yield "p2-int-quotes", b"P2 2 1 255 1 7'\" "
    yield "p2-int-backslash", b"P2 2 1 255 1 7\\' "
    yield "p2-token11-high", b"P2 2 1 255 1 0000000000\x80\x81 "
    yield "h-int-high", b"P5 1\x80 1 255 "
    # An eleven-byte header token is shown decoded as UTF-8; one that is not UTF-8 is a known difference.
    yield "h-token11-utf8", "P5 000000000\u00e9 1 255 ".encode()
    yield "h-token11-latin1", b"P5 0000000000\xe9 1 255 "
    yield "p1-nul", b"P1\n3 1\n1\x000 1"
    yield "p1-extra", b"P1\n3 1\n1 0 1 1 1 0 0\n"
    yield "p1-extra-bad", b"P1\n3 1\n101 2"
    yield "p1-comment", b"P1\n3 1\n1#c\n0#d\r1"
    yield "p1-comment-open", b"P1\n3 1\n1 0 #c 1"
    yield "p1-all-comment", b"P1\n3 1\n#c 1 0 1"
    yield "p2-all-comment", b"P2\n3 1\n255\n#c 1 2 3"
    yield "p2-comment-open", b"P2\n3 1\n255\n1 2 3#c"
    yield "p2-comment-open-short", b"P2\n3 1\n255\n1 2#c 3"
    # A comment with both line ends after it ends at the first: LF then CR, and CR then LF.
    yield "p2-comment-lf-cr", b"P2\n4 1\n255\n1 #c\n2 3\r4 5 6 "
    yield "p2-comment-cr-lf", b"P2\n4 1\n255\n1 #c\r2 3\n4 5 6 "
    yield "p2-comments-two", b"P2\n4 1\n255\n1 #a\n2 #b\n3 4 "
    yield "p2-negative", b"P2 3 1 255 -1 -128 -255 "
    yield "p3-negative", b"P3 1 1 15 -1 -8 -15 "
    yield "p2-short", b"P2 3 2 255 1 2 3 "
    yield "p3-short", b"P3 2 1 255 1 2 3 4 5 "
    yield "p1-short", b"P1 3 2 1 0 1 "


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
    # A comment left open ends at the next block's first line end, except that a line end at the block's very
    # first byte gives way to the other kind further on (Pillow multiplies the two indices): "3 4" is cut out too.
    head = b"P2\n6 1\n255\n"
    first = b"1 2 " + b" " * (BLOCK - len(b"1 2 #abc")) + b"#abc"
    yield "big-p2-comment-lf-first.gz", head + first + b"\n3 4\r5 6 7 8\n"
    yield "big-p2-comment-cr-first.gz", head + first + b"\r3 4\n5 6 7 8\n"
    # The last token of a block is kept for the next block: ten characters are allowed, eleven are not.
    head = b"P2\n3 1\n255\n"
    yield "big-p2-half10.gz", head + b"1 " + b" " * (BLOCK - 12) + b"0000000255" + b" 3\n"
    yield "big-p2-half11.gz", head + b"1 " + b" " * (BLOCK - 13) + b"00000000255" + b" 3\n"
    # A comment over a whole block; one running to the end of the file; one that ends in the second block, after
    # which the third block's first bytes are data again.
    first = b"1 " + b" " * (BLOCK - 3) + b"#"
    yield "big-p2-comment-spans-block.gz", head + first + b"x" * BLOCK + b"yz\n2 3\n"
    yield "big-p2-comment-to-eof.gz", head + first + b"x" * 100
    head = b"P2\n4 1\n255\n"
    yield "big-p2-comment-reset.gz", head + first + b"c\n2 " + b" " * (BLOCK - 4) + b"3 4\n"


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
    # Raw 16-bit data that Pillow's Python decoder reads (colour 65535, grey 1000 and 256): "not enough image data".
    yield "t-p6-max65535", b"P6\n5 3\n65535\n" + be16(rng.randrange(65536) for _ in range(3 * n))
    yield "t-p5-max1000", b"P5\n5 3\n1000\n" + be16(rng.randrange(1001) for _ in range(n))
    yield "t-p5-max256", b"P5\n5 3\n256\n" + be16(rng.randrange(257) for _ in range(n))


def main():
    # Files over Pillow's 1 MiB read block are committed gzipped (name.gz -> name.pnm.gz).
    write_corpus(OUT, "tests/reference/pnm/generate_pnm.py",
                 ((name[:-3] + ".pnm.gz" if name.endswith(".gz") else name + ".pnm", data) for name, data in cases()),
                 known={"h-token11-latin1.pnm": "Pillow's message decodes the token as UTF-8 and fails on the byte "
                        "0xE9 (UnicodeDecodeError); we refuse it as a token too long, showing U+FFFD"})


if __name__ == "__main__":
    main()
