"""The classical reconstruction each operator defines: clamped FBP, the blurred image, or
nearest-neighbour upsampling."""

import torch

from invsolve.operators import base as physics
from invsolve.operators.base import Physics
from invsolve.solvers.registry import Solver, register
from invsolve.solvers.settings import GENERIC


def baseline(
    operator: Physics,
    y: torch.Tensor,
    prior: None = None,
    *,
    generator: torch.Generator | None = None,
    progress: bool = False,
    info: dict | None = None,
) -> torch.Tensor:
    return physics.baseline(operator, y)


register(
    Solver(
        "baseline",
        baseline,
        generic=GENERIC["baseline"],
        needs_prior=False,
        summary="the operator's classical reconstruction (FBP / blurred image / nearest upsampling)",
    )
)
