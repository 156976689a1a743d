"""The PaDIS patch partition of a zero-padded image (paper section 3.2).

An N x N image is zero-padded by ``pad`` on every side. One evaluation draws a shift (a, b), each
uniform in {0, ..., pad - 1}, and tiles the padded image from (a, b) with a ``per_side`` x
``per_side`` grid of non-overlapping P x P patches, per_side = N // P + 1. Because
per_side * P >= N + pad, every image pixel lies in exactly one patch for every shift.

Coordinates here are *image-frame*: pixel (0, 0) is the image's top-left corner, so the padding is
at negative indices and the patch origins are -pad + a + k P. The canvas the grid is cut from is the
image with ``pad`` zeros above/left and enough below/right for every shift (that extra is always
outside the image, so its content never reaches the result).
"""

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from invsolve.devices import seeded_integers
from invsolve.errors import InvsolveError


def default_pad(image_size: int, patch_size: int) -> int:
    """The tightest pad for the grid, per_side * P - N, capped at P - 1 (the paper's 24 for N=256, P=56)."""
    per_side = image_size // patch_size + 1
    return min(per_side * patch_size - image_size, patch_size - 1)


@dataclass(frozen=True)
class PatchGrid:
    image_size: int
    patch_size: int
    pad: int

    def __post_init__(self) -> None:
        n, p, pad = self.image_size, self.patch_size, self.pad
        if p < 1 or n < 2:
            raise InvsolveError(f"patch size and image size must be positive (got P={p}, N={n})")
        if not 0 <= pad < p:
            raise InvsolveError(f"pad must be in 0..{p - 1} (below the patch size {p}), got {pad}")
        if self.per_side * p < n + pad:
            raise InvsolveError(
                f"a {self.per_side}x{self.per_side} grid of {p}px patches cannot cover a {n}px image "
                f"padded by {pad}; use pad <= {self.per_side * p - n}"
            )

    @property
    def per_side(self) -> int:
        return self.image_size // self.patch_size + 1

    @property
    def count(self) -> int:
        """Patches per image and evaluation: (N // P + 1)^2."""
        return self.per_side**2

    @property
    def span(self) -> int:
        return self.per_side * self.patch_size

    def random_shift(self, generator: torch.Generator | None = None) -> tuple[int, int]:
        """(a, b), each uniform in {0, ..., pad - 1}; (0, 0) when pad is 0."""
        if self.pad == 0:
            return 0, 0
        a, b = seeded_integers(self.pad, (2,), generator).tolist()
        return a, b

    def origins(self, shift: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
        """Image-frame (top, left) of every patch, in the order ``split`` returns them (row-major)."""
        starts = torch.arange(self.per_side) * self.patch_size
        tops = (starts + shift[0] - self.pad).repeat_interleave(self.per_side)
        lefts = (starts + shift[1] - self.pad).repeat(self.per_side)
        return tops, lefts

    def window(self, canvas: torch.Tensor, shift: tuple[int, int]) -> torch.Tensor:
        """The part of the canvas the grid covers at ``shift``: (B, C, span, span), a view."""
        a, b = shift
        return canvas[..., a : a + self.span, b : b + self.span]

    def tiles(self, window: torch.Tensor) -> torch.Tensor:
        """A window as its patches, (B, rows, cols, C, P, P): a view, so reading or writing
        ``tiles[image, row, col]`` touches the window itself (no copy of the whole grid)."""
        n, p = self.per_side, self.patch_size
        return window.unflatten(-1, (n, p)).unflatten(-3, (n, p)).permute(0, 2, 4, 1, 3, 5)

    def crop(self, window: torch.Tensor, shift: tuple[int, int]) -> torch.Tensor:
        """The image inside a window: (B, C, N, N)."""
        top, left = self.pad - shift[0], self.pad - shift[1]
        return window[..., top : top + self.image_size, left : left + self.image_size]

    def split(self, images: torch.Tensor, shift: tuple[int, int], border: torch.Tensor | None = None) -> torch.Tensor:
        """(B, C, N, N) -> (B * count, C, P, P), image by image, row-major. ``border``: see ``pad_image``."""
        tiles = self.tiles(self.window(self.pad_image(images, border), shift))
        return tiles.reshape(-1, *tiles.shape[3:])

    def merge(self, patches: torch.Tensor, shift: tuple[int, int]) -> torch.Tensor:
        """Inverse of ``split`` followed by the crop to the image: (B * count, C, P, P) -> (B, C, N, N)."""
        n, p = self.per_side, self.patch_size
        window = patches.new_empty(patches.shape[0] // self.count, patches.shape[1], n * p, n * p)
        self.tiles(window)[:] = patches.reshape(-1, n, n, *patches.shape[1:])
        return self.crop(window, shift)

    @property
    def canvas_size(self) -> int:
        """Side of the padded canvas: pad above, and room below for the grid at the largest shift."""
        return self.pad + max(self.span, self.image_size + self.pad)

    def pad_image(self, images: torch.Tensor, border: torch.Tensor | None = None) -> torch.Tensor:
        """The (B, C, S, S) canvas: zeros outside the image, or ``border``'s values there. A given
        ``border`` tensor becomes the canvas (the image is written into it, saving a copy)."""
        self.check(images)
        if border is None:
            after = self.canvas_size - self.pad - self.image_size
            return F.pad(images, (self.pad, after, self.pad, after))
        inside = (..., slice(self.pad, self.pad + self.image_size), slice(self.pad, self.pad + self.image_size))
        border[inside] = images
        return border

    def check(self, images: torch.Tensor) -> None:
        if images.ndim != 4 or images.shape[-2:] != (self.image_size, self.image_size):
            raise InvsolveError(
                f"the patch grid was built for {self.image_size}x{self.image_size} images, "
                f"got shape {tuple(images.shape)}"
            )
