"""Choosing a setting for one scan from its measurements alone, by cross-validation on held-out
measurements: reconstruct from part of the data with each candidate value, predict the part held
out, and keep the value that predicts it best (Golub, Heath and Wahba's idea for choosing a
regularisation weight, here with the measurements split instead of left out one at a time).

For CT the parts are projection views: fold k holds out every ``folds``-th view starting at k, so
the kept views still cover [0, pi). Other operators are split the same way along their
measurement's second-to-last axis (rows of an image). No ground truth is used anywhere; the
noise in the held-out data adds the same amount to every candidate's error.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from deepinv.physics import LinearPhysics

from invsolve.errors import InvsolveError
from invsolve.operators import base as physics
from invsolve.operators.base import Physics

#: A reconstruction from a physics and its measurement: what a candidate value is scored by.
Reconstructor = Callable[[Physics, torch.Tensor], torch.Tensor]


class KeptMeasurements(LinearPhysics):
    """``physics`` seeing only the measurement entries where ``keep`` is true: A x = keep * A_full x.

    Its transpose is exact; its baseline is the full operator's on the kept data, scaled up by the
    share of entries held out (for CT: FBP from the kept views, as if they were all there is); its
    noise model is the full operator's."""

    def __init__(self, full: Physics, keep: torch.Tensor):
        super().__init__()
        self.full, self.keep = full, keep
        self.upscale = keep.numel() / keep.sum()  # the share of entries kept, inverted
        self.noise_model = getattr(full, "noise_model", None)
        self.image_shape = getattr(full, "image_shape", None)
        self.measurement_shape = getattr(full, "measurement_shape", None)
        self.name = f"{getattr(full, 'name', type(full).__name__)} (kept measurements)"

    def A(self, x: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        return self.full.A(x) * self.keep

    def A_adjoint(self, y: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        return self.full.A_adjoint(y * self.keep)

    def A_dagger(self, y: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        return self.full.A_dagger(y * self.keep) * self.upscale

    def baseline(self, y: torch.Tensor) -> torch.Tensor:
        return (physics.baseline(self.full, y * self.keep) * self.upscale).clamp(0, 1)


def held_out_rows(shape: Sequence[int], fold: int, folds: int) -> torch.Tensor:
    """A boolean mask of a measurement's shape (C, ..., rows, columns), false on every ``folds``-th
    row starting at ``fold``: the rows (CT: views) that fold holds out."""
    rows = shape[-2]
    if not 2 <= folds <= rows:
        raise InvsolveError(f"cross-validation needs 2 to {rows} folds (one per row or view at most), got {folds}")
    keep = torch.ones(rows, dtype=torch.bool)
    keep[fold::folds] = False
    return keep.view(*([1] * (len(shape) - 2)), rows, 1).expand(*shape)


@dataclass(frozen=True)
class Selection:
    """The candidate chosen and every candidate's held-out prediction error (mean squared, per
    held-out entry, averaged over the folds used)."""

    chosen: Any
    errors: dict


def cross_validate(
    operator: Physics,
    y: torch.Tensor,
    candidates: dict[Any, Reconstructor],
    *,
    folds: int = 4,
    rounds: int = 1,
    first: int = 0,
) -> Selection:
    """Score each candidate by how well its reconstruction from the kept measurements predicts the
    held-out ones, over ``rounds`` of ``folds`` folds from fold ``first`` (each round costs one
    reconstruction per candidate), and choose the best."""
    if not candidates:
        raise InvsolveError("cross-validation needs at least one candidate")
    if first < 0 or rounds < 1 or first + rounds > folds:
        raise InvsolveError(f"folds {first} to {first + rounds - 1} are not among the {folds} folds (0 to {folds - 1})")
    errors = {}
    for label, reconstruct in candidates.items():
        total = 0.0
        for fold in range(first, first + rounds):
            keep = held_out_rows(y.shape[1:], fold, folds).to(y.device)
            x = reconstruct(KeptMeasurements(operator, keep), y * keep)
            held = ~keep
            total += ((operator.A(x) - y)[:, held] ** 2).mean().item()
        errors[label] = total / rounds
    return Selection(min(errors, key=errors.__getitem__), errors)
