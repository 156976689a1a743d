"""Any deepinv denoiser behind the Prior interface, so the diffusion solvers can run with it."""

from collections.abc import Callable

import torch

from invsolve.catalog import SIGMA_MAX, SIGMA_MIN
from invsolve.errors import InvsolveError
from invsolve.priors.base import Prior


class DenoiserPrior(Prior):
    """Wrap ``denoiser(x, sigma)`` (a ``deepinv.models.Denoiser`` or any callable with that signature,
    sigma of shape (B,)) as a Prior.

    A diffusion solver walks noise levels from ``sigma_max`` down to ``sigma_min``; set them to the
    range the denoiser was trained for (e.g. ``sigma_max=0.2`` for a DRUNet, whose training noise
    stops there), since nothing in a plain denoiser says so. ``channels`` (None: any) is checked
    against the operator by the solvers.
    """

    def __init__(
        self,
        denoiser: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
        *,
        sigma_min: float = SIGMA_MIN,
        sigma_max: float = SIGMA_MAX,
        channels: int | None = None,
        image_size: int | None = None,
    ):
        super().__init__()
        if not callable(denoiser):
            raise InvsolveError(f"DenoiserPrior needs a callable denoiser(x, sigma), got {type(denoiser).__name__}")
        if not 0 < sigma_min < sigma_max:
            raise InvsolveError(f"need 0 < sigma_min < sigma_max, got {sigma_min} and {sigma_max}")
        self.denoiser, self.sigma_min, self.sigma_max = denoiser, sigma_min, sigma_max
        self.channels, self.image_size = channels, image_size

    def denoise(self, x: torch.Tensor, sigma: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        if self.channels is not None:
            self.check_image(x)
        return self.denoiser(x, sigma.flatten())
