"""Forward operators: linear measurement models on (B, C, H, W) images, built on deepinv physics.

``make_operator("ct8", image_size=128)`` builds a named preset; the classes can also be used
directly. Every operator is a ``deepinv.physics.LinearPhysics``, so it works in deepinv's
algorithms too.
"""

from invsolve.operators.base import OperatorMixin
from invsolve.operators.blur import BoxBlur
from invsolve.operators.ct import ParallelBeamCT
from invsolve.operators.presets import DOMAINS, PRESETS, Preset, get_preset, make_operator, register_preset
from invsolve.operators.superres import NearestSubsampling

__all__ = ["OperatorMixin", "ParallelBeamCT", "BoxBlur", "NearestSubsampling", "DOMAINS", "PRESETS", "Preset",
           "get_preset", "make_operator", "register_preset"]
