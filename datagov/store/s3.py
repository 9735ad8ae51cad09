"""Objects in S3 or an S3-compatible store, through pyarrow's S3 filesystem.

One client for everything datagov does with a bucket: listing, hashing as
read, downloading verified copies, uploading parts, deleting its own debris.
Settings come from the standard AWS variables and files: credentials through
the AWS SDK's default chain (`AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`,
`~/.aws/credentials`, `AWS_PROFILE`), region from `AWS_REGION` (or
`AWS_DEFAULT_REGION`), and the endpoint of an on-premises store from
`AWS_ENDPOINT_URL_S3` or `AWS_ENDPOINT_URL` (pyarrow 25 does not read these
two itself, so they are passed on here).
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit

from datagov.errors import DatagovError, InvalidInput

CHUNK = 8 << 20
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


class StoreError(DatagovError):
    """The object store could not be reached or refused a request."""


HINT = (
    "check the bucket name and the AWS settings: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY "
    "(or ~/.aws/credentials), AWS_REGION, and AWS_ENDPOINT_URL for an S3-compatible server"
)


def is_s3(url: str) -> bool:
    return url.startswith("s3://")


@dataclass(frozen=True)
class S3Url:
    bucket: str
    key: str  # no leading or trailing '/'; "" is the bucket's root

    @classmethod
    def parse(cls, url: str) -> S3Url:
        if not is_s3(url):
            raise InvalidInput(f"not an s3:// URL: {url!r}")
        bucket, _, key = url[len("s3://") :].partition("/")
        key = key.strip("/")
        if not _BUCKET.match(bucket):
            raise InvalidInput(f"invalid bucket name {bucket!r} in {url!r}: 3-63 lower-case letters, digits, '.', '-'")
        if any(part in ("", ".", "..") for part in key.split("/")) and key:
            raise InvalidInput(f"invalid key prefix in {url!r}: no empty, '.' or '..' parts")
        return cls(bucket, key)

    @property
    def path(self) -> str:
        """The path pyarrow's filesystem takes: bucket/key."""
        return f"{self.bucket}/{self.key}" if self.key else self.bucket

    def __str__(self) -> str:
        return f"s3://{self.path}"

    def child(self, name: str) -> S3Url:
        return S3Url(self.bucket, f"{self.key}/{name}" if self.key else name)


def endpoint_settings(given: Mapping[str, str] | None = None) -> dict:
    """Keyword arguments for pyarrow's S3FileSystem from the AWS variables."""
    env: Mapping[str, str] = os.environ if given is None else given
    kwargs: dict = {}
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")
    if region:
        kwargs["region"] = region
    endpoint = env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL")
    if endpoint:
        parts = urlsplit(endpoint if "://" in endpoint else f"https://{endpoint}")
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise InvalidInput(f"AWS_ENDPOINT_URL={endpoint!r} is not an http(s) URL")
        kwargs["endpoint_override"] = parts.netloc
        kwargs["scheme"] = parts.scheme
    return kwargs


@cache
def _filesystem(settings: tuple):
    from pyarrow import fs

    return fs.S3FileSystem(**dict(settings))


def filesystem():
    """The process's S3 client for the current settings."""
    return _filesystem(tuple(sorted(endpoint_settings().items())))


@contextmanager
def store_errors(what: str) -> Iterator[None]:
    """Turn the SDK's OSError into one line that says what failed and what to check."""
    try:
        yield
    except OSError as exc:
        detail = str(exc).split("; Details:")[0].strip()
        raise StoreError(f"{what}: {detail}", hint=HINT) from exc


@dataclass(frozen=True)
class ObjectInfo:
    name: str  # relative to the listed prefix
    size: int


def list_objects(prefix: S3Url) -> list[ObjectInfo]:
    """Every object under `prefix/`, names relative to it, sorted."""
    from pyarrow import fs

    with store_errors(f"cannot list {prefix}"):
        infos = filesystem().get_file_info(fs.FileSelector(prefix.path, recursive=True, allow_not_found=True))
    base = prefix.path + "/"
    return sorted(
        (ObjectInfo(i.path[len(base) :], i.size) for i in infos if i.type == fs.FileType.File),
        key=lambda o: o.name,
    )


def explain_empty(prefix: S3Url) -> str | None:
    """Why a listing came back empty, when the reason is not "no objects":
    pyarrow reports a missing bucket, and a server that is no S3 server at
    all, as an empty listing. One unsigned request tells them apart."""
    from pyarrow import fs

    with store_errors(f"cannot list {prefix}"):
        if filesystem().get_file_info(prefix.bucket).type != fs.FileType.NotFound:
            return None
    settings = endpoint_settings()
    endpoint = (
        f"{settings['scheme']}://{settings['endpoint_override']}" if "endpoint_override" in settings
        else "https://s3.amazonaws.com"
    )  # fmt: skip
    code = _error_code(f"{endpoint}/{prefix.bucket}")
    if code == "NoSuchBucket":
        return f"bucket {prefix.bucket!r} does not exist at {endpoint}"
    if code:
        return f"bucket {prefix.bucket!r} cannot be listed with these credentials at {endpoint} ({code})"
    return f"{endpoint} does not answer as an S3-compatible server (check AWS_ENDPOINT_URL)"


def _error_code(url: str) -> str | None:
    """The S3 error code (<Error><Code>) a server answers an unsigned request with, if it speaks S3."""
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            body = response.read(4096)
    except urllib.error.HTTPError as exc:
        body = exc.read(4096)
    except OSError:
        return None
    found = re.search(rb"<Error>\s*<Code>([A-Za-z]+)</Code>", body)
    return found[1].decode() if found else None


def exists(url: S3Url) -> bool:
    from pyarrow import fs

    with store_errors(f"cannot read {url}"):
        return filesystem().get_file_info(url.path).type == fs.FileType.File


def etag(url: S3Url) -> str:
    """The ETag the store reports for an object now (one request)."""
    with store_errors(f"cannot read {url}"), filesystem().open_input_file(url.path) as fh:
        return fh.metadata().get("ETag", b"").decode().strip('"')


def read_hashed(url: S3Url, sink: Callable[[bytes], object] | None = None) -> tuple[str, int, str]:
    """Stream an object once: (sha256, size, ETag), each block also passed to `sink`.

    The reads are ranged requests that the client cannot pin to one version
    of the object, so the bytes are proven to be one object afterwards: their
    MD5 must equal a single-part ETag, and a multipart ETag must be the same
    after the last block as before the first. An object replaced while it was
    read is an error, never a digest of two objects."""
    h, md5, size = hashlib.sha256(), hashlib.md5(usedforsecurity=False), 0
    with store_errors(f"cannot read {url}"), filesystem().open_input_stream(url.path) as fh:
        etag = fh.metadata().get("ETag", b"").decode().strip('"')
        while block := fh.read(CHUNK):
            h.update(block)
            md5.update(block)
            size += len(block)
            if sink is not None:
                sink(block)
    require_one_object(url, etag, md5.hexdigest())
    return h.hexdigest(), size, etag


def require_one_object(url: S3Url, etag_before: str, md5: str) -> None:
    if not etag_before or md5 == etag_before.lower():
        return  # no ETag to hold it to (the sha256 is checked where the bytes are used), or exactly one object
    # A multipart ETag (or an encrypted store's, which is no MD5) says nothing of
    # the bytes: the same ETag after the last block as before the first must do.
    if etag(url) == etag_before and (not _is_md5(etag_before) or not _md5_etags_expected()):
        return
    raise StoreError(
        f"{url} changed while it was read (ETag {etag_before} at the start, other bytes by the end)",
        hint="run the command again once nothing is writing the object",
    )


class Md5Tee:
    """A stream's `read`, with an MD5 of every byte read through it (for `require_one_object`)."""

    def __init__(self, raw) -> None:
        self.raw, self.md5 = raw, hashlib.md5(usedforsecurity=False)

    def read(self, n: int | None = None) -> bytes:
        block = self.raw.read() if n is None or n < 0 else self.raw.read(n)
        self.md5.update(block)
        return block


def _is_md5(etag_value: str) -> bool:
    return len(etag_value) == 32 and all(c in "0123456789abcdef" for c in etag_value.lower())


def _md5_etags_expected() -> bool:
    """Whether a single-part ETag is the MD5 of the bytes (S3 without KMS, MinIO, moto):
    DATAGOV_S3_ETAG_IS_MD5=0 for a store whose ETags are not (e.g. SSE-KMS)."""
    return os.environ.get("DATAGOV_S3_ETAG_IS_MD5", "1") != "0"


def download_hashed(url: S3Url, dest: Path) -> tuple[str, int, str]:
    """Copy an object to `dest`, hashing the bytes as they are written."""
    with open(dest, "wb") as out:
        return read_hashed(url, out.write)


def upload_folder(folder: Path, prefix: S3Url, names: list[str], done: list[str] | None = None) -> None:
    """Upload each file; `done` hears the name of every object that was started."""
    with store_errors(f"cannot write to {prefix}"):
        s3 = filesystem()
        for name in names:
            with open(folder / name, "rb") as src, s3.open_output_stream(prefix.child(name).path) as out:
                if done is not None:
                    done.append(name)
                while block := src.read(CHUNK):
                    out.write(block)


def delete_prefix(prefix: S3Url) -> None:
    with store_errors(f"cannot delete {prefix}"):
        filesystem().delete_dir_contents(prefix.path, missing_dir_ok=True)
        from pyarrow import fs

        if filesystem().get_file_info(prefix.path).type == fs.FileType.Directory:
            filesystem().delete_dir(prefix.path)
