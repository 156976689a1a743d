"""Forward operators: linear measurement models on (B, C, H, W) images, built on deepinv physics.

``make_operator("ct8", image_size=128)`` builds a named preset; the classes can also be used
directly. Every operator is a ``deepinv.physics.LinearPhysics``, so it works in deepinv's
algorithms too.
"""

from invsolve.catalog import DOMAINS
from invsolve.operators.base import (
    OperatorMixin,
    baseline,
    check_measurement,
    estimate_noise_level,
    image_channels,
    noise_level,
    noise_model_for,
    photon_counts,
)
from invsolve.operators.blur import BoxBlur
from invsolve.operators.ct import ParallelBeamCT
from invsolve.operators.presets import (
    PRESETS,
    Preset,
    get_preset,
    make_operator,
    preset_differences,
    register_preset,
)
from invsolve.operators.superres import NearestSubsampling
from invsolve.operators.volume import SliceStack

__all__ = [
    "DOMAINS",
    "PRESETS",
    "BoxBlur",
    "NearestSubsampling",
    "OperatorMixin",
    "ParallelBeamCT",
    "Preset",
    "SliceStack",
    "baseline",
    "check_measurement",
    "estimate_noise_level",
    "get_preset",
    "image_channels",
    "make_operator",
    "noise_level",
    "noise_model_for",
    "photon_counts",
    "preset_differences",
    "register_preset",
]
