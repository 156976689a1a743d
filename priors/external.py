"""DDPM checkpoints made elsewhere, loaded as priors (``epsilon_prior``): a ``diffusers`` folder, or a plain
state dict with a description naming its network class. Nothing is downloaded and nothing is
unpickled: weights come from safetensors files or ``torch.load(weights_only=True)``.

- **A diffusers folder**: a ``UNet2DModel`` saved with ``save_pretrained`` (``config.json`` and
  ``diffusion_pytorch_model.safetensors``), with its ``DDPMScheduler`` config beside it
  (``scheduler_config.json``) or a pipeline's ``unet/`` and ``scheduler/`` subfolders. Without a
  scheduler config the schedule is DDPM's (linear beta 1e-4 to 0.02, 1000 steps). ``learn_sigma``
  follows from the model's outputs (twice its inputs), the data range is [-1, 1] (diffusers'
  convention; override with ``data_range``). Needs ``pip install 'invsolve[diffusers]'``.
- **A description file** ``NAME.json``, for a guided-diffusion/ADM or any other network::

      {"epsilon": {"network": "package.module:Class", "options": {...constructor arguments...},
                   "weights": "model.safetensors", "image_size": 256, "channels": 3,
                   "learn_sigma": true, "data_range": "[-1,1]",
                   "schedule": {"steps": 1000, "beta_start": 0.0001, "beta_end": 0.02},
                   "patch_size": null, "positional": false, "size_multiple": 8}}

  ``network`` is imported (the user's own code, as for any network class they name), built with
  ``options`` and given the weights (``weights`` relative to the description; ``.safetensors``, or
  ``.pt``/``.pth`` read with ``weights_only=True``). The model is called as ``model(z_t, t)``.
"""

import importlib
import json
from pathlib import Path
from typing import Annotated, Any

import torch
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from invsolve.errors import InvsolveError
from invsolve.priors.epsilon import DDPM_BETA_END, DDPM_BETA_START, DDPM_STEPS, ddpm_alphas_cumprod, epsilon_prior
from invsolve.priors.patch_prior import PatchPrior
from invsolve.priors.whole_image import WholeImagePrior
from invsolve.validation import one_line

DIFFUSERS_EXTRA = "pip install 'invsolve[diffusers]'"


def is_external(path: Path) -> bool:
    """Whether ``path`` names a DDPM checkpoint this module reads (a folder, or a ``.json`` description)."""
    return path.is_dir() or path.suffix == ".json"


def load_external(path: Path, **options: Any) -> PatchPrior | WholeImagePrior:
    """The prior a diffusers folder or a description file holds; ``options`` go to it
    (``patch_size``, ``data_range``, the patch prior's options)."""
    return _load_diffusers(path, **options) if path.is_dir() else _load_described(path, **options)


def _load_diffusers(folder: Path, **options: Any) -> PatchPrior | WholeImagePrior:
    try:
        from diffusers import DDPMScheduler, UNet2DModel
    except ImportError:
        raise InvsolveError(
            f"{folder} is a folder: reading a diffusers model needs diffusers ({DIFFUSERS_EXTRA})"
        ) from None
    unet_folder = folder / "unet" if (folder / "unet" / "config.json").is_file() else folder
    if not (unet_folder / "config.json").is_file():
        raise InvsolveError(f"{folder} holds no diffusers model (no config.json, nor unet/config.json)")
    if not any(unet_folder.glob("*.safetensors")):
        raise InvsolveError(
            f"{unet_folder} has no .safetensors weights; invsolve never unpickles a .bin file: convert it "
            "with diffusers (model.save_pretrained(folder, safe_serialization=True))"
        )
    try:
        model = UNet2DModel.from_pretrained(
            str(unet_folder), use_safetensors=True, local_files_only=True, low_cpu_mem_usage=False
        )
    except (OSError, ValueError, TypeError) as error:
        raise InvsolveError(f"cannot read {unet_folder} as a diffusers UNet2DModel: {_in_one_line(error)}") from None
    scheduler_folder = next(
        (f for f in (folder / "scheduler", folder, unet_folder) if (f / "scheduler_config.json").is_file()), None
    )
    schedule = (
        DDPMScheduler.from_pretrained(str(scheduler_folder), local_files_only=True).alphas_cumprod
        if scheduler_folder is not None
        else ddpm_alphas_cumprod()
    )
    config = model.config
    channels = config.in_channels
    if config.out_channels not in (channels, 2 * channels):
        raise InvsolveError(
            f"{unet_folder}: a UNet2DModel with {channels} input and {config.out_channels} output channels "
            "is not an epsilon network (outputs must be C, or 2C with learned variances)"
        )
    return epsilon_prior(
        model.eval().requires_grad_(False),
        image_size=_side(config.sample_size),
        channels=channels,
        alphas_cumprod=schedule,
        learn_sigma=config.out_channels == 2 * channels,
        size_multiple=2 ** (len(config.block_out_channels) - 1),
        call=lambda unet, z, t: unet(z, t).sample,
        config={"objective": "eps", "format": "diffusers", "source": str(folder)},
        **options,
    )


def _side(sample_size: int | list | tuple) -> int:
    sides = [sample_size] * 2 if isinstance(sample_size, int) else list(sample_size)
    if len(set(sides)) != 1:
        raise InvsolveError(f"invsolve's priors work on square images; this model's sample_size is {sample_size}")
    return int(sides[0])


class _Schedule(BaseModel):
    model_config = ConfigDict(extra="forbid")
    steps: Annotated[int, Field(ge=2)] = DDPM_STEPS
    beta_start: Annotated[float, Field(gt=0, lt=1)] = DDPM_BETA_START
    beta_end: Annotated[float, Field(gt=0, lt=1)] = DDPM_BETA_END


class _Description(BaseModel):
    """The ``epsilon`` entry of a description file."""

    model_config = ConfigDict(extra="forbid")
    network: str = Field(pattern=r"^[\w.]+:\w+$")
    options: dict[str, Any] = Field(default_factory=dict)
    weights: str
    image_size: Annotated[int, Field(ge=8)]
    channels: Annotated[int, Field(ge=1)]
    learn_sigma: bool = False
    data_range: str = "[-1,1]"
    schedule: _Schedule = _Schedule()
    patch_size: int | None = None
    positional: bool = False
    size_multiple: Annotated[int, Field(ge=1)] = 1


def _load_described(path: Path, **options: Any) -> PatchPrior | WholeImagePrior:
    try:
        entry = json.loads(path.read_text())["epsilon"]
        described = _Description.model_validate(entry)
    except (OSError, ValueError, KeyError, TypeError) as error:
        problem = one_line(error) if isinstance(error, ValidationError) else f"{type(error).__name__}: {error}"
        raise InvsolveError(
            f"{path} is not a DDPM description (an 'epsilon' entry as docs/priors.md shows): {problem}"
        ) from None
    module_name, class_name = described.network.split(":")
    try:
        network_class = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as error:
        raise InvsolveError(f"{path}: cannot import the network class {described.network}: {error}") from None
    model = network_class(**described.options)
    weights = _read_weights(path.parent / described.weights)
    try:
        model.load_state_dict(weights, strict=True)
    except RuntimeError as error:
        raise InvsolveError(f"{path}: the weights do not fit {described.network}: {_in_one_line(error)}") from None
    schedule = described.schedule
    settings = {"patch_size": described.patch_size, "data_range": described.data_range} | options
    return epsilon_prior(
        model.eval().requires_grad_(False),
        image_size=described.image_size,
        channels=described.channels,
        alphas_cumprod=ddpm_alphas_cumprod(schedule.steps, schedule.beta_start, schedule.beta_end),
        learn_sigma=described.learn_sigma,
        positional=described.positional,
        size_multiple=described.size_multiple,
        config={"objective": "eps", "format": "state dict", "source": str(path)} | entry,
        **settings,
    )


def _read_weights(path: Path) -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise InvsolveError(f"the weights file {path} does not exist")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    if path.suffix in (".pt", ".pth"):
        try:
            return torch.load(path, map_location="cpu", weights_only=True)
        except Exception as error:
            raise InvsolveError(
                f"{path} is not a plain state dict (read with weights_only=True): {_in_one_line(error)}"
            ) from None
    raise InvsolveError(f"weights must be a .safetensors, .pt or .pth file, got {path.name}")


def _in_one_line(error: Exception, limit: int = 300) -> str:
    """A library's multi-line error message as one line, cut at ``limit`` characters."""
    text = "; ".join(line.strip() for line in str(error).splitlines() if line.strip())
    return text if len(text) <= limit else text[: limit - 3] + "..."
