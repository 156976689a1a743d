"""ADMM for total-variation regularised least squares:

    min_x  1/2 ||A x - y||^2 + lam * TV(x),     TV(x) = sum_pixels |D x|

with D the forward differences (Neumann boundary). Splitting z = D x gives the usual three steps:
  x <- argmin 1/2||Ax - y||^2 + rho/2 ||Dx - z + u||^2   (conjugate gradients, warm-started)
  z <- shrink(Dx + u, lam / rho)                          (isotropic: per-pixel vector shrinkage)
  u <- u + Dx - z
Every image of a batch is its own problem: inner products and step sizes are per image.
"""

import torch
from tqdm.auto import tqdm

from invsolve.errors import InvsolveError
from invsolve.linalg import conjugate_gradient
from invsolve.operators import base as physics
from invsolve.operators.base import Physics
from invsolve.solvers.registry import Solver, register
from invsolve.solvers.settings import GENERIC


def gradient(x: torch.Tensor) -> torch.Tensor:
    """Forward differences (B, C, H, W) -> (B, C, 2, H, W); zero across the last row/column."""
    dy = torch.zeros_like(x)
    dx = torch.zeros_like(x)
    dy[..., :-1, :] = x[..., 1:, :] - x[..., :-1, :]
    dx[..., :, :-1] = x[..., :, 1:] - x[..., :, :-1]
    return torch.stack((dy, dx), dim=2)


def gradient_transpose(g: torch.Tensor) -> torch.Tensor:
    """The exact transpose of ``gradient`` (minus the divergence)."""
    dy, dx = g[:, :, 0], g[:, :, 1]
    out = torch.zeros_like(dy)
    out[..., :-1, :] -= dy[..., :-1, :]
    out[..., 1:, :] += dy[..., :-1, :]
    out[..., :, :-1] -= dx[..., :, :-1]
    out[..., :, 1:] += dx[..., :, :-1]
    return out


def total_variation(x: torch.Tensor, tv: str = "isotropic") -> torch.Tensor:
    """TV of each image of the batch, shape (B,)."""
    g = gradient(x)
    per_pixel = g.norm(dim=2) if tv == "isotropic" else g.abs().sum(dim=2)
    return per_pixel.flatten(1).sum(1)


def _shrink(v: torch.Tensor, threshold: float, tv: str) -> torch.Tensor:
    if tv == "anisotropic":
        return v.sign() * (v.abs() - threshold).clamp_min(0)
    magnitude = v.norm(dim=2, keepdim=True)
    return v * (1 - threshold / magnitude.clamp_min(1e-12)).clamp_min(0)


def admm_tv(
    operator: Physics,
    y: torch.Tensor,
    prior: None = None,
    *,
    generator: torch.Generator | None = None,
    progress: bool = False,
    lam: float | None,
    rho_factor: float,
    rho: float | None,
    iterations: int,
    cg_iterations: int,
    tv: str,
) -> torch.Tensor:
    """ADMM-TV from the baseline. ``rho`` (the ADMM penalty) is ``rho_factor * lam`` unless given, so a
    caller who changes lam keeps a sensible penalty."""
    if lam is None:
        raise InvsolveError(
            f"ADMM-TV needs a TV weight and none is tuned for operator {getattr(operator, 'name', None)!r} "
            "(a solver called directly uses no tuned values: invsolve.tasks.choose_settings gives them); "
            "pass lam (and rho_factor or rho, iterations)"
        )
    rho = rho_factor * lam if rho is None else rho
    if cg_iterations < 1:  # the value ranges are checked where settings enter (settings.SETTING_TYPES)
        raise InvsolveError("ADMM-TV needs at least one CG iteration per ADMM iteration (cg_iterations)")
    with torch.no_grad():
        x = physics.baseline(operator, y)
        z = gradient(x)
        u = torch.zeros_like(z)
        adjoint_y = operator.A_adjoint(y)

        def normal_operator(v: torch.Tensor) -> torch.Tensor:
            return operator.A_adjoint(operator.A(v)) + rho * gradient_transpose(gradient(v))

        for _ in tqdm(range(iterations), desc="ADMM-TV", disable=not progress, leave=False):
            x = conjugate_gradient(normal_operator, adjoint_y + rho * gradient_transpose(z - u), x, cg_iterations)
            dx = gradient(x)
            z = _shrink(dx + u, lam / rho, tv)
            u = u + dx - z
        return x


register(
    Solver(
        "admm-tv",
        admm_tv,
        generic=GENERIC["admm-tv"],
        needs_prior=False,
        summary="ADMM for 1/2||Ax - y||^2 + lam TV(x) (isotropic TV by default)",
    )
)
