"""PaDIS positional encoding: two extra input channels with each pixel's row and column coordinate.

The frame does not depend on the pad: image pixel centres 0 .. N-1 map linearly to [-1, 1], and the
same line continues into the zero border (a pixel ``pad`` rows above the image gets a value below
-1). The reference code normalised over the *padded* size and trained and sampled with different
pads, so its network saw shifted coordinates at test time; here training (``training.py``) and
inference (``patch_prior.py``) both call ``position_channels`` with image-frame patch origins.
"""

import torch


def pixel_coordinate(index: torch.Tensor, image_size: int) -> torch.Tensor:
    """Image-frame pixel index -> coordinate; 0 -> -1, N-1 -> +1, linear beyond."""
    return 2.0 * index / (image_size - 1) - 1.0


def position_channels(image_size: int, tops: torch.Tensor, lefts: torch.Tensor, patch_size: int) -> torch.Tensor:
    """(K, 2, P, P) coordinates (row, column) of K patches whose top-left pixels are at (tops, lefts)."""
    offsets = torch.arange(patch_size, device=tops.device)
    rows = pixel_coordinate(tops[:, None] + offsets, image_size)  # (K, P)
    cols = pixel_coordinate(lefts[:, None] + offsets, image_size)
    k = tops.shape[0]
    return torch.stack(
        [rows[:, :, None].expand(k, patch_size, patch_size), cols[:, None, :].expand(k, patch_size, patch_size)], dim=1
    ).float()
