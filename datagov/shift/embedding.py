"""Shift seen by the pretrained autoencoder: MMD between the two sides'
embeddings, and their reconstruction errors (the autoencoder's own
out-of-distribution signal). Both sides are seeded samples of at most
`sample` images, drawn by DuckDB, so the cost is bounded whatever the size.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from datagov.catalog.db import open_catalog
from datagov.catalog.images import image_shape
from datagov.catalog.versions import Version, scan_version
from datagov.store import duckdb_connection
from datagov.workspace import Workspace

PLOT_POINTS = 600  # per side in the PCA scatter


@dataclass
class EmbeddingShift:
    encoder: str  # as given
    pinned: str  # models:/NAME/VERSION or runs:/…
    node: tuple[str, str]
    samples: tuple[int, int]
    mmd2: float
    p_value: float
    bandwidth: float
    permutations: int
    drift: bool
    recon: dict = field(default_factory=dict)  # medians, KS, histogram
    pca: dict = field(default_factory=dict)  # 2-D points per side, explained variance
    note: str = ""


def default_encoder(ws: Workspace, reference: Version) -> tuple[str | None, str]:
    """(the encoder `shift` uses when none is named, why that one): the model
    of the newest finished pretraining on the reference whose gate opened
    without a waiver; None, with the reason, when there is none."""
    from datagov.catalog.runs import newest_pretrained_model

    with open_catalog(ws) as con:
        model = newest_pretrained_model(con, reference.digest)
        waived = newest_pretrained_model(con, reference.digest, waived=True)
    if model:
        uri = f"models:/{model[0]}/{model[1]}"
        return uri, f"encoder {uri}: the newest pretraining on {reference.ref} whose gate opened without a waiver"
    if waived:
        return None, (
            f"no encoder compared: every pretraining on {reference.ref} ran under a waiver; "
            f"pass --encoder models:/{waived[0]}/{waived[1]} to use one anyway"
        )
    return None, f"no encoder compared: no finished pretraining run on {reference.ref}; pass --encoder MODEL_URI"


def sample_images(ws: Workspace, version: Version, n: int, seed: int):
    """At most n encoded images of the version, a seeded reservoir sample,
    decoded to a uint8 tensor."""
    from datagov.pixels.tensors import decode_batch

    shape = image_shape(ws, version)
    con = duckdb_connection()
    try:
        blobs = [
            r[0]
            for r in con.execute(
                f"SELECT image FROM {scan_version(ws, version)} "
                f"USING SAMPLE reservoir({int(n)} ROWS) REPEATABLE ({int(seed)})"
            ).fetchall()
        ]
    finally:
        con.close()
    return decode_batch(blobs, shape)


def embedding_shift(
    ws: Workspace,
    reference: Version,
    target: Version,
    encoder,  # a loaded encoder (`training.encoders.LoadedEncoder`): its model, URI and input shape
    *,
    sample: int = 2000,
    permutations: int = 200,
    alpha: float = 0.05,
    seed: int = 0,
) -> EmbeddingShift:
    import torch

    from datagov.pixels.tensors import to_unit_float
    from datagov.shift import stats
    from datagov.shift.mmd import mmd_test

    model = encoder.model
    embeddings, errors = [], []
    with torch.no_grad():
        for version in (reference, target):
            x = to_unit_float(sample_images(ws, version, sample, seed))
            z, err = [], []
            for batch in x.split(1024):
                z.append(model.encoder(batch))
                reconstructed = torch.sigmoid(model(batch))
                err.append((reconstructed - batch).pow(2).flatten(1).mean(1))
            embeddings.append(torch.cat(z))
            errors.append(torch.cat(err).numpy())
    mmd = mmd_test(embeddings[0], embeddings[1], permutations=permutations, seed=seed)
    ks = stats.ks_2samp(stats.Weighted.of(errors[0]), stats.Weighted.of(errors[1]))
    hi = float(max(np.quantile(errors[0], 0.995), np.quantile(errors[1], 0.995)))
    edges = np.linspace(0.0, hi or 1.0, 33)
    recon = {
        "median": [float(np.median(e)) for e in errors],
        "ks": ks.statistic,
        "p_value": ks.p_value,
        "edges": edges.tolist(),
        "reference": np.histogram(np.clip(errors[0], 0, edges[-1]), edges)[0].tolist(),
        "target": np.histogram(np.clip(errors[1], 0, edges[-1]), edges)[0].tolist(),
    }
    return EmbeddingShift(
        encoder=encoder.uri,
        pinned=encoder.pinned_uri,
        node=encoder.node,
        samples=(len(embeddings[0]), len(embeddings[1])),
        mmd2=mmd.mmd2,
        p_value=mmd.p_value,
        bandwidth=mmd.bandwidth,
        permutations=permutations,
        drift=mmd.p_value < alpha,
        recon=recon,
        pca=_pca(embeddings[0].numpy(), embeddings[1].numpy(), seed),
        note=f"seeded samples (seed {seed}) of at most {sample:,} images per side",
    )


def _pca(a: np.ndarray, b: np.ndarray, seed: int) -> dict:
    """Both sets projected on the top two principal axes of their union."""
    both = np.concatenate([a, b]).astype(np.float64)
    centred = both - both.mean(0)
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    xy = centred @ vt[:2].T
    var = (s**2) / max((s**2).sum(), 1e-12)
    rng = np.random.default_rng(seed)

    def pick(points: np.ndarray) -> list:
        idx = rng.choice(len(points), min(PLOT_POINTS, len(points)), replace=False)
        return np.round(points[np.sort(idx)], 4).tolist()

    return {"reference": pick(xy[: len(a)]), "target": pick(xy[len(a) :]), "explained": var[:2].round(4).tolist()}
