"""torchvision ResNets and MobileNetV3 as encoders: shapes and stems at the sizes they take,
then pretraining on the digits through the gate, safe weights that rebuild
the same module, and both transfer strategies from that encoder."""

import pytest
import torch

from datagov.pixels.shape import ImageShape
from datagov.training.backbones import BackboneAutoencoder, backbone_encoder
from tests.training.conftest import SPEC, TRANSFER, mlflow_runs


@pytest.mark.parametrize("kind", ["resnet18", "resnet34", "mobilenet_v3_small"])
@pytest.mark.parametrize("shape", [(1, 8, 8), (3, 32, 32), (3, 64, 64)])
def test_the_autoencoder_gives_back_the_input_shape(kind, shape):
    model = BackboneAutoencoder(kind, ImageShape(*shape), latent=16).eval()
    x = torch.rand(2, *shape)
    assert model(x).shape == x.shape
    assert model.encoder(x).shape == (2, 16)


def test_small_images_get_the_small_image_stem_and_large_ones_torchvision_s():
    small, large = (
        backbone_encoder("resnet18", ImageShape(1, 32, 32), 8),
        backbone_encoder("resnet18", ImageShape(3, 64, 64), 8),
    )
    assert (small.conv1.kernel_size, small.conv1.stride, small.conv1.in_channels) == ((3, 3), (1, 1), 1)
    assert isinstance(small.maxpool, torch.nn.Identity)
    assert (large.conv1.kernel_size, large.conv1.stride, large.conv1.in_channels) == ((7, 7), (2, 2), 3)


def test_sides_that_do_not_divide_by_the_downsampling_decode_to_the_image_s_size():
    """28x28 (MNIST, Fashion-MNIST): a 4x4 grid decoded to 32x32, cropped to 28x28."""
    model = BackboneAutoencoder("resnet18", ImageShape(1, 28, 28), 8).eval()
    assert model.grid[1:] == (4, 4)
    with torch.no_grad():
        assert model(torch.rand(2, 1, 28, 28)).shape == (2, 1, 28, 28)
        assert BackboneAutoencoder("resnet18", ImageShape(3, 12, 20), 8).eval()(torch.rand(1, 3, 12, 20)).shape == (
            1,
            3,
            12,
            20,
        )


def test_mobilenet_s_small_image_stem_keeps_an_8x8_grid_for_32_px_inputs():
    small = backbone_encoder("mobilenet_v3_small", ImageShape(1, 32, 32), 8).eval()
    large = backbone_encoder("mobilenet_v3_small", ImageShape(3, 64, 64), 8).eval()
    assert (small.features[0][0].in_channels, small.features[0][0].stride) == (1, (1, 1))
    assert small.features[1].block[0][0].stride == (1, 1)
    with torch.no_grad():
        assert small.features(torch.rand(1, 1, 32, 32)).shape[-2:] == (4, 4)  # 32 / 8
        assert large.features(torch.rand(1, 3, 64, 64)).shape[-2:] == (2, 2)  # 64 / 32, torchvision's stem
    assert small.classifier[3].out_features == 8  # the classifier's last layer is the latent layer


RESNET = ["model.kind=resnet18", "model.latent=16", "train.epochs=1", "train.device=cpu",
          "register.model_name=digits-resnet"]  # fmt: skip
QUICK = ["train.epochs=3", "train.patience=2", "train.device=cpu", "encoder=models:/digits-resnet/1",
         "register.model_name=resnet-classifier", "register.promote_min.eval_accuracy=0"]  # fmt: skip


def test_a_backbone_encoder_pretrains_and_transfers_both_ways(pretrained, ws):
    result = pretrained("pretrain", SPEC, *RESNET, "--no-progress")
    assert result.exit_code == 0, result.output
    from datagov.training.weights import load_model

    loaded = load_model(ws, "digits-resnet", "1")  # safetensors checked against the catalog, rebuilt from its record
    assert isinstance(loaded, BackboneAutoencoder) and loaded.encoder.conv1.in_channels == 1
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


def test_a_batch_norm_encoder_trained_from_scratch_learns_from_few_examples():
    """The feature scale of a fresh encoder is fitted on batch statistics (it has
    no running ones yet); fitted in eval mode it was off by orders of magnitude
    and a ResNet from scratch collapsed to one class."""
    from datagov.training.classify import Budget, accuracy, train_classifier

    g = torch.Generator().manual_seed(0)
    x = torch.rand(80, 1, 8, 8, generator=g) * 0.3
    y = torch.arange(80) % 2
    x[y == 1, :, :4] += 0.6  # class 1: a bright top half
    batches = [(x[i : i + 16], y[i : i + 16]) for i in range(0, 60, 16)]
    val = [(x[60:], y[60:])]
    encoder = backbone_encoder("resnet18", ImageShape(1, 8, 8), 8)
    budget = Budget(epochs=8, patience=8, batch_size=16, lr=3e-3, encoder_lr=3e-4, seed=0)
    cpu = torch.device("cpu")
    clf, fit = train_classifier("scratch", encoder, ["dark", "bright"], train=lambda _e: batches,
                                train_ordered=lambda: batches, val=val, budget=budget, device=cpu)  # fmt: skip
    assert fit.history[0]["train_loss"] < 5  # was about 1,000 with the scale fitted in eval mode
    assert accuracy(clf, val, cpu, ["dark", "bright"]).overall >= 0.9


def test_mobilenet_pretrains_and_fine_tunes_through_the_same_gate(pretrained, ws):
    spec = ["model.kind=mobilenet_v3_small", "model.latent=16", "train.epochs=1", "train.device=cpu",
            "register.model_name=digits-mobilenet"]  # fmt: skip
    assert (result := pretrained("pretrain", SPEC, *spec, "--no-progress")).exit_code == 0, result.output
    quick = [*QUICK[:3], "encoder=models:/digits-mobilenet/1", "register.model_name=mobilenet-classifier",
             "register.promote_min.eval_accuracy=0"]  # fmt: skip
    out = pretrained("transfer", TRANSFER, *quick, "--strategy", "finetune", "--no-progress")
    assert out.exit_code == 0, out.output
    from datagov.training.weights import load_model

    classifier = load_model(ws, "mobilenet-classifier", "1")
    assert type(classifier.encoder).__name__ == "MobileNetV3"
