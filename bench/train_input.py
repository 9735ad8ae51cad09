"""Input pipeline: training steps/s with the Parquet-streaming loader against
the same model fed from an in-memory tensor (on the training device), same run.

  python -m bench.train_input cpu   # benchmark 1: MLP autoencoder, 8x8x1, batch 256. Target: ratio >= 0.9
  python -m bench.train_input gpu [WORKERS]   # benchmark 2: conv autoencoder, 32x32x3, batch 256, CUDA.
                                             # Target: >= 0.9
  python -m bench.train_input resnet-cpu      # issue 15: ResNet-18 autoencoder, 32x32x3, 50,000 images,
  python -m bench.train_input resnet-gpu      # on the CPU (batch 64, few steps: each takes seconds) or
                                             # CUDA (batch 256). Target: >= 0.9
  python -m bench.train_input fashion-cpu     # issue 30: conv autoencoder on Fashion-MNIST's 60,000 real
  python -m bench.train_input fashion-gpu     # training images (Debian's dataset-fashion-mnist), as
                                             # pipelines/pretrain-fashion.yaml trains. Target: >= 0.9

Generates its own data (PNG-encoded, as datagov stores images; the fashion
modes encode the real images) with pyarrow and Pillow, so it runs without a workspace, DuckDB or MLflow (the GPU machine
has none of them). GPU utilisation is sampled with NVML while each side runs.
"""

from __future__ import annotations

import io
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch
from PIL import Image
from torch.utils.data import DataLoader

from datagov.pixels.tensors import decode_batch, to_unit_float
from datagov.training.data import ImageShape, ParquetImageStream
from datagov.training.models import build_autoencoder
from datagov.training.pixel_cache import build_pixels
from datagov.training.placement import place
from datagov.training.pretext import pixel_loss

ROW_GROUP = 4096


FASHION_TRAIN = Path("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz")


def make_parquet(folder: Path, n: int, shape: ImageShape, seed: int = 0, real: bool = False) -> list[str]:
    """n PNG images in one Parquet file: random pixels, or Fashion-MNIST's training images."""
    rng = np.random.default_rng(seed)
    if real:
        from datagov.sources.idx import read_idx

        images = read_idx(FASHION_TRAIN, 1 << 30)[:n]
    blobs = []
    for i in range(n):
        base = rng.integers(0, 256, size=(shape.height, shape.width, shape.channels), dtype=np.uint8)
        pixels = images[i] if real else base[:, :, 0] if shape.channels == 1 else base
        buf = io.BytesIO()
        Image.fromarray(pixels).save(buf, format="PNG")
        blobs.append(buf.getvalue())
    path = folder / "part-00000.parquet"
    pq.write_table(pa.table({"image": pa.array(blobs, pa.binary())}), path, row_group_size=ROW_GROUP)
    return [str(path)]


class Utilisation:
    """Mean GPU utilisation (%) over a block, sampled every 50 ms with NVML."""

    def __init__(self, enabled: bool) -> None:
        self.enabled, self.samples, self._stop = enabled, [], threading.Event()

    def __enter__(self):
        if self.enabled:
            import pynvml

            pynvml.nvmlInit()
            handle = pynvml.nvmlDeviceGetHandleByIndex(0)

            def poll() -> None:
                while not self._stop.wait(0.05):
                    self.samples.append(pynvml.nvmlDeviceGetUtilizationRates(handle).gpu)

            self._thread = threading.Thread(target=poll, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()

    @property
    def mean(self) -> float:
        return float(np.mean(self.samples)) if self.samples else float("nan")


def train_steps(model, batches, device, steps: int, warmup: int = 10) -> float:
    """Seconds for `steps` optimizer steps (after `warmup` steps)."""
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = pixel_loss("mse")
    autocast = (
        torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else torch.autocast("cpu", enabled=False)
    )
    it = iter(batches)
    start = None
    for step in range(steps + warmup):
        if step == warmup:
            if device.type == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
        images = to_unit_float(next(it).to(device, non_blocking=True))
        with autocast:
            logits = model(images)
        loss = loss_fn(logits.float(), images).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def forever_memory(tensor: torch.Tensor, batch: int, seed: int = 0):
    g = torch.Generator(device=tensor.device).manual_seed(seed)
    while True:
        order = torch.randperm(len(tensor), generator=g, device=tensor.device)
        for i in range(0, len(tensor) - batch + 1, batch):
            yield tensor[order[i : i + batch]]


def forever_stream(files, shape, batch: int, workers: int, pin: bool, pixels=None):
    stream = ParquetImageStream(files, shape, split="all", batch_size=batch, shuffle=True, pixels=pixels)
    workers = 0 if stream.in_memory else workers  # as training does: verified pixels already in this process
    loader = DataLoader(  # once: persistent workers see set_epoch through shared memory
        stream,
        batch_size=None,
        num_workers=workers,
        pin_memory=pin,
        persistent_workers=workers > 0,
        prefetch_factor=4 if workers else None,
    )
    epoch = 0
    while True:
        stream.set_epoch(epoch)
        for images, _ in loader:
            if images.shape[0] == batch:
                yield images
        epoch += 1


def verified_cache(files: list[str], shas: list[str], shape: ImageShape, path: Path, n: int):
    """What training does before its first step, verification on: hash every
    Parquet file (the gate), build the cache from bytes hashed as read, then
    read the cache back hashing it (`pixel_cache.verified_pixels`: in memory
    when small). Returns (pixels, seconds)."""
    from datagov.store import sha256_file
    from datagov.training.pixel_cache import verified_pixels

    build = time.perf_counter()
    sha = build_pixels(files, shape, path, expected=n * shape.numel, sha256s=shas)
    build = time.perf_counter() - build
    start = time.perf_counter()  # what every later run pays: hash the Parquet files, read and hash the cache
    assert [sha256_file(Path(f)) for f in files] == shas
    pixels = verified_pixels(path, sha, n * shape.numel)
    assert pixels is not None
    return pixels, time.perf_counter() - start, build


# mode: (model kind, image shape, images, batch, steps, warm-up steps, rounds)
MODES = {
    "fashion-cpu": ("conv", ImageShape(1, 28, 28), 60_000, 256, 200, 10, 5),
    "fashion-gpu": ("conv", ImageShape(1, 28, 28), 60_000, 256, 600, 10, 5),
    "cpu": ("mlp", ImageShape(1, 8, 8), 20_000, 256, 300, 10, 5),
    "gpu": ("conv", ImageShape(3, 32, 32), 50_000, 256, 600, 10, 5),
    "resnet-cpu": ("resnet18", ImageShape(3, 32, 32), 50_000, 64, 12, 2, 3),
    "resnet-gpu": ("resnet18", ImageShape(3, 32, 32), 50_000, 256, 300, 10, 5),
}


def main(mode: str = "cpu", workers: int | None = None, rounds: int | None = None) -> float:
    if mode not in MODES:
        raise SystemExit(f"mode {mode!r}: one of {', '.join(MODES)}")
    gpu = mode.endswith("gpu")
    if gpu and not torch.cuda.is_available():
        print(f"{mode} needs a CUDA GPU; none here")
        return float("nan")
    from datagov.store import sha256_file

    device = torch.device("cuda" if gpu else "cpu")
    kind, shape, n, batch, steps, warmup, default_rounds = MODES[mode]
    rounds = rounds or default_rounds
    if workers is None:  # leave one core for the training process itself
        workers = max(1, (os.cpu_count() or 2) - 2) if gpu else max(1, (os.cpu_count() or 2) - 1)
    channels, hidden = ([32, 64, 128], [256]) if kind == "conv" else ([32], [256, 128])
    real = mode.startswith("fashion")
    if real:
        if not FASHION_TRAIN.exists():
            raise SystemExit(f"{FASHION_TRAIN} is missing: apt-get install dataset-fashion-mnist")
        channels = [32, 64]  # pipelines/pretrain-fashion.yaml's
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        files = make_parquet(Path(tmp), n, shape, real=real)
        shas = [sha256_file(Path(f)) for f in files]
        table = pq.read_table(files[0])
        memory = decode_batch(table.column("image").to_pylist(), shape).to(device)
        pixels, verify_seconds, build_seconds = verified_cache(files, shas, shape, Path(tmp) / "pixels.u8", n)
        contenders = {
            "in-memory tensor": lambda: forever_memory(memory, batch),
            "stream + cache": lambda: forever_stream(files, shape, batch, workers, gpu, pixels),
        }
        rates: dict[str, list[float]] = {name: [] for name in contenders}
        utils: dict[str, list[float]] = {name: [] for name in contenders}
        for r in range(rounds):  # alternating, and the order flips each round: shared machines drift
            for name in list(contenders)[:: 1 if r % 2 == 0 else -1]:
                model = place(build_autoencoder(kind, shape, hidden, channels, 64), device)
                with Utilisation(gpu) as util:
                    seconds = train_steps(model, contenders[name](), device, steps, warmup)
                rates[name].append(steps / seconds)
                utils[name].append(util.mean)
        model = place(build_autoencoder(kind, shape, hidden, channels, 64), device)
        decoding = steps / train_steps(model, forever_stream(files, shape, batch, workers, gpu), device, steps, warmup)
    ratios = [c / m for c, m in zip(rates["stream + cache"], rates["in-memory tensor"], strict=True)]
    ratio = float(np.median(ratios))
    memory_rate = float(np.median(rates["in-memory tensor"]))
    where = torch.cuda.get_device_name(0) if gpu else f"CPU, {os.cpu_count()} cores"
    print(
        f"Input pipeline: {kind} autoencoder, {shape.channels}x{shape.height}x{shape.width}, batch {batch}, "
        f"{steps} steps x {rounds} alternating rounds, {where}, loader workers {workers}, verification on"
    )
    for name in contenders:
        rate = float(np.median(rates[name]))
        extra = f"   GPU util {np.nanmean(utils[name]):5.1f} %" if gpu else ""
        print(f"  {name:<18} {rate:9.1f} steps/s  {rate * batch:11,.0f} samples/s (median){extra}")
    print(f"  Parquet stream     {decoding:9.1f} steps/s  (decoding every epoch, one round, no target)")
    print(f"  ratio per round: {', '.join(f'{x:.2f}' for x in ratios)}")
    print(
        f"  ratio, verified decoded-pixel cache (median)   {ratio:5.2f}   target >= 0.9   "
        f"{'PASS' if ratio >= 0.9 else 'MISS'}"
    )
    # The checks run once per training run, before the first step: their share of a run of `steps` steps.
    run_seconds = steps / float(np.median(rates["stream + cache"]))
    print(
        f"  verification per run, before the first step: {verify_seconds:.3f} s (hash {len(files)} Parquet "
        f"file(s), read and hash the cache); {steps} steps with it: "
        f"{(steps / memory_rate) / (run_seconds + verify_seconds):.2f} of in-memory"
    )
    print(f"  (building the cache from hashed bytes: {build_seconds:.2f} s once per version, {n:,} images)")
    return ratio


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "cpu", int(sys.argv[2]) if len(sys.argv) > 2 else None)
