"""The tar reader behind WebDataset shards: the same members as Python's
tarfile wrote, by the fast and the careful path, and clear refusals."""

import hashlib
import io
import tarfile

import pytest

from datagov.store.images.tar import HashingStream, TarError, fast_members, fast_names, members


def archive(fmt, names, link=True) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tf:
        folder = tarfile.TarInfo("d")
        folder.type = tarfile.DIRTYPE
        tf.addfile(folder)
        for i, name in enumerate(names):
            info = tarfile.TarInfo(name)
            data = f"member {i}".encode() * (i + 1)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
        if link:
            info = tarfile.TarInfo("d/link.png")
            info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
            tf.addfile(info)
    return buf.getvalue()


def careful(data: bytes, read=True):
    stream = HashingStream(io.BytesIO(data))
    out = list(members(stream, read=read))
    stream.drain()
    assert stream.sha256 == hashlib.sha256(data).hexdigest() and stream.size == len(data)
    return out


@pytest.mark.parametrize("fmt", [tarfile.USTAR_FORMAT, tarfile.GNU_FORMAT, tarfile.PAX_FORMAT])
def test_every_regular_member_in_order_links_and_folders_never_read(fmt):
    names = ["d/a.png", "d/a.cls", "ü/ñ.json", ("x" * 90) + "/" + ("y" * 60) + ".png"]
    data = archive(fmt, names)
    assert careful(data) == [(n, f"member {i}".encode() * (i + 1)) for i, n in enumerate(names)]
    assert [n for n, _ in careful(data, read=False)] == names
    assert [n.decode() for n in fast_names(archive(fmt, names[:2], link=False))] == names[:2]


def test_long_names_go_the_careful_way():
    data = archive(tarfile.GNU_FORMAT, ["z" * 150 + ".png"], link=False)
    assert fast_names(data) is None and careful(data)[0][0] == "z" * 150 + ".png"


def test_a_corrupt_header_truncation_and_garbage_are_refused():
    data = bytearray(archive(tarfile.USTAR_FORMAT, ["a.png", "b.png"], link=False))
    data[data.index(b"b.png") + 2] ^= 0x01  # in the second member's header
    for read in (lambda d: careful(d), fast_names):
        with pytest.raises(TarError, match="checksum mismatch"):
            read(bytes(data))
    whole = archive(tarfile.USTAR_FORMAT, ["a.png"], link=False)
    with pytest.raises(TarError, match=r"truncated tar: the archive ends inside a\.png"):
        careful(whole[: whole.index(b"member 0") + 4])
    with pytest.raises(TarError, match="not a tar archive"):
        careful(b"x" * 2048)


def test_a_last_member_cut_short_is_refused_by_both_paths():
    """A tar cut inside its last member (whole blocks, so only the chain of
    sizes shows it): neither path may hand out the shorter bytes."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tf:
        for name, size in (("a.png", 100), ("a.cls", 5000)):
            info = tarfile.TarInfo(name)
            info.size = size
            tf.addfile(info, io.BytesIO(b"7" * size))
    whole = buf.getvalue()
    cut = whole[: whole.index(b"7" * 5000) + 2048]  # 4 of the 10 data blocks of a.cls
    assert fast_names(cut) is None and fast_members(cut) is None
    with pytest.raises(TarError, match=r"truncated tar: the archive ends inside a\.cls"):
        careful(cut)
