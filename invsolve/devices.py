"""Device selection shared by the CLI and the Python API."""

from collections.abc import Sequence

import torch

from invsolve.catalog import DEVICE_CHOICES, PRECISIONS
from invsolve.errors import InvsolveError


def resolve_device(name: str | torch.device = "auto") -> torch.device:
    """'auto' picks CUDA when present; 'cuda' without a GPU is an error, not a silent fallback."""
    if isinstance(name, torch.device):
        return name
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise InvsolveError("device cuda was asked for but no CUDA GPU is visible; use device cpu or auto")
        return torch.device(name)
    raise InvsolveError(f"unknown device {name!r}; choose one of {', '.join(DEVICE_CHOICES)}")


def bf16_pays(device: torch.device) -> bool:
    """Whether bf16 autocast makes the prior network faster: on a CUDA GPU that supports it. Not on a
    CPU: measured per NFE of padis-ct at 128 px, 0.90x the fp32 time of the default layout against
    channels-last fp32's 0.85x on an AVX-512 CPU with AMX-BF16, 6.6x on an AVX2 one without bf16
    units (``benchmarks/studies/cpu_cost.py``; the 32-channel convolutions are too small to gain)."""
    return device.type == "cuda" and torch.cuda.is_bf16_supported()


def resolve_precision(name: str, device: torch.device) -> str:
    """'fp32' or 'bf16': 'auto' is bf16 where ``bf16_pays(device)``."""
    if name not in PRECISIONS:
        raise InvsolveError(f"unknown precision {name!r}; choose one of {', '.join(PRECISIONS)}")
    if name == "auto":
        return "bf16" if bf16_pays(device) else "fp32"
    return name


def seeded_normal(shape: Sequence[int], generator: torch.Generator | None, like: torch.Tensor) -> torch.Tensor:
    """Standard normal noise of ``shape`` drawn on the generator's device, then moved to ``like``'s
    device and dtype: a seed gives the same noise wherever the result lives."""
    device = generator.device if generator is not None else like.device
    return torch.randn(shape, generator=generator, device=device, dtype=like.dtype).to(like.device)


def seeded_integers(high: int, shape: Sequence[int], generator: torch.Generator | None) -> torch.Tensor:
    """Integers uniform in 0..high-1 drawn on the generator's device (the CPU without one).

    torch draws only from a generator on the device it draws on: a CUDA generator (as
    ``reconstruct`` passes on a GPU) with a CPU draw fails, so every draw goes through here or
    ``seeded_normal``."""
    device = generator.device if generator is not None else torch.device("cpu")
    return torch.randint(high, shape, generator=generator, device=device)


def seeded_poisson(rates: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """Poisson counts with the given ``rates``, drawn on the generator's device, then moved back to
    ``rates``'s device: a seed gives the same counts wherever the result lives."""
    device = generator.device if generator is not None else rates.device
    return torch.poisson(rates.to(device), generator=generator).to(rates.device)
