"""The classifier pieces on small synthetic tensors (no catalog, no MLflow)."""

import pytest
import torch
from torch import nn

from datagov.training.classify import Budget, accuracy, fit, reinitialized, train_classifier

NAMES = ["a", "b", "c"]


def blobs(n_per_class: int, seed: int):
    """Three separable classes of 1x4x4 'images' in [0, 1]."""
    g = torch.Generator().manual_seed(seed)
    xs, ys = [], []
    for c in range(3):
        centre = torch.zeros(1, 4, 4)
        centre.view(-1)[c * 5 : c * 5 + 5] = 1.0
        xs.append((centre + 0.1 * torch.randn(n_per_class, 1, 4, 4, generator=g)).clamp(0, 1))
        ys.append(torch.full((n_per_class,), c))
    return torch.cat(xs), torch.cat(ys)


def encoder():
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(16, 8), nn.ReLU(), nn.Linear(8, 4))


def run(strategy, enc, budget=Budget(epochs=30, patience=30, batch_size=8)):
    tx, ty = blobs(20, 1)
    vx, vy = blobs(5, 2)
    return train_classifier(
        strategy, enc, NAMES,
        train=lambda e: [(tx, ty)], train_ordered=lambda: [(tx, ty)], val=[(vx, vy)],
        budget=budget, device=torch.device("cpu"),
    )  # fmt: skip


def test_each_strategy_learns_separable_classes():
    ex, ey = blobs(10, 3)
    for strategy in ("finetune", "features", "scratch"):
        clf, _ = run(strategy, encoder())
        acc = accuracy(clf, [(ex, ey)], torch.device("cpu"), NAMES)
        assert acc.overall > 0.9, (strategy, acc)
        assert sum(total for _, total in acc.per_class.values()) == 30


def test_features_freezes_the_encoder_and_finetune_moves_it():
    enc = encoder()
    before = [p.clone() for p in enc.parameters()]
    frozen, _ = run("features", enc)
    tuned, _ = run("finetune", enc)
    assert all(torch.equal(a, b) for a, b in zip(before, frozen.encoder.parameters(), strict=True))
    assert not all(torch.equal(a, b) for a, b in zip(before, tuned.encoder.parameters(), strict=True))
    assert all(torch.equal(a, b) for a, b in zip(before, enc.parameters(), strict=True))  # the source is untouched


def test_scratch_starts_from_fresh_weights():
    enc = encoder()
    fresh = reinitialized(enc)
    assert not torch.equal(fresh[1].weight, enc[1].weight)
    assert fresh[1].weight.shape == enc[1].weight.shape


def test_early_stopping_restores_the_best_epoch():
    torch.manual_seed(0)
    model = nn.Linear(2, 2)
    x = torch.randn(64, 2)
    y = (x[:, 0] > 0).long()
    flipped = [(x, 1 - y)]  # validation labels disagree: val loss rises as training improves
    losses = []
    result = fit(
        model, [{"params": model.parameters(), "lr": 0.1}], lambda e: [(x, y)], flipped,
        epochs=50, patience=3, device=torch.device("cpu"),
        on_epoch=lambda e, m: losses.append(m["val_loss"]),
    )  # fmt: skip
    assert result.epochs_run < 50 and result.epochs_run == result.best_epoch + 4
    assert result.best_val_loss == min(losses)
    val_now = nn.functional.cross_entropy(model(x), 1 - y).item()
    assert abs(val_now - result.best_val_loss) < 1e-5  # the weights are the best epoch's


def test_per_class_accuracy_counts():
    class Fixed(nn.Module):
        def forward(self, x):
            return nn.functional.one_hot(x.long(), 3).float()

    preds = torch.tensor([0, 0, 1, 2, 2, 2])
    labels = torch.tensor([0, 1, 1, 2, 2, 0])
    acc = accuracy(Fixed(), [(preds, labels)], torch.device("cpu"), NAMES)
    assert acc.per_class == {"a": (1, 2), "b": (1, 2), "c": (2, 2)}
    assert acc.overall == 4 / 6 and acc.of("c") == 1.0


def test_batch_norm_statistics_are_recomputed_for_the_current_weights():
    from datagov.training.classify import recalibrate_batch_norm

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3))
    model[1].running_mean.fill_(50.0)  # stale: statistics of weights long gone
    batches = [(torch.randn(8, 4) + 2.0, torch.zeros(8, dtype=torch.long)) for _ in range(5)]
    recalibrate_batch_norm(model, lambda: batches, torch.device("cpu"))
    with torch.no_grad():
        means = torch.stack([model[0](x).mean(0) for x, _ in batches]).mean(0)
    assert torch.allclose(model[1].running_mean, means, atol=1e-5)  # the average of the batches' means
    assert model[1].momentum == 0.1  # restored
    plain = nn.Sequential(nn.Linear(4, 3))
    before = {k: v.clone() for k, v in plain.state_dict().items()}
    recalibrate_batch_norm(
        plain, lambda: pytest.fail("batches read for a model without batch norm"), torch.device("cpu")
    )
    assert all(torch.equal(before[k], v) for k, v in plain.state_dict().items())
