"""Running under `torchrun`: process group, device per rank, DDP wrapping.

Outside torchrun (no WORLD_SIZE in the environment) everything here is a
no-op for a single process, so pipelines are written once. Only rank 0 logs
to MLflow and writes the catalog; every rank trains on its own shard.
"""

from __future__ import annotations

import hashlib
import os
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

import torch
from torch import nn

from datagov.errors import IntegrityError
from datagov.training.loop import pick_device

if TYPE_CHECKING:
    from torch.nn.parallel import DistributedDataParallel


@dataclass
class Dist:
    device: torch.device
    rank: int = 0
    world_size: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world_size > 1

    def wrap(self, model: nn.Module) -> nn.Module:
        if not self.active:
            return model
        from torch.nn.parallel import DistributedDataParallel

        ids = [self.device.index] if self.device.type == "cuda" else None
        return DistributedDataParallel(model, device_ids=ids)

    def join(self, model: nn.Module) -> AbstractContextManager:
        """Ranks may hold different numbers of batches (row groups do not
        divide evenly); DDP's join shadows the missing all-reduces."""
        # the model is DDP-wrapped when active (`wrap`)
        return cast("DistributedDataParallel", model).join() if self.active else nullcontext()

    def sum(self, *values: float) -> list[float]:
        if not self.active:
            return list(values)
        import torch.distributed as td

        t = torch.tensor(values, dtype=torch.float64, device=self.device)
        td.all_reduce(t)
        return t.tolist()

    def weight_digests(self, model: nn.Module) -> list[str]:
        """Every rank's parameter digest, gathered: DDP must end with equal weights."""
        h = hashlib.sha256()
        for name, p in sorted(unwrap(model).state_dict().items()):
            h.update(name.encode())
            h.update(p.detach().cpu().contiguous().numpy().tobytes())
        mine = h.hexdigest()
        if not self.active:
            return [mine]
        import torch.distributed as td

        out: list = [None] * self.world_size
        td.all_gather_object(out, mine)
        return out

    def check_in_sync(self, digests: list[str]) -> None:
        if len(set(digests)) > 1:
            raise IntegrityError(f"DDP ranks ended with different weights: {digests}")

    def close(self) -> None:
        if self.active:
            import torch.distributed as td

            if td.is_initialized():
                td.destroy_process_group()


def unwrap(model: nn.Module) -> nn.Module:
    return getattr(model, "module", model)


def setup(requested_device: str) -> Dist:
    """Join torchrun's process group when launched by it; else one process."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    device = pick_device(requested_device)
    if world_size <= 1:
        return Dist(device=device)
    import torch.distributed as td

    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if device.type == "cuda":
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    if not td.is_initialized():
        td.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return Dist(rank=rank, world_size=world_size, device=device)
