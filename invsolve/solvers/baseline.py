"""The classical reconstruction each operator defines: clamped FBP, the blurred image, or
nearest-neighbour upsampling."""

import torch

from invsolve.solvers.registry import Solver, register


def baseline(operator, y: torch.Tensor, prior=None, *, generator=None, progress=False) -> torch.Tensor:
    with torch.no_grad():
        return operator.baseline(y)


register(Solver("baseline", baseline, parameters=(), defaults=lambda operator, given: {}, needs_prior=False,
                summary="the operator's classical reconstruction (FBP / blurred image / nearest upsampling)"))
