"""Training objectives: the loss a denoiser is trained with, one function each.

``edm_loss`` is EDM's (Karras et al. 2022, section 5 and table 1): noise levels drawn log-normally,
sigma ~ exp(N(P_MEAN, P_STD^2)), and the denoising error weighted by
lambda(sigma) = (sigma^2 + sigma_data^2) / (sigma sigma_data)^2, which makes the effective
training target of the preconditioned network unit-variance at every sigma.

A prior file names its objective (``config_schema.PriorConfig.objective``); loading refuses one
it does not know.
"""

import torch

from invsolve.devices import seeded_normal
from invsolve.priors.network import middle_slice

P_MEAN, P_STD = -1.2, 1.2  # EDM's log-normal training noise distribution


def edm_loss(
    network: torch.nn.Module,
    clean: torch.Tensor,
    positions: torch.Tensor | None,
    generator: torch.Generator,
    *,
    sigma_data: float,
    autocast: bool,
    slices: int = 1,
) -> torch.Tensor:
    """EDM's weighted denoising loss of ``network`` (an ``EDMNetwork``, or its DDP wrapper) on clean
    patches, per sample then averaged; the noise is drawn from ``generator``. With ``slices`` > 1 a
    patch is a stack of neighbouring slices, all noised at the patch's sigma, and the target is its
    middle slice."""
    count = clean.shape[0]
    sigma = (seeded_normal((count,), generator, clean) * P_STD + P_MEAN).exp().reshape(-1, 1, 1, 1)
    noise = seeded_normal(clean.shape, generator, clean) * sigma
    weight = (sigma**2 + sigma_data**2) / (sigma * sigma_data) ** 2
    with torch.autocast("cuda", dtype=torch.bfloat16, enabled=autocast):
        denoised = network(clean + noise, sigma, positions)
    return (weight * (denoised.float() - middle_slice(clean, slices)) ** 2).mean()
