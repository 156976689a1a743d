"""Volumes through a 2D operator: every slice of (B, C, D, H, W) measured alike.

For parallel-beam CT whose rotation axis is z, every ray lies in one axial slice, so the 3D ray
transform is the 2D one applied to each slice: the geometry of the 3D experiments of DiffusionMBIR
(Chung et al., CVPR 2023) and DDS (Chung, Lee and Ye, ICLR 2024). The slices travel through the 2D
operator as one batch (on the CPU, one sparse product for the whole volume).
"""

from collections.abc import Callable
from typing import Any

import torch
from deepinv.physics import LinearPhysics

from invsolve.errors import InvsolveError
from invsolve.operators.base import OperatorMixin, baseline, estimate_noise_level
from invsolve.operators.base import Physics as SlicePhysics


class SliceStack(OperatorMixin, LinearPhysics):
    """``slice_operator`` on each of ``depth`` slices: images (B, C, D, H, W), measurements
    (B, C', D, ...) with the slice operator's measurement of each slice along D. Its transpose is the
    slice operator's, slice by slice; its noise model is the slice operator's (shared, so a noise
    model set on either is the other's too)."""

    def __init__(self, slice_operator: SlicePhysics, depth: int):
        if depth < 1:
            raise InvsolveError(f"a volume needs at least one slice, got depth {depth}")
        image_shape = getattr(slice_operator, "image_shape", None)
        measurement_shape = getattr(slice_operator, "measurement_shape", None)
        if image_shape is None or measurement_shape is None:
            raise InvsolveError("a slice operator must state its image_shape and measurement_shape")
        super().__init__(noise_model=slice_operator.noise_model)
        self.slice_operator, self.depth = slice_operator, depth
        self.name = f"{getattr(slice_operator, 'name', type(slice_operator).__name__)}, {depth} slices"
        self.baseline_name = getattr(slice_operator, "baseline_name", "pseudo-inverse")
        channels, height, width = image_shape
        self.image_shape = (channels, depth, height, width)
        self.measurement_shape = (measurement_shape[0], depth, *measurement_shape[1:])

    def set_noise_model(self, noise_model: Any, **kwargs: Any) -> None:
        super().set_noise_model(noise_model, **kwargs)
        self.slice_operator.set_noise_model(noise_model, **kwargs)

    def A(self, x: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        return per_slice(self.slice_operator.A, x)

    def A_adjoint(self, y: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        return per_slice(self.slice_operator.A_adjoint, y)

    def A_dagger(self, y: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        return per_slice(self.slice_operator.A_dagger, y)

    def baseline(self, y: torch.Tensor) -> torch.Tensor:
        return per_slice(lambda slices: baseline(self.slice_operator, slices), y)

    def estimate_noise_level(self, y: torch.Tensor) -> float:
        return estimate_noise_level(self.slice_operator, y.movedim(2, 1).flatten(0, 1))

    def describe(self) -> dict:
        slice_description: dict = getattr(self.slice_operator, "describe", dict)()
        return {**slice_description, **super().describe(), "depth": self.depth}


def per_slice(slice_map: Callable[[torch.Tensor], torch.Tensor], t: torch.Tensor) -> torch.Tensor:
    """``slice_map`` of (N, C, H, W) batches applied to (B, C, D, H, W): the D slices of every
    volume join the batch, one call in all."""
    if t.dim() != 5:
        raise InvsolveError(f"a volume batch is (B, C, D, H, W); got shape {tuple(t.shape)}")
    batch, channels, depth = t.shape[:3]
    out = slice_map(t.movedim(2, 1).reshape(batch * depth, channels, *t.shape[-2:]))
    return out.reshape(batch, depth, *out.shape[1:]).movedim(1, 2)
