"""The Pillow 9.4 judge shared by the crafted-file corpora (tests/reference/<format>/generate_<format>.py).

Every corpus file is judged the way transformers' load_image opens an image: Image.open -> ImageOps.exif_transpose
-> convert("RGB"), with LOAD_TRUNCATED_IMAGES = False. load_image opens a local file by its path and anything else
(a URL's or base64's bytes) as BytesIO, and Pillow treats the two differently in one place: from a path, ImageFile.load
memory-maps a lone raw tile whose raw mode is the image mode, which ignores the tile's extents and takes the stride
as given (a TIFF with RowsPerStrip 0 or a BMP whose rows are shorter than their pixels then decodes, where from bytes
it is refused). So each file is judged both ways; the verdict is the BytesIO one, and where the path gives another
verdict or other pixels, that one is kept too, as "from_path". A corpus is a folder of files plus verdicts.json:

    {"pillow": "9.4.0", "generator": "...", "cases": [{"file", "size", "pillow": "accept"|"refuse",
      "width", "height", "pixels" (zlib + base64 RGB) | "reason", ["from_path": {...}], ["known_difference"]}]}

which tests/IJepa.Tests/PillowCorpus.cs loads. Files whose name ends in .gz are stored gzipped (for cases over
Pillow's 1 MiB read block); the verdict and "size" are those of the inflated bytes.
"""

import base64
import gzip
import io
import json
import os
import re
import tempfile
import zlib

import PIL
from PIL import Image, ImageFile, ImageOps

assert PIL.__version__.startswith("9.4"), f"judge with Pillow 9.4 (Debian's python3-pil), not {PIL.__version__}"
assert not ImageFile.LOAD_TRUNCATED_IMAGES


def judge(data):
    """Pillow's verdict on one file's bytes, opened as load_image opens bytes, and from a path where that differs."""
    verdict = _judge(io.BytesIO(data))
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "file")
        with open(path, "wb") as f:
            f.write(data)
        from_path = _judge(path)
    if (from_path["pillow"], from_path.get("width"), from_path.get("height"), from_path.get("pixels")) != (
            verdict["pillow"], verdict.get("width"), verdict.get("height"), verdict.get("pixels")):
        verdict["from_path"] = from_path
    return verdict


def _judge(source):
    """Its RGB pixels, or the exception it raises; source is a BytesIO or a path."""
    try:
        with Image.open(source) as im:
            im = ImageOps.exif_transpose(im)
            rgb = im.convert("RGB")
            return {"pillow": "accept", "width": rgb.width, "height": rgb.height,
                    "pixels": base64.b64encode(zlib.compress(rgb.tobytes(), 9)).decode()}
    except Exception as e:  # noqa: BLE001 - any refusal is a verdict
        # The message of an unidentified file names the BytesIO object by its address, or the path; neither is kept.
        reason = f"{type(e).__name__}: {e}"
        return {"pillow": "refuse", "reason": re.sub(r" (<_io\.BytesIO object at 0x[0-9a-f]+>|'[^']*')$", "", reason)}


def write_corpus(out, generator, files, known=None):
    """Writes each (file name, bytes) of `files` into `out` (emptied first) and their verdicts to verdicts.json.

    `known` maps a file name to the reason this library is known to differ from Pillow on it (the tests skip it).
    """
    known = dict(known or {})
    os.makedirs(out, exist_ok=True)
    for old in os.listdir(out):
        os.remove(os.path.join(out, old))
    verdicts = []
    for file, data in files:
        with open(os.path.join(out, file), "wb") as f:
            f.write(gzip.compress(data, 9, mtime=0) if file.endswith(".gz") else data)
        verdict = {"file": file, "size": len(data), **judge(data)}
        if file in known:
            verdict["known_difference"] = known.pop(file)
        verdicts.append(verdict)
    assert not known, f"known differences for files not in the corpus: {sorted(known)}"
    with open(os.path.join(out, "verdicts.json"), "w") as f:
        json.dump({"pillow": PIL.__version__, "generator": generator, "cases": verdicts}, f, indent=1)
        f.write("\n")
    accepted = sum(v["pillow"] == "accept" for v in verdicts)
    print(f"{len(verdicts)} cases, {accepted} accepted, {len(verdicts) - accepted} refused")
    return verdicts
