#!/usr/bin/python3
"""Crafted files for DecoderMutantTests, judged by Pillow 9.4 the way transformers' load_image does:
Image.open(path) -> ImageOps.exif_transpose -> convert("RGB"), with LOAD_TRUNCATED_IMAGES = False.

    /usr/bin/python3 tests/reference/decoder/generate_decoder.py
        rewrites tests/reference/decoder/cases/ (the files and verdicts.json)

two-pages.tif         page 1 a PackBits 3x2 RGB image, page 2 a compression no reader knows: Pillow reads page 1
unknown-compression.tif  one page with that compression: Pillow refuses it
bigtiff.tif           a little-endian BigTIFF (3x2 RGB, uncompressed): Pillow reads it. Read as a classic TIFF, as
                      TiffStripGuard would, its bytes 8.. hold a directory (of 64 entries, the BigTIFF IFD offset's
                      low half) whose only integer tags say 1x1 pixels at byte 100000, beyond the file
two-headers.png       an interlaced 64x64 IHDR, then a plain 2x2 one and 2x2 plain data: Pillow keeps the second size
                      but the first's interlace flag, so the data is short and it refuses the file
"""

import os
import struct
import sys
import zlib

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from pillow_judge import write_corpus  # noqa: E402 - the shared judge lives one folder up

HERE = os.path.dirname(os.path.abspath(__file__))
CASES = os.path.join(HERE, "cases")
UNKNOWN_COMPRESSION = 12345


def tiff(pages):
    """Little-endian TIFF, 8-bit RGB, one strip a page: pages are (width, height, compression, strip bytes)."""
    out = bytearray(b"II*\x00\x00\x00\x00\x00")
    strips = []
    for _, _, _, data in pages:
        strips.append(len(out))
        out += data
        if len(out) % 2:
            out += b"\x00"
    directories = []
    for (width, height, compression, data), strip in zip(pages, strips):
        bits = len(out)
        out += struct.pack("<3H", 8, 8, 8)
        entries = [(256, 3, 1, width), (257, 3, 1, height), (258, 3, 3, bits), (259, 3, 1, compression), (262, 3, 1, 2),
                   (273, 4, 1, strip), (277, 3, 1, 3), (278, 3, 1, height), (279, 4, 1, len(data)), (284, 3, 1, 1)]
        directories.append(len(out))
        out += struct.pack("<H", len(entries))
        for tag, kind, count, value in entries:
            packed = struct.pack("<HH", value, 0) if kind == 3 and count == 1 else struct.pack("<I", value)
            out += struct.pack("<HHI", tag, kind, count) + packed
        out += b"\x00\x00\x00\x00"
    struct.pack_into("<I", out, 4, directories[0])
    for here, following in zip(directories, directories[1:]):
        count = struct.unpack_from("<H", out, here)[0]
        struct.pack_into("<I", out, here + 2 + 12 * count, following)
    return bytes(out)


def packbits(raw):
    """Literal runs only (a header byte n - 1, then n bytes), which every PackBits reader takes."""
    out = bytearray()
    for at in range(0, len(raw), 128):
        run = raw[at:at + 128]
        out.append(len(run) - 1)
        out += run
    return bytes(out)


def bigtiff():
    width, height, pixels = 3, 2, bytes(range(10, 28))
    at = 64  # the IFD; a classic reader takes its low 16 bits at byte 8 as an entry count
    out = bytearray(b"II\x2b\x00\x08\x00\x00\x00" + struct.pack("<Q", at) + bytes(at - 16))
    # Classic 12-byte entries start at byte 10; entries 1-3 lie in the free space before the IFD.
    struct.pack_into("<HHII", out, 22, 256, 3, 1, 1)
    struct.pack_into("<HHII", out, 34, 257, 3, 1, 1)
    struct.pack_into("<HHII", out, 46, 273, 4, 1, 100000)
    entries = [(256, 3, width), (257, 3, height), (258, 3, None), (259, 3, 1), (262, 3, 2), (273, 16, None), (277, 3, 3),
               (278, 3, height), (279, 16, len(pixels)), (284, 3, 1)]
    bits = at + 8 + 20 * len(entries) + 8
    out += struct.pack("<Q", len(entries))
    for tag, kind, value in entries:
        count = 3 if tag == 258 else 1
        if tag == 258:
            packed = struct.pack("<3H", 8, 8, 8) + bytes(2)
        elif tag == 273:
            packed = struct.pack("<Q", bits + 8)
        elif kind == 3:
            packed = struct.pack("<H", value) + bytes(6)
        else:
            packed = struct.pack("<Q", value)
        out += struct.pack("<HHQ", tag, kind, count) + packed
    out += bytes(8) + bytes(8) + pixels
    # Long enough for the classic directory (10 + 12 x 64 bytes): zeros, which a classic reader skips as type 0.
    return bytes(out + bytes(max(0, 10 + 12 * at + 2 - len(out))))


def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def ihdr(width, height, interlace):
    return chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, interlace))


def files():
    rgb = bytes(range(10, 28))  # 3 x 2 RGB
    yield "two-pages.tif", tiff([(3, 2, 32773, packbits(rgb)), (3, 2, UNKNOWN_COMPRESSION, bytes(18))])
    yield "unknown-compression.tif", tiff([(3, 2, UNKNOWN_COMPRESSION, rgb)])
    yield "bigtiff.tif", bigtiff()
    rows = b"".join(b"\x00" + bytes(range(6 * y, 6 * y + 6)) for y in range(2))
    signature = b"\x89PNG\r\n\x1a\n"
    yield "two-headers.png", signature + ihdr(64, 64, 1) + ihdr(2, 2, 0) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def main():
    write_corpus(CASES, "tests/reference/decoder/generate_decoder.py", files())


if __name__ == "__main__":
    main()
