"""Write the example files the README's command examples read, into a
workspace folder, so that every example runs as written, in order:

    datagov init tour && python examples/make_tour.py tour && cd tour

(`make tour` does both). The files are small, made here from a fixed seed,
and stand for a user's own data:

- `data/events.csv`, `data/events-2025.csv`, `data/events-2026.csv`: click
  events (the 2026 prices moved up by about 40 %);
- `photos/`: an ImageFolder of two classes; `shards/`: WebDataset tar shards;
- `hf/train-00000-of-00001.parquet`: Hugging Face Parquet with an `Image`
  column and a `ClassLabel`;
- `data/corpus.jsonl`, `data/heldout.jsonl`: short texts, some held-out ones
  copied from the corpus with a word changed;
- `data/digits-rotated.npz`: scikit-learn's digits turned a quarter;
- `pipelines/*-digits.yaml`: this repository's pipeline specs;
- `resnet18-emnist.safetensors`: a ResNet-18 encoder state dict for 1x32x32
  images (random weights standing for ones trained elsewhere).
"""

from __future__ import annotations

import csv
import io
import json
import sys
import tarfile
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image

COUNTRIES = ("DE", "FR", "PL", "ES", "IT")
WORDS = [
    "data",
    "model",
    "train",
    "label",
    "image",
    "text",
    "corpus",
    "check",
    "audit",
    "review",
    "split",
    "shard",
    "table",
    "column",
    "row",
]


def png(pixels: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG")
    return out.getvalue()


def blob(rng: np.random.Generator, bright: bool, size: int = 16) -> np.ndarray:
    """A grey square: a bright blob on dark (class 1) or a dark one on bright (class 0)."""
    base = rng.integers(0, 60, size=(size, size)) if bright else rng.integers(160, 255, size=(size, size))
    y, x = rng.integers(3, size - 3, size=2)
    base[y - 3 : y + 3, x - 3 : x + 3] = 230 if bright else 20
    return base.astype(np.uint8)


def write_events(path: Path, rng: np.random.Generator, n: int, start: datetime, price_mean: float) -> None:
    with open(path, "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["event_id", "ts", "country", "price", "clicked"])
        for i in range(n):
            when = start + timedelta(minutes=int(rng.integers(0, 60 * 24 * 28)))
            price = max(1.0, rng.normal(price_mean, 8.0))
            out.writerow([i + 1, f"{when:%Y-%m-%d %H:%M:%S}", rng.choice(COUNTRIES), f"{price:.2f}",
                          int(rng.random() < 0.3)])  # fmt: skip


def write_photos(root: Path, rng: np.random.Generator) -> None:
    for label, bright in (("dark", False), ("light", True)):
        (root / label).mkdir(parents=True, exist_ok=True)
        for i in range(12):
            (root / label / f"{label}-{i:02d}.png").write_bytes(png(blob(rng, bright)))


def write_shards(root: Path, rng: np.random.Generator) -> None:
    root.mkdir(parents=True, exist_ok=True)
    for s in range(2):
        with tarfile.open(root / f"shard-{s:03d}.tar", "w") as tar:
            for i in range(8):
                key, label = f"s{s}/{i:04d}", i % 2
                for name, data in ((f"{key}.png", png(blob(rng, bool(label)))), (f"{key}.cls", str(label).encode())):
                    info = tarfile.TarInfo(name)
                    info.size = len(data)
                    tar.addfile(info, io.BytesIO(data))


def write_hf(path: Path, rng: np.random.Generator) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    labels = [i % 2 for i in range(20)]
    image = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
    images = [{"bytes": png(blob(rng, bool(y))), "path": f"img-{i}.png"} for i, y in enumerate(labels)]
    features = {"img": {"_type": "Image"}, "label": {"_type": "ClassLabel", "names": ["dark", "light"]}}
    table = pa.table({"img": pa.array(images, image), "label": labels})
    meta = {b"huggingface": json.dumps({"info": {"features": features}}).encode()}
    pq.write_table(table.replace_schema_metadata(meta), path)


def write_texts(folder: Path, rng: np.random.Generator) -> None:
    corpus = [" ".join(rng.choice(WORDS, size=12)) for _ in range(60)]
    heldout = [" ".join(rng.choice(WORDS, size=12)) for _ in range(15)]
    for i in range(5):  # near-copies of corpus rows: the contamination check's catch
        words = corpus[i * 7].split()
        words[3] = "leaked"
        heldout.append(" ".join(words))
    for name, texts in (("corpus", corpus), ("heldout", heldout)):
        with open(folder / f"{name}.jsonl", "w") as f:
            f.writelines(json.dumps({"id": i, "text": t}) + "\n" for i, t in enumerate(texts))


def write_rotated_digits(path: Path) -> None:
    """scikit-learn's 8x8 digits turned a quarter: the same statistics per image, another distribution."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = np.rot90(digits.images, k=1, axes=(1, 2)) * (255 / 16)
    np.savez(path, images=images.round().astype(np.uint8), label=digits.target.astype(np.int64))


def copy_pipelines(root: Path) -> None:
    """The README's pipeline specs, from this repository's own workspace."""
    (root / "pipelines").mkdir(exist_ok=True)
    for spec in sorted((Path(__file__).resolve().parent.parent / "pipelines").glob("*-digits.yaml")):
        (root / "pipelines" / spec.name).write_text(spec.read_text())


def write_weights(path: Path) -> None:
    from safetensors.torch import save_file

    from datagov.training.backbones import BackboneAutoencoder
    from datagov.training.inputs import ImageShape

    encoder = BackboneAutoencoder("resnet18", ImageShape(1, 32, 32), latent=64).encoder
    save_file({k: v.contiguous() for k, v in encoder.state_dict().items()}, str(path))


def main(folder: str) -> None:
    root = Path(folder)
    rng = np.random.default_rng(0)
    (root / "data").mkdir(parents=True, exist_ok=True)
    write_events(root / "data" / "events.csv", rng, 500, datetime(2026, 10, 1), 40.0)
    write_events(root / "data" / "events-2025.csv", rng, 500, datetime(2025, 11, 1), 40.0)
    write_events(root / "data" / "events-2026.csv", rng, 500, datetime(2026, 11, 1), 56.0)
    write_photos(root / "photos", rng)
    write_shards(root / "shards", rng)
    write_hf(root / "hf" / "train-00000-of-00001.parquet", rng)
    write_texts(root / "data", rng)
    write_rotated_digits(root / "data" / "digits-rotated.npz")
    write_weights(root / "resnet18-emnist.safetensors")
    copy_pipelines(root)
    print(f"example files written under {root}/")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else ".")
