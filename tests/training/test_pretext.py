"""The pretexts an autoencoder can train on: patch masks, where the loss is
counted, and validation that compares across epochs."""

import pytest
import torch

from datagov.training.pretext import MASK_SEED, Pretext, patch_mask, pixel_loss
from tests.training.conftest import SPEC, TINY, mlflow_runs

OFF = torch.autocast("cpu", enabled=False)


class Constant(torch.nn.Module):
    """Reconstructs every pixel as 0.5 whatever it sees; records its input."""

    def forward(self, x):
        self.seen = x
        return torch.zeros_like(x)  # logit 0: sigmoid 0.5


def test_patch_masks_blank_whole_patches_at_about_the_ratio():
    mask = patch_mask(torch.Size([200, 1, 28, 28]), 4, 0.3, torch.Generator().manual_seed(0))
    assert mask.shape == (200, 1, 28, 28)
    patches = mask.view(200, 1, 7, 4, 7, 4)
    assert torch.equal(patches.amax(dim=(3, 5)), patches.amin(dim=(3, 5)))  # each 4x4 patch all or nothing
    assert 0.27 < float(mask.mean()) < 0.33


def test_masks_cover_sides_that_do_not_divide_by_the_patch():
    mask = patch_mask(torch.Size([50, 3, 10, 9]), 4, 0.5, torch.Generator().manual_seed(1))
    assert mask.shape == (50, 1, 10, 9) and float(mask[:, :, 8:, :].mean()) > 0  # the partial last row of patches


def test_masked_loss_counts_only_the_blanked_pixels():
    images = torch.rand(8, 1, 12, 12, generator=torch.Generator().manual_seed(2))
    model = Constant()
    loss = Pretext("masked", "mse", mask_ratio=0.5, patch=4).step(model, images, False, OFF)
    mask = patch_mask(images.shape, 4, 0.5, torch.Generator().manual_seed(MASK_SEED))
    per_pixel = pixel_loss("mse")(torch.zeros_like(images), images)
    assert float(loss) == pytest.approx(float((per_pixel * mask).sum() / mask.sum()), rel=1e-6)
    assert float(loss) != pytest.approx(float(per_pixel.mean()), rel=1e-3)
    assert torch.equal(model.seen, images * (1 - mask))  # the model saw the blanked copy


def test_denoise_scores_every_pixel_and_validation_repeats_its_corruption():
    images = torch.rand(8, 1, 12, 12, generator=torch.Generator().manual_seed(3))
    pretext = Pretext("denoise", "bce", noise=0.2, mask_ratio=0.4, patch=3)
    model = Constant()
    first = pretext.step(model, images, False, OFF)
    seen = model.seen.clone()
    again = pretext.step(model, images, False, OFF)
    assert float(first) == float(again) and torch.equal(seen, model.seen)  # epochs compare
    expected = pixel_loss("bce")(torch.zeros_like(images), images).mean()
    assert float(first) == pytest.approx(float(expected), rel=1e-6)
    pretext.step(model, images, True, OFF)
    assert not torch.equal(seen, model.seen)  # training draws fresh masks and noise


def test_reconstruct_validates_on_clean_images():
    images = torch.rand(4, 1, 8, 8)
    model = Constant()
    Pretext("reconstruct", "mse", noise=0.5).step(model, images, False, OFF)
    assert torch.equal(model.seen, images)


@pytest.mark.parametrize(
    ("override", "problem"),
    [
        ("train.pretext=mae", "train.pretext: 'mae' is not one of reconstruct, denoise, masked"),
        ("train.mask_ratio=1.0", "train.mask_ratio: must be at most 0.99"),
        ("train.patch=0", "train.patch: must be at least 1"),
    ],
)
def test_bad_pretext_settings_are_named(digits_ws, override, problem):
    result = digits_ws("pretrain", SPEC, *TINY, override)
    assert result.exit_code == 1 and problem in result.stderr


def test_a_masked_pretraining_run_logs_its_pretext(digits_ws, ws):
    assert digits_ws("validate", "digits-pretrain", "--suite", "digits-pretrain").exit_code == 0
    masked = ["train.pretext=masked", "train.mask_ratio=0.5", "train.patch=2"]
    result = digits_ws("pretrain", SPEC, *TINY, *masked, "--no-progress")
    assert result.exit_code == 0, result.output
    [run] = mlflow_runs(ws)
    params = run.data.params
    assert (params["train.pretext"], params["train.mask_ratio"], params["train.patch"]) == ("masked", "0.5", "2")
    assert 0 < run.data.metrics["val_loss"] < 1
