"""2D parallel-beam CT through ODL's RayTransform and ASTRA.

On the CPU the ray transform is applied as the sparse matrix of ASTRA's projector (the one ODL
runs, read once per geometry): one sparse product for a whole batch instead of an ASTRA call per
slice, 3 to 10 times faster at 128-256 px with the same values to float rounding. Geometries whose
matrix would be large (``MATRIX_MAX_ENTRIES``) call ASTRA per slice; on a GPU ASTRA's CUDA code runs.

Geometry (the paper's, scaled with the image size N): the image covers [-20, 20]^2 whatever N is,
so line integrals (the sinogram values) do not change with resolution and step sizes and
regularisation weights carry over between sizes; the detector covers [-40, 40] with 2N bins by
default (bins as wide as pixels); the n view angles are the midpoints (k + 1/2) pi / n of [0, pi).
"""

import functools
from collections.abc import Callable
from typing import Any

import numpy as np
import odl
import scipy.sparse
import torch
from deepinv.physics import LinearPhysics
from odl.applications import tomo
from odl.applications.tomo.backends.astra_setup import astra_projection_geometry, astra_projector, astra_volume_geometry

from invsolve.catalog import MAX_IMAGE_SIDE
from invsolve.errors import InvsolveError
from invsolve.linalg import regularised_least_squares
from invsolve.operators.base import OperatorMixin, noise_model_for, second_difference_noise_level

FIELD_OF_VIEW = 40.0  # image side length, in the paper's geometry units
#: What photon-count noise needs, the attenuation of an image value: images are on the CT window
#: (invsolve.units), value v is -1000 + 2000 v HU and attenuates 2 v mu_water (mu_water 0.0193 per mm,
#: water near 70 keV), and the field of view is taken as 256 mm, a head's. Per unit of the
#: geometry: 2 * 0.0193 * 256 / 40 = 0.247, so a ray through 20 cm of water has a line integral
#: of about 3.9 and keeps 2 % of its photons.
WATER_ATTENUATION_PER_MM, FIELD_OF_VIEW_MM = 0.0193, 256.0
ATTENUATION = 2 * WATER_ATTENUATION_PER_MM * FIELD_OF_VIEW_MM / FIELD_OF_VIEW
#: The proximal map's CG runs until the residual is this share of the right-hand side (or the cap).
PROX_TOLERANCE, PROX_ITERATIONS = 1e-4, 200


#: The most views or detector bins a CT operator takes: twice the largest image side (a clinical
#: scanner records a few thousand of each); beyond it one sinogram alone outgrows a workstation.
MAX_SINOGRAM_SIDE = 2 * MAX_IMAGE_SIDE


#: The most nonzeros a stored projection matrix may have (8 bytes each, float32 values and int32
#: indices: 80 MB): 128 px at 20 views has 0.6 million, 256 px at 20 views 2.4 million.
MATRIX_MAX_ENTRIES = 10_000_000
#: How ``ParallelBeamCT`` applies the ray transform: its stored sparse matrix, or ASTRA per slice.
BACKENDS = ("matrix", "astra_cpu", "astra_cuda")


def default_backend(image_size: int, views: int, detector_bins: int) -> str:
    """'astra_cuda' when both torch and ASTRA see a GPU; else 'matrix' where the projection matrix
    is small enough (about views x pixels x (1 + bins per pixel) nonzeros), else 'astra_cpu'."""
    import astra

    if torch.cuda.is_available() and astra.use_cuda():
        return "astra_cuda"
    entries = views * image_size**2 * (1 + detector_bins / (2 * image_size))
    return "matrix" if entries <= MATRIX_MAX_ENTRIES else "astra_cpu"


def _geometry(image_size: int, views: int, detector_bins: int) -> tuple[Any, Any]:
    """The image space and the parallel-beam geometry of the module docstring, as ODL objects."""
    half = FIELD_OF_VIEW / 2
    space = odl.uniform_discr([-half, -half], [half, half], (image_size, image_size), dtype="float32")
    geometry = tomo.Parallel2dGeometry(
        odl.uniform_partition(0.0, np.pi, views),
        odl.uniform_partition(-FIELD_OF_VIEW, FIELD_OF_VIEW, detector_bins),
    )
    return space, geometry


@functools.lru_cache(maxsize=8)
def _projection_matrix(image_size: int, views: int, detector_bins: int) -> scipy.sparse.csr_matrix:
    """The (views x bins, pixels) matrix of the ASTRA projector ODL's RayTransform runs on the CPU
    (its default for 2D parallel beams, 'linear'), in float32; shared by every operator of one
    geometry, never written to."""
    import astra

    space, geometry = _geometry(image_size, views, detector_bins)
    projector = astra_projector(
        "linear", astra_volume_geometry(space, "cpu"), astra_projection_geometry(geometry, "cpu"), 2
    )
    matrix_id = astra.projector.matrix(projector)
    try:
        return astra.matrix.get(matrix_id).astype(np.float32)
    finally:
        astra.matrix.delete(matrix_id)
        astra.projector.delete(projector)


class ParallelBeamCT(OperatorMixin, LinearPhysics):
    """``y = R x``: the parallel-beam ray transform of each (B, C) slice, sinogram (views, bins).

    ``A_adjoint`` is the exact transpose (sum inner products, what deepinv and the solvers assume),
    ``A_dagger`` and ``baseline`` are filtered back-projection (Hann filter, frequency scaling 0.9);
    the baseline is clamped to [0, 1]. ``noise`` is Gaussian noise on the sinogram; ``photons``
    (per detector bin) photon-count noise instead, with the attenuation ``ATTENUATION``.
    """

    def __init__(
        self,
        image_size: int,
        views: int,
        *,
        channels: int = 1,
        detector_bins: int | None = None,
        noise: float = 0.0,
        photons: float | None = None,
        fbp_filter: str = "Hann",
        fbp_frequency_scaling: float = 0.9,
        impl: str | None = None,
        name: str | None = None,
        device: str | torch.device = "cpu",
    ):
        if image_size < 8:
            raise InvsolveError(f"CT needs an image size of at least 8 pixels, got {image_size}")
        if not 1 <= views <= MAX_SINOGRAM_SIDE:
            raise InvsolveError(f"CT views must be 1 to {MAX_SINOGRAM_SIDE}, got {views}")
        detector_bins = 2 * image_size if detector_bins is None else detector_bins
        if not 2 <= detector_bins <= MAX_SINOGRAM_SIDE:
            raise InvsolveError(f"CT detector bins must be 2 to {MAX_SINOGRAM_SIDE}, got {detector_bins}")
        noise_model = noise_model_for(noise, photons, ATTENUATION)
        super().__init__(noise_model=noise_model, img_size=(channels, image_size, image_size), device=device)
        self.name = name or f"ct{views}"
        self.baseline_name = "FBP"
        self.views, self.detector_bins = views, detector_bins
        self.image_shape = (channels, image_size, image_size)
        self.measurement_shape = (channels, views, detector_bins)
        self.fbp_filter, self.fbp_frequency_scaling = fbp_filter, fbp_frequency_scaling

        if impl is not None and impl not in BACKENDS:
            raise InvsolveError(f"CT backend must be one of {', '.join(BACKENDS)}, got {impl!r}")
        self.impl = impl or default_backend(image_size, views, detector_bins)
        space, geometry = _geometry(image_size, views, detector_bins)
        ray = tomo.RayTransform(space, geometry, impl="astra_cpu" if self.impl == "matrix" else self.impl)
        try:
            fbp = tomo.fbp_op(ray, filter_type=fbp_filter, frequency_scaling=fbp_frequency_scaling)
        except (ValueError, KeyError) as err:
            raise InvsolveError(f"FBP filter {fbp_filter!r} is not available: {err}") from None
        if self.impl == "matrix":
            matrix = _projection_matrix(image_size, views, detector_bins)
            self._project = _sparse_product(matrix, (views, detector_bins))
            self._backproject = _sparse_product(matrix.T, (image_size, image_size))
        else:
            # ODL's adjoint is taken in cell-volume-weighted inner products; the plain transpose
            # differs from it by the ratio of the two cell volumes.
            transpose_scale = space.cell_volume / ray.range.cell_volume
            self._project = _numpy_slices(lambda s: ray(s).asarray())
            self._backproject = _numpy_slices(lambda s: transpose_scale * ray.adjoint(s).asarray())
        self._fbp = _numpy_slices(lambda s: fbp(s).asarray())

    def A(self, x: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        return _TransposePair.apply(x, self._project, self._backproject)

    def A_adjoint(self, y: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        return _TransposePair.apply(y, self._backproject, self._project)

    def A_dagger(self, y: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        """Filtered back-projection (not differentiable)."""
        return self._fbp(y.detach())

    def baseline(self, y: torch.Tensor) -> torch.Tensor:
        return self.A_dagger(y).clamp(0, 1)

    def prox_l2(self, z: torch.Tensor, y: torch.Tensor, gamma: float, **kwargs: Any) -> torch.Tensor:
        """argmin_x 1/2 ||A x - y||^2 + 1/(2 gamma) ||x - z||^2: conjugate gradients on the normal
        equations from z, per image, to relative residual ``PROX_TOLERANCE``."""
        return regularised_least_squares(self, y, z, 1 / gamma, PROX_ITERATIONS, PROX_TOLERANCE)

    def estimate_noise_level(self, y: torch.Tensor) -> float:
        """The noise of a measurement from the detector bins no ray through the image reaches
        (the detector is twice as wide as the image, so about 30 % of the bins at the default
        width): they hold noise alone, and the median of their absolute values over 0.6745 is its
        standard deviation (robust to a few bins the object does reach). Photon-count noise is
        weakest there (no attenuation), so for it this is the level of an unattenuated ray. A
        detector without such bins gets ``second_difference_noise_level``."""
        outside = self._bins_outside_image()
        if outside.sum() < 8:
            return second_difference_noise_level(y)
        return y[..., outside.to(y.device)].detach().abs().median().item() / 0.6745

    def _bins_outside_image(self) -> torch.Tensor:
        """The detector bins whose whole width lies beyond the image's circumscribed circle."""
        width = 2 * FIELD_OF_VIEW / self.detector_bins
        centres = -FIELD_OF_VIEW + width * (torch.arange(self.detector_bins) + 0.5)
        return centres.abs() - width / 2 > FIELD_OF_VIEW / 2 * np.sqrt(2)

    def describe(self) -> dict:
        return {
            **super().describe(),
            "views": self.views,
            "detector_bins": self.detector_bins,
            "fbp_filter": self.fbp_filter,
            "fbp_frequency_scaling": self.fbp_frequency_scaling,
            "backend": self.impl,
        }


def _numpy_slices(slice_map: Callable[[np.ndarray], Any]) -> Callable[[torch.Tensor], torch.Tensor]:
    """Lift a map of one 2D numpy slice to (B, C, ...) tensors, keeping device and dtype."""

    def lifted(t: torch.Tensor) -> torch.Tensor:
        flat = t.detach().reshape(-1, *t.shape[-2:]).cpu().numpy()
        out = np.stack([np.asarray(slice_map(s), dtype=np.float32) for s in flat])
        return torch.from_numpy(out).reshape(*t.shape[:-2], *out.shape[-2:]).to(device=t.device, dtype=t.dtype)

    return lifted


def _sparse_product(matrix: scipy.sparse.sparray, out_shape: tuple[int, int]) -> Callable[[torch.Tensor], torch.Tensor]:
    """``matrix`` applied to every 2D slice of (B, C, ...) tensors in one product, keeping device
    and dtype; slices are flattened row by row, as ASTRA stores them."""

    def apply(t: torch.Tensor) -> torch.Tensor:
        flat = t.detach().reshape(-1, matrix.shape[1]).to("cpu", torch.float32).numpy()
        out = np.ascontiguousarray((matrix @ flat.T).T, dtype=np.float32)
        return torch.from_numpy(out).reshape(*t.shape[:-2], *out_shape).to(device=t.device, dtype=t.dtype)

    return apply


class _TransposePair(torch.autograd.Function):
    """A linear map computed outside torch, made differentiable by its transpose.

    The backward pass applies the transpose through this same Function, so gradients of
    gradients (e.g. a data-consistency step inside a differentiated solver) also work.
    """

    @staticmethod
    def forward(ctx: Any, t: torch.Tensor, forward_map: Callable, transpose_map: Callable) -> torch.Tensor:
        ctx.maps = (forward_map, transpose_map)
        return forward_map(t)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None, None]:
        forward_map, transpose_map = ctx.maps
        return _TransposePair.apply(grad, transpose_map, forward_map), None, None
