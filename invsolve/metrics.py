"""PSNR and SSIM exactly as scikit-image computes them, on [0, 1]-clamped images, data range 1.

SSIM uses scikit-image's defaults (7x7 uniform window, no Gaussian weighting); colour images are
compared with ``channel_axis`` (SSIM averaged over channels). deepinv's metrics give different
numbers; these are the ones the paper's tables use.
"""

import numpy as np
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity


def psnr(x: torch.Tensor, reference: torch.Tensor) -> float | list[float]:
    """PSNR in dB of ``x`` against ``reference``: a float for (C, H, W), a list for (B, C, H, W)."""
    return _per_image(lambda a, r: peak_signal_noise_ratio(r, a, data_range=1.0), x, reference)


def ssim(x: torch.Tensor, reference: torch.Tensor) -> float | list[float]:
    """SSIM of ``x`` against ``reference``: a float for (C, H, W), a list for (B, C, H, W)."""

    def one(a: np.ndarray, r: np.ndarray) -> float:
        if a.shape[0] == 1:
            return structural_similarity(r[0], a[0], data_range=1.0)
        return structural_similarity(r, a, data_range=1.0, channel_axis=0)

    return _per_image(one, x, reference)


def _per_image(metric, x: torch.Tensor, reference: torch.Tensor):
    if x.shape != reference.shape or x.dim() not in (3, 4):
        raise ValueError(
            f"metrics need two images of the same shape (C, H, W) or (B, C, H, W); "
            f"got {tuple(x.shape)} and {tuple(reference.shape)}"
        )
    a = x.detach().clamp(0, 1).double().cpu().numpy()
    r = reference.detach().clamp(0, 1).double().cpu().numpy()
    if x.dim() == 3:
        return float(metric(a, r))
    return [float(metric(ai, ri)) for ai, ri in zip(a, r, strict=True)]
