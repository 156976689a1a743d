"""The whole-image diffusion prior: the same preconditioned network on the full image."""

import torch

from invsolve.catalog import SIGMA_MAX, SIGMA_MIN
from invsolve.errors import InvsolveError
from invsolve.priors.base import Prior
from invsolve.priors.network import DenoisingNetwork, network_origin
from invsolve.priors.positions import position_channels


class WholeImagePrior(Prior):
    kind = "whole"
    channels: int
    image_size: int

    def __init__(
        self,
        network: DenoisingNetwork,
        image_size: int,
        *,
        sigma_min: float = SIGMA_MIN,
        sigma_max: float = SIGMA_MAX,
        config: dict | None = None,
    ):
        super().__init__()
        self.network, self.channels, self.image_size = network, network.channels, image_size
        self.slices = network.slices  # a cross-slice network: stacks of neighbouring slices in, the middle out
        self.sigma_min, self.sigma_max, self.config = sigma_min, sigma_max, config

    def denoise(self, x: torch.Tensor, sigma: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        self.check_image(x)
        size = x.shape[-1]
        if x.shape[-2] != size or size % self.network.size_multiple:
            raise InvsolveError(
                f"WholeImagePrior needs square images with a side divisible by "
                f"{self.network.size_multiple}, got {x.shape[-2]}x{size}"
            )
        positions = None
        if self.network.positional:
            origin = torch.zeros(1, dtype=torch.long, device=x.device)
            positions = position_channels(size, origin, origin, size).expand(x.shape[0], -1, -1, -1)
        return self.network(x, sigma, positions)

    def describe(self) -> str:
        return f"WholeImagePrior: {self.channels} channel(s), {self.image_size}px images{network_origin(self.network)}"
