"""torchvision's published weights through `models import torchvision:ENUM.NAME`:
resolved from torchvision's own enums, downloaded over HTTP (from a server
the test runs on 127.0.0.1, as a mirror), and checked against the sha256 in
the file's published name, whether just downloaded or already cached."""

import hashlib
import json
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from threading import Thread

import pytest
import torch
from torchvision.models._api import Weights, WeightsEnum
from torchvision.transforms._presets import ImageClassification

from datagov.errors import InvalidInput
from datagov.pixels.shape import ImageShape
from datagov.training import published
from datagov.training.backbones import backbone_encoder

LICENSE = ["--license", "BSD-3-Clause"]


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def mirror(tmp_path, monkeypatch):
    """(folder served, its URL) on 127.0.0.1; torch's hub cache under tmp_path."""
    folder = tmp_path / "mirror"
    folder.mkdir()
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(folder)))
    Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    yield folder, f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def test_torchvision_names_resolve_to_a_backbone_url_and_hash_without_downloading():
    pub = published.resolve("torchvision:ResNet18_Weights.IMAGENET1K_V1")
    assert (pub.arch, pub.sha256_prefix, pub.crop) == ("resnet18", "f37072fd", 224)
    assert pub.url == "https://download.pytorch.org/models/resnet18-f37072fd.pth"
    assert pub.trained_on.startswith("ImageNet-1K")
    assert published.resolve("torchvision:MobileNet_V3_Small_Weights.IMAGENET1K_V1").arch == "mobilenet_v3_small"
    for wrong in ("torchvision:VGG16_Weights.IMAGENET1K_V1", "torchvision:Nope.V1", "torchvision:resnet18"):
        with pytest.raises(InvalidInput, match="not torchvision weights for a datagov backbone"):
            published.resolve(wrong)


def _published_file(folder, base):
    """A resnet18 state dict for 3x32x32 images, named as torchvision names its files."""
    torch.manual_seed(5)
    state = backbone_encoder("resnet18", ImageShape(3, 32, 32), 10).state_dict()
    tmp = folder / "upload.pth"
    torch.save(state, tmp)
    name = f"resnet18-{hashlib.sha256(tmp.read_bytes()).hexdigest()[:8]}.pth"
    tmp.rename(folder / name)

    class Tiny_Weights(WeightsEnum):  # named as torchvision names its enums
        IMAGENET1K_V1 = Weights(url=f"{base}/{name}", transforms=partial(ImageClassification, crop_size=32), meta={})

    return state, name, Tiny_Weights.IMAGENET1K_V1


def test_published_weights_download_check_and_import_as_declared(cli, ws, mirror, monkeypatch, tmp_path):
    folder, base = mirror
    state, name, weight = _published_file(folder, base)
    monkeypatch.setattr(published, "_lookup", lambda ref: (weight, "resnet18"))  # its own URL, not pytorch.org's

    first = cli("models", "import", "torchvision:Tiny_Weights.IMAGENET1K_V1", "--name", "tiny", *LICENSE)
    assert first.exit_code == 0, first.output
    cached = tmp_path / "torch" / "hub" / "checkpoints" / name
    assert cached.read_bytes() == (folder / name).read_bytes()
    from datagov.training.weights import load_model

    model = load_model(ws, "tiny", "1")
    assert torch.equal(model.encoder.conv1.weight, state["conv1.weight"])
    assert model.shape == ImageShape(3, 32, 32)  # 3 channels and torchvision's crop
    review = json.loads(cli("models", "review", "tiny", "1", "--json").stdout)
    declared = review["encoder"]["declared"] if review.get("encoder") else review["declared"]
    assert declared["source"] == f"{base}/{name}" and declared["trained_on"].startswith("ImageNet-1K")

    (folder / name).unlink()  # the second import reads the cache
    assert cli("models", "import", "torchvision:Tiny_Weights.IMAGENET1K_V1", "--name", "tiny", *LICENSE).exit_code == 0

    cached.write_bytes(cached.read_bytes() + b"\0")  # a cached file that changed
    refused = cli("models", "import", "torchvision:Tiny_Weights.IMAGENET1K_V1", "--name", "tiny", *LICENSE)
    assert refused.exit_code == 3 and f"not the {name[9:17]} its name promises" in refused.stderr
    assert "delete it" in refused.stderr and "Traceback" not in refused.output
    assert len(json.loads(cli("models", "list", "tiny", "--json").stdout)) == 2  # the refused one not registered


def test_a_download_whose_hash_does_not_match_its_name_is_refused_and_not_kept(cli, mirror, monkeypatch, tmp_path):
    folder, base = mirror
    torch.save({"fc.weight": torch.zeros(2, 2)}, folder / "resnet18-f37072fd.pth")  # not torchvision's file
    monkeypatch.setenv(published.MIRROR_ENV, base)
    out = cli("models", "import", "torchvision:ResNet18_Weights.IMAGENET1K_V1", "--name", "r18", *LICENSE)
    assert out.exit_code == 3, out.output
    assert "invalid hash value" in out.stderr and out.stderr.startswith("Error: ")
    assert not list((tmp_path / "torch" / "hub" / "checkpoints").iterdir())  # nothing half-downloaded kept
    assert cli("models", "list").stdout.startswith("No registered models yet.")


def test_an_unreachable_source_says_how_to_import_without_internet(cli, mirror, monkeypatch):
    _, base = mirror
    monkeypatch.setenv(published.MIRROR_ENV, base + "/missing")
    out = cli("models", "import", "torchvision:ResNet18_Weights.IMAGENET1K_V1", "--name", "r18", *LICENSE)
    assert out.exit_code == 1 and "cannot download" in out.stderr
    assert published.MIRROR_ENV in out.stderr and "import the file by path" in out.stderr
    bad = cli("models", "import", "torchvision:ResNet18_Weights.IMAGENET1K_V1", "--name", "r18", "--license", "BSD")
    assert bad.exit_code == 1 and "not an SPDX expression" in bad.stderr  # refused before any download
    missing = cli("models", "import", "weights.pth", "--name", "r18", *LICENSE)
    assert missing.exit_code == 1 and "needs --arch, --shape, --trained-on" in missing.stderr


def test_a_mirror_that_never_answers_times_out_and_leaves_nothing(cli, monkeypatch, tmp_path):
    import socket
    import time

    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        monkeypatch.setenv(published.MIRROR_ENV, f"http://127.0.0.1:{silent.getsockname()[1]}")
        monkeypatch.setattr(published, "DOWNLOAD_TIMEOUT", 1)
        t0 = time.monotonic()
        out = cli("models", "import", "torchvision:ResNet18_Weights.IMAGENET1K_V1", "--name", "r18", *LICENSE)
    assert time.monotonic() - t0 < 30
    assert out.exit_code == 1 and "cannot download" in out.stderr and "timed out" in out.stderr, out.output
    checkpoints = tmp_path / "torch" / "hub" / "checkpoints"
    assert not checkpoints.exists() or not list(checkpoints.iterdir())  # no .partial left
