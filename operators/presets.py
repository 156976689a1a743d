"""Named operator settings (the paper's tasks) for any image size and channel count."""

import functools
import inspect
from dataclasses import dataclass, field
from typing import Any

import torch

from invsolve.catalog import MAX_IMAGE_SIDE, PRESET_DOMAINS
from invsolve.errors import InvsolveError
from invsolve.operators.base import OperatorMixin
from invsolve.operators.blur import BoxBlur
from invsolve.operators.ct import ParallelBeamCT
from invsolve.operators.superres import NearestSubsampling
from invsolve.validation import check_arguments, check_value


@dataclass(frozen=True)
class Preset:
    name: str
    builder: type[Any]  # an OperatorMixin + deepinv physics class; deepinv ships no types
    defaults: dict = field(default_factory=dict)
    domain: str = "photo"  # one of DOMAINS: which built-in data fits
    channels: int | None = None  # fixed channel count, or None for "as the image has"
    summary: str = ""


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset(
            "ct20",
            ParallelBeamCT,
            {"views": 20, "noise": 0.0},
            PRESET_DOMAINS["ct20"],
            1,
            "parallel-beam CT, 20 views over [0, pi), 2N detector bins, noiseless",
        ),
        Preset(
            "ct8",
            ParallelBeamCT,
            {"views": 8, "noise": 0.0},
            PRESET_DOMAINS["ct8"],
            1,
            "parallel-beam CT, 8 views over [0, pi), 2N detector bins, noiseless",
        ),
        Preset(
            "deblur",
            BoxBlur,
            {"kernel_size": 9, "noise": 0.01},
            PRESET_DOMAINS["deblur"],
            None,
            "9x9 uniform blur (circular), Gaussian noise 0.01",
        ),
        Preset(
            "sr4",
            NearestSubsampling,
            {"factor": 4, "noise": 0.01},
            PRESET_DOMAINS["sr4"],
            None,
            "4x nearest-neighbour subsampling, Gaussian noise 0.01",
        ),
    )
}


def register_preset(preset: Preset) -> Preset:
    """Add an operator preset (your own forward model) under ``preset.name`` for the CLI, the API and suites."""
    PRESETS[preset.name] = preset
    return preset


def get_preset(name: str) -> Preset:
    if not isinstance(name, str) or name not in PRESETS:
        raise InvsolveError(f"unknown operator {name!r}; choose one of {', '.join(PRESETS)}")
    return PRESETS[name]


def preset_differences(operator: Any) -> dict | None:
    """How an operator named after a preset differs from that preset at the same image size and
    channels, as ``describe()`` reports both: ``{}`` for the preset itself, ``{"views": (30, 8)}`` for
    ``make_operator("ct8", views=30)``. None for an operator named after no preset. Settings tuned for
    a preset apply only where this is ``{}``."""
    name = getattr(operator, "name", None)
    preset = PRESETS.get(name) if isinstance(name, str) else None
    if preset is None:
        return None
    if not isinstance(operator, preset.builder):
        return {"class": (type(operator).__name__, preset.builder.__name__)}
    channels, size, _ = operator.image_shape
    reference = _described_preset(preset.name, size, channels)
    current = operator.describe()
    return {
        key: (current.get(key), value)
        for key, value in reference.items()
        if key not in _NOT_TASK_SETTINGS and current.get(key) != value
    }


#: What ``describe()`` reports that does not change the task: the CT backend (CPU or GPU ASTRA), the
#: measurement shape (it follows from the settings that do) and the noise (the solvers follow the
#: measurement's noise level by their own rules, so a preset's tuned values hold at any noise).
_NOT_TASK_SETTINGS = ("backend", "measurement_shape", "noise", "photons")


@functools.lru_cache(maxsize=32)
def _described_preset(name: str, size: int, channels: int) -> dict:
    return make_operator(name, size, channels=channels).describe()


def make_operator(
    name: str,
    image_size: int = 128,
    channels: int | None = None,
    device: str | torch.device = "cpu",
    **overrides: Any,
) -> OperatorMixin:
    """Build preset ``name`` for ``image_size`` x ``image_size`` images with ``channels`` channels.

    Any keyword of the operator's constructor overrides the preset (``views``, ``detector_bins``,
    ``kernel_size``, ``factor``, ``noise``, ``photons``...). None means "not given": ``noise=None``
    keeps the preset's noise level.
    """
    check_value("name", name, str, "make_operator")
    check_value("image_size", image_size, int, "make_operator")
    if not 8 <= image_size <= MAX_IMAGE_SIDE:
        raise InvsolveError(f"make_operator: image_size must be 8 to {MAX_IMAGE_SIDE}, got {image_size}")
    preset = get_preset(name)
    if channels is None:
        channels = preset.channels or 1
    if preset.channels is not None and channels != preset.channels:
        raise InvsolveError(
            f"{name} takes {preset.channels}-channel images, got {channels} channels; convert the image to grayscale"
        )
    accepted = set(inspect.signature(preset.builder).parameters) - {
        "image_size",
        "channels",
        "name",
        "device",
    }
    unknown = sorted(name for name, value in overrides.items() if value is not None and name not in accepted)
    if unknown:
        raise InvsolveError(f"{name} has no setting {', '.join(unknown)}; it takes {', '.join(sorted(accepted))}")
    given = {k: v for k, v in overrides.items() if v is not None}
    check_arguments(preset.builder, {"channels": channels, **given}, f"operator {name}")
    settings = {**preset.defaults, **{k: v for k, v in overrides.items() if v is not None}}
    return preset.builder(image_size, channels=channels, name=name, device=device, **settings)
