"""Image folders of real pictures (scikit-learn's digits, scaled to 32x32
PNGs) with planted near-copies of some of them: a JPEG re-encoding and a
resized, brightened copy, as a takedown request meets them in a corpus."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


def digit_images(count: int, offset: int = 0) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = (digits.images[offset : offset + count] * (255 / 16)).astype(np.uint8)
    return images, digits.target[offset : offset + count]


def big(pixels: np.ndarray) -> Image.Image:
    return Image.fromarray(pixels).resize((32, 32), Image.Resampling.BICUBIC)


def corpus_folder(root: Path, count: int = 240, planted: int = 4) -> tuple[Path, list[Path]]:
    """`count` digits in one folder per class, plus two near-copies of each of
    the first `planted`; returns the folder and the takedown examples (the
    originals, as the requester sends them, outside the corpus)."""
    images, labels = digit_images(count)
    corpus, takedown = root / "corpus", root / "takedown"
    takedown.mkdir(parents=True)
    for i, (pixels, label) in enumerate(zip(images, labels, strict=True)):
        folder = corpus / f"class{label}"
        folder.mkdir(parents=True, exist_ok=True)
        big(pixels).save(folder / f"img{i:04d}.png")
    examples = []
    for i in range(planted):
        folder = corpus / f"class{labels[i]}"
        big(images[i]).convert("RGB").save(folder / f"reposted{i}.jpg", quality=80)
        brighter = np.clip(images[i].astype(int) + 25, 0, 255).astype(np.uint8)
        Image.fromarray(brighter).resize((40, 40), Image.Resampling.BILINEAR).save(folder / f"resized{i}.png")
        example = takedown / f"photo{i}.png"
        big(images[i]).save(example)
        examples.append(example)
    return corpus, examples
