"""Convolution weights channels-last (`datagov.training.placement.place`,
as training uses it) against PyTorch's default contiguous layout, same run,
in turns: one training step (batch 256) and one embedding pass (2,048
images) of the autoencoders on 28x28 grayscale images (Fashion-MNIST's
shape), on the CPU, or CUDA with bf16 autocast when present.

  python -m bench.memory_format [REPEATS]     # default 5; target: ratio <= 1.0 (channels-last no slower)
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch

from bench.common import alternate
from datagov.pixels.shape import ImageShape
from datagov.training.models import build_autoencoder
from datagov.training.placement import place

SHAPE = ImageShape(1, 28, 28)
KINDS = ("conv", "resnet18")
TURN_SECONDS = 1.0  # each turn times enough calls to last about this long


def contenders(kind: str, device: torch.device):
    """(train step, embedding pass) timers for each layout, from the same initial weights."""
    torch.manual_seed(0)
    base = build_autoencoder(kind, SHAPE, [256], [32, 64], 64)
    state = base.state_dict()
    images = torch.rand(256, SHAPE.channels, SHAPE.height, SHAPE.width, device=device)
    many = torch.rand(2048, SHAPE.channels, SHAPE.height, SHAPE.width, device=device)
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda")

    def timers(placed: bool):
        model = build_autoencoder(kind, SHAPE, [256], [32, 64], 64)
        model.load_state_dict(state)
        model = place(model, device) if placed else model.to(device)
        opt = torch.optim.Adam(model.parameters(), 1e-3)

        def step() -> float:
            model.train()
            start = time.perf_counter()
            with autocast:
                loss = torch.nn.functional.binary_cross_entropy_with_logits(model(images).float(), images)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            _sync(device)
            return time.perf_counter() - start

        @torch.inference_mode()
        def embed() -> float:
            model.eval()
            start = time.perf_counter()
            with autocast:
                model.encoder(many)
            _sync(device)
            return time.perf_counter() - start

        step(), embed()  # warm-up: first calls pick kernels
        return step, embed

    return timers(placed=False), timers(placed=True)


def per_call(timer: Callable[[], float], calls: int) -> Callable[[], float]:
    """Mean seconds of `calls` calls of `timer`: one turn."""
    return lambda: sum(timer() for _ in range(calls)) / calls


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def main() -> None:
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    where = torch.cuda.get_device_name() if device.type == "cuda" else f"{torch.get_num_threads()} CPU threads"
    turns = f"median of {repeats} alternating turns of >= {TURN_SECONDS:g} s"
    print(f"# {where}, torch {torch.__version__}; {SHAPE} images; {turns}")
    for kind in KINDS:
        (base_step, base_embed), (cand_step, cand_embed) = contenders(kind, device)
        for what, base, cand in (("train step, batch 256", base_step, cand_step),
                                 ("embed 2,048 images", base_embed, cand_embed)):  # fmt: skip
            calls = max(1, round(TURN_SECONDS / base()))  # a 50 ms step timed once is mostly noise
            b, c = alternate(per_call(base, calls), per_call(cand, calls), repeats)
            print(f"{kind:<9} {what:<22} contiguous {b:7.3f} s   channels-last {c:7.3f} s   ratio {c / b:5.2f}   "
                  f"target <= 1.0   {'PASS' if c <= b else 'MISS'}", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
