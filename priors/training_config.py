"""What a training run is told: its settings (the fields of ``invsolve train``) and durations.

Importable without torch, so the command line can show the defaults in ``--help`` cheaply.
"""

import re
import shlex
import sys
from dataclasses import dataclass, field

from invsolve.errors import InvsolveError


@dataclass
class TrainingConfig:
    out: str
    prior: str = "padis"
    objective: str = "edm"  # "edm" (Karras et al. 2022) or "eps" (DDPM's epsilon prediction, Ho et al. 2020)
    data: str = "phantoms"
    image_size: int = 64
    channels: int | None = None
    patch_sizes: tuple[int, ...] = (32, 16, 8)
    patch_probs: tuple[float, ...] = (0.5, 0.3, 0.2)
    pad: int | None = None
    positional: bool = True
    slices: int = 1  # > 1 (odd): a cross-slice prior on stacks of neighbouring slices of a volume
    net: str = "small"
    batch: int = 16
    lr: float = 2e-4
    ema_halflife: float = 500_000
    max_images: int | None = None
    duration: str = "30m"
    checkpoint_every: str = "10m"
    seed: int = 0
    resume: bool = False
    replace: bool = False  # train over an existing prior file at ``out`` (a new run, not a resume)
    device: str = "auto"
    command: str = field(default_factory=lambda: shlex.join(["invsolve", *sys.argv[1:]]))


def parse_duration(text: str) -> tuple[str, float]:
    """'30m', '2h', '90s' -> ('seconds', n); '200k', '1.5M', '5000' -> ('images', n)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhkM]?)\s*", str(text))
    if not match or float(match[1]) <= 0:
        raise InvsolveError(
            f"duration must be a time (30m, 2h, 90s) or an image count (200k, 1.5M, 5000), got {text!r}"
        )
    value, unit = float(match[1]), match[2]
    if unit in ("s", "m", "h"):
        return "seconds", value * {"s": 1, "m": 60, "h": 3600}[unit]
    return "images", value * {"": 1, "k": 1e3, "M": 1e6}[unit]
