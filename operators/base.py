"""What every invsolve operator adds to a deepinv LinearPhysics.

An operator is a linear forward model on batched images (B, C, H, W) in [0, 1] with:
``A``, ``A_adjoint`` (the exact transpose), ``A_dagger`` (a pseudo-inverse), ``baseline(y)``
(the classical reconstruction each task is compared with), its measurement-noise level and
``simulate(x, generator)`` for seeded measurements ``y = A x + noise``.
"""

import math

import torch
from deepinv.physics import GaussianNoise, ZeroNoise

from invsolve.devices import seeded_normal
from invsolve.errors import InvsolveError


def noise_model_for(sigma: float):
    """deepinv's noise model for white Gaussian noise of standard deviation ``sigma``."""
    if not (math.isfinite(sigma) and sigma >= 0):
        raise InvsolveError(f"noise level must be a finite number >= 0, got {sigma}")
    return GaussianNoise(sigma=sigma) if sigma > 0 else ZeroNoise()


class OperatorMixin:
    """Mixed into a deepinv ``LinearPhysics`` subclass (listed first, so its methods win).

    Subclasses set ``name``, ``image_shape`` (C, H, W), ``measurement_shape`` and ``noise_sigma``
    and implement ``baseline``.
    """

    name: str
    baseline_name: str  # what baseline() is, for figures and reports
    image_shape: tuple[int, int, int]
    measurement_shape: tuple[int, ...]
    noise_sigma: float

    def baseline(self, y: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def simulate(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Measurements ``A x + sigma * n``; the noise comes from ``generator`` (seeded = repeatable).

        The noise is drawn on the generator's device and then moved, so the same seed gives the
        same measurements on CPU and GPU.
        """
        self.check_image(x)
        y = self.A(x)
        if self.noise_sigma > 0:
            y = y + self.noise_sigma * seeded_normal(y.shape, generator, y)
        return y

    def check_image(self, x: torch.Tensor) -> None:
        _check_batch(x, self.image_shape, f"{self.name} image", "an image of that size (see --image-size)")

    def check_measurement(self, y: torch.Tensor) -> None:
        _check_batch(y, self.measurement_shape, f"{self.name} measurement",
                     f"measurements simulated by {self.name} at this image size")

    def describe(self) -> dict:
        """The settings that define this operator, for logs and JSON output."""
        return {"name": self.name, "image_shape": list(self.image_shape),
                "measurement_shape": list(self.measurement_shape), "noise": self.noise_sigma}


def _check_batch(t: torch.Tensor, expected: tuple[int, ...], what: str, fix: str) -> None:
    if not isinstance(t, torch.Tensor) or t.dim() != len(expected) + 1 or tuple(t.shape[1:]) != tuple(expected):
        got = tuple(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__
        raise InvsolveError(f"{what} must have shape (B, {', '.join(map(str, expected))}), got {got}; pass {fix}")
    if not torch.isfinite(t).all():
        raise InvsolveError(f"{what} contains NaN or Inf values; clean the data first")
