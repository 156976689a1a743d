"""A stationary Gaussian prior whose denoiser is exact: for testing solvers against a known posterior.

x0 ~ N(m, Sigma) per channel, with Sigma circulant (periodic boundary), i.e. diagonal in the
Fourier basis with spectrum S(k). Then x = x0 + sigma n is Gaussian too and
E[x0 | x] = m + F^-1[ S / (S + sigma^2) F(x - m) ] exactly (a Wiener filter).
"""

import math

import torch

from invsolve.catalog import SIGMA_MAX, SIGMA_MIN
from invsolve.devices import seeded_normal
from invsolve.errors import InvsolveError
from invsolve.priors.base import Prior


class GaussianPrior(Prior):
    """Mean ``mean`` per pixel, pixel standard deviation ``std``, Gaussian-shaped correlation of
    ``correlation_length`` pixels (plus a small white part so every frequency has variance)."""

    channels: int
    image_size: int

    def __init__(
        self,
        image_size: int,
        channels: int = 1,
        mean: float = 0.5,
        std: float = 0.2,
        correlation_length: float = 2.0,
        white_fraction: float = 0.05,
        sigma_min: float = SIGMA_MIN,
        sigma_max: float = SIGMA_MAX,
    ):
        super().__init__()
        if std <= 0 or correlation_length < 0 or not 0 < white_fraction <= 1:
            raise InvsolveError("GaussianPrior needs std > 0, correlation_length >= 0 and 0 < white_fraction <= 1")
        self.channels, self.image_size, self.mean = channels, image_size, mean
        self.sigma_min, self.sigma_max = sigma_min, sigma_max
        freq = torch.fft.fftfreq(image_size, dtype=torch.float64)
        radius2 = freq[:, None] ** 2 + freq[None, :] ** 2
        smooth = torch.exp(-2 * math.pi**2 * correlation_length**2 * radius2)
        smooth = smooth / smooth.mean()
        shape = (1 - white_fraction) * smooth + white_fraction  # mean 1: pixel variance = std^2 * 1
        self.register_buffer("spectrum", (std**2 * shape).float())  # (N, N): variance per Fourier mode

    def denoise(self, x: torch.Tensor, sigma: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        self.check_image(x)
        if x.shape[-2:] != self.spectrum.shape:
            raise InvsolveError(
                f"this GaussianPrior is for {self.image_size}x{self.image_size} images, got {tuple(x.shape[-2:])}"
            )
        gain = self.spectrum / (self.spectrum + sigma**2)
        return self.mean + torch.fft.ifft2(gain * torch.fft.fft2(x - self.mean)).real

    def sample(self, count: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``count`` exact draws from the prior, (count, C, N, N)."""
        shape = (count, self.channels, self.image_size, self.image_size)
        white = seeded_normal(shape, generator, self.spectrum)
        return self.mean + torch.fft.ifft2(self.spectrum.sqrt() * torch.fft.fft2(white)).real

    def covariance(self) -> torch.Tensor:
        """The dense (N^2, N^2) covariance of one channel, row-major pixels (for small test images)."""
        n = self.image_size
        basis = torch.eye(n * n, dtype=torch.float64).reshape(n * n, n, n)
        columns = torch.fft.ifft2(self.spectrum.double() * torch.fft.fft2(basis)).real
        return columns.reshape(n * n, n * n)

    def describe(self) -> str:
        return (
            f"GaussianPrior: {self.channels} channel(s), {self.image_size}px, mean {self.mean}, "
            f"pixel std {self.spectrum.mean().sqrt().item():.3g}"
        )
