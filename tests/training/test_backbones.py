"""torchvision ResNets as encoders: shapes and stems at the sizes they take,
then pretraining on the digits through the gate, safe weights that rebuild
the same module, and both transfer strategies from that encoder."""

import pytest
import torch

from datagov.training.backbones import ResNetAutoencoder, resnet_encoder
from datagov.training.inputs import ImageShape
from tests.training.conftest import SPEC, TRANSFER, mlflow_runs


@pytest.mark.parametrize("kind", ["resnet18", "resnet34"])
@pytest.mark.parametrize("shape", [(1, 8, 8), (3, 32, 32), (3, 64, 64)])
def test_the_autoencoder_gives_back_the_input_shape(kind, shape):
    model = ResNetAutoencoder(kind, ImageShape(*shape), latent=16).eval()
    x = torch.rand(2, *shape)
    assert model(x).shape == x.shape
    assert model.encoder(x).shape == (2, 16)


def test_small_images_get_the_small_image_stem_and_large_ones_torchvision_s():
    small, large = (
        resnet_encoder("resnet18", ImageShape(1, 32, 32), 8),
        resnet_encoder("resnet18", ImageShape(3, 64, 64), 8),
    )
    assert (small.conv1.kernel_size, small.conv1.stride, small.conv1.in_channels) == ((3, 3), (1, 1), 1)
    assert isinstance(small.maxpool, torch.nn.Identity)
    assert (large.conv1.kernel_size, large.conv1.stride, large.conv1.in_channels) == ((7, 7), (2, 2), 3)
    with pytest.raises(ValueError, match="must divide by 8"):
        ResNetAutoencoder("resnet18", ImageShape(1, 12, 12), 8)


RESNET = ["model.kind=resnet18", "model.latent=16", "train.epochs=1", "train.device=cpu",
          "register.model_name=digits-resnet"]  # fmt: skip
QUICK = ["train.epochs=3", "train.patience=2", "train.device=cpu", "encoder=models:/digits-resnet/1",
         "register.model_name=resnet-classifier", "register.promote_min.eval_accuracy=0"]  # fmt: skip


def test_a_resnet_encoder_pretrains_and_transfers_both_ways(pretrained, ws):
    result = pretrained("pretrain", SPEC, *RESNET, "--no-progress")
    assert result.exit_code == 0, result.output
    from datagov.training.weights import load_model

    loaded = load_model(ws, "digits-resnet", "1")  # safetensors checked against the catalog, rebuilt from its record
    assert isinstance(loaded, ResNetAutoencoder) and loaded.encoder.conv1.in_channels == 1
    for strategy in ("features", "finetune"):
        out = pretrained("transfer", TRANSFER, *QUICK, "--strategy", strategy, "--no-progress")
        assert out.exit_code == 0, out.output
        assert f"{strategy}: eval accuracy" in out.stdout
    classifier = load_model(ws, "resnet-classifier", "2")
    assert type(classifier.encoder).__name__ == "ResNet"
    with torch.no_grad():
        frozen = load_model(ws, "resnet-classifier", "1").eval()
        first = frozen.encoder.conv1.weight
        assert torch.equal(first, loaded.encoder.conv1.weight)  # features: the backbone did not move
        assert not torch.equal(classifier.encoder.conv1.weight, first)  # finetune: it did
    runs = {r.info.run_name: r for r in mlflow_runs(ws) if r.data.tags.get("datagov.stage") == "transfer"}
    assert runs["finetune"].data.tags["datagov.encoder_version"] == "models:/digits-resnet/1"
