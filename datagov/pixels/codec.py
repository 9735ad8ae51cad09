"""One image codec for every layer: decode (bounded, PNG chunks checked,
channels fixed), describe (`pixel_features`, the feature columns every image
version has) and encode. Ingest, training, near-duplicate search and shift
all decode with `decode`, so an image accepted at ingest decodes the same way
everywhere. Free of pyarrow and torch, so worker processes start fast.
"""

from __future__ import annotations

import hashlib
import io
import math
import zlib

import numpy as np
from PIL import Image, UnidentifiedImageError

from datagov.pixels.fingerprints import thumbnail
from datagov.workspace import MAX_IMAGE_PIXELS

# Modes whose pixels we describe as they are; anything else is converted to RGB.
_NATIVE_MODES = {"L": 1, "LA": 2, "RGB": 3, "RGBA": 4}
MODE_OF_CHANNELS = {channels: mode for mode, channels in _NATIVE_MODES.items()}
# datagov checks the pixel count itself (`max_pixels`), before decoding, so
# Pillow's own bomb check (a warning, then an exception) is turned off.
Image.MAX_IMAGE_PIXELS = None
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class BadImage(Exception):
    """The bytes are not a complete, decodable image."""


FEATURES = ("height", "width", "channels", "mean", "std", "pixel_hash", "thumb")


def pixel_features(pixels: np.ndarray) -> tuple[int, int, int, float, float, str, bytes]:
    """Feature columns for quality checks and near-duplicate search, in
    FEATURES order, from decoded HxW or HxWxC uint8 pixels (a tuple: the hot
    loop appends them). The perceptual hashes are computed from the
    thumbnails a batch at a time, where the columns are written."""
    if pixels.ndim == 2:
        height, width, channels = pixels.shape[0], pixels.shape[1], 1
    else:
        height, width, channels = pixels.shape
    flat = np.ascontiguousarray(pixels).reshape(-1)
    h = hashlib.blake2b(f"{height}x{width}x{channels}:".encode(), digest_size=16)
    h.update(flat.tobytes())
    # Exact integer moments: n*sum(x^2) - sum(x)^2 has no cancellation error.
    # float64 holds every partial sum exactly (integers below 2**53 for any
    # image under ~10**11 pixels), and its dot product is several times faster
    # than int64's; the sum is a dot with ones for the same reason.
    wide = flat.astype(np.float64)
    n, total, squares = flat.size, int(wide @ _ones(flat.size)), int(wide @ wide)
    variance = (n * squares - total * total) / (n * n) if n else 0.0
    mean = total / n / 255.0 if n else 0.0
    std = math.sqrt(variance) / 255.0
    return int(height), int(width), int(channels), mean, std, h.hexdigest(), thumbnail(pixels)


_ONES = np.ones(0)


def _ones(n: int) -> np.ndarray:
    global _ONES
    if _ONES.size < n:
        _ONES = np.ones(max(n, 4096))
    return _ONES[:n]


def check_png_chunks(data: bytes) -> None:
    """Pillow skips the CRC of IDAT chunks (libpng does not), so a corrupt
    PNG would decode here and fail, or crash, elsewhere: check every chunk."""
    pos, view = len(_PNG_SIGNATURE), memoryview(data)  # a view: no copy of each chunk for its CRC
    while pos + 12 <= len(data):
        length = int.from_bytes(view[pos : pos + 4], "big")
        end = pos + 12 + length
        if end > len(data):
            raise BadImage("corrupt PNG: a chunk runs past the end of the file")
        kind = bytes(view[pos + 4 : pos + 8])
        if zlib.crc32(view[pos + 4 : pos + 8 + length]) != int.from_bytes(view[end - 4 : end], "big"):
            raise BadImage(f"corrupt PNG: CRC mismatch in a {kind.decode('latin-1')!r} chunk")
        if kind == b"IEND":
            return
        pos = end
    raise BadImage("corrupt PNG: no IEND chunk")


def decode(data: bytes, max_pixels: int = MAX_IMAGE_PIXELS, channels: int | None = None) -> tuple[np.ndarray, str]:
    """(pixels, format) or BadImage naming why. The one decoder: ingest and
    training both call it, so a file accepted at ingest decodes the same way
    later. `channels` converts to that many (training's fixed shape)."""
    if data[:8] == _PNG_SIGNATURE:
        check_png_chunks(data)
    try:
        with Image.open(io.BytesIO(data)) as img:
            width, height = img.size
            if width * height > max_pixels:  # checked from the header, before decoding
                raise BadImage(
                    f"{width}x{height} is {width * height:,} pixels, over the limit of {max_pixels:,} "
                    "([ingest] max_image_pixels in datagov.toml)"
                )
            img.load()  # forces a full decode: truncated files fail here
            fmt = img.format or "unknown"
            mode = MODE_OF_CHANNELS[channels] if channels else (img.mode if img.mode in _NATIVE_MODES else "RGB")
            converted = img.convert(mode) if img.mode != mode else img
            return np.asarray(converted), fmt
    except UnidentifiedImageError:
        raise BadImage("not an image file") from None
    except Image.DecompressionBombError as exc:
        raise BadImage(str(exc)) from None
    except (OSError, ValueError, SyntaxError, MemoryError) as exc:  # PIL reports truncation as OSError
        raise BadImage(str(exc) or type(exc).__name__) from None


def encode_png(pixels: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="PNG", optimize=False, compress_level=6)
    return buf.getvalue()
