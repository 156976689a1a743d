"""PaDIS: a whole-image denoiser assembled from a patch network over a randomly shifted patch grid."""

import torch
from torch.utils.checkpoint import checkpoint

from invsolve.catalog import SIGMA_MAX, SIGMA_MIN
from invsolve.devices import seeded_normal
from invsolve.errors import InvsolveError
from invsolve.priors.base import Prior
from invsolve.priors.network import DenoisingNetwork, network_origin
from invsolve.priors.patches import PatchGrid, default_pad
from invsolve.priors.positions import position_channels

#: Pixels per network call when ``max_batch`` is not given. On a CPU, chunks of 2^16 pixels (20
#: patches of 56 px) keep each activation of the small network under glibc's 32 MiB mmap threshold,
#: so its memory is reused instead of mapped and zeroed afresh at every call: 0.38-0.40 s per 256 px
#: slice and evaluation against 0.70 s for 100 patches in one call (docs/solvers.md#volumes). A GPU
#: is fastest with large batches; its bound only keeps a volume's activations within its memory.
PIXELS_PER_CALL = {"cpu": 2**16, "cuda": 2**22}


class PatchPrior(Prior):
    """D(x, sigma) from patch denoisers (PaDIS, Hu et al. 2024).

    Per evaluation: zero-pad by ``pad``, draw a fresh shift, cut the (N//P + 1)^2 grid of P x P
    patches, denoise them as one batch at the same sigma (with their position channels), put the
    outputs back and crop to the image. Pixels outside the image enter the network as zero plus
    fresh N(0, sigma^2) noise, which is what a noisy zero-padded image holds there (training adds
    noise to the whole patch, border included).

    ``shifts`` > 1 averages the assembled denoiser over that many independent shifts: the same
    expectation over shifts as the paper's eq. 4 (so the same prior), with less variance, which
    hides the seams one shift leaves when a sampler takes few steps (the paper's appendix A.7). It
    costs ``shifts`` network passes per evaluation; ``shifts_below`` limits it to the noise levels
    at or below that sigma, where the seams are made.

    ``max_batch`` bounds the patches per network call (and, under autograd, the activations held at
    once, through checkpointing) so memory stays flat as images grow. Without it, calls take as
    many patches as ``PIXELS_PER_CALL`` allows on the data's device, and autograd keeps them all. Ablations:
    ``random_shift=False`` keeps one fixed grid (the seams of naive patch assembly);
    A cross-slice network (``network.slices`` > 1) makes a cross-slice prior: its input stacks
    neighbouring slices as channels, its patches span them, and it returns the middle slice.
    ``positional_encoding=False`` feeds zeros in the position channels of a network trained with them.
    """

    kind = "padis"
    channels: int
    image_size: int

    def __init__(
        self,
        network: DenoisingNetwork,
        image_size: int,
        patch_size: int,
        pad: int | None = None,
        *,
        random_shift: bool = True,
        positional_encoding: bool = True,
        shifts: int = 1,
        shifts_below: float | None = None,
        max_batch: int | None = None,
        sigma_min: float = SIGMA_MIN,
        sigma_max: float = SIGMA_MAX,
        config: dict | None = None,
    ):
        super().__init__()
        if patch_size % network.size_multiple:
            raise InvsolveError(
                f"patch size {patch_size} must be a multiple of {network.size_multiple} for the {network.size} network"
            )
        if positional_encoding and not network.positional:
            raise InvsolveError("this network was trained without position channels; positional_encoding must be False")
        if shifts < 1 or (shifts > 1 and not random_shift):
            raise InvsolveError(f"shifts must be at least 1 and needs the random shift, got {shifts}")
        if max_batch is not None and max_batch < 1:
            raise InvsolveError(f"max_batch must be at least 1, got {max_batch}")
        self.network, self.patch_size, self.pad = network, patch_size, pad
        self.channels, self.slices, self.image_size = network.channels, network.slices, image_size
        self.random_shift, self.positional_encoding, self.max_batch = random_shift, positional_encoding, max_batch
        self.shifts, self.shifts_below = shifts, shifts_below
        self.sigma_min, self.sigma_max, self.config = sigma_min, sigma_max, config
        self.grid(image_size)  # refuse an impossible pad now, not at the first evaluation

    def grid(self, image_size: int) -> PatchGrid:
        pad = default_pad(image_size, self.patch_size) if self.pad is None else self.pad
        return PatchGrid(image_size, self.patch_size, pad)

    def denoise(self, x: torch.Tensor, sigma: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        self.check_image(x)
        if x.shape[-1] != x.shape[-2]:
            raise InvsolveError(f"PatchPrior works on square images, got {x.shape[-2]}x{x.shape[-1]}")
        if self.shifts == 1 or (self.shifts_below is not None and bool(sigma.max() > self.shifts_below)):
            return self._denoise_on_one_grid(x, sigma, generator)
        total = self._denoise_on_one_grid(x, sigma, generator)
        for _ in range(self.shifts - 1):
            total = total + self._denoise_on_one_grid(x, sigma, generator)
        return total / self.shifts

    def _denoise_on_one_grid(
        self, x: torch.Tensor, sigma: torch.Tensor, generator: torch.Generator | None
    ) -> torch.Tensor:
        grid = self.grid(x.shape[-1])
        shift = grid.random_shift(generator) if self.random_shift else (0, 0)
        canvas_shape = (x.shape[0], x.shape[1], grid.canvas_size, grid.canvas_size)
        canvas = grid.pad_image(x, border=sigma * seeded_normal(canvas_shape, generator, x))
        denoised = x.new_empty(x.shape[0], self.channels, grid.span, grid.span)  # only the grid's window
        self._denoise_tiles(grid.tiles(grid.window(canvas, shift)), grid.tiles(denoised), sigma, grid, shift)
        return grid.crop(denoised, shift)

    def _denoise_tiles(
        self,
        noisy: torch.Tensor,
        denoised: torch.Tensor,
        sigma: torch.Tensor,
        grid: PatchGrid,
        shift: tuple[int, int],
    ) -> None:
        """Every patch of ``noisy`` through the network into ``denoised`` (both (B, rows, cols, C, P, P)
        views), at most ``max_batch`` patches per call."""
        tops, lefts = (t.to(sigma.device) for t in grid.origins(shift))
        total = noisy.shape[0] * grid.count
        automatic = max(1, PIXELS_PER_CALL.get(sigma.device.type, PIXELS_PER_CALL["cuda"]) // self.patch_size**2)
        chunk = self.max_batch or automatic
        checkpointed = torch.is_grad_enabled() and self.max_batch is not None and chunk < total
        for start in range(0, total, chunk):
            index = torch.arange(start, min(start + chunk, total), device=sigma.device)
            image, patch = index // grid.count, index % grid.count
            row, col = patch // grid.per_side, patch % grid.per_side
            positions = None
            if self.network.positional:
                positions = position_channels(grid.image_size, tops[patch], lefts[patch], self.patch_size)
                positions = positions if self.positional_encoding else torch.zeros_like(positions)
            args = (noisy[image, row, col], sigma[image], positions)
            if checkpointed:  # keep one chunk's activations; recompute in backward
                denoised[image, row, col] = checkpoint(self.network, *args, use_reentrant=False)
            else:
                denoised[image, row, col] = self.network(*args)

    def describe(self) -> str:
        grid = self.grid(self.image_size)
        return (
            f"PatchPrior (PaDIS): {self.channels} channel(s), {self._across_slices()}"
            f"{self.patch_size}px patches, pad {grid.pad}, "
            f"{grid.count} patches per {self.image_size}px image, "
            f"{'random' if self.random_shift else 'fixed'} grid"
            f"{self._shift_averaging()}, "
            f"position channels {'on' if self.positional_encoding else 'off'}"
            f"{network_origin(self.network)}"
        )

    def _across_slices(self) -> str:
        return "" if self.slices == 1 else f"patches across {self.slices} neighbouring slices, "

    def _shift_averaging(self) -> str:
        if self.shifts == 1:
            return ""
        below = "" if self.shifts_below is None else f" at sigma <= {self.shifts_below:g}"
        return f" averaged over {self.shifts} shifts{below}"
