"""The Prior interface: a denoiser D(x, sigma) ~ E[x0 | x0 + sigma n] on [0, 1] images (VE convention).

A prior is a deepinv ``Denoiser``, so ``prior(x, sigma)`` also works inside deepinv's samplers.
Its score follows from Tweedie's formula: score(x, sigma) = (D(x, sigma) - x) / sigma^2.
"""

from typing import Any

import torch
from deepinv.models import Denoiser

from invsolve.catalog import SIGMA_MAX, SIGMA_MIN
from invsolve.errors import InvsolveError

#: A noise level as priors take it: a number, a 0-d tensor, or one value per image.
Sigma = float | torch.Tensor


class Prior(Denoiser):
    """Base class: subclasses implement ``denoise(x, sigma, generator)`` with ``sigma`` of shape (B, 1, 1, 1).

    Attributes every prior knows: ``kind`` (None but for the learned priors), ``channels``,
    ``image_size`` (the size it was trained for; it may still accept other sizes), ``slices`` (1;
    a cross-slice prior's odd count of neighbouring slices, which it takes stacked as channels,
    (B, C * slices, H, W), and of which it denoises the middle one), ``sigma_min`` and
    ``sigma_max`` (the noise range it is meant for), and ``config``, the config of the file it was
    loaded from (None for one built in code).
    Randomness inside the denoiser (PaDIS's patch shift) comes from the optional ``generator``.
    """

    kind: str | None = None  # "padis" or "whole" for the learned priors (catalog.PRIOR_KINDS); tuned defaults key on it
    channels: int | None  # None: any (a wrapped denoiser that does not say)
    image_size: int | None  # None: not tied to one size
    slices: int = 1
    sigma_min: float = SIGMA_MIN
    sigma_max: float = SIGMA_MAX
    config: dict | None = None  # a prior loaded from a file: the file's config (how it was made)

    def forward(
        self, x: torch.Tensor, sigma: Sigma, generator: torch.Generator | None = None, **kwargs: Any
    ) -> torch.Tensor:
        return self.denoise(x, self.sigma_per_image(sigma, x), generator)

    def score(self, x: torch.Tensor, sigma: Sigma, generator: torch.Generator | None = None) -> torch.Tensor:
        """grad log p_sigma(x) = (D(x, sigma) - x) / sigma^2."""
        sigma = self.sigma_per_image(sigma, x)
        return (self.denoise(x, sigma, generator) - x) / sigma**2

    def denoise(self, x: torch.Tensor, sigma: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        raise NotImplementedError

    def check_image(self, x: torch.Tensor) -> None:
        channels = None if self.channels is None else self.channels * self.slices
        if x.ndim != 4 or x.shape[1] != channels:
            stacked = "" if self.slices == 1 else f" ({self.slices} neighbouring slices as channels)"
            raise InvsolveError(
                f"{type(self).__name__} expects images of shape (B, {channels}, H, W){stacked}, got {tuple(x.shape)}"
            )

    @staticmethod
    def sigma_per_image(sigma: Sigma, x: torch.Tensor) -> torch.Tensor:
        """A float, a 0-d tensor or a (B,) tensor as a (B, 1, 1, 1) tensor on x's device and dtype."""
        sigma = torch.as_tensor(sigma, dtype=x.dtype, device=x.device)
        if sigma.numel() == 1:
            sigma = sigma.reshape(1).expand(x.shape[0])
        if sigma.shape != (x.shape[0],) and sigma.shape != (x.shape[0], 1, 1, 1):
            raise InvsolveError(
                f"sigma must be a number or one value per image ({x.shape[0]}), got shape {tuple(sigma.shape)}"
            )
        if not (sigma > 0).all():
            raise InvsolveError("sigma must be positive")
        return sigma.reshape(-1, 1, 1, 1)

    def describe(self) -> str:
        return f"{type(self).__name__}: {self.channels} channel(s), trained at {self.image_size}px"
