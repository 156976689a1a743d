"""DDPM epsilon-prediction networks as VE denoisers (the PaDIS paper, section 3 and appendix A.7).

A DDPM (Ho et al. 2020) noises data z0 (in the model's range, usually [-1, 1]) on a discrete
variance-preserving schedule, z_t = sqrt(abar_t) z0 + sqrt(1 - abar_t) eps, t = 0 .. T - 1, and
its network predicts eps from (z_t, t). Divided by sqrt(abar_t), z_t is z0 plus noise of standard
deviation s_t = sqrt((1 - abar_t) / abar_t): a VE noisy image. So a VE noisy image z = z0 + s n
is denoised by

    D(z; s) = z - s eps(z / sqrt(1 + s^2), t(s)),

with t(s) the (fractional) timestep whose s_t is s: log s_t interpolated linearly between the
schedule's integer steps (exact at every step of the schedule, monotone between them; networks
with sinusoidal timestep embeddings, DDPM's and diffusers', take fractional t). Images here are in
[0, 1]: a model trained on [-1, 1] sees z = 2 x - 1, so its s is twice the image's sigma.
``learn_sigma`` models (improved DDPM, guided diffusion) output 2C channels, the variance after the
noise; the first C are eps. The prior's sigma range is the schedule's, in image units.
"""

from collections.abc import Callable
from typing import Any

import torch

from invsolve.errors import InvsolveError
from invsolve.priors.network import EDMNetwork, ddpmpp_unet, in_precision
from invsolve.priors.patch_prior import PatchPrior
from invsolve.priors.whole_image import WholeImagePrior

#: Ho et al. 2020: beta linear from 1e-4 to 0.02 over 1000 steps.
DDPM_STEPS, DDPM_BETA_START, DDPM_BETA_END = 1000, 1e-4, 0.02
#: The data ranges a model may have been trained on, as (scale, offset): z = scale x + offset.
DATA_RANGES = {"[-1,1]": (2.0, -1.0), "[0,1]": (1.0, 0.0)}

#: ``call(model, z_t, t)`` -> the model's output; plain ``model(z_t, t)`` by default. A diffusers
#: ``UNet2DModel`` returns an object: ``lambda model, z, t: model(z, t).sample``.
ModelCall = Callable[[torch.nn.Module, torch.Tensor, torch.Tensor], torch.Tensor]


def ddpm_alphas_cumprod(
    steps: int = DDPM_STEPS, beta_start: float = DDPM_BETA_START, beta_end: float = DDPM_BETA_END
) -> torch.Tensor:
    """abar_t = prod_{s <= t} (1 - beta_s) for DDPM's linear beta schedule, (steps,) in float64."""
    betas = torch.linspace(beta_start, beta_end, steps, dtype=torch.float64)
    return torch.cumprod(1 - betas, dim=0)


def _plain_call(model: torch.nn.Module, z: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    return model(z, t)


class EpsilonNetwork(torch.nn.Module):
    """An epsilon-prediction ``model`` on the discrete schedule ``alphas_cumprod`` as a VE denoiser
    network with ``EDMNetwork``'s interface, ``forward(x, sigma, positions) -> D(x; sigma)`` on [0, 1]
    images, so ``PatchPrior`` and ``WholeImagePrior`` take it as they take an EDM network.

    ``positional``: the model reads two position channels after the image's (a patch model trained
    as PaDIS); ``size_multiple``: what patch and image sides must be multiples of (the U-Net's
    downsampling)."""

    size = "epsilon"
    slices = 1
    log_sigmas: torch.Tensor  # a buffer: the schedule's log noise levels in model units

    def __init__(
        self,
        model: torch.nn.Module,
        alphas_cumprod: torch.Tensor,
        *,
        channels: int,
        data_range: str = "[-1,1]",
        learn_sigma: bool = False,
        positional: bool = False,
        size_multiple: int = 1,
        call: ModelCall | None = None,
    ):
        super().__init__()
        abar = torch.as_tensor(alphas_cumprod, dtype=torch.float64)
        if abar.ndim != 1 or abar.numel() < 2 or not ((abar > 0) & (abar < 1)).all() or not (abar.diff() < 0).all():
            raise InvsolveError("alphas_cumprod must be a decreasing sequence of at least 2 values in (0, 1)")
        if data_range not in DATA_RANGES:
            raise InvsolveError(f"data_range must be one of {', '.join(DATA_RANGES)}, got {data_range!r}")
        self.model, self.call = model, call or _plain_call
        self.channels, self.positional, self.size_multiple = channels, positional, size_multiple
        self.data_range, self.learn_sigma, self.steps = data_range, learn_sigma, abar.numel()
        self.scale, self.offset = DATA_RANGES[data_range]
        # the schedule's noise levels in model units, s_t = sqrt((1 - abar_t) / abar_t), increasing in t
        self.register_buffer("log_sigmas", (((1 - abar) / abar).sqrt().log()).float(), persistent=False)

    @property
    def sigma_min(self) -> float:
        """The smallest noise level of the schedule, in image units."""
        return float(self.log_sigmas[0].exp()) / self.scale

    @property
    def sigma_max(self) -> float:
        return float(self.log_sigmas[-1].exp()) / self.scale

    def describe(self) -> str:
        return f"DDPM epsilon network, {self.steps}-step VP schedule, data in {self.data_range}"

    def timestep(self, model_sigma: torch.Tensor) -> torch.Tensor:
        """t(s): the fractional timestep whose noise level is ``model_sigma`` (log s linear between
        steps), clamped to the schedule."""
        log_sigma = model_sigma.log().clamp(self.log_sigmas[0], self.log_sigmas[-1])
        upper = torch.searchsorted(self.log_sigmas, log_sigma.contiguous()).clamp(1, self.log_sigmas.numel() - 1)
        low, high = self.log_sigmas[upper - 1], self.log_sigmas[upper]
        return upper - 1 + (log_sigma - low) / (high - low)

    def forward(self, x: torch.Tensor, sigma: torch.Tensor, positions: torch.Tensor | None = None) -> torch.Tensor:
        """x: (K, C, H, W) noisy [0, 1] images or patches; sigma: (K, 1, 1, 1); positions: (K, 2, H, W)
        when ``positional``. Returns the denoised (K, C, H, W) in [0, 1] units."""
        if (positions is not None) != self.positional:
            raise ValueError("position channels must be given exactly when the network was built with them")
        model_sigma = self.scale * sigma.to(x.dtype)
        z = self.scale * x + self.offset  # VE noisy image in the model's range
        vp_input = z / (1 + model_sigma**2).sqrt()
        if positions is not None:
            vp_input = torch.cat([vp_input, positions], dim=1)
        eps = self.call(self.model, vp_input, self.timestep(model_sigma.flatten().float()))
        if self.learn_sigma:
            eps = eps[:, : self.channels]
        if eps.shape != x.shape:
            raise InvsolveError(
                f"the epsilon network returned shape {tuple(eps.shape)} for input {tuple(x.shape)}; "
                "a model with learned variances (2C outputs) needs learn_sigma=True"
            )
        return (z - model_sigma * eps.to(x.dtype) - self.offset) / self.scale


def epsilon_prior(
    model: torch.nn.Module,
    *,
    image_size: int,
    channels: int,
    alphas_cumprod: torch.Tensor | None = None,
    patch_size: int | None = None,
    data_range: str = "[-1,1]",
    learn_sigma: bool = False,
    positional: bool = False,
    size_multiple: int = 1,
    call: ModelCall | None = None,
    config: dict | None = None,
    **patch_options: Any,
) -> PatchPrior | WholeImagePrior:
    """Any epsilon-prediction network on a discrete VP schedule as a VE prior: a ``WholeImagePrior``
    (``patch_size`` None) or a PaDIS ``PatchPrior`` (``patch_size`` P, with its options, e.g. ``pad``,
    ``shifts``; a model with position channels needs ``positional=True``) over the converted
    network (``EpsilonNetwork``), so every solver and study treats it as any other prior. The noise
    range is the schedule's; ``alphas_cumprod`` defaults to DDPM's linear schedule. ``config``:
    what a loader records about where the model came from. ``invsolve.priors.load`` builds one from
    a diffusers folder or a description file (``invsolve.priors.external``)."""
    network = EpsilonNetwork(
        model,
        ddpm_alphas_cumprod() if alphas_cumprod is None else alphas_cumprod,
        channels=channels,
        data_range=data_range,
        learn_sigma=learn_sigma,
        positional=positional,
        size_multiple=size_multiple,
        call=call,
    )
    low, high = network.sigma_min, network.sigma_max
    if patch_size is None:
        if patch_options:
            raise InvsolveError(f"a whole-image prior has no option {', '.join(sorted(patch_options))}")
        return WholeImagePrior(network, image_size, sigma_min=low, sigma_max=high, config=config)
    return PatchPrior(
        network,
        image_size,
        patch_size,
        positional_encoding=positional,
        sigma_min=low,
        sigma_max=high,
        config=config,
        **patch_options,
    )


class EpsilonUNet(torch.nn.Module):
    """DDPM's parameterisation (Ho et al. 2020): the same DDPM++ U-Net predicting the noise eps from
    (z_t, t) on a discrete VP schedule, z_t = sqrt(abar_t) z0 + sqrt(1 - abar_t) eps with z0 = 2 x - 1
    (images in [-1, 1], the DDPM convention), position channels after the image's; t enters the
    U-Net's positional embedding as is (0 .. steps - 1). Trained by ``objectives.eps_loss``; as a
    denoiser it is wrapped by ``EpsilonNetwork`` (``as_denoiser``)."""

    def __init__(
        self,
        channels: int,
        size: str = "small",
        positional: bool = True,
        resolution: int = 32,
        *,
        schedule: dict | None = None,
        precision: str = "fp32",
    ):
        super().__init__()
        self.channels, self.size, self.positional, self.resolution = channels, size, positional, resolution
        self.size_multiple = EDMNetwork.size_multiple_of(size)
        self.alphas_cumprod: torch.Tensor
        self.schedule = {"steps": DDPM_STEPS, "beta_start": DDPM_BETA_START, "beta_end": DDPM_BETA_END} | (
            schedule or {}
        )
        self.precision = precision
        self.register_buffer("alphas_cumprod", ddpm_alphas_cumprod(**self.schedule).float(), persistent=False)
        self.unet = ddpmpp_unet(channels + (2 if positional else 0), channels, size, resolution)
        self.train(False)

    def config(self) -> dict:
        return {
            "size": self.size,
            "channels": self.channels,
            "positional": self.positional,
            "resolution": self.resolution,
            "preconditioning": "eps",
            "schedule": dict(self.schedule),
        }

    def forward(self, z: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """z: (K, C (+ 2 position channels), P, P) at timestep(s) t (K,) -> eps (K, C, P, P)."""
        with in_precision(z.device.type, self.precision):
            return self.unet.forward_unet(z, t.float()).float()

    def as_denoiser(self) -> "EpsilonNetwork":
        """This network as D(x; sigma) on [0, 1] images."""
        return EpsilonNetwork(
            self,
            self.alphas_cumprod,
            channels=self.channels,
            positional=self.positional,
            size_multiple=self.size_multiple,
        )
