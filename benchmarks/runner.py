"""Run a suite cell by cell: one result per (task, method, image, seed), resumable and sharded.

Every rank appends finished cells, one JSON line each, to its own ``results-rank{R}.jsonl`` in the
output folder and flushes it to disk before starting the next cell. A rerun reads every rank's
file, skips the finished cells and drops a torn last line (a run killed while writing), so a
killed run loses only the cell it was working on. Cells are dealt to ranks by their position in
the full, fixed list (cell i goes to rank i mod world size), so ranks never overlap, whatever
has already finished. RANK / WORLD_SIZE come from ``torchrun`` or SLURM. A rank holds a lock
(``results-rank{R}.lock``) while it runs, so a second process with the same rank and folder is
refused instead of appending duplicate cells.
"""

import functools
import itertools
import json
import os
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from tqdm.auto import tqdm

from invsolve.benchmarks.suite import Method, Suite, check_resources
from invsolve.data import get_source, headct, source_location, trained_near
from invsolve.devices import resolve_device
from invsolve.errors import InvsolveError, LeakageNotice
from invsolve.io import atomic_write, check_distinct, exclusive_lock
from invsolve.metrics import slice_differences
from invsolve.operators import SliceStack, get_preset, make_operator
from invsolve.priors import load
from invsolve.solvers import get_solver
from invsolve.tasks import run_case
from invsolve.validation import one_line

RESULTS_GLOB = "results-rank*.jsonl"
MIN_VALIDATION_IMAGES = 8  # two proved too few to choose a step size (docs/benchmarks.md)


@dataclass(frozen=True)
class Cell:
    task: str
    method: str
    index: int  # image index in the split
    seed: int

    @property
    def key(self) -> str:
        return f"{self.task}/{self.method}/{self.index}/{self.seed}"

    def noise_seed(self) -> int:
        """Measurement noise and solver randomness: the same for every method of a task and image."""
        return self.seed * 100_000 + self.index


def cells_of(suite: Suite, count: int) -> list[Cell]:
    return [
        Cell(name, method, index, seed)
        for name, task in suite.tasks.items()
        for method, index, seed in itertools.product(suite.methods, range(task.cells(count)), suite.seeds)
    ]


def rank_and_world() -> tuple[int, int]:
    """This process's shard: torchrun's RANK / WORLD_SIZE, else SLURM's, else (0, 1)."""
    for rank_var, world_var in (("RANK", "WORLD_SIZE"), ("SLURM_PROCID", "SLURM_NTASKS")):
        if rank_var in os.environ and world_var in os.environ:
            rank, world = int(os.environ[rank_var]), int(os.environ[world_var])
            if not 0 <= rank < world:
                raise InvsolveError(f"{rank_var}={rank} is outside 0..{world_var}-1={world - 1}")
            return rank, world
    return 0, 1


class ResultRecord(BaseModel):
    """What a results line must hold for the report and the tuner to use it; the runner writes more
    (settings, operator, versions), which passes through unchecked."""

    model_config = ConfigDict(strict=True, extra="allow")
    key: str
    task: str
    method: str
    index: Annotated[int, Field(ge=0)]
    image: str
    seed: int
    split: str
    psnr: float  # infinite for a perfect reconstruction
    ssim: float
    seconds: Annotated[float, Field(ge=0)]
    nfe: Annotated[int, Field(ge=0)]
    peak_memory_mib: float
    z_difference: float | None = None  # volume cells: mean |slice - next slice| of the reconstruction
    truth_z_difference: float | None = None  # and of the ground truth


def read_results(out: Path) -> dict[str, dict]:
    """Every finished cell in ``out`` (all ranks), by cell key; torn lines are skipped."""
    results = {}
    for path in sorted(out.glob(RESULTS_GLOB)):
        for record in _complete_records(path):
            results[record["key"]] = record
    return results


def _complete_records(path: Path) -> list[dict]:
    """The records of one rank's file. Only its last line may be torn (a run killed mid-write);
    damage anywhere else is named, never skipped or half-read."""
    lines = path.read_text(errors="replace").splitlines()
    records = []
    for number, line in enumerate(lines, 1):
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            record = None
            if number == len(lines):
                continue
        try:
            ResultRecord.model_validate(record)
        except ValidationError as error:
            what = one_line(error) if isinstance(record, dict) else "not a table"
            raise InvsolveError(
                f"{path}:{number}: not a result record ({what}; the file is damaged); delete that line and "
                "rerun to redo its cell"
            ) from None
        records.append(record)
    return records


def read_recorded_suite(out: Path) -> dict:
    """``out/suite.json`` as written by ``bench run``: {"suite": raw suite, "split": name}."""
    path = out / "suite.json"
    if not path.is_file():
        raise InvsolveError(f"{out} is not a benchmark output folder (no suite.json); run invsolve bench run first")
    try:
        recorded = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError):
        recorded = None
    if not (isinstance(recorded, dict) and isinstance(recorded.get("suite"), dict) and "split" in recorded):
        raise InvsolveError(f"{path} is damaged; delete it (and rerun) if the folder holds no results you need")
    return recorded


def _repair(path: Path) -> None:
    """Rewrite a rank's file with its complete lines only, if a killed run left a torn one."""
    if path.exists() and path.read_bytes() and not path.read_bytes().endswith(b"\n"):
        lines = "".join(json.dumps(r) + "\n" for r in _complete_records(path))
        atomic_write(path, lambda f: f.write(lines.encode()))


@functools.cache
def versions() -> dict:
    import deepinv

    import invsolve

    return {
        "invsolve": invsolve.__version__,
        "torch": torch.__version__,
        "deepinv": deepinv.__version__,
        "numpy": np.__version__,
        "python": sys.version.split()[0],
    }


class Workspace:
    """Sources, operators and priors, built once per task / method and reused across cells.

    Sources and operators are built at once, so a size they cannot make, too few images or a bad
    operator option fails before any work.
    """

    def __init__(self, suite: Suite, split: str, count: int, device: torch.device):
        self.suite, self.split, self.device = suite, split, device
        self._operators, self._priors, self._warned = {}, {}, set()
        self._sources = {
            task.name: get_source(task.dataset, split, suite.image_size, get_preset(task.op).channels)
            for task in suite.tasks.values()
        }
        for task in suite.tasks.values():
            source = self._sources[task.name]
            if len(source) < task.images(count):
                raise InvsolveError(
                    f"task {task.name}: {task.dataset} has {len(source)} {split} images, the run "
                    f"needs {task.images(count)}; lower the suite's count (or the task's) or pass --limit"
                )
            if task.volume and task.images(count) < task.volume:
                raise InvsolveError(
                    f"task {task.name}: a volume of {task.volume} images needs a count of at least {task.volume}, "
                    f"the run has {task.images(count)}"
                )
            try:
                operator = make_operator(
                    task.op, suite.image_size, channels=source.channels, device=device, **task.options
                )
                self._operators[task.name] = SliceStack(operator, task.volume) if task.volume else operator
            except InvsolveError as error:
                raise InvsolveError(f"task {task.name}: {error}") from None

    def source(self, task):
        return self._sources[task.name]

    def operator(self, task):
        return self._operators[task.name]

    def prior(self, method: Method, task):
        spec = method.prior_for(task)
        if spec is not None and spec not in self._priors:
            self._priors[spec] = load(spec, self.device)
        prior = self._priors.get(spec)
        if prior is not None and (task.name, spec) not in self._warned:
            self._warned.add((task.name, spec))
            seen = trained_near(getattr(prior, "config", {}).get("data", {}), self.source(task))
            if seen:
                warnings.warn(
                    f"task {task.name}: prior {spec} trained on or within {headct.GAP} slices of {len(seen)} of the "
                    f"{len(self.source(task))} {self.split} slices ({seen[0]}-{seen[-1]}): its scores are not held out",
                    LeakageNotice,
                    stacklevel=2,
                )
        return prior


def run_cell(cell: Cell, space: Workspace, out: Path, rank: int) -> dict:
    suite = space.suite
    task, method = suite.tasks[cell.task], suite.methods[cell.method]
    source = space.source(task)
    slices = task.slices(cell.index)
    truth = source.batch(slices).to(space.device)  # (images, C, H, W)
    truth = truth.movedim(0, 1)[None] if task.volume else truth  # a volume (1, C, D, H, W)
    op = space.operator(task)
    outcome = run_case(
        op,
        get_solver(method.solver_for(task)),
        space.prior(method, task),
        truth=truth,
        seed=cell.noise_seed(),
        settings=method.settings_for(task),
        fallback=get_solver(method.fallback) if method.fallback else None,
    )
    if cell.index < suite.figure_images:
        _save_image(out / "images" / task.name / f"{cell.index}-truth.npy", truth[0])
        _save_image(out / "images" / task.name / f"{cell.index}-{method.name}-seed{cell.seed}.npy", outcome.image[0])
    return {
        "key": cell.key,
        "task": task.name,
        "method": method.name,
        "index": cell.index,
        "image": source.label(cell.index)
        if not task.volume
        else f"{source.label(slices[0])}..{source.label(slices[-1])}",
        "seed": cell.seed,
        "split": space.split,
        **outcome.record(),
        "prior": method.prior_for(task),
        "operator": op.describe(),
        "image_size": suite.image_size,
        "device": str(space.device),
        "rank": rank,
        "versions": dict(versions()),
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        **(_volume_record(outcome.image, truth, source) if task.volume else {}),
    }


def _volume_record(image: torch.Tensor, truth: torch.Tensor, source) -> dict:
    """What a volume cell adds: how alike neighbouring slices of the reconstruction are against the
    truth's (the mean absolute difference between neighbouring slices: slice-by-slice
    reconstructions jump from slice to slice where the truth changes smoothly), and the voxel
    spacing of a source read from a CT volume, for figures drawn to proportion."""

    def slice_to_slice(volume: torch.Tensor) -> float:
        return round(slice_differences(volume[0]).mean().item(), 6)

    spacing = getattr(source, "spacing_mm", None)
    return {
        "z_difference": slice_to_slice(image),
        "truth_z_difference": slice_to_slice(truth),
        "spacing_mm": list(spacing) if spacing else None,
    }


def _save_image(path: Path, image: torch.Tensor) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda f: np.save(f, image.detach().float().cpu().numpy()))


def run_suite(
    suite: Suite,
    out: str | os.PathLike,
    *,
    split: str = "test",
    limit: int | None = None,
    device: str = "auto",
    progress: bool = False,
    after_cell=None,
) -> dict:
    """Run this rank's share of the suite's cells that ``out`` does not hold yet.

    ``limit`` lowers the images per task; ``after_cell(record)`` is called after each finished cell.
    Returns counts: ``cells`` (all), ``mine`` (this rank's), ``skipped`` (finished before), ``ran``.
    """
    count = suite.count if split == "test" else suite.validation_count
    count = min(limit, count) if limit else count
    check_resources(suite, split)
    resolved = resolve_device(device)
    if resolved.type == "cuda" and "LOCAL_RANK" in os.environ:
        resolved = torch.device("cuda", int(os.environ["LOCAL_RANK"]))
    datasets = {f"task {task.name}'s dataset": source_location(task.dataset) for task in suite.tasks.values()}
    check_distinct(datasets, {"out": out})
    space = Workspace(suite, split, count, resolved)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    _record_suite(suite, split, out)
    rank, world = rank_and_world()
    results_path = out / f"results-rank{rank}.jsonl"
    with _rank_lock(out, rank):
        return _run_share(suite, space, out, rank, world, results_path, count, progress, after_cell)


def _rank_lock(out: Path, rank: int):
    """Hold ``out/results-rank{R}.lock`` for the run: two processes with one rank would run the same cells."""
    return exclusive_lock(
        out / f"results-rank{rank}.lock",
        f"another bench run with rank {rank} is writing to {out}; wait for it, use another --out folder, "
        "or give the runs RANK and WORLD_SIZE so they share the cells",
    )


def _run_share(suite, space, out, rank, world, results_path, count, progress, after_cell) -> dict:
    _repair(results_path)
    done = read_results(out)
    cells = cells_of(suite, count)
    mine = [c for i, c in enumerate(cells) if i % world == rank]
    todo = [c for c in mine if c.key not in done]
    with (
        results_path.open("a") as results,
        tqdm(
            total=len(mine),
            initial=len(mine) - len(todo),
            position=rank,
            desc=f"{suite.name} rank {rank}",
            disable=not progress,
        ) as bar,
    ):
        for cell in todo:
            bar.set_postfix_str(cell.key)
            record = run_cell(cell, space, out, rank)
            results.write(json.dumps(record) + "\n")
            results.flush()
            os.fsync(results.fileno())
            bar.update()
            if after_cell is not None:
                after_cell(record)
    return {
        "cells": len(cells),
        "mine": len(mine),
        "skipped": len(mine) - len(todo),
        "ran": len(todo),
        "rank": rank,
        "world": world,
        "out": str(out),
    }


def _record_suite(suite: Suite, split: str, out: Path) -> None:
    """``out/suite.json`` says what the results in ``out`` are; a different suite may not add to them.
    A folder without finished cells (a run that failed before its first) takes the new suite."""
    record = {"suite": suite.raw, "split": split}
    path = out / "suite.json"
    if path.exists() and read_results(out):
        if read_recorded_suite(out) != json.loads(json.dumps(record)):
            raise InvsolveError(
                f"{out} holds results of a different suite or settings ({path}); "
                "use another --out folder, or rerun with the same suite file and --set values"
            )
        return
    atomic_write(path, lambda f: f.write(json.dumps(record, indent=1).encode()))
