"""What every invsolve operator adds to a deepinv LinearPhysics, and the one adapter through which
solvers read any physics, ours or deepinv's.

An operator is a linear forward model on batched images (B, C, H, W) in [0, 1] with:
``A``, ``A_adjoint`` (the exact transpose), ``A_dagger`` (a pseudo-inverse), ``baseline(y)``
(the classical reconstruction each task is compared with), its measurement-noise level (read
from its deepinv noise model, so ``set_noise_model`` changes it) and ``simulate(x, generator)``
for seeded measurements ``y = A x + noise``.

A plain deepinv ``LinearPhysics`` has only ``A``, ``A_adjoint``, ``A_dagger`` and a noise model;
``baseline``, ``noise_level``, ``image_channels``, ``has_closed_form_prox`` and ``check_measurement`` below give every
physics the same face, using what an operator has (ours, or any class with the same members).
"""

import math
from collections.abc import Callable
from typing import Any, TypeAlias

import torch
from deepinv.physics import DecomposablePhysics, GaussianNoise, LogPoissonNoise, ZeroNoise

from invsolve.devices import seeded_normal, seeded_poisson
from invsolve.errors import InvsolveError

FLOAT32_MAX = torch.finfo(torch.float32).max

#: What solvers accept as an operator: any deepinv ``LinearPhysics`` (ours are too). deepinv ships no
#: type information, so to a type checker this is Any; it documents the contract.
Physics: TypeAlias = Any


#: A bin that counts no photon is read as this many (log 0 is no measurement), as LoDoPaB-CT does
#: (Leuschner et al. 2021).
ZERO_COUNT = 0.1
#: The most photons per detector bin a model takes: beyond it the noise is below float32's resolution.
MAX_PHOTONS = 1e12


def noise_model_for(
    sigma: float, photons: float | None = None, attenuation: float = 1.0
) -> GaussianNoise | ZeroNoise | LogPoissonNoise:
    """deepinv's noise model: white Gaussian noise of standard deviation ``sigma`` on the measurement,
    or, with ``photons``, photon-count noise after the log: a bin of line integral p (in the
    operator's units, ``attenuation`` per unit) counts Poisson(photons exp(-attenuation p)), and
    measures -log(count / photons) / attenuation."""
    if not (math.isfinite(sigma) and 0 <= sigma <= FLOAT32_MAX):
        raise InvsolveError(f"noise level must be a number from 0 to {FLOAT32_MAX:.3g} (float32 data), got {sigma:g}")
    if photons is None:
        return GaussianNoise(sigma=sigma) if sigma > 0 else ZeroNoise()
    if sigma > 0:
        raise InvsolveError(
            f"give Gaussian noise (noise {sigma:g}) or photon counts (photons {photons:g}), not both: "
            "photon counts bring their own noise"
        )
    if not (math.isfinite(photons) and 1 <= photons <= MAX_PHOTONS):
        raise InvsolveError(f"photons (per detector bin) must be a number from 1 to {MAX_PHOTONS:g}, got {photons:g}")
    return LogPoissonNoise(N0=photons, mu=attenuation)


class OperatorMixin:
    """Mixed into a deepinv ``LinearPhysics`` subclass (listed first, so its methods win).

    Subclasses set ``name``, ``image_shape`` ((C, H, W); volumes (C, D, H, W)) and
    ``measurement_shape``, pass their noise model to deepinv, and implement ``baseline``.
    """

    name: str
    baseline_name: str  # what baseline() is, for figures and reports
    closed_form_prox: bool = False  # prox_l2 is exact in closed form (no iterative solve)
    image_shape: tuple[int, ...]
    measurement_shape: tuple[int, ...]
    A: Callable[[torch.Tensor], torch.Tensor]  # deepinv's LinearPhysics provides these four
    A_adjoint: Callable[[torch.Tensor], torch.Tensor]
    noise_model: Any
    set_noise_model: Callable[[Any], None]

    @property
    def noise_sigma(self) -> float:
        """The standard deviation of Gaussian measurement noise, as the current noise model says (0
        for photon-count noise, whose level depends on the measurement: ``noise_level(op, y)``)."""
        return 0.0 if photon_counts(self) else noise_level(self)

    def baseline(self, y: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def simulate(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Measurements ``A x`` with the noise model's noise, drawn from ``generator`` (seeded =
        repeatable) on its device and then moved, so the same seed gives the same measurements on
        CPU and GPU."""
        self.check_image(x)
        y = self.A(x)
        model = self.noise_model
        if isinstance(model, LogPoissonNoise):
            photons, attenuation = float(model.N0), float(model.mu)
            counts = seeded_poisson(photons * torch.exp(-attenuation * y.clamp_min(0)), generator)
            return -torch.log(counts.clamp_min(ZERO_COUNT) / photons) / attenuation
        sigma = self.noise_sigma
        if sigma > 0:
            y = y + sigma * seeded_normal(y.shape, generator, y)
            if not torch.isfinite(y).all():
                raise InvsolveError(
                    f"noise {sigma:g} overflows the float32 measurements (largest {FLOAT32_MAX:.3g}); "
                    "give a noise level on the scale of the data"
                )
        return y

    def check_image(self, x: torch.Tensor) -> None:
        _check_batch(x, self.image_shape, f"{self.name} image", "an image of that size (see image_size)")

    def check_measurement(self, y: torch.Tensor) -> None:
        _check_batch(
            y,
            self.measurement_shape,
            f"{self.name} measurement",
            f"measurements simulated by {self.name} at this image size",
        )

    def describe(self) -> dict:
        """The settings that define this operator, for logs and JSON output."""
        return {
            "name": self.name,
            "image_shape": list(self.image_shape),
            "measurement_shape": list(self.measurement_shape),
            "noise": self.noise_sigma,
            "photons": photon_counts(self),
        }


def photon_counts(physics: Physics) -> float | None:
    """The photons per detector bin of a photon-count noise model, None for any other."""
    model = getattr(physics, "noise_model", None)
    return float(f"{float(model.N0):.7g}") if isinstance(model, LogPoissonNoise) else None


def noise_level(physics: Physics, y: torch.Tensor | None = None) -> float:
    """The standard deviation of the measurement noise, which the solvers weigh the data by: 0
    without noise, the sigma of a Gaussian model (the largest, if it holds one per image).

    Photon-count noise is not Gaussian, and its level depends on the measurement: a bin of post-log
    value p has variance about exp(attenuation p) / (photons attenuation^2) (the delta method), so
    with ``y`` the level is the root mean square of that over the bins, a Gaussian of the same mean
    variance. Other noise models are refused."""
    model = getattr(physics, "noise_model", None)
    if model is None or isinstance(model, ZeroNoise):
        return 0.0
    if isinstance(model, LogPoissonNoise):
        if y is None:
            raise InvsolveError("photon-count noise has a level only for a given measurement: noise_level(op, y)")
        photons, attenuation = float(model.N0), float(model.mu)
        variance = torch.exp(attenuation * y.detach().double()).mean() / (photons * attenuation**2)
        return float(f"{math.sqrt(variance):.7g}")
    if not isinstance(model, GaussianNoise):
        raise InvsolveError(
            f"the operator's noise model is {type(model).__name__}; invsolve's solvers and simulate "
            "take Gaussian noise (GaussianNoise, ZeroNoise) or photon counts (LogPoissonNoise)"
        )
    sigma = float(model.sigma.max() if isinstance(model.sigma, torch.Tensor) else model.sigma)
    return float(f"{sigma:.7g}")  # deepinv holds it in float32: 0.01, not 0.009999999776


def estimate_noise_level(physics: Physics, y: torch.Tensor) -> float:
    """The standard deviation of white noise in a measurement whose level nobody gave, from the data
    alone: the operator's own estimate where it has one (CT: the detector bins no ray through the
    image reaches), else ``second_difference_noise_level``."""
    check_measurement(physics, y)
    own = getattr(physics, "estimate_noise_level", None)
    level = own(y) if callable(own) else second_difference_noise_level(y)
    return float(f"{level:.4g}")


def second_difference_noise_level(y: torch.Tensor) -> float:
    """Noise from data whose signal is smooth along the last axis: the median absolute second
    difference along it, over 0.6745 (a normal's median absolute value) and sqrt(6) (a second
    difference of white noise has variance 6 sigma^2); the median ignores the edges where the
    signal's own differences are large (Donoho and Johnstone's robust estimate, on differences
    instead of wavelets). Biased up where much of the signal is not smooth."""
    if y.shape[-1] < 3:
        raise InvsolveError(f"a noise estimate needs at least 3 values along the last axis, got shape {tuple(y.shape)}")
    second = y[..., :-2] - 2 * y[..., 1:-1] + y[..., 2:]
    return second.detach().abs().median().item() / (0.6745 * math.sqrt(6))


def baseline(physics: Physics, y: torch.Tensor) -> torch.Tensor:
    """The classical reconstruction solvers start from: ours define one (FBP, ...); for deepinv's
    physics it is the pseudo-inverse. Clamped to [0, 1], the range of images."""
    with torch.no_grad():
        start = physics.baseline(y) if hasattr(physics, "baseline") else physics.A_dagger(y)
    return start.clamp(0, 1)


def has_closed_form_prox(physics: Physics) -> bool:
    """Whether ``physics.prox_l2`` is exact in closed form: operators that say so (blur by FFT,
    subsampling) and deepinv's ``DecomposablePhysics`` (diagonal in a known basis). Otherwise a
    solver runs its own conjugate gradients."""
    return getattr(physics, "closed_form_prox", isinstance(physics, DecomposablePhysics))


def image_channels(physics: Physics) -> int | None:
    """The channel count of the operator's images, where it says (ours do; deepinv's need not)."""
    shape = getattr(physics, "image_shape", None)
    return shape[0] if shape else None


def check_linear(physics: Physics) -> None:
    """The solvers need a linear forward model with its transpose: a deepinv ``LinearPhysics`` (or
    any object with ``A`` and ``A_adjoint``); a non-linear physics is refused with the reason."""
    if not (callable(getattr(physics, "A", None)) and callable(getattr(physics, "A_adjoint", None))):
        raise InvsolveError(
            f"the solvers need a linear forward model with its adjoint (A and A_adjoint, as deepinv's "
            f"LinearPhysics has); got {type(physics).__name__}, which has no A_adjoint"
        )


def check_measurement(physics: Physics, y: torch.Tensor) -> None:
    """Refuse a measurement of the wrong shape (where the operator knows its shape) or with NaN/Inf."""
    if hasattr(physics, "check_measurement"):
        physics.check_measurement(y)
    elif not torch.isfinite(y).all():
        raise InvsolveError("the measurement contains NaN or Inf values; clean the data first")


def _check_batch(t: torch.Tensor, expected: tuple[int, ...], what: str, fix: str) -> None:
    if not isinstance(t, torch.Tensor) or t.dim() != len(expected) + 1 or tuple(t.shape[1:]) != tuple(expected):
        got = tuple(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__
        raise InvsolveError(f"{what} must have shape (B, {', '.join(map(str, expected))}), got {got}; pass {fix}")
    if not torch.isfinite(t).all():
        raise InvsolveError(f"{what} contains NaN or Inf values; clean the data first")
