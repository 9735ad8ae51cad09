"""Per-image work done in worker processes: decode, describe, encode.

Kept free of pyarrow/torch imports so that worker processes start fast.
"""

from __future__ import annotations

import hashlib
import io

import numpy as np
from PIL import Image, UnidentifiedImageError

# Modes whose pixels we describe as they are; anything else is converted to RGB.
_NATIVE_MODES = {"L": 1, "LA": 2, "RGB": 3, "RGBA": 4}


class BadImage(Exception):
    """The bytes are not a complete, decodable image."""


def describe_pixels(pixels: np.ndarray) -> dict:
    """Feature columns for quality checks, from decoded HxW or HxWxC uint8 pixels."""
    if pixels.ndim == 2:
        height, width, channels = pixels.shape[0], pixels.shape[1], 1
    else:
        height, width, channels = pixels.shape
    h = hashlib.blake2b(digest_size=16)
    h.update(f"{height}x{width}x{channels}:".encode())
    h.update(np.ascontiguousarray(pixels).tobytes())
    scaled = pixels.astype(np.float64) / 255.0
    return {
        "height": int(height),
        "width": int(width),
        "channels": int(channels),
        "mean": float(scaled.mean()),
        "std": float(scaled.std()),
        "pixel_hash": h.hexdigest(),
    }


def decode(data: bytes) -> tuple[np.ndarray, str]:
    """(pixels, format) or BadImage naming why."""
    try:
        with Image.open(io.BytesIO(data)) as img:
            img.load()  # forces a full decode: truncated files fail here
            fmt = img.format or "unknown"
            if img.mode not in _NATIVE_MODES:
                img = img.convert("RGB")
            return np.asarray(img), fmt
    except UnidentifiedImageError:
        raise BadImage("not an image file") from None
    except (OSError, ValueError, SyntaxError) as exc:  # PIL reports truncation as OSError
        raise BadImage(str(exc) or type(exc).__name__) from None


def encode_png(pixels: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="PNG", optimize=False, compress_level=6)
    return buf.getvalue()


def decode_files(items: list[tuple[str, str, int | None]]) -> tuple[list[dict], list[tuple[str, str]]]:
    """Worker: [(absolute path, relative path, label)] -> (rows, [(relative path, reason)])."""
    rows, bad = [], []
    for path, rel, label in items:
        try:
            with open(path, "rb") as fh:
                data = fh.read()
            if not data:
                raise BadImage("empty file")
            pixels, fmt = decode(data)
        except (BadImage, OSError) as exc:
            bad.append((rel, str(exc)))
            continue
        rows.append({"image": data, "format": fmt, "path": rel, "label": label, **describe_pixels(pixels)})
    return rows, bad


def encode_arrays(chunk: tuple[np.ndarray, list[str], list[int | None]]) -> tuple[list[dict], list]:
    """Worker: raw uint8 arrays -> PNG bytes plus features."""
    arrays, ids, labels = chunk
    rows = []
    for pixels, item, label in zip(arrays, ids, labels, strict=True):
        if pixels.ndim == 3 and pixels.shape[2] == 1:
            pixels = pixels[:, :, 0]
        rows.append(
            {"image": encode_png(pixels), "format": "PNG", "path": item, "label": label,
             **describe_pixels(pixels)}
        )
    return rows, []
