#!/usr/bin/python3
"""WebP container cases judged by Pillow 9.4 (libwebp 1.2.4's demuxer), for WebPDemuxGuard.

Pillow 9.4 encodes a few tiny valid files (VP8L, VP8, VP8X + ALPH + VP8, VP8L with alpha, a two-frame animation,
a 257x258 VP8L); each case then rebuilds or damages one thing the demuxer looks at: the RIFF size (limits, short,
long, bytes after the RIFF chunk), odd chunk sizes and their padding, chunks that run past the RIFF end, the
first chunk's tag, the VP8 and VP8L headers WebPGetFeatures reads (signature, version, key frame, profile, show
bit, partition length, zero sizes, scale bits, payloads one byte short), ALPH before and after the image, a VP8L
after ALPH, VP8X sizes, flags and canvases (one byte short, 24-bit sides, the 2^32 area limit, canvas and image
sizes that disagree), ANIM and ANMF (missing, short, frame sizes too large, frames that leave the canvas, frames
with no image, sub-chunks that run past the ANMF), and trailing bytes inside the RIFF chunk. Every file is judged
the way transformers' load_image does: Image.open -> ImageOps.exif_transpose -> convert("RGB"), with
LOAD_TRUNCATED_IMAGES = False. Writes cases/*.webp and cases/verdicts.json.

    /usr/bin/python3 tests/reference/webp/generate_webp.py
"""

import io
import os
import struct
import sys

from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from pillow_judge import write_corpus  # noqa: E402 - the shared judge lives one folder up

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "cases")


def le32(v):
    return struct.pack("<I", v)


def le24(v):
    return v.to_bytes(3, "little")


def chunk(tag, payload, size=None, pad=True):
    """A chunk with its declared size (the payload's length unless given) and a pad byte after an odd payload."""
    size = len(payload) if size is None else size
    return tag + le32(size) + payload + (b"\0" if pad and len(payload) % 2 else b"")


def riff(body, size=None, after=b""):
    """RIFF WEBP around `body`; `size` overrides the RIFF size, `after` follows the RIFF chunk."""
    return b"RIFF" + le32(4 + len(body) if size is None else size) + b"WEBP" + body + after


def chunks(data):
    out, i = [], 12
    while i + 8 <= len(data):
        n = struct.unpack("<I", data[i + 4:i + 8])[0]
        out.append((data[i:i + 4], data[i + 8:i + 8 + n]))
        i += 8 + n + (n & 1)
    return out


def encode(image, **options):
    f = io.BytesIO()
    image.save(f, format="WEBP", **options)
    return f.getvalue()


def vp8x(flags, width, height, size=10):
    payload = bytes([flags, 0, 0, 0]) + le24(width - 1) + le24(height - 1)
    return chunk(b"VP8X", (payload + bytes(16))[:max(size, 10)], size=size)


def anmf(x, y, width, height, frame, size=None):
    header = le24(x // 2) + le24(y // 2) + le24(width - 1) + le24(height - 1) + le24(100) + b"\0"
    return chunk(b"ANMF", header + frame, size=size)


def cases():
    rgb = Image.new("RGB", (3, 2))
    rgb.putdata([(255, 0, 0), (0, 255, 0), (0, 0, 255), (9, 99, 199), (200, 100, 50), (255, 255, 255)])
    rgba = rgb.convert("RGBA")
    rgba.putpixel((0, 0), (1, 2, 3, 128))
    rgba.putpixel((2, 1), (40, 50, 60, 0))
    [(_, lossless)] = chunks(encode(rgb, lossless=True))
    [(_, lossy)] = chunks(encode(rgb, quality=80))
    [_, (_, alph), (_, lossy_a)] = chunks(encode(rgba, quality=80))
    [(_, lossless_a)] = chunks(encode(rgba, lossless=True))
    [(_, big)] = chunks(encode(Image.new("RGB", (257, 258), (10, 200, 30)), lossless=True))
    small = Image.new("RGB", (2, 1), (7, 77, 177))
    [(_, lossless_small)] = chunks(encode(small, lossless=True))
    assert len(lossless) % 2 == 0 and len(lossy) % 2 == 0 and len(alph) % 2 == 1

    VP8L = lambda payload=lossless, **k: chunk(b"VP8L", payload, **k)  # noqa: E731
    VP8 = lambda payload=lossy, **k: chunk(b"VP8 ", payload, **k)  # noqa: E731
    ALPH = chunk(b"ALPH", alph)
    JUNK = chunk(b"JUNK", b"abcd")

    # The simple formats, and what the RIFF size does to them.
    yield "vp8l", riff(VP8L())
    yield "vp8", riff(VP8())
    yield "vp8l-alpha", riff(VP8L(lossless_a))
    yield "vp8l-257x258", riff(VP8L(big))
    yield "vp8l-bytes-after-riff", riff(VP8L(), after=b"trailing bytes")
    yield "vp8l-riff-short-by-2", riff(VP8L(), size=4 + len(lossless) + 8 - 2)
    yield "vp8l-riff-long-by-2", riff(VP8L(), size=4 + len(lossless) + 8 + 2)
    for size in (7, 8, 11, 12):
        yield f"vp8l-riff-size-{size}", riff(VP8L(), size=size)
    yield "vp8l-riff-size-fffffff6", riff(VP8L(), size=0xFFFFFFF6)
    yield "vp8l-riff-size-fffffff7", riff(VP8L(), size=0xFFFFFFF7)
    yield "vp8l-riff-size-ffffffff", riff(VP8L(), size=0xFFFFFFFF)
    # Files too short for a first chunk tag or header.
    yield "riff-15-bytes", riff(b"VP8")
    yield "riff-16-bytes", riff(b"VP8L")
    yield "riff-19-bytes", riff(b"VP8L" + le32(5)[:3])
    yield "riff-20-bytes", riff(b"VP8L" + le32(0))
    yield "first-chunk-alph", riff(ALPH + VP8())
    yield "first-chunk-junk", riff(JUNK + VP8L())
    yield "first-chunk-vp8-lowercase", riff(b"vp8l" + VP8L()[4:])
    # Odd payloads: the pad byte is part of the chunk; without it the chunk runs past the RIFF end.
    odd = lossless + b"\x00"
    yield "vp8l-odd-padded", riff(VP8L(odd))
    yield "vp8l-odd-unpadded", riff(VP8L(odd, pad=False))
    yield "vp8l-odd-unpadded-bytes-after-riff", riff(VP8L(odd, pad=False), after=b"\0\0")
    yield "vp8l-size-past-riff", riff(VP8L(size=len(lossless) + 2))
    yield "vp8l-size-short-by-2", riff(VP8L(size=len(lossless) - 2))
    yield "vp8l-size-ffffffff", riff(VP8L(size=0xFFFFFFFF))
    yield "vp8l-size-fffffff7", riff(VP8L(size=0xFFFFFFF7))
    # What follows the image chunk of a simple file: nothing is read after it but chunk headers.
    yield "vp8l-then-junk", riff(VP8L() + JUNK)
    yield "vp8l-then-vp8l", riff(VP8L() + VP8L())
    yield "vp8l-then-junk-past-riff", riff(VP8L() + b"JUNK" + le32(100))
    yield "vp8l-then-4-bytes", riff(VP8L() + b"JUNK")
    yield "vp8l-then-7-bytes", riff(VP8L() + b"JUNK\0\0\0")
    yield "vp8l-then-4-bytes-then-bytes-after-riff", riff(VP8L() + b"JUNK", after=le32(2) + b"after riff")
    yield "vp8l-then-8-bytes", riff(VP8L() + b"JUNK\0\0\0\0")
    yield "vp8-then-alph", riff(VP8() + ALPH)
    yield "vp8-then-alph-alph", riff(VP8() + ALPH + ALPH)
    yield "vp8-then-vp8l", riff(VP8() + VP8L())
    # The VP8L header: signature, version, payload length.
    yield "vp8l-signature-2e", riff(VP8L(b"\x2e" + lossless[1:]))
    yield "vp8l-version-1", riff(VP8L(lossless[:4] + bytes([lossless[4] | 0x20]) + lossless[5:]))
    yield "vp8l-version-4", riff(VP8L(lossless[:4] + bytes([lossless[4] | 0x80]) + lossless[5:]))
    yield "vp8l-payload-4", riff(VP8L(lossless[:4]))
    yield "vp8l-payload-5", riff(VP8L(lossless[:5]))
    yield "vp8l-payload-6", riff(VP8L(lossless[:6]))
    yield "vp8l-payload-0", riff(VP8L(b""))
    # The VP8 frame header: key frame, profile, show bit, partition length, start code, sizes and scale bits.
    tag = lossy[0] | lossy[1] << 8 | lossy[2] << 16
    part = tag >> 5

    def vp8_tag(t, payload=lossy):
        return payload[:0] + le24(t) + payload[3:]

    yield "vp8-inter-frame", riff(VP8(vp8_tag(tag | 1)))
    yield "vp8-profile-3", riff(VP8(vp8_tag(tag & ~0xE | 3 << 1)))
    yield "vp8-profile-4", riff(VP8(vp8_tag(tag & ~0xE | 4 << 1)))
    yield "vp8-invisible", riff(VP8(vp8_tag(tag & ~0x10)))
    yield "vp8-partition-declared-minus-1", riff(VP8(vp8_tag(tag & 0x1F | (len(lossy) - 1) << 5)))
    yield "vp8-partition-declared", riff(VP8(vp8_tag(tag & 0x1F | len(lossy) << 5)))
    yield "vp8-payload-partition-length", riff(VP8(lossy[:part]))
    yield "vp8-payload-partition-length-plus-1", riff(VP8(lossy[:part + 1]))
    for i, name in ((3, "9d"), (4, "01"), (5, "2a")):
        yield f"vp8-start-code-{name}", riff(VP8(lossy[:i] + bytes([lossy[i] ^ 0x40]) + lossy[i + 1:]))
    yield "vp8-width-0", riff(VP8(lossy[:6] + b"\0\0" + lossy[8:]))
    yield "vp8-height-0", riff(VP8(lossy[:8] + b"\0\0" + lossy[10:]))
    yield "vp8-width-0-scaled", riff(VP8(lossy[:6] + b"\0\x40" + lossy[8:]))
    scaled = lossy[:7] + bytes([lossy[7] | 0xC0, lossy[8], lossy[9] | 0x40]) + lossy[10:]
    yield "vp8-scale-bits", riff(VP8(scaled))
    yield "vp8x-vp8-scale-bits", riff(vp8x(0, 3, 2) + VP8(scaled))
    yield "vp8-payload-9", riff(VP8(lossy[:9]))
    yield "vp8-payload-10", riff(VP8(lossy[:10]))
    yield "vp8-payload-10-partition-1", riff(VP8(vp8_tag(tag & 0x1F | 1 << 5, lossy[:10])))
    yield "vp8-payload-11", riff(VP8(lossy[:11]))
    # The partition length's top byte (the tag's third byte): 2048 more than the chunk holds.
    yield "vp8-partition-high-byte", riff(VP8(vp8_tag(tag | 1 << 16)))

    # VP8X still images: the chunk's size, flags, canvas, and what follows it.
    yield "vp8x-vp8l", riff(vp8x(0, 3, 2) + VP8L())
    yield "vp8x-vp8l-alpha", riff(vp8x(0x10, 3, 2) + VP8L(lossless_a))
    yield "vp8x-vp8l-alpha-no-flag", riff(vp8x(0, 3, 2) + VP8L(lossless_a))
    yield "vp8x-alph-vp8", riff(vp8x(0x10, 3, 2) + ALPH + VP8(lossy_a))
    yield "vp8x-alph-vp8-no-alpha-flag", riff(vp8x(0, 3, 2) + ALPH + VP8(lossy_a))
    yield "vp8x-vp8-alph", riff(vp8x(0x10, 3, 2) + VP8(lossy_a) + ALPH)
    yield "vp8x-vp8-alph-no-alpha-flag", riff(vp8x(0, 3, 2) + VP8(lossy_a) + ALPH)
    yield "vp8x-alph-alph-vp8", riff(vp8x(0x10, 3, 2) + ALPH + ALPH + VP8(lossy_a))
    yield "vp8x-alph-vp8l", riff(vp8x(0x10, 3, 2) + ALPH + VP8L(lossless_a))
    yield "vp8x-alph-only", riff(vp8x(0x10, 3, 2) + ALPH)
    yield "vp8x-alph-only-no-flag", riff(vp8x(0, 3, 2) + ALPH)
    yield "vp8x-alph-then-junk", riff(vp8x(0x10, 3, 2) + ALPH + JUNK)
    yield "vp8x-vp8l-vp8l", riff(vp8x(0, 3, 2) + VP8L() + VP8L())
    yield "vp8x-vp8l-junk-vp8l", riff(vp8x(0, 3, 2) + VP8L() + JUNK + VP8L())
    yield "vp8x-vp8x", riff(vp8x(0, 3, 2) + vp8x(0, 3, 2) + VP8L())
    yield "vp8x-junk-vp8l", riff(vp8x(0, 3, 2) + JUNK + VP8L())
    yield "vp8x-vp8l-junk", riff(vp8x(0, 3, 2) + VP8L() + JUNK)
    yield "vp8x-vp8l-then-4-bytes", riff(vp8x(0, 3, 2) + VP8L() + b"JUNK")
    yield "vp8x-junk-then-4-bytes", riff(vp8x(0, 3, 2) + VP8L() + JUNK + b"JUNK")
    yield "vp8x-junk-past-riff", riff(vp8x(0, 3, 2) + VP8L() + b"JUNK" + le32(6) + b"ab")
    yield "vp8x-junk-size-ffffffff", riff(vp8x(0, 3, 2) + VP8L() + b"JUNK" + le32(0xFFFFFFFF) + b"ab")
    yield "vp8x-only", riff(vp8x(0, 3, 2))
    yield "vp8x-then-4-bytes", riff(vp8x(0, 3, 2) + b"JUNK")
    yield "vp8x-junk-only", riff(vp8x(0, 3, 2) + JUNK)
    yield "vp8x-vp8l-size-past-riff", riff(vp8x(0, 3, 2) + VP8L(size=len(lossless) + 2))
    for size in (8, 9, 11, 12):
        yield f"vp8x-size-{size}", riff(vp8x(0, 3, 2, size=size) + VP8L())
    yield "vp8x-size-fffffff7", riff(vp8x(0, 3, 2, size=0xFFFFFFF7)[:18] + VP8L())
    yield "vp8x-size-past-riff", riff(vp8x(0, 3, 2)[:14])
    yield "vp8x-header-cut", riff(b"VP8X" + le32(10)[:2], size=10)
    # A RIFF end 4 to 7 bytes after the VP8X tag (fewer than a chunk header), or right after its header.
    yield "vp8x-riff-size-8", riff(vp8x(0, 3, 2) + VP8L(), size=8)
    yield "vp8x-riff-size-11", riff(vp8x(0, 3, 2) + VP8L(), size=11)
    yield "vp8x-chunk-header-only", riff(b"VP8X" + le32(10))
    # Exactly one chunk header after VP8X; a first chunk of 2^32-1 bytes, whose padded size wraps to 0 in 32 bits, so
    # only the MAX_CHUNK_PAYLOAD test refuses it.
    yield "vp8x-then-empty-junk", riff(vp8x(0, 3, 2) + chunk(b"JUNK", b""))
    yield "vp8x-junk-size-ffffffff-first", riff(vp8x(0, 3, 2) + b"JUNK" + le32(0xFFFFFFFF) + VP8L())
    yield "vp8x-reserved-bytes", riff(vp8x(0, 3, 2)[:9] + b"\xff\xff\xff" + vp8x(0, 3, 2)[12:] + VP8L())
    for flags in (0x01, 0x04, 0x08, 0x20, 0x40, 0x80, 0x3C):
        yield f"vp8x-flags-{flags:02x}", riff(vp8x(flags, 3, 2) + VP8L())
    yield "vp8x-canvas-4x2", riff(vp8x(0, 4, 2) + VP8L())
    yield "vp8x-canvas-3x3", riff(vp8x(0, 3, 3) + VP8L())
    yield "vp8x-canvas-2x2", riff(vp8x(0, 2, 2) + VP8L())
    yield "vp8x-canvas-3x1", riff(vp8x(0, 3, 1) + VP8L())
    yield "vp8x-257x258", riff(vp8x(0, 257, 258) + VP8L(big))
    yield "vp8x-257x258-canvas-1x258", riff(vp8x(0, 1, 258) + VP8L(big))
    yield "vp8x-257x258-canvas-257x2", riff(vp8x(0, 257, 2) + VP8L(big))
    yield "vp8x-257x258-canvas-65793x258", riff(vp8x(0, 257 + 65536, 258) + VP8L(big))
    yield "vp8x-257x258-canvas-257x65794", riff(vp8x(0, 257, 258 + 65536) + VP8L(big))
    yield "vp8x-canvas-65536x65536", riff(vp8x(0, 65536, 65536) + VP8L())
    yield "vp8x-canvas-65536x65535", riff(vp8x(0, 65536, 65535) + VP8L())
    yield "vp8x-canvas-65537x65536", riff(vp8x(0, 65537, 65536) + VP8L())
    yield "vp8x-canvas-16777216x256", riff(vp8x(0, 1 << 24, 256) + VP8L())
    yield "vp8x-canvas-16777216x255", riff(vp8x(0, 1 << 24, 255) + VP8L())
    yield "vp8x-vp8l-alpha-canvas-3x2", riff(vp8x(0x10, 3, 2) + VP8L(lossless_a))
    yield "vp8x-vp8-canvas-3x2", riff(vp8x(0, 3, 2) + VP8())

    # Animations: ANIM, ANMF and the frames' sizes and places.
    ANIM = chunk(b"ANIM", bytes(6))
    f1 = VP8L()
    f2 = VP8L(lossless_small)
    anim = lambda *frames, flags=0x02, w=3, h=2, head=ANIM: riff(vp8x(flags, w, h) + head + b"".join(frames))  # noqa: E731
    yield "anim", anim(anmf(0, 0, 3, 2, f1), anmf(0, 0, 2, 1, f2))
    yield "anim-one-frame", anim(anmf(0, 0, 3, 2, f1))
    yield "anim-alpha", anim(anmf(0, 0, 3, 2, ALPH + VP8(lossy_a)), flags=0x12)
    yield "anim-no-frames", anim()
    yield "anim-no-anim-chunk", anim(anmf(0, 0, 3, 2, f1), head=b"")
    yield "anim-anim-twice", anim(anmf(0, 0, 3, 2, f1), head=ANIM + ANIM)
    yield "anim-anim-size-4", anim(anmf(0, 0, 3, 2, f1), head=chunk(b"ANIM", bytes(4)))
    yield "anim-anim-size-5", anim(anmf(0, 0, 3, 2, f1), head=chunk(b"ANIM", bytes(5)))
    yield "anim-anim-size-8", anim(anmf(0, 0, 3, 2, f1), head=chunk(b"ANIM", bytes(8)))
    yield "anim-anim-past-riff", riff(vp8x(2, 3, 2) + b"ANIM" + le32(8) + bytes(6))
    yield "anim-flag-without-anim-vp8l", riff(vp8x(2, 3, 2) + VP8L())
    yield "anim-anim-then-vp8l", anim(VP8L(), flags=0)
    yield "anim-anim-then-alph", anim(ALPH + VP8(lossy_a), flags=0x10)
    yield "anim-anmf-no-anim-flag", anim(anmf(0, 0, 3, 2, f1), flags=0)
    yield "anim-anmf-no-anim-flag-then-vp8l", anim(anmf(0, 0, 3, 2, f1), VP8L(), flags=0)
    yield "anim-second-frame-at-2-2", anim(anmf(0, 0, 3, 2, f1), anmf(2, 2, 2, 1, f2), w=4, h=3)
    yield "anim-second-frame-at-2-0", anim(anmf(0, 0, 3, 2, f1), anmf(2, 0, 2, 1, f2), w=4)
    yield "anim-second-frame-x-past-canvas", anim(anmf(0, 0, 3, 2, f1), anmf(2, 0, 2, 1, f2))
    yield "anim-second-frame-y-past-canvas", anim(anmf(0, 0, 3, 2, f1), anmf(0, 2, 2, 1, f2))
    yield "anim-second-frame-y-at-edge", anim(anmf(0, 0, 3, 2, f1), anmf(0, 2, 2, 1, f2), h=3)
    yield "anim-frame-larger-than-canvas", anim(anmf(0, 0, 3, 2, f1), w=2)
    yield "anim-frame-taller-than-canvas", anim(anmf(0, 0, 3, 2, f1), h=1)
    yield "anim-frame-header-size-ignored", anim(anmf(0, 0, 1, 1, f1))
    yield "anim-frame-header-65536x65536", anim(anmf(0, 0, 65536, 65536, f1))
    yield "anim-frame-header-65536x65535", anim(anmf(0, 0, 65536, 65535, f1))
    yield "anim-frame-header-16777216x256", anim(anmf(0, 0, 1 << 24, 256, f1))
    yield "anim-frame-header-16777216x255", anim(anmf(0, 0, 1 << 24, 255, f1))
    yield "anim-frame-header-256x16777216", anim(anmf(0, 0, 256, 1 << 24, f1))
    yield "anim-frame-header-255x16777216", anim(anmf(0, 0, 255, 1 << 24, f1))
    yield "anim-offset-x-65536", anim(anmf(0, 0, 3, 2, f1), anmf(65536 * 2, 0, 2, 1, f2))
    yield "anim-offset-y-65536", anim(anmf(0, 0, 3, 2, f1), anmf(0, 65536 * 2, 2, 1, f2))
    yield "anim-offset-x-512", anim(anmf(0, 0, 3, 2, f1), anmf(512, 0, 2, 1, f2), w=514)
    yield "anim-offset-y-512", anim(anmf(0, 0, 3, 2, f1), anmf(0, 512, 2, 1, f2), h=513)
    yield "anim-offset-x-512-past", anim(anmf(0, 0, 3, 2, f1), anmf(512, 0, 2, 1, f2), w=513)
    yield "anim-offset-y-512-past", anim(anmf(0, 0, 3, 2, f1), anmf(0, 512, 2, 1, f2), h=512)
    frame = anmf(0, 0, 3, 2, f1)
    yield "anim-anmf-size-14", anim(anmf(0, 0, 3, 2, b"", size=14)[:8] + frame[8:22] + frame)
    yield "anim-anmf-size-15", anim(anmf(0, 0, 3, 2, b"", size=15)[:8] + frame[8:23] + b"\0" + frame)
    yield "anim-anmf-size-16", anim(anmf(0, 0, 3, 2, b"") + frame)
    yield "anim-anmf-empty-last", anim(frame, anmf(0, 0, 3, 2, b""))
    # An ANMF chunk too short for its 16-byte header, at the very end of the file.
    yield "anim-anmf-size-0-last", anim(frame, b"ANMF" + le32(0))
    yield "anim-anmf-size-10-last", anim(frame, chunk(b"ANMF", bytes(10)))
    yield "anim-anmf-5-bytes-last", anim(frame, anmf(0, 0, 3, 2, b"JUNK\0"))
    yield "anim-anmf-8-bytes-last", anim(frame, anmf(0, 0, 3, 2, b"JUNK" + le32(0)))
    yield "anim-anmf-junk-only", anim(frame, anmf(0, 0, 3, 2, JUNK))
    yield "anim-anmf-junk-first", anim(anmf(0, 0, 3, 2, JUNK + f1))
    yield "anim-anmf-short-by-2", anim(anmf(0, 0, 3, 2, f1, size=16 + len(f1) - 2))
    yield "anim-anmf-long-by-8", anim(anmf(0, 0, 3, 2, f1 + b"JUNK" + le32(0)))
    yield "anim-anmf-long-by-8-then-frame", anim(anmf(0, 0, 3, 2, f1 + b"JUNK" + le32(0)), anmf(0, 0, 2, 1, f2))
    yield "anim-anmf-junk-past-anmf-then-frame", anim(anmf(0, 0, 3, 2, f1 + JUNK[:8]), anmf(0, 0, 2, 1, f2))
    yield "anim-anmf-4-garbage-bytes-then-frame", anim(anmf(0, 0, 3, 2, f1 + b"\1\2\3\4"), anmf(0, 0, 2, 1, f2))
    yield "anim-anmf-size-past-riff", anim(anmf(0, 0, 3, 2, f1, size=16 + len(f1) + 2))
    yield "anim-anmf-subchunk-past-riff", anim(anmf(0, 0, 3, 2, VP8L(size=len(lossless) + 2)))
    yield "anim-alph-only-then-frame", anim(anmf(0, 0, 3, 2, ALPH), anmf(0, 0, 2, 1, f2), flags=0x12)
    yield "anim-alph-only-last", anim(anmf(0, 0, 3, 2, f1), anmf(0, 0, 2, 1, ALPH), flags=0x12)
    yield "anim-vp8-alph", anim(anmf(0, 0, 3, 2, VP8(lossy_a) + ALPH), flags=0x12)
    yield "anim-vp8-alph-no-alpha-flag", anim(anmf(0, 0, 3, 2, VP8(lossy_a) + ALPH), flags=0x02)
    yield "anim-alph-vp8l", anim(anmf(0, 0, 3, 2, ALPH + VP8L(lossless_a)), flags=0x12)
    yield "anim-frame-then-vp8l", anim(frame, VP8L())
    yield "anim-frame-then-vp8x", anim(frame, vp8x(2, 3, 2))
    yield "anim-frame-then-4-bytes", anim(frame, b"JUNK")
    yield "anim-flags-01", anim(frame, flags=0x03)


def main():
    files = [(name + ".webp", data) for name, data in cases()]
    assert len({name for name, _ in files}) == len(files), "duplicate case names"
    write_corpus(OUT, "tests/reference/webp/generate_webp.py", files)


if __name__ == "__main__":
    main()
