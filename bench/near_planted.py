"""Planted near-duplicates on digits, datagov's method against imagehash's
pHash searched by brute force, on the same planted pairs.

Setup (as tests/near/test_planted.py): digits split 70/10/20; 250 modified
copies of `pretrain` images (50 each: JPEG at quality 75, a one-pixel shift,
+-10 % brightness, Gaussian noise, upscaling to 16x16 and back) mixed into
the untouched `eval` images, ingested as one image folder. Scored per target
row: recall = planted copies matched to their source; precision = flagged
rows that are planted copies matched to their source. No speed target here
(see bench/contamination.py); a quality comparison over seeds.

  python -m bench.near_planted [SEEDS]
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _cli(root: Path, *args: str) -> None:
    from typer.testing import CliRunner

    from datagov.cli.app import app

    result = CliRunner().invoke(app, ["--workspace", str(root), *map(str, args)])
    if result.exit_code != 0:
        raise RuntimeError(result.output)


def _imagehash_scores(ref, target, planted, radius: int) -> dict:
    import imagehash
    from PIL import Image

    from datagov.pixels.codec import decode
    from tests.near.planted import score

    def hashes(rows) -> np.ndarray:
        blobs = rows.image_bytes(list(range(rows.rows)))
        return np.array(
            [int(str(imagehash.phash(Image.fromarray(decode(blobs[i])[0]))), 16) for i in range(rows.rows)], np.uint64
        )

    a, b = hashes(ref), hashes(target)
    d = np.bitwise_count(a[None, :] ^ b[:, None])  # every pair: the brute force
    t, r = np.nonzero(d <= radius)
    return score(planted, target.names, r, t)


def run_seed(seed: int) -> list[tuple[str, dict]]:
    from datagov.near.check import run_check
    from datagov.workspace import Workspace
    from tests.near.planted import plant, score, version_rows

    root = Path(tempfile.mkdtemp(prefix="near-planted-"))
    _cli(root, "init", str(root))
    _cli(root, "ingest", "sklearn:digits", "--name", "digits")
    _cli(root, "split", "digits", "--into", "pretrain=0.7,finetune=0.1,eval=0.2", "--seed", str(seed))
    ws = Workspace(root)
    planted = plant(ws, root / "planted", reference="digits-pretrain", distinct_from="digits-eval",
                    per_modification=50, seed=seed)  # fmt: skip
    _cli(root, "ingest", str(planted.folder), "--name", "planted-eval")
    _, _, target, pairing = run_check(ws, "digits-pretrain", "planted-eval")
    out = [
        ("datagov defaults (pHash r10 + thumbnail 0.975)", score(planted, target.names, pairing.ref, pairing.target))
    ]
    ref = version_rows(ws, "digits-pretrain")
    for radius in (4, 6, 8, 10, 12):
        out.append((f"imagehash pHash, brute force, radius {radius}", _imagehash_scores(ref, target, planted, radius)))
    return out


def main(seeds: int = 3) -> None:
    table: dict[str, list[dict]] = {}
    for seed in range(seeds):
        for name, result in run_seed(seed):
            table.setdefault(name, []).append(result)
    print(f"Planted near-duplicates in digits: 250 copies + ~360 distinct eval images, {seeds} seeds")
    print(f"  {'method':<48} {'recall':>16} {'precision':>16}")
    for name, results in table.items():
        r = [x["recall"] for x in results]
        p = [x["precision"] for x in results]
        print(f"  {name:<48} {np.mean(r):.3f} (min {min(r):.3f}) {np.mean(p):.3f} (min {min(p):.3f})")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:2]))
