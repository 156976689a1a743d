"""Superresolution by nearest-neighbour subsampling: ``y = x[..., ::f, ::f]``.

deepinv's ``Downsampling`` with ``filter=None`` is exactly that (its default is a Gaussian
anti-aliasing filter, which is a different problem).
"""

from typing import Any

import torch
from deepinv.physics import Downsampling

from invsolve.errors import InvsolveError
from invsolve.operators.base import OperatorMixin, noise_model_for


class NearestSubsampling(OperatorMixin, Downsampling):
    """Keep every f-th pixel. Baseline: nearest-neighbour upsampling (each sample fills its f x f block)."""

    closed_form_prox = True  # prox_l2 below

    def __init__(
        self,
        image_size: int,
        *,
        channels: int = 1,
        factor: int = 4,
        noise: float = 0.01,
        name: str | None = None,
        device: str | torch.device = "cpu",
    ):
        if factor < 1:
            raise InvsolveError(f"superresolution factor must be a positive integer, got {factor}")
        if image_size % factor:
            raise InvsolveError(
                f"image size {image_size} is not a multiple of the superresolution factor {factor}; "
                f"use image_size {image_size - image_size % factor or factor}"
            )
        super().__init__(
            img_size=(channels, image_size, image_size),
            filter=None,
            factor=factor,
            noise_model=noise_model_for(noise),
            device=device,
        )
        self.name = name or f"sr{factor}"
        self.baseline_name = "nearest upsampling"
        self.factor = factor
        self.image_shape = (channels, image_size, image_size)
        self.measurement_shape = (channels, image_size // factor, image_size // factor)

    def A_dagger(self, y: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        """The rows of A are distinct unit vectors (A A^T = I), so the pseudo-inverse is the transpose."""
        return self.A_adjoint(y)

    def prox_l2(self, z: torch.Tensor, y: torch.Tensor, gamma: float, **kwargs: Any) -> torch.Tensor:
        """argmin_x 1/2 ||A x - y||^2 + 1/(2 gamma) ||x - z||^2 in closed form: A^T A is the 0/1 mask of
        the kept pixels, so those move towards y by gamma / (1 + gamma) and the others stay at z.
        (deepinv's FFT formula needs a filter, which ``filter=None`` does not have.)"""
        return z + gamma / (1 + gamma) * self.A_adjoint(y - self.A(z))

    def baseline(self, y: torch.Tensor) -> torch.Tensor:
        return y.repeat_interleave(self.factor, dim=-2).repeat_interleave(self.factor, dim=-1).clamp(0, 1)

    def describe(self) -> dict:
        return {**super().describe(), "factor": self.factor}
