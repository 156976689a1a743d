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


def held_out_indices(rows: int, fold: int, folds: int) -> torch.Tensor:
    """The rows (CT: views) fold ``fold`` of ``folds`` holds out of ``rows``: every ``folds``-th row
    starting at ``fold``."""
    if not 2 <= folds <= rows:
        raise InvsolveError(f"cross-validation needs 2 to {rows} folds (one per row or view at most), got {folds}")
    return torch.arange(fold, rows, folds)


def held_out_rows(shape: Sequence[int], fold: int, folds: int) -> torch.Tensor:
    """A boolean mask of a measurement's shape (C, ..., rows, columns), false on the rows that fold
    holds out (``held_out_indices``)."""
    rows = shape[-2]
    keep = torch.ones(rows, dtype=torch.bool)
    keep[held_out_indices(rows, fold, folds)] = False
    return keep.view(*([1] * (len(shape) - 2)), rows, 1).expand(*shape)


@dataclass(frozen=True)
class Selection:
    """The candidate chosen, every candidate's held-out prediction error (mean squared, per held-out
    entry, over the folds used) and its residuals: prediction minus measurement, one row per
    held-out row of the measurement (CT: per held-out view), the folds one after another."""

    chosen: Any
    errors: dict
    residuals: dict


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
    residuals = {}
    for label, reconstruct in candidates.items():
        parts = []
        for fold in range(first, first + rounds):
            keep = held_out_rows(y.shape[1:], fold, folds).to(y.device)
            x = reconstruct(KeptMeasurements(operator, keep), y * keep)
            held = held_out_indices(y.shape[-2], fold, folds).to(y.device)
            parts.append((operator.A(x) - y).index_select(-2, held).movedim(-2, 0).flatten(1))
        residuals[label] = torch.cat(parts)
    return selection_of(residuals)


def selection_of(residuals: dict[Any, torch.Tensor]) -> Selection:
    """The selection that held-out ``residuals`` (per candidate, one row per held-out row) make."""
    errors = {label: (r.double() ** 2).mean().item() for label, r in residuals.items()}
    return Selection(min(errors, key=errors.__getitem__), errors, residuals)


@dataclass(frozen=True)
class MarginTest:
    """Whether a candidate's held-out error beyond the noise is below ``margin`` times a reference's:
    ``ratio``, the one over the other, must be at most ``needed``, the margin less the standard
    errors asked for."""

    ratio: float
    needed: float

    @property
    def passed(self) -> bool:
        return self.ratio <= self.needed


def margin_test(
    candidate: torch.Tensor,
    reference: torch.Tensor,
    noise_variance: float,
    margin: float,
    standard_errors: float = 0.0,
) -> MarginTest:
    """Compare two candidates' held-out residuals, ``candidate`` a and ``reference`` b (one row per
    held-out row or view, the same rows), against ``margin`` m.

    The noise's variance s2 adds alike to both mean squared errors, so it is taken out of each, and
    the ratio is (mean a^2 - s2) / (mean b^2 - s2). With ``standard_errors`` k the candidate must also
    beat the margin by k standard errors of D = mean(a^2 - m b^2) - (1 - m) s2 (negative where it beats
    it), taken over the held-out rows as cross-validation's standard error is over its folds (Hastie,
    Tibshirani and Friedman, The Elements of Statistical Learning, 7.10: k = 1 is their
    one-standard-error rule, which keeps the simpler model unless the other is better by more than
    the spread of the held-out errors explains). Divided by b's error beyond the noise, D + k se <= 0
    reads ratio <= needed."""
    a, b = candidate.double(), reference.double()
    beyond_a = max((a**2).mean().item() - noise_variance, 0.0)
    beyond_b = max((b**2).mean().item() - noise_variance, 1e-12)
    per_row = (a**2 - margin * b**2).mean(1)  # the noise term is the same in every row
    spread = per_row.std().item() / per_row.numel() ** 0.5 if per_row.numel() > 1 else 0.0
    return MarginTest(beyond_a / beyond_b, margin - standard_errors * spread / beyond_b)
