"""Channels-last placement: conv weights change layout, not values, and the
saved weights and their digest do not depend on it."""

import torch

from datagov.pixels.shape import ImageShape
from datagov.training import weights
from datagov.training.placement import place


def _conv_weights(model: torch.nn.Module) -> list[torch.Tensor]:
    return [p for p in model.parameters() if p.dim() == 4]


def test_conv_weights_become_channels_last_with_the_same_values():
    arch = weights.autoencoder_arch("conv", ImageShape(1, 28, 28), [], [8, 16], 4)
    torch.manual_seed(0)
    plain = weights.build(arch)
    placed = place(weights.build(arch).requires_grad_(False))
    placed.load_state_dict(plain.state_dict())
    assert _conv_weights(placed) and all(
        p.is_contiguous(memory_format=torch.channels_last) for p in _conv_weights(placed)
    )
    # (a one-channel kernel is both layouts at once)
    assert not all(p.is_contiguous(memory_format=torch.channels_last) for p in _conv_weights(plain))
    x = torch.rand(4, 1, 28, 28)
    with torch.no_grad():
        assert torch.allclose(plain(x), placed(x), atol=1e-5)


def test_saved_weights_do_not_depend_on_the_layout(tmp_path):
    arch = weights.autoencoder_arch("conv", ImageShape(1, 28, 28), [], [8, 16], 4)
    torch.manual_seed(0)
    model = weights.build(arch)
    (tmp_path / "plain").mkdir(), (tmp_path / "placed").mkdir()
    _, plain_sha, _ = weights.save_weights(model, tmp_path / "plain")
    _, placed_sha, _ = weights.save_weights(place(model), tmp_path / "placed")
    assert placed_sha == plain_sha


def test_an_mlp_is_only_moved():
    model = weights.build(weights.autoencoder_arch("mlp", ImageShape(1, 8, 8), [16], [8], 4))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    after = place(model).state_dict()
    assert all(torch.equal(before[k], after[k]) and after[k].is_contiguous() for k in before)
