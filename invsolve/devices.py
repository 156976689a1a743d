"""Device selection shared by the CLI and the Python API."""

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


def bf16_is_fast(device: torch.device) -> bool:
    """Whether bf16 arithmetic has hardware behind it: a CUDA GPU that supports it, or a CPU with
    AVX512-BF16 or AMX (elsewhere a CPU emulates bf16, several times slower than fp32)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return device.type == "cpu" and any(getattr(torch.cpu, name, lambda: False)() for name in probes)


def resolve_precision(name: str, device: torch.device) -> str:
    """'fp32' or 'bf16': 'auto' is bf16 where ``bf16_is_fast(device)``."""
    if name not in PRECISIONS:
        raise InvsolveError(f"unknown precision {name!r}; choose one of {', '.join(PRECISIONS)}")
    if name == "auto":
        return "bf16" if bf16_is_fast(device) else "fp32"
    return name


def seeded_normal(shape, generator: torch.Generator | None, like: torch.Tensor) -> torch.Tensor:
    """Standard normal noise of ``shape`` drawn on the generator's device, then moved to ``like``'s
    device and dtype: the same seed gives the same noise on CPU and GPU."""
    device = generator.device if generator is not None else like.device
    return torch.randn(shape, generator=generator, device=device, dtype=like.dtype).to(like.device)
