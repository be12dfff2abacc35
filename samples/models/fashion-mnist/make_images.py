#!/usr/bin/python3
"""Writes the sample images: the first two test-split images of six Fashion-MNIST classes, as 28x28 gray PNGs.
Test images are used only as examples here; the model never trained on them.
    /usr/bin/python3 samples/models/fashion-mnist/make_images.py /usr/share/datasets/fashion-mnist
"""
import gzip
import os
import sys

import numpy as np
from PIL import Image

CLASSES = ["t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle-boot"]
KEEP = ["t-shirt", "trouser", "dress", "sneaker", "bag", "ankle-boot"]

src = sys.argv[1]
with gzip.open(os.path.join(src, "t10k-images-idx3-ubyte.gz")) as f:
    images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28)
with gzip.open(os.path.join(src, "t10k-labels-idx1-ubyte.gz")) as f:
    labels = np.frombuffer(f.read(), np.uint8, offset=8)
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "images")
os.makedirs(out, exist_ok=True)
for name in KEEP:
    for n, i in enumerate(np.flatnonzero(labels == CLASSES.index(name))[:2]):
        Image.fromarray(images[i]).save(os.path.join(out, f"{name}-{n + 1}.png"))
        print(f"{name}-{n + 1}.png: test image {i}")
