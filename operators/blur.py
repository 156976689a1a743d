"""Uniform (box) blur with circular boundaries, on deepinv's FFT blur.

Circular boundaries make the operator diagonal in Fourier: the transpose is exact and deepinv's
``A_dagger`` is the true pseudo-inverse (singular values below 1e-5 are dropped).
"""

import torch
from deepinv.physics import BlurFFT

from invsolve.errors import InvsolveError
from invsolve.operators.base import OperatorMixin, noise_model_for


class BoxBlur(OperatorMixin, BlurFFT):
    """``y = k * x`` with a k x k uniform kernel centred on each pixel. Baseline: the blurred image."""

    closed_form_prox = True  # deepinv's prox_l2 divides in Fourier space

    def __init__(
        self,
        image_size: int,
        *,
        channels: int = 1,
        kernel_size: int = 9,
        noise: float = 0.01,
        name: str = "deblur",
        device: str | torch.device = "cpu",
    ):
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise InvsolveError(f"box kernel size must be odd and positive (so it is centred), got {kernel_size}")
        if kernel_size > image_size:
            raise InvsolveError(
                f"box kernel ({kernel_size}) is larger than the image ({image_size}); "
                "use a larger image_size or a smaller kernel"
            )
        kernel = torch.full((1, 1, kernel_size, kernel_size), 1.0 / kernel_size**2)
        super().__init__(
            img_size=(channels, image_size, image_size),
            filter=kernel,
            noise_model=noise_model_for(noise),
            device=device,
        )
        self.name = name
        self.baseline_name = "blurred image"
        self.kernel_size = kernel_size
        self.image_shape = self.measurement_shape = (channels, image_size, image_size)

    def baseline(self, y: torch.Tensor) -> torch.Tensor:
        return y.clamp(0, 1)

    def describe(self) -> dict:
        return {**super().describe(), "kernel_size": self.kernel_size, "boundary": "circular"}
