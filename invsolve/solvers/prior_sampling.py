"""Unconditional samples from a prior: what did it learn? (the spirit of the PaDIS paper's figure 4)."""

import math

import torch

from invsolve.catalog import SAMPLING_METHODS
from invsolve.devices import seeded_normal
from invsolve.errors import InvsolveError
from invsolve.priors.base import Prior
from invsolve.solvers.loop import CountedPrior, diffusion_loop
from invsolve.solvers.schedule import NoiseSchedule


def sample_prior(
    prior: Prior,
    count: int,
    *,
    image_size: int | None = None,
    method: str = "langevin",
    steps: int = 100,
    inner: int = 5,
    schedule: str = "edm",
    eta: float = 0.0,
    generator: torch.Generator | None = None,
    device: str | torch.device = "cpu",
    progress: bool = False,
) -> tuple[torch.Tensor, int]:
    """``count`` samples (count, C, N, N) in [0, 1] and the NFEs spent.

    ``langevin``: annealed Langevin dynamics, the prior half of PaDIS Algorithm 1 (``inner``
    iterations per level, step alpha = 0.5 sigma^2, a fresh patch shift each call, no noise at the
    end). ``reverse-ve``: Euler-Maruyama on the reverse VE SDE, one prior call per level.
    ``ddim``: DDIM (Song, Meng, Ermon 2021) in VE form, one prior call per level: from the denoised
    D, x' = D + sqrt(s'^2 - c^2) (x - D) / s + c z with c = eta s' sqrt(1 - s'^2 / s^2); ``eta`` 0
    is deterministic (Euler on the probability-flow ODE), 1 is DDPM's ancestral step. ``heun``: EDM's
    second-order deterministic sampler (Karras et al. 2022, Algorithm 1): an Euler step on the
    probability-flow ODE dx/ds = (x - D(x; s)) / s, corrected by the slope at its end (two prior
    calls per level, one on the last, which steps to zero).
    """
    if method not in SAMPLING_METHODS:
        raise InvsolveError(f"unknown sampling method {method!r}; choose one of {', '.join(SAMPLING_METHODS)}")
    if count < 1 or inner < 1:
        raise InvsolveError("need at least one sample and one inner iteration")
    if not 0 <= eta <= 1:
        raise InvsolveError(f"eta must be in [0, 1] (0: deterministic DDIM, 1: ancestral), got {eta}")
    size = image_size or prior.image_size
    if size is None or prior.channels is None:
        raise InvsolveError("this prior is not tied to one image size and channel count; it cannot be sampled alone")
    levels = NoiseSchedule.for_prior(prior, steps, schedule)
    counted = CountedPrior(prior)

    def noise(x: torch.Tensor) -> torch.Tensor:
        return seeded_normal(x.shape, generator, x)

    def langevin(x: torch.Tensor, sigma: float, next_sigma: float, final: bool) -> torch.Tensor:
        alpha = 0.5 * sigma**2
        x = x + alpha / 2 * counted.score(x, sigma, generator)
        return x if final else x + math.sqrt(alpha) * noise(x)

    def reverse_ve(x: torch.Tensor, sigma: float, next_sigma: float, final: bool) -> torch.Tensor:
        variance = sigma**2 - next_sigma**2
        x = x + variance * counted.score(x, sigma, generator)
        return x if final else x + math.sqrt(variance) * noise(x)

    def ddim(x: torch.Tensor, sigma: float, next_sigma: float, final: bool) -> torch.Tensor:
        denoised = counted.denoise(x, sigma, generator)
        fresh = eta * next_sigma * math.sqrt(1 - next_sigma**2 / sigma**2)
        x = denoised + math.sqrt(next_sigma**2 - fresh**2) * (x - denoised) / sigma
        return x if fresh == 0 else x + fresh * noise(x)

    def heun(x: torch.Tensor, sigma: float, next_sigma: float, final: bool) -> torch.Tensor:
        slope = (x - counted.denoise(x, sigma, generator)) / sigma
        euler = x + (next_sigma - sigma) * slope
        if next_sigma == 0:
            return euler
        end_slope = (euler - counted.denoise(euler, next_sigma, generator)) / next_sigma
        return x + (next_sigma - sigma) * (slope + end_slope) / 2

    start = torch.zeros(count, prior.channels, size, size, device=device)
    start = 0.5 + levels.sigma_max * noise(start)
    step = {"langevin": langevin, "reverse-ve": reverse_ve, "ddim": ddim, "heun": heun}[method]
    with torch.no_grad():
        x = diffusion_loop(
            start, levels, inner if method == "langevin" else 1, step, name=f"sampling ({method})", progress=progress
        )
    return x.clamp(0, 1), counted.nfe
