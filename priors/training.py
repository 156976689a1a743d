"""Training a patch (PaDIS) or whole-image prior with the EDM loss, on one CPU or many GPUs.

One step: pick a patch size (probabilities ``patch_probs``, the same on every rank), draw
``batch * (P_max / P)^2`` patches at uniform positions of the zero-padded images (so every step
sees about the same number of pixels), add noise at sigma ~ exp(N(-1.2, 1.2^2)), and minimise the
EDM-weighted denoising error; Adam; an exponential moving average (EMA) of the weights is what the
prior file holds. The position channels come from the same ``position_channels`` the PatchPrior uses.

Scale-out is PyTorch's own: under ``torchrun`` each process trains a DDP replica (gloo on CPU,
nccl on GPU) on its shard of the images; without a launcher it is one process. Every random choice
comes from seeded generators whose states are saved, so ``resume`` continues exactly.
"""

import contextlib
import copy
import csv
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.distributed as dist
from tqdm.auto import tqdm

import invsolve
from invsolve.catalog import PRIOR_KINDS, SIGMA_MAX, SIGMA_MIN
from invsolve.data import get_source
from invsolve.devices import resolve_device
from invsolve.errors import InvsolveError
from invsolve.io import check_output, exclusive_lock
from invsolve.priors.checkpoint import read_checkpoint, write_checkpoint
from invsolve.priors.network import SIGMA_DATA, EDMNetwork
from invsolve.priors.patches import default_pad
from invsolve.priors.positions import position_channels
from invsolve.priors.training_config import TrainingConfig, parse_duration

P_MEAN, P_STD = -1.2, 1.2  # EDM's log-normal training noise distribution
EMA_RAMPUP = 0.05  # EDM: the EMA half-life is at most 5 % of the images seen so far
DEFAULT_PHANTOM_COUNT = 1000
#: Settings a resumed run must share with the run it continues.
RESUME_MUST_MATCH = (
    "prior",
    "data",
    "image_size",
    "channels",
    "patch_sizes",
    "patch_probs",
    "pad",
    "positional",
    "net",
    "batch",
    "max_images",
    "seed",
)


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
        self.image_size, self.pad = images.shape[-1], config.pad
        self.padded = torch.nn.functional.pad(images, (config.pad,) * 4)
        self.sizes, self.probs = config.patch_sizes, torch.tensor(config.patch_probs)
        self.batch, self.generator, self.step_generator = config.batch, generator, step_generator

    def draw(self) -> tuple[torch.Tensor, torch.Tensor, int]:
        """(patches (K, C, P, P), position channels (K, 2, P, P), P) for one step."""
        size = self.sizes[torch.multinomial(self.probs, 1, generator=self.step_generator).item()]
        count = max(1, round(self.batch * (max(self.sizes) / size) ** 2))
        which = torch.randint(self.padded.shape[0], (count,), generator=self.generator)
        span = self.padded.shape[-1] - size + 1  # top-left corners in the padded frame
        tops, lefts = (torch.randint(span, (count,), generator=self.generator) for _ in range(2))
        offsets = torch.arange(size)
        rows, cols = (tops[:, None] + offsets)[:, :, None], (lefts[:, None] + offsets)[:, None, :]
        patches = self.padded[which[:, None, None], :, rows, cols].permute(0, 3, 1, 2)
        positions = position_channels(self.image_size, tops - self.pad, lefts - self.pad, size)
        return patches.contiguous(), positions, size


def edm_loss(
    network, clean: torch.Tensor, positions: torch.Tensor | None, generator: torch.Generator, autocast: bool
) -> torch.Tensor:
    """EDM's weighted denoising loss at sigma ~ exp(N(P_MEAN, P_STD^2)), per sample then averaged."""
    count = clean.shape[0]
    sigma = (torch.randn(count, generator=generator) * P_STD + P_MEAN).exp().reshape(-1, 1, 1, 1).to(clean.device)
    noise = torch.randn(clean.shape, generator=generator).to(clean.device) * sigma
    weight = (sigma**2 + SIGMA_DATA**2) / (sigma * SIGMA_DATA) ** 2
    with torch.autocast("cuda", dtype=torch.bfloat16, enabled=autocast):
        denoised = network(clean + noise, sigma, positions)
    return (weight * (denoised.float() - clean) ** 2).mean()


@dataclass
class Progress:
    step: int = 0
    images: float = 0.0  # main-size patches seen by all ranks together (batch * world size per step)
    seconds: float = 0.0


class Distributed:
    """Rank, world size and device from torchrun's environment (one plain process without it)."""

    def __init__(self, device: str):
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        self.device = resolve_device(device)
        if self.device.type == "cuda" and self.world > 1:
            self.device = torch.device("cuda", local_rank)
            torch.cuda.set_device(self.device)
        if self.world > 1 and not dist.is_initialized():
            dist.init_process_group("nccl" if self.device.type == "cuda" else "gloo")
            if self.device.type == "cpu":  # share the cores between the replicas on one machine
                local = int(os.environ.get("LOCAL_WORLD_SIZE", str(self.world)))
                torch.set_num_threads(max(1, (os.cpu_count() or 1) // local))

    @property
    def main(self) -> bool:
        return self.rank == 0

    def decide(self, *flags: bool) -> list[bool]:
        """Rank 0's ``flags``, on every rank."""
        if self.world == 1:
            return list(flags)
        values = torch.tensor([float(f) for f in flags], device=self.device)
        dist.broadcast(values, src=0)
        return [bool(v) for v in values.tolist()]

    def gather(self, obj):
        if self.world == 1:
            return [obj]
        out = [None] * self.world
        dist.all_gather_object(out, obj)
        return out

    def replica_spread(self, network: torch.nn.Module) -> float:
        """max |w_rank - w_other| over all weights: 0 when DDP kept the replicas identical."""
        if self.world == 1:
            return 0.0
        flat = torch.cat([p.detach().flatten().float() for p in network.parameters()])
        high, low = flat.clone(), flat.clone()
        dist.all_reduce(high, op=dist.ReduceOp.MAX)
        dist.all_reduce(low, op=dist.ReduceOp.MIN)
        return (high - low).abs().max().item()

    def close(self):
        if self.world > 1 and dist.is_initialized():
            dist.destroy_process_group()


def load_training_images(config: TrainingConfig, rank: int, world: int, progress: bool) -> tuple[torch.Tensor, dict]:
    """This rank's shard (every world-th image) of the first ``max_images`` training images, (M, C, N, N),
    and what the prior's metadata records about them (their source's provenance included)."""
    source = get_source(config.data, "train", config.image_size, config.channels)
    count = config.max_images or (DEFAULT_PHANTOM_COUNT if config.data == "phantoms" else len(source))
    if count > len(source):
        raise InvsolveError(f"max_images {count} asks for more than the {len(source)} training images of {config.data}")
    if count < world:
        raise InvsolveError(f"{count} training images cannot be shared by {world} processes")
    indices = range(rank, count, world)
    images = torch.stack(
        [source[i] for i in tqdm(indices, desc=f"loading {config.data}", disable=not progress, leave=False)]
    )
    return images, {
        "source": config.data,
        "split": "train",
        "count": count,
        "image_size": config.image_size,
        "channels": source.channels,
        **source.provenance(count),
    }


def training_step(
    model, network: EDMNetwork, optimizer, sampler: PatchSampler, generator: torch.Generator, device: torch.device
) -> tuple[float, int]:
    """One Adam step of the EDM loss on one batch of random patches; returns (loss, patch size)."""
    patches, positions, size = sampler.draw()
    loss = edm_loss(
        model,
        patches.to(device),
        positions.to(device) if network.positional else None,
        generator,
        autocast=device.type == "cuda",
    )
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    for p in network.parameters():  # EDM: a rare non-finite gradient must not poison the weights
        if p.grad is not None:
            torch.nan_to_num(p.grad, nan=0, posinf=0, neginf=0, out=p.grad)
    optimizer.step()
    return loss.item(), size


def train(config: TrainingConfig, progress: bool = True) -> Path:
    """Train as ``config`` says; returns the prior file (written by rank 0)."""
    config = check_config(config)
    out, state_path, log_path = companion_paths(config.out)
    ranks = Distributed(config.device)
    # rank 0 writes the files, so rank 0 holds the lock: a second run with the same out stops at once
    busy = f"another training run is writing {out}; wait for it or give another out file"
    lock = exclusive_lock(out.with_name(out.stem + ".lock"), busy) if ranks.main else contextlib.nullcontext()
    try:
        with lock:
            if not config.resume and state_path.exists():
                raise InvsolveError(
                    f"{state_path} holds an earlier run's training state; pass resume=True to continue it, "
                    "or delete it (and the prior file) to start over"
                )
            return _train(config, ranks, out, state_path, log_path, progress and ranks.main)
    finally:
        ranks.close()


def _train(config, ranks, out, state_path, log_path, progress) -> Path:
    images, data = load_training_images(config, ranks.rank, ranks.world, progress)
    config.channels = data["channels"]
    torch.manual_seed(config.seed)  # identical initial weights on every rank
    network = EDMNetwork(config.channels, config.net, config.positional, max(config.patch_sizes)).to(ranks.device)
    ema = copy.deepcopy(network).requires_grad_(False)
    optimizer = torch.optim.Adam(network.parameters(), lr=config.lr, betas=(0.9, 0.999), eps=1e-8)
    generator = torch.Generator().manual_seed(config.seed * 1_000_003 + ranks.rank)
    step_generator = torch.Generator().manual_seed(config.seed)  # the patch size: the same on every rank
    done, commands = Progress(), [config.command]
    if config.resume:
        done, commands = _restore(state_path, config, ranks, network, ema, optimizer, generator, step_generator)
        commands = [*commands, config.command]
    model = network
    if ranks.world > 1:
        model = torch.nn.parallel.DistributedDataParallel(
            network, device_ids=[ranks.device.index] if ranks.device.type == "cuda" else None
        )
    network.train()
    sampler = PatchSampler(images, config, generator, step_generator)
    unit, target = parse_duration(config.duration)
    save_every = parse_duration(config.checkpoint_every)[1]
    log = _LossLog(log_path, done.step, ranks.main)

    def save(spread=None):
        rng = ranks.gather(_rng_state(generator, ranks.device))
        if ranks.main:
            _save(out, state_path, config, data, network, ema, optimizer, step_generator, rng, done, spread, commands)

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
        value, size = training_step(model, network, optimizer, sampler, generator, ranks.device)
        step_images = config.batch * ranks.world
        _update_ema(ema, network, step_images, done.images + step_images, config.ema_halflife)
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


def _update_ema(ema: torch.nn.Module, network: torch.nn.Module, step_images: int, seen: float, halflife: float):
    halflife = min(halflife, seen * EMA_RAMPUP)
    beta = 0.5 ** (step_images / max(halflife, 1e-8))
    with torch.no_grad():
        for average, current in zip(ema.parameters(), network.parameters(), strict=True):
            average.lerp_(current, 1 - beta)


def _rng_state(generator: torch.Generator, device: torch.device) -> dict[str, torch.Tensor]:
    state = {"generator": generator.get_state(), "torch": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def prior_config(
    config: TrainingConfig,
    data: dict,
    network: EDMNetwork,
    done: Progress,
    world: int,
    commands: list[str],
    spread: float | None,
) -> dict:
    """The JSON config a prior file carries: enough to rebuild it, and to know how it was made."""
    return {
        "kind": config.prior,
        "network": network.config(),
        "channels": config.channels,
        "image_size": config.image_size,
        "patch_size": max(config.patch_sizes),
        "pad": None,  # inference pad: the tightest for the grid
        "training_pad": config.pad,
        "patch_sizes": list(config.patch_sizes),
        "patch_probs": list(config.patch_probs),
        "positional_encoding": config.positional,
        "sigma_min": SIGMA_MIN,
        "sigma_max": SIGMA_MAX,
        "sigma_data": SIGMA_DATA,
        "data": data,
        "command": commands[0],
        "resumed_with": commands[1:],
        "training": {
            "steps": done.step,
            "images": done.images,
            "seconds": round(done.seconds, 1),
            "batch": config.batch,
            "lr": config.lr,
            "ema_halflife": config.ema_halflife,
            "duration": config.duration,
            "seed": config.seed,
            "processes": world,
            "threads_per_process": torch.get_num_threads(),
            "device": str(next(network.parameters()).device),
            "replica_spread": spread,
        },
        "versions": {"invsolve": invsolve.__version__, "torch": torch.__version__},
    }


def _save(out, state_path, config, data, network, ema, optimizer, step_generator, rng, done, spread, commands):
    write_checkpoint(out, ema.state_dict(), prior_config(config, data, ema, done, len(rng), commands, spread))
    tensors = {f"network.{k}": v for k, v in network.state_dict().items()}
    tensors |= {f"ema.{k}": v for k, v in ema.state_dict().items()}
    for index, state in optimizer.state_dict()["state"].items():
        tensors |= {f"optimizer.{index}.{k}": torch.as_tensor(v) for k, v in state.items()}
    for rank, states in enumerate(rng):
        tensors |= {f"rng.{rank}.{k}": v for k, v in states.items()}
    tensors["rng.step"] = step_generator.get_state()
    write_checkpoint(
        state_path,
        tensors,
        {
            "training_state_of": out.name,
            "config": asdict(config),
            "progress": asdict(done),
            "processes": len(rng),
            "commands": commands,
        },
    )


def _restore(state_path, config, ranks, network, ema, optimizer, generator, step_generator) -> tuple[Progress, list]:
    if not state_path.exists():
        raise InvsolveError(f"resume: no training state at {state_path}; start without resuming")
    saved, tensors = read_checkpoint(state_path)
    if "training_state_of" not in saved:
        raise InvsolveError(f"{state_path} is not a training-state file")
    different = [k for k in RESUME_MUST_MATCH if _jsonable(getattr(config, k)) != saved["config"][k]]
    if different:
        raise InvsolveError(
            "resume: these settings differ from the run being continued: "
            + ", ".join(f"{k} (was {saved['config'][k]}, now {_jsonable(getattr(config, k))})" for k in different)
        )
    if saved["processes"] != ranks.world:
        raise InvsolveError(
            f"resume: the run used {saved['processes']} processes; resume it with the same number "
            f"(now {ranks.world}) so every random stream continues exactly"
        )
    network.load_state_dict({k[8:]: v for k, v in tensors.items() if k.startswith("network.")})
    ema.load_state_dict({k[4:]: v for k, v in tensors.items() if k.startswith("ema.")})
    optimizer_state = {}
    for name, value in tensors.items():
        if name.startswith("optimizer."):
            _, index, key = name.split(".", 2)
            optimizer_state.setdefault(int(index), {})[key] = value
    optimizer.load_state_dict({"state": optimizer_state, "param_groups": optimizer.state_dict()["param_groups"]})
    generator.set_state(tensors[f"rng.{ranks.rank}.generator"])
    torch.set_rng_state(tensors[f"rng.{ranks.rank}.torch"])
    if f"rng.{ranks.rank}.cuda" in tensors and ranks.device.type == "cuda":
        torch.cuda.set_rng_state(tensors[f"rng.{ranks.rank}.cuda"], ranks.device)
    step_generator.set_state(tensors["rng.step"])
    return Progress(**saved["progress"]), saved["commands"]


def _jsonable(value):
    return list(value) if isinstance(value, tuple) else value


class _LossLog:
    """``<out>.log.csv``: one row per step (rank 0). A resumed run drops rows after the saved step."""

    COLUMNS = ("step", "images", "seconds", "patch_size", "loss", "lr")

    def __init__(self, path: Path, resume_step: int, active: bool):
        self.file, self.flushed = None, time.monotonic()
        if not active:
            return
        kept = []
        if resume_step and path.exists():
            with path.open(newline="") as f:
                kept = [row for row in csv.DictReader(f) if int(row["step"]) <= resume_step]
        self.file = path.open("w", newline="")
        self.writer = csv.DictWriter(self.file, self.COLUMNS)
        self.writer.writeheader()
        self.writer.writerows(kept)

    def add(self, done: Progress, patch_size: int, loss: float, lr: float):
        if self.file:
            self.writer.writerow(
                {
                    "step": done.step,
                    "images": int(done.images),
                    "seconds": f"{done.seconds:.2f}",
                    "patch_size": patch_size,
                    "loss": f"{loss:.6f}",
                    "lr": lr,
                }
            )
            if time.monotonic() - self.flushed > 10:  # let `tail -f` follow a long run
                self.file.flush()
                self.flushed = time.monotonic()

    def close(self):
        if self.file:
            self.file.close()
