"""Side-by-side figures of images (ground truth | baseline | reconstruction ...), and of volumes in three
views, as PNG."""

import os

import numpy as np
import torch

from invsolve.io import atomic_write
from invsolve.metrics import slice_differences


def save_comparison(
    path: str | os.PathLike,
    panels: list[tuple[str, torch.Tensor]],
    *,
    rows: int = 1,
    title: str | None = None,
    panel_inches: float = 3.0,
):
    """Save ``panels`` (title, (C, H, W) image in [0, 1]) on a grid with ``rows`` rows."""
    plt = _pyplot()
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
    return _write(fig, path, title)


def save_volume_views(
    path: str | os.PathLike,
    panels: list[tuple[str, torch.Tensor]],
    spacing_mm: tuple[float, float, float],
    *,
    title: str | None = None,
    panel_inches: float = 2.6,
):
    """Save each (title, (C, D, H, W) volume in [0, 1]) as a row of three views through its centre:
    axial (the middle slice), coronal (the middle row, superior up) and sagittal (the middle column,
    anterior left), drawn at the voxels' proportions (``spacing_mm``: between slices, rows,
    columns); the first channel only. A slab thinner than a third of its width is stretched along z
    by a whole factor, said in the view's title, so its slice-to-slice changes stay visible."""
    plt = _pyplot()
    between, rows, columns = spacing_mm
    height = (panel_inches + 0.5) * len(panels) + (0.4 if title else 0)
    fig, axes = plt.subplots(len(panels), 3, squeeze=False, figsize=(panel_inches * 3, height))
    for row, (label, volume) in zip(axes, panels, strict=True):
        v = volume.detach().float().clamp(0, 1).cpu().numpy()[0]
        depth, height_px, width_px = v.shape
        stretch = max(1, round(width_px * columns / 3 / (depth * between)))
        stretched = f" (z x{stretch})" if stretch > 1 else ""
        views = (
            (f"axial, slice {depth // 2}", v[depth // 2], rows / columns),
            (f"coronal, row {height_px // 2}{stretched}", v[::-1, height_px // 2, :], stretch * between / columns),
            (f"sagittal, column {width_px // 2}{stretched}", v[::-1, :, width_px // 2], stretch * between / rows),
        )
        for ax, (name, plane, aspect) in zip(row, views, strict=True):
            ax.imshow(plane, cmap="gray", vmin=0, vmax=1, aspect=aspect, interpolation="nearest")
            ax.set_title(f"{label}\n{name}" if name.startswith("axial") else name, fontsize=8)
            ax.axis("off")
    return _write(fig, path, title)


def save_slice_differences(
    path: str | os.PathLike,
    panels: list[tuple[str, torch.Tensor]],
    *,
    title: str | None = None,
):
    """Save a plot of z-consistency: for each (title, (C, D, H, W) volume in [0, 1]), the mean absolute
    difference between slice k and slice k + 1 against k, the first panel (the ground truth) dashed.
    A reconstruction above the truth's line jumps between slices where the anatomy does not."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    for index, (label, volume) in enumerate(panels):
        differences = slice_differences(volume.detach().cpu()).numpy()
        pairs = np.arange(len(differences)) + 0.5
        style = dict(color="black", linestyle="--") if index == 0 else {}
        ax.plot(pairs, differences, marker=".", label=str(label).replace("\n", ", "), **style)
    ax.set_xlabel("between slices k and k + 1 (k + 0.5)")
    ax.set_ylabel("mean |slice k+1 - slice k|")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return _write(fig, path, title)


def _pyplot():
    """matplotlib's pyplot on the Agg backend (figures are files; no display is needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _write(fig, path: str | os.PathLike, title: str | None):
    """Give ``fig`` its title, lay it out, write it as PNG at ``path`` and close it."""
    import matplotlib.pyplot as plt

    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    try:
        return atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=100))
    finally:
        plt.close(fig)
