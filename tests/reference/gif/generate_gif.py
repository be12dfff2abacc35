#!/usr/bin/python3
"""Hand-made GIFs for PillowGif's mutants (GifMutantTests), judged by Pillow 9.4.

Each file isolates one branch of GifImagePlugin's block walk or libImaging's GifDecode: extensions of every kind
and length, palettes that are or are not the grey ramp, LZW streams that clear mid-way, fill the table, reach
12-bit codes or stop on a byte boundary, frames off the origin, cut-short files. Pillow's verdict (accept with the
RGB pixels, or refuse with its exception) goes to verdicts.json, judged as transformers' load_image does.

    /usr/bin/python3 tests/reference/gif/generate_gif.py     # rewrites tests/reference/gif/cases/
"""

import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from pillow_judge import write_corpus  # noqa: E402 - the shared judge lives one folder up

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "cases")
PAL4 = [(10, 20, 30), (200, 100, 50), (40, 220, 90), (250, 250, 5)]


def flat(colours):
    return bytes(c for rgb in colours for c in rgb)


def screen(w, h, gct=None):
    """Header and logical screen; gct is raw table bytes whose size field is taken from the entry count given."""
    if gct is None:
        return b"GIF89a" + struct.pack("<HHBBB", w, h, 0, 0, 0)
    table, entries = gct
    return b"GIF89a" + struct.pack("<HHBBB", w, h, 0x80 | (entries.bit_length() - 2), 0, 0) + table


def lzw(codes, bits):
    """Packs codes LSB-first with the code size GifDecode.c uses at each point (it grows when next == mask)."""
    clear, end = 1 << bits, (1 << bits) + 1
    size, nxt, first, acc, n, out = bits + 1, clear + 2, True, 0, 0, bytearray()
    for c in codes:
        acc |= c << n
        n += size
        while n >= 8:
            out.append(acc & 0xFF)
            acc >>= 8
            n -= 8
        if c == clear:
            size, nxt, first = bits + 1, clear + 2, True
        elif c == end:
            pass
        elif first:
            first = False
        elif nxt < 4096:
            if nxt == (1 << size) - 1 and size < 12:
                size += 1
            nxt += 1
    if n:
        out.append(acc & 0xFF)
    return bytes(out)


def blocks(data, terminator=True):
    out = bytearray()
    for i in range(0, len(data), 255):
        chunk = data[i:i + 255]
        out += bytes([len(chunk)]) + chunk
    return bytes(out) + (b"\x00" if terminator else b"")


def image(x, y, w, h, bits, data, lct=None, interlace=False):
    flags = 0x40 if interlace else 0
    table = b""
    if lct is not None:
        table, entries = lct
        flags |= 0x80 | (entries.bit_length() - 2)
    return b"," + struct.pack("<HHHHB", x, y, w, h, flags) + table + bytes([bits]) + data


def frame_2x1(gct_bytes, entries=2):
    """A 2 x 1 picture of indices 0, 1 over the given global colour table."""
    return screen(2, 1, (gct_bytes, entries)) + image(0, 0, 2, 1, 2, blocks(lzw([4, 0, 1, 5], 2))) + b";"


GCE = b"!\xf9\x04\x00\x00\x00\x00\x00"  # a well-formed graphic control extension, no transparency
SIMPLE = image(0, 0, 2, 1, 2, blocks(lzw([4, 0, 1, 5], 2))) + b";"  # indices 0, 1
PAL = (flat(PAL4), 4)


def cases():
    c = {}
    c["header_short"] = b"GIF89a\x02\x00\x02"
    c["trailer_only"] = screen(2, 1) + b";"
    c["ext_eof"] = screen(2, 1, PAL) + b"!"
    c["gce_eof"] = screen(2, 1, PAL) + b"!\xf9"
    c["gce_then_trailer"] = screen(2, 1, PAL) + GCE + b";"
    c["gce_then_eof"] = screen(2, 1, PAL) + GCE
    c["gce_len2"] = screen(2, 1, PAL) + b"!\xf9\x02\x00\x00\x00" + SIMPLE
    c["gce_len3"] = screen(2, 1, PAL) + b"!\xf9\x03\x00\x00\x00\x00" + SIMPLE
    c["gce_len3_transparent"] = screen(2, 1, PAL) + b"!\xf9\x03\x01\x00\x00\x00" + SIMPLE
    # a 2 x 1 frame at (1, 1) on a 4 x 3 screen: the rest of the canvas shows the first frame's fill
    offset = image(1, 1, 2, 1, 2, blocks(lzw([4, 0, 3, 5], 2))) + b";"
    c["transparent_fill"] = screen(4, 3, PAL) + b"!\xf9\x04\x01\x00\x00\x02\x00" + offset
    c["index_without_flag"] = screen(4, 3, PAL) + b"!\xf9\x04\x00\x00\x00\x02\x00" + offset
    c["comment_empty"] = screen(2, 1, PAL) + b"!\xfe\x00" + SIMPLE
    c["comment_two_blocks"] = screen(2, 1, PAL) + b"!\xfe\x01A\x01;\x00" + SIMPLE
    c["plain_text_empty"] = screen(2, 1, PAL) + b"!\x01\x00" + SIMPLE
    c["plain_text_two_blocks"] = screen(2, 1, PAL) + b"!\x01\x01A\x01;\x00" + SIMPLE
    c["app_empty"] = screen(2, 1, PAL) + b"!\xff\x00" + SIMPLE
    c["app_short"] = screen(2, 1, PAL) + b"!\xff\x03abc\x00" + SIMPLE
    c["netscape"] = screen(2, 1, PAL) + b"!\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00" + SIMPLE
    c["netscape_no_loop_block"] = screen(2, 1, PAL) + b"!\xff\x0bNETSCAPE2.0\x00" + SIMPLE
    c["descriptor_short"] = screen(2, 1, PAL) + b",\x00\x00\x00\x00\x02"
    c["no_code_size"] = screen(2, 1, PAL) + b"," + struct.pack("<HHHHB", 0, 0, 2, 1, 0)
    c["frame_width_0"] = screen(4, 4, PAL) + image(0, 0, 0, 2, 2, blocks(lzw([4, 0, 1, 5], 2))) + b";"
    # x0 = 0 and width 0 is an extent of (0, 0): libImaging's setimage then decodes the whole canvas
    c["frame_width_0_whole_canvas"] = screen(4, 4, PAL) + image(0, 0, 0, 2, 2, blocks(lzw([4] + [1, 2, 3, 0] * 4 + [5], 2))) + b";"
    c["frame_width_0_at_y1"] = screen(4, 4, PAL) + image(0, 1, 0, 2, 2, blocks(lzw([4] + [1, 2, 3, 0] * 4 + [5], 2))) + b";"
    c["frame_width_0_at_x1"] = screen(4, 4, PAL) + image(1, 0, 0, 2, 2, blocks(lzw([4] + [1, 2, 3, 0] * 4 + [5], 2))) + b";"
    c["frame_height_0"] = screen(4, 4, PAL) + image(0, 0, 2, 0, 2, blocks(lzw([4, 0, 1, 5], 2))) + b";"
    c["local_table_only"] = screen(2, 2) + image(0, 0, 2, 2, 2, blocks(lzw([4, 0, 1, 1, 0, 5], 2)), lct=PAL) + b";"
    # LZW streams (bits = minimum code size)
    twelve = [1] * 40  # 2 x 20 of index 1 at 3 bits a code: more than one sub-block is not needed, 15 bytes
    data = lzw([4] + twelve, 2)
    c["truncated_mid_block"] = screen(2, 20, PAL) + image(0, 0, 2, 20, 2, bytes([5]) + data[:5] + bytes([10]) + data[5:10])
    c["truncated_after_terminator"] = screen(2, 20, PAL) + image(0, 0, 2, 20, 2, bytes([5]) + data[:5] + b"\x00")
    c["bits0_table_full"] = screen(65, 64, PAL) + image(0, 0, 65, 64, 0, blocks(lzw([0] * (65 * 64), 0))) + b";"
    c["bits12"] = screen(2, 1, PAL) + image(0, 0, 2, 1, 12, blocks(lzw([5, 7], 12))) + b";"
    c["bits12_chain_past_table"] = screen(8, 1, PAL) + image(0, 0, 8, 1, 12, blocks(lzw([5, 4098, 4098, 5, 5], 12))) + b";"
    c["bits13"] = screen(2, 1, PAL) + image(0, 0, 2, 1, 13, blocks(b"\x00\x00\x00\x00")) + b";"
    c["byte_boundary"] = screen(4, 1, PAL) + image(0, 0, 4, 1, 7, blocks(lzw([1, 2, 3, 1], 7))) + b";"
    c["clear_mid_stream"] = screen(4, 1, PAL) + image(0, 0, 4, 1, 2, blocks(lzw([1, 2, 4, 3, 3, 5], 2))) + b";"
    c["first_code_past_clear"] = screen(2, 1, PAL) + image(0, 0, 2, 1, 2, blocks(lzw([6, 0], 2))) + b";"
    c["code_past_next"] = screen(2, 1, PAL) + image(0, 0, 2, 1, 2, blocks(lzw([1, 7], 2))) + b";"
    c["bits11_to_12_bit_codes"] = screen(103, 20, PAL) + image(0, 0, 103, 20, 11, blocks(lzw([1] * (103 * 20), 11))) + b";"
    # palettes: the grey ramp, or one differing in one channel of entry 0 or 1
    for name, pal in (("identity", [0, 0, 0, 1, 1, 1]), ("r5g5b0", [5, 5, 0, 1, 1, 1]), ("r0g5b5", [0, 5, 5, 1, 1, 1]),
                      ("r7_then_r9", [7, 0, 0, 9, 1, 1]), ("g5_then_g6", [0, 5, 0, 1, 6, 1]), ("b5_then_b6", [0, 0, 5, 1, 1, 6])):
        c[f"palette_{name}"] = frame_2x1(bytes(pal))
    c["palette_cut_5"] = screen(2, 1, (b"\x00\x00\x00\x01\x01", 2))
    c["palette_cut_7"] = screen(2, 1, (b"\x00\x00\x00\x01\x01\x01\x02", 4))
    return c


def main():
    write_corpus(OUT, "tests/reference/gif/generate_gif.py", ((f"{name}.gif", data) for name, data in cases().items()))


if __name__ == "__main__":
    main()
