"""Scale-out for training: PyTorch's own torchrun + DDP (gloo on CPU, nccl on GPU)."""

import os
from typing import Any, TypeVar

import torch
import torch.distributed as dist

from invsolve.devices import resolve_device

T = TypeVar("T")


class Distributed:
    """Rank, world size and device from torchrun's environment (one plain process without it).

    Under torchrun, even with one process, the run joins a process group (nccl on GPU, gloo on CPU)
    and trains a DDP replica: a one-process torchrun run exercises the same path as many."""

    def __init__(self, device: str):
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.launched = self.world > 1 or "TORCHELASTIC_RUN_ID" in os.environ  # set by torchrun
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        self.device = resolve_device(device)
        if self.device.type == "cuda" and self.launched:
            self.device = torch.device("cuda", local_rank)
            torch.cuda.set_device(self.device)
        if self.launched and not dist.is_initialized():
            dist.init_process_group("nccl" if self.device.type == "cuda" else "gloo")
            if self.device.type == "cpu":  # share the cores between the replicas on one machine
                local = int(os.environ.get("LOCAL_WORLD_SIZE", str(self.world)))
                torch.set_num_threads(max(1, (os.cpu_count() or 1) // local))

    @property
    def main(self) -> bool:
        return self.rank == 0

    def decide(self, *flags: bool) -> list[bool]:
        """Rank 0's ``flags``, on every rank."""
        if self.world == 1:
            return list(flags)
        values = torch.tensor([float(f) for f in flags], device=self.device)
        dist.broadcast(values, src=0)
        return [bool(v) for v in values.tolist()]

    def gather(self, obj: T) -> list[T]:
        if self.world == 1:
            return [obj]
        out: list[Any] = [None] * self.world
        dist.all_gather_object(out, obj)
        return out

    def replica_spread(self, network: torch.nn.Module) -> float:
        """max |w_rank - w_other| over all weights: 0 when DDP kept the replicas identical."""
        if self.world == 1:
            return 0.0
        flat = torch.cat([p.detach().flatten().float() for p in network.parameters()])
        high, low = flat.clone(), flat.clone()
        dist.all_reduce(high, op=dist.ReduceOp.MAX)
        dist.all_reduce(low, op=dist.ReduceOp.MIN)
        return (high - low).abs().max().item()

    @property
    def backend(self) -> str | None:
        """The process group's backend (nccl, gloo), None for one plain process."""
        return dist.get_backend() if dist.is_initialized() else None

    def wrap(self, network: torch.nn.Module) -> torch.nn.Module:
        """``network`` as a DDP replica when the run is distributed, else itself."""
        if not dist.is_initialized():
            return network
        device_ids = [self.device.index] if self.device.type == "cuda" else None
        return torch.nn.parallel.DistributedDataParallel(network, device_ids=device_ids)

    def close(self) -> None:
        if dist.is_initialized():
            dist.destroy_process_group()
