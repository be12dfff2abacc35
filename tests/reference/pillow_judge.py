"""The Pillow 9.4 judge shared by the crafted-file corpora (tests/reference/<format>/generate_<format>.py).

Every corpus file is judged the way transformers' load_image opens an image: Image.open -> ImageOps.exif_transpose
-> convert("RGB"), with LOAD_TRUNCATED_IMAGES = False. A corpus is a folder of files plus verdicts.json:

    {"pillow": "9.4.0", "generator": "...", "cases": [{"file", "size", "pillow": "accept"|"refuse",
      "width", "height", "pixels" (zlib + base64 RGB) | "reason", ["known_difference"]}]}

which tests/IJepa.Tests/PillowCorpus.cs loads. Files whose name ends in .gz are stored gzipped (for cases over
Pillow's 1 MiB read block); the verdict and "size" are those of the inflated bytes.
"""

import base64
import gzip
import io
import json
import os
import re
import zlib

import PIL
from PIL import Image, ImageFile, ImageOps

assert PIL.__version__.startswith("9.4"), f"judge with Pillow 9.4 (Debian's python3-pil), not {PIL.__version__}"
assert not ImageFile.LOAD_TRUNCATED_IMAGES


def judge(data):
    """Pillow's verdict on one file's bytes: its RGB pixels, or the exception it raises."""
    try:
        with Image.open(io.BytesIO(data)) as im:
            im = ImageOps.exif_transpose(im)
            rgb = im.convert("RGB")
            return {"pillow": "accept", "width": rgb.width, "height": rgb.height,
                    "pixels": base64.b64encode(zlib.compress(rgb.tobytes(), 9)).decode()}
    except Exception as e:  # noqa: BLE001 - any refusal is a verdict
        # The message of an unidentified file names the BytesIO object by its address, which changes every run.
        return {"pillow": "refuse", "reason": re.sub(r" <_io\.BytesIO object at 0x[0-9a-f]+>", "", f"{type(e).__name__}: {e}")}


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
