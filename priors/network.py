"""The denoising network: EDM preconditioning around deepinv's DDPM++ U-Net (``NCSNpp.forward_unet``).

D(x, sigma) = c_skip x + c_out F(c_in x (+ position channels), c_noise), with sigma_data the data's
standard deviation the scalings assume (0.5 by default, Karras et al. 2022, table 1; a prior file
records the value its network was trained with). The position channels are concatenated *after* the c_in scaling:
they are coordinates, not image values.
"""

from contextlib import nullcontext
from typing import Any, Protocol

import torch
from deepinv.models import NCSNpp

from invsolve.errors import InvsolveError

SIGMA_DATA = 0.5  # the default; each network carries its own
PRECONDITIONING = "edm"

#: Named network sizes: ``tiny`` for tests, ``small`` for CPU training in about an hour (about 1.2 M
#: weights), ``paper`` for GPUs (EDM's DDPM++ as PaDIS used it, about 56 M).
NETWORK_SIZES: dict[str, dict[str, Any]] = {
    "tiny": dict(model_channels=32, channel_mult=(1,), num_blocks=1, attn_resolutions=(), dropout=0.0),
    "small": dict(model_channels=32, channel_mult=(1, 2, 2), num_blocks=1, attn_resolutions=(), dropout=0.0),
    "paper": dict(model_channels=128, channel_mult=(2, 2, 2), num_blocks=4, attn_resolutions=(16,), dropout=0.05),
}


class DenoisingNetwork(Protocol):
    """What ``PatchPrior`` and ``WholeImagePrior`` ask of a network: ``network(x, sigma, positions)``
    -> D(x; sigma) on [0, 1] patches or images, and these attributes. ``EDMNetwork`` is one; a DDPM
    epsilon network converted by ``invsolve.priors.epsilon.EpsilonNetwork`` is another."""

    channels: int
    positional: bool
    size: str
    slices: int

    @property
    def size_multiple(self) -> int: ...

    def __call__(self, x: torch.Tensor, sigma: torch.Tensor, positions: torch.Tensor | None = None) -> torch.Tensor: ...


def network_origin(network: DenoisingNetwork) -> str:
    """ "; what the network is" for a prior's description, where it is not invsolve's EDM network
    (a network that says so has a ``describe()``)."""
    describe = getattr(network, "describe", None)
    return f"; {describe()}" if describe is not None else ""


def ddpmpp_unet(in_channels: int, out_channels: int, size: str, resolution: int) -> NCSNpp:
    """deepinv's DDPM++ U-Net of a named size, never with downloaded weights."""
    return NCSNpp(
        model_type="ddpm",
        pretrained=None,
        img_resolution=resolution,
        in_channels=in_channels,
        out_channels=out_channels,
        label_dim=0,
        augment_dim=0,
        **NETWORK_SIZES[size],
    )


def in_precision(device_type: str, precision: str) -> Any:
    """The context a network runs its U-Net in: bf16 autocast, or for fp32 nothing, which leaves a
    caller's autocast (training's bf16 on CUDA) in force (``enabled=False`` would end it)."""
    return torch.autocast(device_type, dtype=torch.bfloat16) if precision == "bf16" else nullcontext()


def middle_slice(stack: torch.Tensor, slices: int) -> torch.Tensor:
    """The middle slice's channels of (K, C * slices, ...) neighbouring slices stacked as channels."""
    channels = stack.shape[1] // slices
    return stack[:, slices // 2 * channels : (slices // 2 + 1) * channels]


def edm_scalings(
    sigma: torch.Tensor, sigma_data: float = SIGMA_DATA
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """c_skip, c_out, c_in, c_noise for noise level(s) ``sigma``."""
    total = sigma**2 + sigma_data**2
    return sigma_data**2 / total, sigma * sigma_data / total.sqrt(), 1 / total.sqrt(), sigma.log() / 4


def check_slices(slices: int) -> None:
    """A network reads one slice, or a slice and as many neighbours on each side: an odd count."""
    if slices < 1 or slices % 2 == 0:
        raise InvsolveError(f"slices must be odd (the slice and as many neighbours on each side), got {slices}")


class EDMNetwork(torch.nn.Module):
    """A preconditioned denoiser network on C-channel patches or images, optionally with position channels.

    ``resolution`` is the patch (or image) side the U-Net is laid out for; the network is
    convolutional, so it accepts any side divisible by 2^(levels - 1). ``sigma_data`` is the EDM
    preconditioning's data scale. ``slices``: how many neighbouring slices it reads (1 for a 2D
    prior; an odd count for a cross-slice one, which reads ``channels * slices`` image channels and
    returns ``channels``). ``precision`` ("fp32" or "bf16": the U-Net under bf16 autocast,
    the preconditioning, skip and output in fp32) is a run-time choice, not part of the trained
    network, so ``config()`` leaves it out.
    """

    def __init__(
        self,
        channels: int,
        size: str = "small",
        positional: bool = True,
        resolution: int = 32,
        *,
        sigma_data: float = SIGMA_DATA,
        slices: int = 1,
        precision: str = "fp32",
    ):
        super().__init__()
        self.size_multiple_of(size)
        check_slices(slices)
        self.channels, self.size, self.positional, self.resolution = channels, size, positional, resolution
        self.slices = slices
        self.sigma_data, self.precision = sigma_data, precision
        self.unet = ddpmpp_unet(channels * slices + (2 if positional else 0), channels, size, resolution)
        self.train(False)

    @property
    def size_multiple(self) -> int:
        return self.size_multiple_of(self.size)

    @staticmethod
    def size_multiple_of(size: str) -> int:
        """Patch and image sides must be multiples of this (the U-Net halves the resolution per level)."""
        if size not in NETWORK_SIZES:
            raise InvsolveError(f"unknown network size {size!r}; choose one of {', '.join(NETWORK_SIZES)}")
        return 2 ** (len(NETWORK_SIZES[size]["channel_mult"]) - 1)

    def config(self) -> dict:
        """What rebuilds this network: its constructor's arguments but the run-time precision."""
        return {
            "size": self.size,
            "channels": self.channels,
            "positional": self.positional,
            "resolution": self.resolution,
            "preconditioning": PRECONDITIONING,
            "sigma_data": self.sigma_data,
            "slices": self.slices,
        }

    def forward(self, x: torch.Tensor, sigma: torch.Tensor, positions: torch.Tensor | None = None) -> torch.Tensor:
        """x: (K, C * slices, P, P) noisy; sigma: (K, 1, 1, 1); positions: (K, 2, P, P) when
        ``positional``. Returns (K, C, P, P): the denoised (middle) slice."""
        if (positions is not None) != self.positional:
            raise ValueError("position channels must be given exactly when the network was built with them")
        c_skip, c_out, c_in, c_noise = edm_scalings(sigma.float(), self.sigma_data)
        net_input = c_in * x if positions is None else torch.cat([c_in * x, positions], dim=1)
        with in_precision(x.device.type, self.precision):
            residual = self.unet.forward_unet(net_input, c_noise.flatten())
        return c_skip * middle_slice(x, self.slices) + c_out * residual.float()
