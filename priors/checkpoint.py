"""Checkpoint files: one ``.safetensors`` file, its header holding a JSON config and a checksum.

Nothing is ever unpickled. The header's ``invsolve`` entry is the JSON config; ``sha256`` is the
digest of the file's tensor bytes, so a flipped or missing byte is refused rather than loaded as
wrong weights. ``load(path)`` turns a prior file into a ready ``PatchPrior`` or ``WholeImagePrior``.

A prior's config records exactly what loading builds it from (kind, training objective, network
with its preconditioning, image size, sigma range, patch grid) and how it was made (data and its
licence, command, training run, versions); its schema is ``config_schema.PriorConfig``. Loading
uses every loaded field and refuses a field it does not know. Files of format 1 (which kept sigma_data
beside the network and no objective) are read through ``upgrade_prior_config``.
"""

import hashlib
import json
import os
import struct
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_tensors
from safetensors.torch import save as save_tensors

from invsolve.catalog import BUNDLED_PRIORS
from invsolve.devices import resolve_device, resolve_precision
from invsolve.errors import InvsolveError
from invsolve.io import atomic_write
from invsolve.priors.config_schema import PATCH_GRID_FIELDS, check_prior_config
from invsolve.priors.epsilon import EpsilonUNet
from invsolve.priors.external import is_external, load_external
from invsolve.priors.network import PRECONDITIONING, SIGMA_DATA, EDMNetwork
from invsolve.priors.patch_prior import PatchPrior
from invsolve.priors.whole_image import WholeImagePrior
from invsolve.validation import check_arguments, check_value

FORMAT_VERSION = 2


def write_checkpoint(path: str | os.PathLike, tensors: dict[str, torch.Tensor], config: dict) -> Path:
    """Write ``tensors`` and ``config`` atomically (a crash leaves the old file, never half a file)."""
    tensors = {name: t.detach().contiguous().cpu() for name, t in tensors.items()}
    digest = hashlib.sha256(_data_section(save_tensors(tensors))).hexdigest()
    metadata = {"invsolve": json.dumps(config, sort_keys=True), "format_version": str(FORMAT_VERSION), "sha256": digest}
    blob = save_tensors(tensors, metadata=metadata)
    return atomic_write(path, lambda f: f.write(blob))


def read_checkpoint(path: str | os.PathLike) -> tuple[dict, dict[str, torch.Tensor]]:
    """(config, tensors) of a checkpoint file, after checking it is whole and ours."""
    path = Path(path)
    if not path.is_file():
        raise InvsolveError(f"checkpoint {path} does not exist")
    blob = path.read_bytes()
    try:
        header_size = struct.unpack("<Q", blob[:8])[0]
        metadata = json.loads(blob[8 : 8 + header_size]).get("__metadata__") or {}
    except (struct.error, ValueError, AttributeError):
        raise InvsolveError(f"{path} is not a safetensors checkpoint (truncated or a different kind of file)") from None
    if "invsolve" not in metadata:
        raise InvsolveError(f"{path} is a safetensors file but not an invsolve checkpoint (no invsolve config)")
    version = int(metadata.get("format_version", 0))
    if version > FORMAT_VERSION:
        raise InvsolveError(f"{path} was written by a newer invsolve (format {metadata['format_version']}); upgrade")
    if hashlib.sha256(_data_section(blob)).hexdigest() != metadata.get("sha256"):
        raise InvsolveError(
            f"{path} is corrupted or truncated: its tensor bytes do not match the checksum "
            "in its header; copy or train it again"
        )
    try:
        tensors = load_tensors(blob)
        config = json.loads(metadata["invsolve"])
    except (SafetensorError, ValueError) as error:
        raise InvsolveError(f"{path} is corrupted: {error}") from None
    if isinstance(config, dict) and "kind" in config and version < FORMAT_VERSION:
        config = upgrade_prior_config(config)
    return config, tensors


def upgrade_prior_config(config: dict) -> dict:
    """A format-1 prior config in today's layout: sigma_data and the EDM preconditioning inside the
    network, the EDM objective named, the copies of network fields (channels, positional_encoding)
    and a whole-image prior's meaningless patch grid dropped."""
    config = dict(config)
    if isinstance(config.get("network"), dict):
        config["network"] = {
            "preconditioning": PRECONDITIONING,
            "sigma_data": config.get("sigma_data", SIGMA_DATA),
            **config["network"],
        }
    for copied in ("sigma_data", "channels", "positional_encoding"):
        config.pop(copied, None)
    config.setdefault("objective", "edm")
    if config.get("kind") == "whole":
        for field in PATCH_GRID_FIELDS:
            config.pop(field, None)
    return config


def _data_section(blob: bytes) -> bytes:
    header_size = struct.unpack("<Q", blob[:8])[0]
    return blob[8 + header_size :]


def _weights_mismatch(network: torch.nn.Module, weights: dict[str, torch.Tensor]) -> str | None:
    """A short account of how ``weights`` differ from ``network``'s, or None when they fit."""
    expected = network.state_dict()
    missing = [k for k in expected if k not in weights]
    unexpected = [k for k in weights if k not in expected]
    reshaped = [k for k in expected if k in weights and weights[k].shape != expected[k].shape]
    if not (missing or unexpected or reshaped):
        return None
    parts = [
        f"{len(names)} {what}"
        for names, what in ((missing, "missing"), (unexpected, "unexpected"), (reshaped, "of another shape"))
        if names
    ]
    example = (missing or unexpected or reshaped)[0]
    return f"{', '.join(parts)} (e.g. {example})"


def prior_from_config(
    config: dict, weights: dict[str, torch.Tensor], precision: str = "fp32", **options: Any
) -> PatchPrior | WholeImagePrior:
    """Build the prior a config describes, its network at ``precision``, and load ``weights`` into it."""
    checked = check_prior_config(config)
    epsilon = checked.objective == "eps"
    built = checked.network.model_dump(exclude={"preconditioning", *(["slices"] if epsilon else [])}, exclude_none=True)
    trained: EDMNetwork | EpsilonUNet = (
        EpsilonUNet(**built, precision=precision) if epsilon else EDMNetwork(**built, precision=precision)
    )
    mismatch = _weights_mismatch(trained, weights)
    if mismatch:
        raise InvsolveError(f"checkpoint weights do not match its network config: {mismatch}")
    trained.load_state_dict(weights, strict=True)
    network = trained.as_denoiser() if isinstance(trained, EpsilonUNet) else trained
    if checked.kind == "whole":
        unknown = set(options) - {"max_batch"}
        if unknown:
            raise InvsolveError(f"a whole-image prior has no option {', '.join(sorted(unknown))}")
        return WholeImagePrior(
            network, checked.image_size, sigma_min=checked.sigma_min, sigma_max=checked.sigma_max, config=config
        )
    grid = dict(patch_size=checked.patch_size, pad=checked.pad, positional_encoding=network.positional)
    settings = grid | {k: v for k, v in options.items() if v is not None}
    return PatchPrior(
        network, checked.image_size, **settings, sigma_min=checked.sigma_min, sigma_max=checked.sigma_max, config=config
    )


#: Where the bundled priors (``invsolve.catalog.BUNDLED_PRIORS``) are installed: ``bundled/NAME.safetensors``.
BUNDLED_DIR = Path(__file__).parent / "bundled"


def resolve_prior_path(spec: str | os.PathLike) -> Path:
    """The checkpoint a prior argument names: a prior file, a bundled prior's name, or a DDPM model
    made elsewhere (a diffusers folder or a description file, ``invsolve.priors.external``)."""
    path = Path(spec)
    if path.is_file() or path.is_dir():
        return path
    if str(spec) in BUNDLED_PRIORS:
        bundled = BUNDLED_DIR / f"{spec}.safetensors"
        if bundled.is_file():
            return bundled
        raise InvsolveError(
            f"the bundled prior {spec} is missing from this installation ({bundled}); reinstall "
            "invsolve, or give a prior file"
        )
    raise InvsolveError(
        f"prior file {path} does not exist; give a .safetensors file written by invsolve train, "
        f"a bundled prior ({', '.join(BUNDLED_PRIORS)}), or a DDPM model (a diffusers folder or a .json description)"
    )


def load(
    path: str | os.PathLike, device: str | torch.device = "cpu", precision: str = "fp32", **options: Any
) -> PatchPrior | WholeImagePrior:
    """The prior stored in ``path``, in eval mode on ``device``, its convolution weights in
    channels-last layout (the same arithmetic; per evaluation 0.91-0.98x the time of the default
    layout on a 2-core AVX2 CPU, 0.88x on an AVX-512 one; ``benchmarks/studies/cpu_cost.py``).

    ``precision``: "fp32", "bf16" (the network under bf16 autocast) or "auto" (bf16 on a CUDA
    GPU that supports it, fp32 on CPUs; ``invsolve.devices.resolve_precision``).

    ``options`` override the PatchPrior settings of the file: ``patch_size``, ``pad``,
    ``random_shift``, ``positional_encoding``, ``shifts``, ``shifts_below``, ``max_batch``.

    A diffusers folder or a DDPM description file loads as a prior over its converted network (fp32;
    ``invsolve.priors.external``); its ``options`` are the same, ``patch_size`` making it a patch prior.
    """
    check_value("precision", precision, str, "load")
    check_arguments(PatchPrior, options, "load")
    device = resolve_device(device)
    path = resolve_prior_path(path)
    if is_external(path):  # "auto" is fp32 for these
        if precision == "bf16":
            raise InvsolveError(f"a DDPM model made elsewhere ({path}) runs in fp32; bf16 is for invsolve's networks")
        return load_external(path, **options).to(device).eval()
    precision = resolve_precision(precision, device)
    config, tensors = read_checkpoint(path)
    if "kind" not in config:
        raise InvsolveError(
            f"{path} is an invsolve training-state file, not a prior; load the prior file written beside it"
        )
    prior = prior_from_config(config, tensors, precision, **options)
    return prior.to(device, memory_format=torch.channels_last).eval()
