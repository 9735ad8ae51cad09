"""Hostile files for the corpus: each is built by the test that uses it,
under tmp_path, from bytes written here (no fixtures checked in)."""

from __future__ import annotations

import io
import json
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def huge_png(width: int, height: int, *, palette: bool = False) -> bytes:
    """A valid-looking PNG header declaring width x height pixels: a few
    hundred bytes that would decode to gigabytes."""
    color_type, depth = (3, 8) if palette else (0, 8)
    head = png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, depth, color_type, 0, 0, 0))
    extra = png_chunk(b"PLTE", b"\0\0\0" * 256) if palette else b""
    body = png_chunk(b"IDAT", zlib.compress(b"\0" * (width + 1) * 4))
    return b"\x89PNG\r\n\x1a\n" + head + extra + body + png_chunk(b"IEND", b"")


def png(pixels: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="PNG")
    return buf.getvalue()


def bad_crc_png() -> bytes:
    """A real 8x8 PNG whose IDAT CRC is wrong (Pillow decodes it anyway)."""
    data = bytearray(png(np.arange(64, dtype=np.uint8).reshape(8, 8)))
    at = data.index(b"IDAT")
    length = int.from_bytes(data[at - 4 : at], "big")
    data[at + 4 + length] ^= 0xFF  # first byte of the CRC
    return bytes(data)


def image_folder(root: Path, n: int = 3) -> Path:
    for label in ("a", "b"):
        (root / label).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            (root / label / f"{i}.png").write_bytes(png(np.full((8, 8), 40 * i, dtype=np.uint8)))
    return root


def suite(path: Path, expectations: list[dict], name: str | None = None) -> Path:
    path.write_text(json.dumps({"name": name or path.stem, "expectations": expectations}))
    return path


def rows_query(query: str) -> dict:
    return {"type": "unexpected_rows_expectation", "kwargs": {"unexpected_rows_query": query}}


def alias_bomb() -> str:
    lines = ["a: &a [x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        prev, cur = chr(ord("a") + i - 1), chr(ord("a") + i)
        lines.append(f"{cur}: &{cur} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]")
    return "\n".join(lines) + "\nname: bomb\ndata: {dataset: digits, suites: [s]}\n"


def npz_bomb(path: Path, shape: tuple[int, ...] = (8_600_000_000,)) -> Path:
    """An .npz whose one member declares `shape` (8.6 GB of uint8) and holds a few bytes: what a
    zip of zeros inflates to, without writing gigabytes to make the test."""
    import io
    import zipfile

    from numpy.lib import format as npy

    header = io.BytesIO()
    npy.write_array_header_1_0(header, {"descr": "|u1", "fortran_order": False, "shape": shape})
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("x.npy", header.getvalue() + bytes(4096))  # the header writes the magic too
    return path


def _tar_header(name: bytes, size_field: bytes, kind: bytes) -> bytes:
    """One ustar header block with the given raw size field (12 bytes) and a correct checksum."""
    header = bytearray(512)
    header[: len(name)] = name
    header[100:108] = b"0000644\0"
    header[108:116] = header[116:124] = b"0000000\0"
    header[124:136] = size_field
    header[136:148] = b"00000000000\0"
    header[148:156] = b" " * 8
    header[156:157] = kind
    header[257:263] = b"ustar\0"
    header[263:265] = b"00"
    header[148:156] = f"{sum(header):06o}\0 ".encode()
    return bytes(header)


def _pad(data: bytes) -> bytes:
    return data + bytes(-len(data) % 512)


def tar_of(*blocks: bytes) -> bytes:
    return b"".join(blocks) + bytes(1024)


def tar_member(name: str, data: bytes, size_field: bytes | None = None) -> bytes:
    field = size_field if size_field is not None else f"{len(data):011o}\0".encode()
    return _tar_header(name.encode(), field, b"0") + _pad(data)


def pax_record(key: str, value: str, length: str | None = None) -> bytes:
    body = f" {key}={value}\n".encode()
    n = len(body) + len(str(len(body)))
    n += len(str(n)) - len(str(len(body)))
    return (length if length is not None else str(n)).encode() + body


def tar_with_pax(records: bytes, name: str = "a.png", data: bytes = b"x") -> bytes:
    pax = _tar_header(b"PaxHeaders/a", f"{len(records):011o}\0".encode(), b"x") + _pad(records)
    return tar_of(pax + tar_member(name, data))


def base256_size(value: int) -> bytes:
    return bytes([0x80]) + value.to_bytes(11, "big")


def webdataset_folder(root: Path, shard: bytes, extra: dict[str, bytes] | None = None) -> Path:
    """A folder with one good sample shard and the hostile one."""
    root.mkdir(parents=True, exist_ok=True)
    good = png(np.zeros((4, 4), np.uint8))
    (root / "shard-000.tar").write_bytes(tar_of(tar_member("s0.png", good), tar_member("s0.cls", b"1")))
    (root / "shard-001.tar").write_bytes(shard)
    return root
