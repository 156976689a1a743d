"""Training objectives: the loss a denoiser is trained with, one function each.

``edm_loss`` is EDM's (Karras et al. 2022, section 5 and table 1): noise levels drawn log-normally,
sigma ~ exp(N(P_MEAN, P_STD^2)), and the denoising error weighted by
lambda(sigma) = (sigma^2 + sigma_data^2) / (sigma sigma_data)^2, which makes the effective
training target of the preconditioned network unit-variance at every sigma.

``eps_loss`` is DDPM's (Ho et al. 2020, eq. 14, "L_simple"): a timestep drawn uniformly from the
discrete schedule and the squared error of the predicted noise, unweighted.

A prior file names its objective (``config_schema.PriorConfig.objective``); loading refuses one
it does not know.
"""

import torch

from invsolve.devices import seeded_integers, seeded_normal
from invsolve.priors.network import middle_slice

#: The objectives a prior can be trained with (``invsolve train --objective``), EDM's the default.
OBJECTIVES = ("edm", "eps")
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


def eps_loss(
    network: torch.nn.Module,
    clean: torch.Tensor,
    positions: torch.Tensor | None,
    generator: torch.Generator,
    *,
    alphas_cumprod: torch.Tensor,
    autocast: bool,
) -> torch.Tensor:
    """DDPM's loss of ``network`` (an ``EpsilonUNet``, or its DDP wrapper) on clean [0, 1] patches:
    z0 = 2 x - 1, t uniform over the schedule, z_t = sqrt(abar_t) z0 + sqrt(1 - abar_t) eps, and
    ||eps - eps_theta(z_t, t)||^2 per sample then averaged; t and eps are drawn from ``generator``."""
    timesteps = seeded_integers(alphas_cumprod.numel(), (clean.shape[0],), generator).to(clean.device)
    abar = alphas_cumprod.to(clean.device)[timesteps].reshape(-1, 1, 1, 1)
    noise = seeded_normal(clean.shape, generator, clean)
    noisy = abar.sqrt() * (2 * clean - 1) + (1 - abar).sqrt() * noise
    with torch.autocast("cuda", dtype=torch.bfloat16, enabled=autocast):
        predicted = network(noisy if positions is None else torch.cat([noisy, positions], dim=1), timesteps)
    return ((predicted.float() - noise) ** 2).mean()
