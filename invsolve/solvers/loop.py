"""The one loop every diffusion solver runs: noise levels x inner iterations, with NFE counting,
a progress bar, a guard against non-finite iterates and an optional callback."""

from collections.abc import Callable

import torch
from tqdm.auto import tqdm

from invsolve.errors import InvsolveError
from invsolve.operators.volume import per_slice
from invsolve.priors.base import Prior
from invsolve.solvers.schedule import NoiseSchedule

#: One move of a sampler: ``step(x, sigma, next_sigma, final) -> x``.
Step = Callable[[torch.Tensor, float, float, bool], torch.Tensor]
#: What a caller sees after each noise level: ``callback(level, sigma, x)``.
Callback = Callable[[int, float, torch.Tensor], None]


#: A volume's slices go through a 2D prior this many at a time, so memory stays bounded whatever
#: the depth (about 0.3 GB per slice of 256 px with the bundled networks on the CPU).
SLICES_PER_CALL = 8


class CountedPrior:
    """Calls a prior and counts network function evaluations (one per call, for the whole batch).

    A volume (B, C, D, H, W) is denoised slice by slice by the 2D prior, ``SLICES_PER_CALL`` slices
    per network call; a volume of one slice is denoised exactly as the 2D image is. A cross-slice
    prior gets each slice with its neighbours (``neighbour_stacks``)."""

    def __init__(self, prior: Prior):
        self.prior, self.nfe = prior, 0

    def denoise(self, x: torch.Tensor, sigma: float, generator: torch.Generator | None = None) -> torch.Tensor:
        self.nfe += 1
        if x.dim() == 5:
            stacks = neighbour_stacks(x, self.prior.slices) if self.prior.slices > 1 else x
            denoised = per_slice(
                lambda slices: torch.cat(
                    [self.prior(chunk, sigma, generator=generator) for chunk in slices.split(SLICES_PER_CALL)]
                ),
                stacks,
            )
        elif self.prior.slices > 1:
            raise InvsolveError(
                f"a cross-slice prior ({self.prior.slices} neighbouring slices) reconstructs volumes, not 2D images"
            )
        else:
            denoised = self.prior(x, sigma, generator=generator)
        if not torch.isfinite(denoised).all() and torch.isfinite(x).all():
            raise InvsolveError(
                f"the prior returned NaN/Inf at sigma {float(sigma):.4g} for a finite input: its weights are "
                "damaged or unusable; train it again or use another prior file"
            )
        return denoised

    def score(self, x: torch.Tensor, sigma: float, generator: torch.Generator | None = None) -> torch.Tensor:
        return (self.denoise(x, sigma, generator) - x) / sigma**2


def neighbour_stacks(volume: torch.Tensor, slices: int) -> torch.Tensor:
    """(B, C, D, H, W) -> (B, C * slices, D, H, W): every slice with its slices // 2 neighbours on
    each side as channels, in z order, mirrored at the volume's ends (slice -1 is slice 1: a slice
    with its own noise, as the prior was trained on, not a copy of the middle one)."""
    half, depth = slices // 2, volume.shape[2]
    if depth <= half:
        raise InvsolveError(f"a cross-slice prior over {slices} slices needs volumes of at least {half + 1} slices")
    index = torch.arange(-half, depth + half, device=volume.device).abs()
    index = torch.where(index >= depth, 2 * (depth - 1) - index, index)
    padded = volume[:, :, index]
    return torch.cat([padded[:, :, offset : offset + depth] for offset in range(slices)], dim=1)


def diffusion_loop(
    x: torch.Tensor,
    schedule: NoiseSchedule,
    inner: int,
    step: Step,
    *,
    name: str,
    progress: bool = False,
    callback: Callback | None = None,
) -> torch.Tensor:
    """Run ``x = step(x, sigma, next_sigma, final)`` ``inner`` times per noise level.

    ``next_sigma`` is the following level (0 after the last); ``final`` is true on the very last
    call, where samplers add no noise. ``callback(level, sigma, x)`` sees x after each level.
    """
    sigmas = schedule.sigmas().tolist()
    levels = list(zip(sigmas, [*sigmas[1:], 0.0], strict=True))
    for level, (sigma, next_sigma) in enumerate(tqdm(levels, desc=name, disable=not progress, leave=False)):
        for k in range(inner):
            x = step(x, sigma, next_sigma, level == len(levels) - 1 and k == inner - 1)
            if not torch.isfinite(x).all():
                raise InvsolveError(
                    f"{name}: the iterate became NaN/Inf at noise level {level + 1}/{len(levels)} "
                    f"(sigma {sigma:.4g}); lower the step size (zeta) or raise sigma_min"
                )
        if callback is not None:
            callback(level, sigma, x)
    return x
