"""CT intensities: Hounsfield units and the fixed display window that maps them to [0, 1].

The built-in phantoms and DICOM reading share this window, so a prior trained on phantoms sees
real scans at the same intensities.
"""

import numpy as np

from invsolve.errors import InvsolveError

#: Default CT window in HU: air (-1000) maps to 0, dense bone (+1000) to 1. Wide enough to keep
#: lung structure and soft tissue both visible.
CT_WINDOW_HU = (-1000.0, 1000.0)


def window_to_unit(values: np.ndarray, window: tuple[float, float] = CT_WINDOW_HU) -> np.ndarray:
    """Map [lo, hi] linearly to [0, 1] and clip; a window that is not lo < hi is refused."""
    lo, hi = window
    if not hi > lo:
        raise InvsolveError(f"window must be LOW,HIGH with LOW < HIGH, got {lo},{hi}")
    return np.clip((np.asarray(values, dtype=np.float64) - lo) / (hi - lo), 0.0, 1.0).astype(np.float32)
