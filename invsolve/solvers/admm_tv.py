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
from invsolve.solvers.registry import Solver, register

#: Per-preset defaults, chosen on 8 validation images at 128 x 128 with
#: ``python -m invsolve.benchmarks.classical tune`` (docs/reconstruction.md has the runs).
#: rho is set to rho_factor * lam, so a user who changes lam keeps a sensible penalty.
TUNED = {
    "ct20": {"lam": 0.03, "rho_factor": 3.0, "iterations": 200},
    "ct8": {"lam": 0.03, "rho_factor": 30.0, "iterations": 200},
    "deblur": {"lam": 0.001, "rho_factor": 3.0, "iterations": 200},
    "sr4": {"lam": 3e-5, "rho_factor": 300.0, "iterations": 200},
}
GENERIC = {"iterations": 200, "cg_iterations": 3, "tv": "isotropic"}


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


def _batch_dot(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a * b).flatten(1).sum(1).view(-1, *([1] * (a.dim() - 1)))


def conjugate_gradient(apply, rhs: torch.Tensor, x: torch.Tensor, iterations: int) -> torch.Tensor:
    """A few CG steps on apply(x) = rhs, one independent system per batch element."""
    r = rhs - apply(x)
    p = r.clone()
    rr = _batch_dot(r, r)
    for _ in range(iterations):
        ap = apply(p)
        alpha = rr / _batch_dot(p, ap).clamp_min(1e-30)
        x = x + alpha * p
        r = r - alpha * ap
        rr_new = _batch_dot(r, r)
        p = r + (rr_new / rr.clamp_min(1e-30)) * p
        rr = rr_new
    return x


def admm_tv(operator, y: torch.Tensor, prior=None, *, generator=None, progress=False, lam: float, rho: float,
            iterations: int, cg_iterations: int, tv: str) -> torch.Tensor:
    if tv not in ("isotropic", "anisotropic"):
        raise InvsolveError(f"tv must be 'isotropic' or 'anisotropic', got {tv!r}")
    if lam < 0 or rho <= 0 or iterations < 1 or cg_iterations < 1:
        raise InvsolveError("ADMM-TV needs lam >= 0, rho > 0 and at least one (CG) iteration")
    with torch.no_grad():
        x = operator.baseline(y) if hasattr(operator, "baseline") else operator.A_dagger(y)
        z = gradient(x)
        u = torch.zeros_like(z)
        adjoint_y = operator.A_adjoint(y)

        def normal_operator(v):
            return operator.A_adjoint(operator.A(v)) + rho * gradient_transpose(gradient(v))

        for _ in tqdm(range(iterations), desc="ADMM-TV", disable=not progress, leave=False):
            x = conjugate_gradient(normal_operator, adjoint_y + rho * gradient_transpose(z - u), x, cg_iterations)
            dx = gradient(x)
            z = _shrink(dx + u, lam / rho, tv)
            u = u + dx - z
        return x


def _defaults(operator, given: dict) -> dict:
    name = getattr(operator, "name", None)
    tuned = TUNED.get(name)
    if tuned is None and "lam" not in given:
        raise InvsolveError(f"ADMM-TV has no tuned defaults for operator {name!r}; pass lam (and rho, iterations)")
    lam = given.get("lam", tuned["lam"] if tuned else None)
    rho_factor = tuned["rho_factor"] if tuned else 10.0
    return {**GENERIC, **{k: v for k, v in (tuned or {}).items() if k in GENERIC}, "lam": lam,
            "rho": rho_factor * lam}


register(Solver("admm-tv", admm_tv, parameters=("lam", "rho", "iterations", "cg_iterations", "tv"),
                defaults=_defaults, needs_prior=False,
                summary="ADMM for 1/2||Ax - y||^2 + lam TV(x) (isotropic TV by default)"))
