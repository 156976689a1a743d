"""Conjugate gradients and regularised least squares on batches of images, one system per image.

Every solver that solves a linear system in image space (ADMM-TV's x-step, DiffPIR's and DDS's data
steps, the CT operator's proximal map) calls ``conjugate_gradient``. Inner products, step sizes and
the stopping test are per batch element, so a batch is a set of independent problems: an image that
has converged stops moving while the others go on.
"""

from collections.abc import Callable
from typing import Any

import torch


def batch_dot(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """<a_i, b_i> for each item i of the batch, shaped (B, 1, ...) to broadcast against a and b."""
    return (a * b).flatten(1).sum(1).view(-1, *([1] * (a.dim() - 1)))


def per_image_norm(t: torch.Tensor) -> torch.Tensor:
    """The 2-norm of each item of a batch, shape (B, 1, 1, 1) for images or (B, 1, ...) in general."""
    return t.flatten(1).norm(dim=1).reshape(-1, *([1] * (t.dim() - 1)))


def conjugate_gradient(
    apply: Callable[[torch.Tensor], torch.Tensor],
    rhs: torch.Tensor,
    x: torch.Tensor,
    iterations: int,
    tolerance: float = 0.0,
    done: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> torch.Tensor:
    """At most ``iterations`` CG steps on ``apply(x) = rhs`` from ``x`` (``apply`` symmetric positive
    semi-definite). An image stops once its residual is at most ``tolerance`` times its ``rhs``'s
    norm (0: run every iteration), or once ``done(x)`` (a per-image boolean, shaped like
    ``batch_dot``'s) says so. Started at a prior guess and stopped early, the iterates stay in
    the Krylov subspace around that guess (the DDS data step, Chung et al. 2024)."""
    r = rhs - apply(x)
    p = r.clone()
    rr = batch_dot(r, r)
    stop = (tolerance**2) * batch_dot(rhs, rhs)
    for _ in range(iterations):
        active = rr > stop
        if done is not None:
            active = active & ~done(x)
        if not active.any():
            break
        ap = apply(p)
        alpha = torch.where(active, rr / batch_dot(p, ap).clamp_min(1e-30), torch.zeros_like(rr))
        x = x + alpha * p
        r = r - alpha * ap
        rr_new = batch_dot(r, r)
        p = torch.where(active, r + (rr_new / rr.clamp_min(1e-30)) * p, p)
        rr = rr_new
    return x


def regularised_least_squares(
    physics: Any,  # a deepinv LinearPhysics (invsolve.operators.base.Physics; linalg imports no deepinv)
    y: torch.Tensor,
    anchor: torch.Tensor,
    gamma: float,
    iterations: int,
    tolerance: float = 0.0,
    misfit: float = 0.0,
) -> torch.Tensor:
    """CG on the normal equations of min_u ||A u - y||^2 + gamma ||u - anchor||^2,

        (A^T A + gamma I) u = A^T y + gamma anchor,

    warm-started at ``anchor``. gamma = 0 leaves the Krylov form of DDS (early stopping is the
    regulariser); gamma > 0 makes it a proximal step, well posed at any number of iterations. An
    image stops once its data misfit ``||A u - y||`` is at most ``misfit`` (0: never; the
    discrepancy principle sets it from the noise)."""
    rhs = physics.A_adjoint(y) + gamma * anchor

    def normal(v: torch.Tensor) -> torch.Tensor:
        return physics.A_adjoint(physics.A(v)) + gamma * v

    def fitted(u: torch.Tensor) -> torch.Tensor:
        return per_image_norm(physics.A(u) - y) <= misfit

    return conjugate_gradient(normal, rhs, anchor, iterations, tolerance, fitted if misfit > 0 else None)
