"""Side-by-side figures of images (ground truth | baseline | reconstruction ...), as PNG."""

import os

import numpy as np
import torch

from invsolve.io import atomic_write


def save_comparison(
    path: str | os.PathLike,
    panels: list[tuple[str, torch.Tensor]],
    *,
    rows: int = 1,
    title: str | None = None,
    panel_inches: float = 3.0,
):
    """Save ``panels`` (title, (C, H, W) image in [0, 1]) on a grid with ``rows`` rows."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = -(-len(panels) // rows)
    title_inches = 0.25 * max(str(label).count("\n") + 1 for label, _ in panels)  # room for panel titles
    height = (panel_inches + title_inches) * rows + (0.4 if title else 0)
    fig, axes = plt.subplots(rows, cols, squeeze=False, figsize=(panel_inches * cols, height))
    for ax in axes.flat:
        ax.axis("off")
    for ax, (label, image) in zip(axes.flat, panels, strict=False):
        array = image.detach().float().clamp(0, 1).cpu().numpy()
        if array.shape[0] == 1:
            ax.imshow(array[0], cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        else:
            ax.imshow(np.moveaxis(array, 0, -1), interpolation="nearest")
        ax.set_title(label, fontsize=9)
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    try:
        return atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=100))
    finally:
        plt.close(fig)
