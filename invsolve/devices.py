"""Device selection shared by the CLI and the Python API."""

import torch

from invsolve.catalog import DEVICE_CHOICES
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


def seeded_normal(shape, generator: torch.Generator | None, like: torch.Tensor) -> torch.Tensor:
    """Standard normal noise of ``shape`` drawn on the generator's device, then moved to ``like``'s
    device and dtype: the same seed gives the same noise on CPU and GPU."""
    device = generator.device if generator is not None else like.device
    return torch.randn(shape, generator=generator, device=device, dtype=like.dtype).to(like.device)
