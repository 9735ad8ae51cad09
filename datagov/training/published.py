"""torchvision's published weights (`torchvision:ResNet18_Weights.IMAGENET1K_V1`)
as a `models import` source: resolved from torchvision's enum, downloaded
into torch's hub cache, and imported through the same path as a local file
(declared, not verified).

The bytes are checked where they are used: torchvision names each file
with the leading hex digits of its sha256 (`resnet18-f37072fd.pth`), and
the file read for the import must start with them, whether it was just
downloaded or was already in the cache. A machine without internet can
point `DATAGOV_TORCHVISION_MIRROR` at a copy of download.pytorch.org/models
(an internal HTTP server) or import the downloaded file by path.
"""

from __future__ import annotations

import os
import re
import socket
from dataclasses import dataclass
from pathlib import Path

from datagov.errors import IntegrityError, InvalidInput, first_line

PREFIX = "torchvision:"
MIRROR_ENV = "DATAGOV_TORCHVISION_MIRROR"
_HASH_IN_NAME = re.compile(r"-([0-9a-f]{8,64})\.pth$")
_DATASETS = {"IMAGENET1K": "ImageNet-1K (1.28M images, 1,000 classes)"}


@dataclass(frozen=True)
class Published:
    ref: str  # e.g. ResNet18_Weights.IMAGENET1K_V1
    arch: str  # one of backbones.BACKBONES
    url: str
    sha256_prefix: str
    crop: int  # the side torchvision evaluates it at

    @property
    def trained_on(self) -> str:
        tag = self.ref.split(".", 1)[1].rsplit("_V", 1)[0]
        return f"{_DATASETS.get(tag, tag)}, as torchvision's {self.ref} states"


def is_published(weights: str) -> bool:
    return weights.startswith(PREFIX)


def _lookup(ref: str):
    """(the torchvision weights enum member, our backbone name) for `ref`."""
    from torchvision.models import get_model_weights, get_weight

    from datagov.training.backbones import BACKBONES

    try:
        weight = get_weight(ref)
    except (ValueError, KeyError, AttributeError):
        weight = None
    arch = next((k for k in BACKBONES if weight is not None and type(weight) is get_model_weights(k)), None)
    if arch is None:
        names = ", ".join(f"{get_model_weights(k).__name__}.<NAME>" for k in BACKBONES)
        raise InvalidInput(f"{PREFIX}{ref} is not torchvision weights for a datagov backbone ({names})",
                           hint="e.g. torchvision:ResNet18_Weights.IMAGENET1K_V1")  # fmt: skip
    return weight, arch


def resolve(weights: str) -> Published:
    """What `torchvision:ENUM.NAME` stands for; downloads nothing."""
    ref = weights.removeprefix(PREFIX)
    weight, arch = _lookup(ref)
    url = weight.url
    found = _HASH_IN_NAME.search(url)
    if found is None:  # every torchvision file carries it; refuse rather than import unchecked bytes
        raise IntegrityError(f"{url} has no sha256 prefix in its name, so its bytes cannot be checked")
    crop = int(getattr(weight.transforms, "keywords", {}).get("crop_size", 224))
    return Published(ref, arch, url, found.group(1), crop)


DOWNLOAD_TIMEOUT = 60  # seconds without a byte from the server


def fetch(published: Published, progress: bool = True) -> Path:
    """The weights file in torch's hub cache, downloaded (from the mirror if set) when absent."""
    import torch.hub

    name = published.url.rsplit("/", 1)[1]
    path = Path(torch.hub.get_dir()) / "checkpoints" / name
    if path.exists():
        return path
    mirror = os.environ.get(MIRROR_ENV, "").rstrip("/")
    url = f"{mirror}/{name}" if mirror else published.url
    path.parent.mkdir(parents=True, exist_ok=True)
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT)  # urllib waits forever on a server that never answers
    try:  # torch writes a temporary file beside it and renames only a complete, matching download
        torch.hub.download_url_to_file(url, str(path), hash_prefix=published.sha256_prefix, progress=progress)
    except RuntimeError as exc:
        raise IntegrityError(f"{url}: {first_line(exc)}") from None
    except OSError as exc:  # URLError, HTTPError, a refused connection
        raise InvalidInput(
            f"cannot download {url}: {getattr(exc, 'reason', None) or exc}",
            hint=f"on a machine without internet, set {MIRROR_ENV} to an internal copy of "
            f"download.pytorch.org/models, or download {name} elsewhere and import the file by path",
        ) from None
    finally:
        socket.setdefaulttimeout(previous)
    return path


def check_bytes(published: Published, path: Path, sha256: str) -> None:
    """The file read for the import is the one torchvision published."""
    if not sha256.startswith(published.sha256_prefix):
        raise IntegrityError(
            f"{path} has sha256 {sha256[:16]}…, not the {published.sha256_prefix} its name promises",
            hint="delete it; the next import downloads it again",
        )
