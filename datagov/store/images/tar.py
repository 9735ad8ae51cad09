"""A small, strict tar reader for WebDataset shards: regular members in
order, read from a stream in large blocks that are hashed as they pass.

Python's `tarfile` spends tens of microseconds per member and reads a
stream in 10 KB pieces; a shard of a thousand small images has two thousand
members, so registering 200 shards in place would be bound by it. This
reader parses the 512-byte headers itself (POSIX ustar, GNU long names, pax
`path`/`size` records, base-256 sizes), checks every header's checksum, and
refuses what it does not understand, so registration (which counts members)
and use (which reads them) see the same members by construction.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

BLOCK = 512
READ = 8 << 20  # bytes asked of the underlying stream at once
SUMS_AT_ONCE = 4096  # header checksums verified together
_ZERO = bytes(BLOCK)
_FILE_TYPES = (b"0", b"\0", b"7")
_SKIPPED_TYPES = (b"1", b"2", b"3", b"4", b"5", b"6")  # links, devices, folders, fifos: never read


class TarError(Exception):
    """Bytes that are not a tar archive datagov can read."""


class HashingStream:
    """Reads a binary stream in large blocks, hashing every byte that passes.
    The parser reads `buf` from `pos` directly (method calls per 512-byte
    header would dominate) and calls `more` when it needs bytes past the end."""

    def __init__(self, raw, *, hashed: bool = True) -> None:
        self.raw, self.sha, self.size = raw, hashlib.sha256() if hashed else None, 0
        self.buf, self.pos = b"", 0

    def more(self, need: int) -> bool:
        """Make at least `need` bytes available from `pos`; False at the end of the stream."""
        while len(self.buf) - self.pos < need:
            block = self.raw.read(max(READ, need))
            if not block:
                return False
            if self.sha is not None:
                self.sha.update(block)
            self.size += len(block)
            self.buf = self.buf[self.pos :] + block
            self.pos = 0
        return True

    def take(self, n: int) -> bytes:
        self.more(n)
        out = self.buf[self.pos : self.pos + n]
        self.pos += len(out)
        return out

    def skip(self, n: int) -> int:
        """Skip up to n bytes (hashing them); returns how many were there."""
        avail = len(self.buf) - self.pos
        if n <= avail:
            self.pos += n
            return n
        done, self.buf, self.pos = avail, b"", 0
        while done < n:
            block = self.raw.read(READ)
            if not block:
                return done
            if self.sha is not None:
                self.sha.update(block)
            self.size += len(block)
            if done + len(block) > n:  # keep what lies past the skipped bytes
                self.buf, self.pos = block, n - done
                return n
            done += len(block)
        return done

    def drain(self) -> None:
        """Read to the end, so the hash covers every byte of the stream."""
        self.buf, self.pos = b"", 0
        while block := self.raw.read(READ):
            if self.sha is not None:
                self.sha.update(block)
            self.size += len(block)

    @property
    def sha256(self) -> str:
        assert self.sha is not None, "a stream made with hashed=False"
        return self.sha.hexdigest()


def _text(field: bytes) -> str:
    return field.split(b"\0", 1)[0].decode("utf-8", "backslashreplace")


MAX_MEMBER = 1 << 40  # 1 TiB: no member of a real shard is larger; beyond, a size is a lie
MAX_HEADER_DATA = 1 << 20  # a long name or pax header: kilobytes in practice


def _number(field: bytes) -> int:
    if field[:1] and field[0] & 0x80:  # base-256 (GNU), for sizes over 8 GB
        return int.from_bytes(bytes([field[0] & 0x7F]) + field[1:], "big")
    text = field.split(b"\0", 1)[0].strip()
    try:
        return int(text, 8) if text else 0
    except ValueError:
        raise TarError(f"not a tar archive (a header field reads {text[:12]!r})") from None


def _pax(data: bytes) -> dict[str, str]:
    """pax extended header records: 'LEN key=value\\n' each."""
    records, pos = {}, 0
    while pos < len(data):
        space = data.find(b" ", pos)
        if space < 0:
            break
        digits = data[pos:space]
        length = int(digits) if digits.isdigit() and len(digits) <= 8 else 0
        if length <= space - pos or pos + length > len(data):
            raise TarError(f"corrupt pax header (a record length reads {digits[:12]!r})")
        key, _, value = data[space + 1 : pos + length - 1].partition(b"=")
        records[key.decode("utf-8", "replace")] = value.decode("utf-8", "backslashreplace")
        pos += length
    return records


def members(stream: HashingStream, *, read: bool = True) -> Iterator[tuple[str, bytes | None]]:
    """(name, bytes) of each regular file member in order (`read=False`:
    bytes None; they still pass through the stream's hash)."""
    long_name: str | None = None
    pax: dict[str, str] = {}
    headers: list[bytes] = []
    first = True
    while True:
        if not stream.more(BLOCK):
            _check_sums(headers)
            if len(stream.buf) > stream.pos:
                raise TarError("truncated tar: the archive ends inside a header")
            return  # a missing end marker is tolerated, as by tar itself
        pos, buf = stream.pos, stream.buf
        header = buf[pos : pos + BLOCK]
        if header == _ZERO:
            _check_sums(headers)
            return  # end of archive
        headers.append(header)
        if first or len(headers) >= SUMS_AT_ONCE:
            _check_sums(headers)  # the first at once: a file that is no tar fails before its "sizes" are used
            first = False
        kind, size = header[156:157], _size(_number(header[124:136]), _text(header[:100]))
        if kind in (b"L", b"x", b"g") and size > MAX_HEADER_DATA:
            raise TarError(f"a long-name or pax header of {size:,} bytes (over {MAX_HEADER_DATA:,})")
        stream.pos = pos + BLOCK
        padded = size + (-size % BLOCK)
        if kind in _FILE_TYPES and long_name is None and not pax:  # the common case, kept short
            name = _text(header[:100])
            if header[257:262] == b"ustar" and header[345] != 0:
                name = f"{_text(header[345:500])}/{name}"
            yield name, _data(stream, size, padded, name, read)
            continue
        if kind in (b"L", b"x", b"g"):
            data = _data(stream, size, padded, "a long-name or pax header", True) or b""  # read=True: bytes
            if kind == b"L":
                long_name = _text(data)
            elif kind == b"x":
                pax = _pax(data)
            continue
        name = pax.get("path") or long_name or _text(header[:100])
        if "size" in pax:
            text = pax["size"].strip()
            if not text.isdigit():
                raise TarError(f"{name}: pax size {text[:20]!r} is not a number of bytes")
            if len(text) > 20:
                raise TarError(f"{name}: a pax size of {len(text)} digits: a corrupt or hostile header")
            size = _size(int(text), name)
            padded = size + (-size % BLOCK)
        long_name, pax = None, {}
        if kind in _FILE_TYPES:
            yield name, _data(stream, size, padded, name, read)
        elif kind in _SKIPPED_TYPES:
            _data(stream, size, padded, name, False)
        else:
            raise TarError(f"{name}: unsupported tar member type {kind!r}")


def _size(size: int, name: str) -> int:
    if size > MAX_MEMBER:
        raise TarError(f"{name}: a member size of {size:.3g} bytes (over {MAX_MEMBER:,}): a corrupt or hostile header")
    return size


def _check_sums(headers: list[bytes]) -> None:
    """Verify the checksums of many headers in one vectorised pass (summing
    512 bytes in Python costs as much as parsing the rest of the header)."""
    if not headers:
        return
    import numpy as np

    blocks = np.frombuffer(b"".join(headers), np.uint8).reshape(len(headers), BLOCK).astype(np.int64)
    computed = blocks.sum(axis=1) - blocks[:, 148:156].sum(axis=1) + 8 * 32  # the field counts as spaces
    for header, value in zip(headers, computed.tolist(), strict=True):
        if _number(header[148:156]) != value:
            raise TarError("not a tar archive, or a corrupt header (checksum mismatch)")
    headers.clear()


def _data(stream: HashingStream, size: int, padded: int, name: str, read: bool) -> bytes | None:
    if read:
        data = stream.take(size)
        if len(data) < size or stream.skip(padded - size) < padded - size:
            raise TarError(f"truncated tar: the archive ends inside {name}")
        return data
    if stream.skip(padded) < padded:
        raise TarError(f"truncated tar: the archive ends inside {name}")
    return None


def fast_names(data: bytes) -> list[bytes] | None:
    """Names of the regular members of an in-memory tar (see `fast_members`)."""
    found = fast_members(data)
    return None if found is None else found[0]


def fast_members(data: bytes) -> tuple[list[bytes], list[int], list[int]] | None:
    """(names, data offsets, sizes) of the regular members of an in-memory tar, found with numpy:
    the common layout (ustar headers with 11-digit octal sizes, regular files
    and folders, no long names) is recognised for all headers at once and the
    header chain walked through a table. None when anything is unusual; the
    caller then uses `members`, which reads every layout or says why not."""
    import numpy as np

    n_blocks = len(data) // BLOCK
    if n_blocks == 0 or len(data) % BLOCK:
        return None
    blocks = np.frombuffer(data, np.uint8).reshape(n_blocks, BLOCK)
    candidates = np.nonzero((blocks[:, 257:262] == np.frombuffer(b"ustar", np.uint8)).all(axis=1))[0]
    if candidates.size == 0:
        return None
    digits = blocks[candidates, 124:135].astype(np.int64) - 48
    well_formed = ((digits >= 0) & (digits <= 7)).all(axis=1) & np.isin(blocks[candidates, 135], (0, 32))
    sizes = digits @ (8 ** np.arange(10, -1, -1, dtype=np.int64))
    nexts = (candidates + 1 + (sizes + BLOCK - 1) // BLOCK).tolist()
    following = {c: n for c, n, good in zip(candidates.tolist(), nexts, well_formed.tolist(), strict=True) if good}
    chain, block = [], 0
    while block in following:
        chain.append(block)
        block = following[block]
    if block > n_blocks or (block < n_blocks and blocks[block].any()):
        # past the end (a member cut short) or at a block that is neither a
        # header we know nor the end marker: the careful reader says which
        return None
    if not chain:
        return None
    headers = blocks[chain]
    kinds = headers[:, 156]
    if not np.isin(kinds, (48, 0, 53)).all():  # '0', NUL, '5': anything else goes the careful way
        return None
    if not _sums_match(headers):
        raise TarError("not a tar archive, or a corrupt header (checksum mismatch)")
    regular = kinds != 53
    files = headers[regular]
    names = [row[:100].tobytes().split(b"\0", 1)[0] for row in files]
    prefixes = files[:, 345]
    for i in np.nonzero(prefixes)[0].tolist():
        names[i] = files[i, 345:500].tobytes().split(b"\0", 1)[0] + b"/" + names[i]
    chain_blocks = np.asarray(chain, np.int64)[regular]
    by_block = dict(zip(candidates.tolist(), sizes.tolist(), strict=True))
    return names, ((chain_blocks + 1) * BLOCK).tolist(), [by_block[b] for b in chain_blocks.tolist()]


def _sums_match(headers) -> bool:
    """Header checksums, all at once: the stored octal field (digits up to
    the first NUL or space) against the byte sum with the field as spaces."""
    import numpy as np

    wide = headers.astype(np.int64)
    computed = wide.sum(axis=1) - wide[:, 148:156].sum(axis=1) + 8 * 32
    stored = np.zeros(len(headers), np.int64)
    going = np.ones(len(headers), bool)
    for col in range(148, 156):
        digit = wide[:, col] - 48
        going &= (digit >= 0) & (digit <= 7)
        stored = np.where(going, stored * 8 + digit, stored)
    return bool((stored == computed).all())
