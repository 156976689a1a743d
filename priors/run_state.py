"""A training run's state as one object: what it carries from step to step and what ``resume``
restores, so a resumed run continues exactly (the same weights, moments, random streams and count).

The state file (``FILE.state.safetensors`` beside the prior) holds the network being trained, its
EMA, Adam's moments, every rank's random streams and the progress; its JSON header holds the
training config, so a resumed run is refused when a setting that shapes the run has changed.
"""

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from invsolve.errors import InvsolveError
from invsolve.priors.checkpoint import read_checkpoint, write_checkpoint
from invsolve.priors.distributed import Distributed
from invsolve.priors.epsilon import EpsilonUNet
from invsolve.priors.network import EDMNetwork
from invsolve.priors.training_config import TrainingConfig

#: Settings a resumed run must share with the run it continues.
RESUME_MUST_MATCH = (
    "prior",
    "objective",
    "slices",
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


@dataclass
class Progress:
    step: int = 0
    images: float = 0.0  # main-size patches seen by all ranks together (batch * world size per step)
    seconds: float = 0.0


@dataclass
class RunState:
    """The network being trained, its EMA (what the prior file holds), Adam, this rank's random
    streams (``generator``: patches and noise; ``step_generator``: the patch size, the same on every
    rank), the progress and the commands that made the run (the first, then each resume)."""

    network: EDMNetwork | EpsilonUNet
    ema: EDMNetwork | EpsilonUNet
    optimizer: torch.optim.Optimizer
    generator: torch.Generator
    step_generator: torch.Generator
    progress: Progress = field(default_factory=Progress)
    commands: list[str] = field(default_factory=list)

    def random_streams(self, device: torch.device) -> dict[str, torch.Tensor]:
        """This rank's random states: its generator, torch's global one and, on a GPU, CUDA's."""
        state = {"generator": self.generator.get_state(), "torch": torch.get_rng_state()}
        if device.type == "cuda":
            state["cuda"] = torch.cuda.get_rng_state(device)
        return state

    def save(self, path: Path, config: TrainingConfig, streams: list[dict[str, torch.Tensor]], prior_name: str) -> None:
        """Write the state file; ``streams`` holds every rank's ``random_streams`` (gathered by the caller)."""
        tensors = {f"network.{k}": v for k, v in self.network.state_dict().items()}
        tensors |= {f"ema.{k}": v for k, v in self.ema.state_dict().items()}
        for index, state in self.optimizer.state_dict()["state"].items():
            tensors |= {f"optimizer.{index}.{k}": torch.as_tensor(v) for k, v in state.items()}
        for rank, states in enumerate(streams):
            tensors |= {f"rng.{rank}.{k}": v for k, v in states.items()}
        tensors["rng.step"] = self.step_generator.get_state()
        header = {
            "training_state_of": prior_name,
            "config": asdict(config),
            "progress": asdict(self.progress),
            "processes": len(streams),
            "commands": self.commands,
        }
        write_checkpoint(path, tensors, header)

    def restore(self, path: Path, config: TrainingConfig, ranks: Distributed) -> None:
        """Continue the run saved in ``path``: the same settings and number of processes, or one line
        saying what differs."""
        if not path.exists():
            raise InvsolveError(f"resume: no training state at {path}; start without resuming")
        saved, tensors = read_checkpoint(path)
        if "training_state_of" not in saved:
            raise InvsolveError(f"{path} is not a training-state file")
        # a state file written before a setting existed ran at that setting's default
        defaults = TrainingConfig(out="")
        was = {k: saved["config"].get(k, _jsonable(getattr(defaults, k))) for k in RESUME_MUST_MATCH}
        different = [k for k in RESUME_MUST_MATCH if _jsonable(getattr(config, k)) != was[k]]
        if different:
            raise InvsolveError(
                "resume: these settings differ from the run being continued: "
                + ", ".join(f"{k} (was {was[k]}, now {_jsonable(getattr(config, k))})" for k in different)
            )
        if saved["processes"] != ranks.world:
            raise InvsolveError(
                f"resume: the run used {saved['processes']} processes; resume it with the same number "
                f"(now {ranks.world}) so every random stream continues exactly"
            )
        self.network.load_state_dict({k[8:]: v for k, v in tensors.items() if k.startswith("network.")})
        self.ema.load_state_dict({k[4:]: v for k, v in tensors.items() if k.startswith("ema.")})
        moments: dict[int, dict[str, torch.Tensor]] = {}
        for name, value in tensors.items():
            if name.startswith("optimizer."):
                _, index, key = name.split(".", 2)
                moments.setdefault(int(index), {})[key] = value
        groups = self.optimizer.state_dict()["param_groups"]
        self.optimizer.load_state_dict({"state": moments, "param_groups": groups})
        self.generator.set_state(tensors[f"rng.{ranks.rank}.generator"])
        torch.set_rng_state(tensors[f"rng.{ranks.rank}.torch"])
        if f"rng.{ranks.rank}.cuda" in tensors and ranks.device.type == "cuda":
            torch.cuda.set_rng_state(tensors[f"rng.{ranks.rank}.cuda"], ranks.device)
        self.step_generator.set_state(tensors["rng.step"])
        self.progress = Progress(**saved["progress"])
        self.commands = [*saved["commands"], *self.commands]


def _jsonable(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value
