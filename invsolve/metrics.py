"""PSNR and SSIM exactly as scikit-image computes them, on [0, 1]-clamped images, data range 1,
and a seam score for the patch boundaries a patch prior can leave.

SSIM uses scikit-image's defaults (7x7 uniform window, no Gaussian weighting); colour images are
compared with ``channel_axis`` (SSIM averaged over channels). deepinv's metrics give different
numbers; these are the ones the paper's tables use.
"""

from collections.abc import Callable

import numpy as np
import torch
from skimage.metrics import structural_similarity


def psnr(x: torch.Tensor, reference: torch.Tensor) -> float | list[float]:
    """PSNR in dB of ``x`` against ``reference``: a float for (C, H, W), a list for (B, C, H, W)."""
    # scikit-image's formula, 10 log10(range^2 / MSE) with the MSE in float64, written out: its
    # module imports scipy.stats, a second of start-up for every command that scores an image
    return _per_image(lambda a, r: 10 * np.log10(1.0 / np.mean((r - a) ** 2, dtype=np.float64)), x, reference)


def ssim(x: torch.Tensor, reference: torch.Tensor) -> float | list[float]:
    """SSIM of ``x`` against ``reference``: a float for (C, H, W), a list for (B, C, H, W)."""

    def one(a: np.ndarray, r: np.ndarray) -> float:
        if a.shape[0] == 1:
            return structural_similarity(r[0], a[0], data_range=1.0)
        return structural_similarity(r, a, data_range=1.0, channel_axis=0)

    return _per_image(one, x, reference)


def seam_score(x: torch.Tensor, reference: torch.Tensor, period: int) -> float | list[float]:
    """How strongly the error's jumps between neighbouring pixels line up on a lattice of rows or
    columns ``period`` apart, as the boundaries of a grid of ``period``-pixel patches would.

    Per axis: the jump across boundary k is the mean over the line of |e[k] - e[k-1]|
    (e = x - reference), each jump capped at the 90th percentile of all (a seam runs the whole line,
    while the image's own edges are a few large jumps), divided by the mean jump of its two
    neighbouring boundaries plus a tenth of the average jump (the content changes slowly from line
    to line; the floor keeps exact background finite); the largest mean of these ratios over the
    boundaries of one residue k mod ``period`` is the axis's score, and the result is the average of
    the two axes. Without seams it is near 1 (a little above, since it takes a maximum
    of noisy means); a fixed patch grid, whose seams sit on one residue, scores clearly higher. The
    lattice may sit at any offset, so seams of a randomly shifted grid count too where one shift
    dominates the result (the paper's appendix A.7).
    """
    if period < 2:
        raise ValueError(f"the seam period must be at least 2 pixels, got {period}")

    def one(a: np.ndarray, r: np.ndarray) -> float:
        error = a - r
        scores = []
        for axis in (-1, -2):
            jumps = np.moveaxis(np.abs(np.diff(error, axis=axis)), axis, 0)  # (boundaries, ...)
            jumps = np.minimum(jumps, np.quantile(jumps, 0.9))  # the image's own edges: a few large jumps
            per_boundary = jumps.reshape(jumps.shape[0], -1).mean(axis=1)
            # against the neighbouring boundaries (the content changes slowly from line to line), with a
            # floor where the error vanishes (exact background)
            floor = 0.1 * per_boundary.mean() + 1e-12
            contrast = per_boundary[1:-1] / ((per_boundary[:-2] + per_boundary[2:]) / 2 + floor)
            residues = np.arange(2, contrast.size + 2) % period  # boundary k lies before pixel k
            scores.append(max(contrast[residues == k].mean() for k in range(period) if (residues == k).any()))
        return float(np.mean(scores))

    return _per_image(one, x, reference)


def slice_differences(volume: torch.Tensor) -> torch.Tensor:
    """z-consistency of a (C, D, H, W) volume in [0, 1] (clamped): the mean absolute difference
    between slice k and slice k + 1, shape (D - 1,). Slice-by-slice reconstructions jump from slice
    to slice where the truth changes smoothly."""
    return volume.float().clamp(0, 1).diff(dim=1).abs().transpose(0, 1).flatten(1).mean(1)


def _per_image(
    metric: Callable[[np.ndarray, np.ndarray], float], x: torch.Tensor, reference: torch.Tensor
) -> float | list[float]:
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
