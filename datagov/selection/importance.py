"""Importance resampling (DSIR: Xie et al. 2023, "Data Selection for
Language Models via Importance Resampling"), for any rows that can be
described by bags of discrete features or by embeddings.

Bags: a smoothed multinomial is fitted to the target's features and one to
the pool's; a row's log importance weight is the sum over its features of
log p_target(f) - log p_pool(f). Embeddings: a Gaussian for each, fitted in
a principal-component basis of both (few target rows cannot fit a full
covariance in the raw space). N rows are then drawn without replacement with
probability proportional to the weights: the Gumbel top-k trick, the N
largest of log w + Gumbel noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SMOOTHING = 1.0  # add-one: a feature the pool never shows does not make an infinite weight
MAX_COMPONENTS = 32
SHRINK = 0.1  # covariance shrinkage toward its diagonal


def bag_counts(ids: np.ndarray, size: int) -> np.ndarray:
    """How often each feature occurs in (N, K) feature ids."""
    return np.bincount(ids.ravel(), minlength=size).astype(np.float64)


def bag_log_probs(counts: np.ndarray) -> np.ndarray:
    smoothed = counts + SMOOTHING
    return np.log(smoothed / smoothed.sum())


def bag_log_weights(pool_ids: np.ndarray, target_ids: np.ndarray, size: int) -> np.ndarray:
    """log w of each pool row: its features' summed log ratio of target to pool frequency."""
    ratio = bag_log_probs(bag_counts(target_ids, size)) - bag_log_probs(bag_counts(pool_ids, size))
    return ratio[pool_ids].sum(axis=1)


def bag_kl(target_ids: np.ndarray, other_ids: np.ndarray, size: int) -> float:
    """KL(target || other) of the two smoothed feature distributions, in nats."""
    p = bag_log_probs(bag_counts(target_ids, size))
    q = bag_log_probs(bag_counts(other_ids, size))
    return float(np.sum(np.exp(p) * (p - q)))


@dataclass(frozen=True)
class Gaussian:
    mean: np.ndarray
    precision: np.ndarray
    log_det: float

    @classmethod
    def fit(cls, x: np.ndarray) -> Gaussian:
        cov = np.cov(x, rowvar=False) if len(x) > 1 else np.zeros((x.shape[1], x.shape[1]))
        cov = np.atleast_2d(cov)
        cov = (1 - SHRINK) * cov + SHRINK * np.diag(np.diag(cov)) + 1e-6 * np.eye(len(cov))
        _sign, log_det = np.linalg.slogdet(cov)
        return cls(x.mean(axis=0), np.linalg.inv(cov), float(log_det))

    def log_density(self, x: np.ndarray) -> np.ndarray:
        d = x - self.mean
        return -0.5 * (np.einsum("ij,jk,ik->i", d, self.precision, d) + self.log_det)


def principal_basis(pool: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both sets projected onto the leading components of their union."""
    both = np.concatenate([pool, target])
    center = both.mean(axis=0)
    k = min(MAX_COMPONENTS, both.shape[1], max(len(target) - 1, 1))
    _, _, vt = np.linalg.svd(both - center, full_matrices=False)
    basis = vt[:k].T
    return (pool - center) @ basis, (target - center) @ basis


def embedding_log_weights(pool: np.ndarray, target: np.ndarray) -> np.ndarray:
    p, t = principal_basis(pool.astype(np.float64), target.astype(np.float64))
    return Gaussian.fit(t).log_density(p) - Gaussian.fit(p).log_density(p)


def gumbel_top_k(log_weights: np.ndarray, k: int, seed: int) -> np.ndarray:
    """k distinct rows drawn with probability proportional to exp(log_weights), sorted."""
    noise = np.random.default_rng(seed).gumbel(size=len(log_weights))
    keys = log_weights + noise
    chosen = np.argpartition(-keys, k - 1)[:k] if k < len(keys) else np.arange(len(keys))
    return np.sort(chosen)


def effective_size(log_weights: np.ndarray) -> float:
    """Kish's effective sample size of the weights: how many rows they really draw on."""
    w = np.exp(log_weights - log_weights.max())
    return float(w.sum() ** 2 / np.square(w).sum())
