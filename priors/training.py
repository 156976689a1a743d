"""Training a patch (PaDIS) or whole-image prior with the EDM loss, on one CPU or many GPUs.

One step: pick a patch size (probabilities ``patch_probs``, the same on every rank), draw
``batch * (P_max / P)^2`` patches at uniform positions of the zero-padded images (so every step
sees about the same number of pixels), add noise at sigma ~ exp(N(-1.2, 1.2^2)), and minimise the
EDM-weighted denoising error; Adam; an exponential moving average (EMA) of the weights is what the
prior file holds. The position channels come from the same ``position_channels`` the PatchPrior uses.

Scale-out is PyTorch's own: under ``torchrun`` each process trains a DDP replica (gloo on CPU,
nccl on GPU) on its shard of the images; without a launcher it is one process
(``invsolve.priors.distributed``). Every random choice comes from seeded generators whose states
the run state saves (``invsolve.priors.run_state``), so ``resume`` continues exactly. The loss
lives in ``invsolve.priors.objectives``, the CSV log in ``invsolve.priors.loss_log``.
"""

import contextlib
import copy
import os
import time
from collections.abc import Callable
from pathlib import Path

import torch
from tqdm.auto import tqdm

import invsolve
from invsolve.catalog import PRIOR_KINDS, SIGMA_MAX, SIGMA_MIN
from invsolve.data import HeadCT, ImageSource, get_source, source_location
from invsolve.devices import seeded_integers
from invsolve.errors import InvsolveError
from invsolve.io import check_distinct, check_output, exclusive_lock
from invsolve.priors.checkpoint import write_checkpoint
from invsolve.priors.distributed import Distributed
from invsolve.priors.epsilon import EpsilonUNet
from invsolve.priors.loss_log import LossLog
from invsolve.priors.network import EDMNetwork, check_slices
from invsolve.priors.objectives import OBJECTIVES, edm_loss, eps_loss
from invsolve.priors.patches import default_pad
from invsolve.priors.positions import position_channels
from invsolve.priors.run_state import RunState
from invsolve.priors.training_config import TrainingConfig, parse_duration

EMA_RAMPUP = 0.05  # EDM: the EMA half-life is at most 5 % of the images seen so far
DEFAULT_PHANTOM_COUNT = 1000


def companion_paths(out: str | os.PathLike) -> tuple[Path, Path, Path]:
    """(prior file, training-state file, loss log) for ``out``, after checking it can be written."""
    check_output(out, (".safetensors",), "out")
    out = Path(out)
    return out, out.with_name(out.stem + ".state.safetensors"), out.with_name(out.stem + ".log.csv")


def check_config(config: TrainingConfig) -> TrainingConfig:
    """Validate and fill in the defaults that depend on other settings (whole-image, pad)."""
    if config.prior not in PRIOR_KINDS:
        raise InvsolveError(f"prior must be one of {', '.join(PRIOR_KINDS)}, got {config.prior!r}")
    if config.prior == "whole":
        config.patch_sizes, config.patch_probs, config.pad, config.positional = (config.image_size,), (1.0,), 0, False
    sizes, probs = tuple(config.patch_sizes), tuple(float(p) for p in config.patch_probs)
    if len(sizes) != len(probs) or not sizes:
        raise InvsolveError(f"patch_sizes ({len(sizes)}) and patch_probs ({len(probs)}) need one entry each")
    if min(probs) < 0 or abs(sum(probs) - 1) > 1e-6:
        raise InvsolveError(f"patch_probs must be non-negative and sum to 1, got {','.join(map(str, probs))}")
    multiple = EDMNetwork.size_multiple_of(config.net)
    for size in sizes:
        if not 0 < size <= config.image_size or size % multiple:
            raise InvsolveError(
                f"patch size {size} must be at most the image size {config.image_size} and a "
                f"multiple of {multiple} for the {config.net} network"
            )
    config.patch_sizes, config.patch_probs = sizes, probs
    if config.pad is None:
        config.pad = default_pad(config.image_size, max(sizes)) if config.prior == "padis" else 0
    if not 0 <= config.pad < config.image_size:
        raise InvsolveError(f"pad must be in 0..{config.image_size - 1}, got {config.pad}")
    if config.batch < 1 or config.lr <= 0 or config.ema_halflife < 0:
        raise InvsolveError("batch must be >= 1, lr > 0 and ema_halflife >= 0")
    if config.objective not in OBJECTIVES:
        raise InvsolveError(f"objective must be one of {', '.join(OBJECTIVES)}, got {config.objective!r}")
    if config.objective == "eps" and config.slices > 1:
        raise InvsolveError("cross-slice priors (slices > 1) train with the edm objective")
    check_slices(config.slices)
    if config.max_images is not None and config.max_images < 1:
        raise InvsolveError(f"max_images must be at least 1, got {config.max_images}")
    parse_duration(config.duration)
    if parse_duration(config.checkpoint_every)[0] != "seconds":
        raise InvsolveError(f"checkpoint_every must be a time such as 10m, got {config.checkpoint_every!r}")
    companion_paths(config.out)
    return config


class PatchSampler:
    """Random training patches of the (rank's shard of the) images, zero-padded by ``pad``."""

    def __init__(
        self, images: torch.Tensor, config: TrainingConfig, generator: torch.Generator, step_generator: torch.Generator
    ):
        assert config.pad is not None, "check_config fills in the pad"
        self.image_size, self.pad = images.shape[-1], config.pad
        self.padded = torch.nn.functional.pad(images, (config.pad,) * 4)
        self.sizes, self.probs = config.patch_sizes, torch.tensor(config.patch_probs)
        self.batch, self.generator, self.step_generator = config.batch, generator, step_generator

    def draw(self) -> tuple[torch.Tensor, torch.Tensor, int]:
        """(patches (K, C, P, P), position channels (K, 2, P, P), P) for one step."""
        size = self.sizes[int(torch.multinomial(self.probs, 1, generator=self.step_generator).item())]
        count = max(1, round(self.batch * (max(self.sizes) / size) ** 2))
        which = seeded_integers(self.padded.shape[0], (count,), self.generator).cpu()
        span = self.padded.shape[-1] - size + 1  # top-left corners in the padded frame
        tops, lefts = (seeded_integers(span, (count,), self.generator).cpu() for _ in range(2))
        offsets = torch.arange(size)
        rows, cols = (tops[:, None] + offsets)[:, :, None], (lefts[:, None] + offsets)[:, None, :]
        patches = self.padded[which[:, None, None], :, rows, cols].permute(0, 3, 1, 2)
        positions = position_channels(self.image_size, tops - self.pad, lefts - self.pad, size)
        return patches.contiguous(), positions, size


def load_training_images(config: TrainingConfig, rank: int, world: int, progress: bool) -> tuple[torch.Tensor, dict]:
    """This rank's shard (every world-th image) of the first ``max_images`` training images, (M, C, N, N),
    and what the prior's metadata records about them (their source's provenance included). For a
    cross-slice prior an image is a stack of ``slices`` neighbouring slices, (M, C * slices, N, N)."""
    source = get_source(config.data, "train", config.image_size, config.channels)
    count = config.max_images or (DEFAULT_PHANTOM_COUNT if config.data == "phantoms" else len(source))
    if count > len(source):
        raise InvsolveError(f"max_images {count} asks for more than the {len(source)} training images of {config.data}")
    image: Callable[[int], torch.Tensor] = source.__getitem__
    used, stacks = list(range(count)), {}
    if config.slices > 1:
        image, used, centres = _neighbour_stacks(source, count, config)
        stacks = {"stacks": {"slices": config.slices, "centres": centres}}
    if len(used) < world:
        raise InvsolveError(f"{len(used)} training images cannot be shared by {world} processes")
    indices = used[rank::world]
    images = torch.stack(
        [image(i) for i in tqdm(indices, desc=f"loading {config.data}", disable=not progress, leave=False)]
    )
    return images, {
        "source": config.data,
        "split": "train",
        "count": count,
        "image_size": config.image_size,
        "channels": source.channels,
        **source.provenance(count),
        **stacks,
    }


def _neighbour_stacks(
    source: ImageSource, count: int, config: TrainingConfig
) -> tuple[Callable[[int], torch.Tensor], list[int], list[int]]:
    """(image i as the stack of its ``slices`` neighbouring volume slices, the usable indices, their
    volume slices): of the first ``count`` training slices those whose neighbours are training
    slices too, so a held-out slice keeps its distance (the split's gap) to everything the prior sees."""
    if not isinstance(source, HeadCT):
        raise InvsolveError(
            f"a cross-slice prior (slices {config.slices}) trains on neighbouring slices of a volume: "
            f"use --data headct or headct-slabs, not {config.data}"
        )
    half, training, slices = config.slices // 2, set(source.slices), source.slices
    offsets = range(-half, half + 1)
    used = [i for i in range(count) if all(slices[i] + d in training for d in offsets)]
    if not used:
        raise InvsolveError(f"no training slice of {config.data} has {half} training neighbours on each side")
    return (
        (lambda i: torch.cat([source.volume_slice(slices[i] + d) for d in offsets])),
        used,
        [slices[i] for i in used],
    )


def training_step(
    model: torch.nn.Module, state: RunState, sampler: PatchSampler, device: torch.device
) -> tuple[float, int]:
    """One Adam step of the EDM loss on one batch of random patches; returns (loss, patch size).
    ``model`` is ``state.network`` or its DDP replica."""
    patches, positions, size = sampler.draw()
    network = state.network
    clean, where = patches.to(device), positions.to(device) if network.positional else None
    if isinstance(network, EpsilonUNet):
        loss = eps_loss(
            model, clean, where, state.generator, alphas_cumprod=network.alphas_cumprod, autocast=device.type == "cuda"
        )
    else:
        loss = edm_loss(
            model,
            clean,
            where,
            state.generator,
            sigma_data=network.sigma_data,
            autocast=device.type == "cuda",
            slices=network.slices,
        )
    state.optimizer.zero_grad(set_to_none=True)
    loss.backward()
    for p in network.parameters():  # EDM: a rare non-finite gradient must not poison the weights
        if p.grad is not None:
            torch.nan_to_num(p.grad, nan=0, posinf=0, neginf=0, out=p.grad)
    state.optimizer.step()
    return loss.item(), size


def train(config: TrainingConfig, progress: bool = True) -> Path:
    """Train as ``config`` says; returns the prior file (written by rank 0)."""
    config = check_config(config)
    out, state_path, log_path = companion_paths(config.out)
    outputs = {"out": out, "its training state": state_path, "its loss log": log_path}
    check_distinct({"data": source_location(config.data)}, outputs)
    if config.resume and config.replace:
        raise InvsolveError("resume continues the run at out, replace starts a new one over it: give one")
    if out.exists() and not (config.resume or config.replace):
        raise InvsolveError(
            f"{out} exists; pass resume=True to continue its run, replace=True to train over it, or another out"
        )
    ranks = Distributed(config.device)
    # rank 0 writes the files, so rank 0 holds the lock: a second run with the same out stops at once
    busy = f"another training run is writing {out}; wait for it or give another out file"
    lock = exclusive_lock(out.with_name(out.stem + ".lock"), busy) if ranks.main else contextlib.nullcontext()
    try:
        with lock:
            if not (config.resume or config.replace) and state_path.exists():
                raise InvsolveError(
                    f"{state_path} holds an earlier run's training state; pass resume=True to continue it, "
                    "or delete it (and the prior file) to start over"
                )
            return _train(config, ranks, out, state_path, log_path, progress and ranks.main)
    finally:
        ranks.close()


def _train(
    config: TrainingConfig, ranks: Distributed, out: Path, state_path: Path, log_path: Path, progress: bool
) -> Path:
    images, data = load_training_images(config, ranks.rank, ranks.world, progress)
    config.channels = data["channels"]
    torch.manual_seed(config.seed)  # identical initial weights on every rank
    resolution = max(config.patch_sizes)
    network: EDMNetwork | EpsilonUNet = (
        EpsilonUNet(config.channels, config.net, config.positional, resolution)
        if config.objective == "eps"
        else EDMNetwork(config.channels, config.net, config.positional, resolution, slices=config.slices)
    ).to(ranks.device)
    state = RunState(
        network=network,
        ema=copy.deepcopy(network).requires_grad_(False),
        optimizer=torch.optim.Adam(network.parameters(), lr=config.lr, betas=(0.9, 0.999), eps=1e-8),
        generator=torch.Generator().manual_seed(config.seed * 1_000_003 + ranks.rank),
        step_generator=torch.Generator().manual_seed(config.seed),
        commands=[config.command],
    )
    if config.resume:
        state.restore(state_path, config, ranks)
    model = ranks.wrap(network)
    network.train()
    sampler = PatchSampler(images, config, state.generator, state.step_generator)
    unit, target = parse_duration(config.duration)
    save_every = parse_duration(config.checkpoint_every)[1]
    done = state.progress
    log = LossLog(log_path, done.step, ranks.main)

    def save(spread: float | None = None) -> None:
        streams = ranks.gather(state.random_streams(ranks.device))
        if ranks.main:
            write_checkpoint(out, state.ema.state_dict(), prior_config(config, data, state, ranks, spread))
            state.save(state_path, config, streams, out.name)

    bar = tqdm(
        total=round(target),
        initial=round(getattr(done, unit)),
        unit="img" if unit == "images" else "s",
        desc="training",
        disable=not progress,
        dynamic_ncols=True,
    )
    last_save, smoothed = time.perf_counter(), None
    finished = getattr(done, unit) >= target
    while not finished:
        started = time.perf_counter()
        value, size = training_step(model, state, sampler, ranks.device)
        step_images = config.batch * ranks.world
        _update_ema(state.ema, network, step_images, done.images + step_images, config.ema_halflife)
        seconds = time.perf_counter() - started
        before = getattr(done, unit)
        done.step, done.images, done.seconds = done.step + 1, done.images + step_images, done.seconds + seconds
        smoothed = value if smoothed is None else 0.95 * smoothed + 0.05 * value
        log.add(done, size, value, config.lr)
        bar.update(round(getattr(done, unit)) - round(before))
        bar.set_postfix(loss=f"{smoothed:.4f}", img_per_s=f"{step_images / seconds:.0f}", P=size, refresh=False)
        # Clocks differ between ranks, so rank 0 decides when to stop and when to save, for all.
        finished, due = ranks.decide(getattr(done, unit) >= target, time.perf_counter() - last_save >= save_every)
        if due and not finished:
            save()
            last_save = time.perf_counter()
    bar.close()
    log.close()
    spread = ranks.replica_spread(network)
    save(spread)
    if spread > 0:
        raise InvsolveError(f"the DDP replicas ended with different weights (max difference {spread:g})")
    return out


def _update_ema(ema: torch.nn.Module, network: torch.nn.Module, step_images: int, seen: float, halflife: float) -> None:
    halflife = min(halflife, seen * EMA_RAMPUP)
    beta = 0.5 ** (step_images / max(halflife, 1e-8))
    with torch.no_grad():
        for average, current in zip(ema.parameters(), network.parameters(), strict=True):
            average.lerp_(current, 1 - beta)


def prior_config(config: TrainingConfig, data: dict, state: RunState, ranks: Distributed, spread: float | None) -> dict:
    """The JSON config a prior file carries: what loading builds the prior from
    and how it was made (the schema: ``config_schema.PriorConfig``)."""
    done, patch_grid = state.progress, {}
    noise_range = {"sigma_min": SIGMA_MIN, "sigma_max": SIGMA_MAX}
    if isinstance(state.ema, EpsilonUNet):  # the schedule's range, in image units
        denoiser = state.ema.as_denoiser()
        noise_range = {"sigma_min": denoiser.sigma_min, "sigma_max": denoiser.sigma_max}
    if config.prior == "padis":
        patch_grid = {"patch_size": max(config.patch_sizes), "pad": None}  # inference pad: the tightest
    return {
        "kind": config.prior,
        "objective": config.objective,
        "network": state.ema.config(),
        "image_size": config.image_size,
        **patch_grid,
        **noise_range,
        "training_pad": config.pad,
        "patch_sizes": list(config.patch_sizes),
        "patch_probs": list(config.patch_probs),
        "data": data,
        "command": state.commands[0],
        "resumed_with": state.commands[1:],
        "training": {
            "steps": done.step,
            "images": done.images,
            "seconds": round(done.seconds, 1),
            "batch": config.batch,
            "lr": config.lr,
            "ema_halflife": config.ema_halflife,
            "duration": config.duration,
            "seed": config.seed,
            "processes": ranks.world,
            "backend": ranks.backend,
            "threads_per_process": torch.get_num_threads(),
            "device": str(next(state.ema.parameters()).device),
            "replica_spread": spread,
        },
        "versions": {"invsolve": invsolve.__version__, "torch": torch.__version__},
    }
