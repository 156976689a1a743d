"""The one way a case is run: measurements (simulated from a ground truth, or given) -> settings ->
solve -> score, returned as an ``Outcome``.

``invsolve.reconstruct``, the benchmark runner and the studies in ``benchmarks/`` all call
``run_case``, so the settings a run uses are chosen in one place, explicitly:

1. the solver's generic values (``invsolve.solvers.settings.GENERIC``);
2. the row of the tuned table (``tuned.toml``, written by ``invsolve bench tune --write``) for the
   solver, the operator's preset and the prior's kind, where the operator *is* that preset;
3. on a volume of several slices, the solver's ``VOLUME_SETTINGS`` (DDS couples the slices);
4. the settings the caller passes.

The outcome names the tuned row it used (its validation log), so a result says where its settings
came from.
"""

import functools
import os
import resource
import statistics
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import torch
from annotated_types import Ge

from invsolve.catalog import CLASSICAL_SOLVERS
from invsolve.errors import GenericSettingsNotice, InvsolveError
from invsolve.metrics import psnr, ssim
from invsolve.operators import SliceStack, preset_differences
from invsolve.operators import base as physics
from invsolve.operators import baseline as operator_baseline
from invsolve.operators.base import Physics
from invsolve.operators.volume import per_slice
from invsolve.priors.base import Prior
from invsolve.selection import MarginTest, Reconstructor, Selection, cross_validate, margin_test, selection_of
from invsolve.solvers.loop import Callback
from invsolve.solvers.registry import Solver
from invsolve.solvers.settings import TUNED_FILE, VOLUME_SETTINGS, TunedRow, TunedTable, check_settings, read_tuned
from invsolve.validation import check_image, check_value

#: The diffusion solver's steps in that check (a fraction of a full run's cost), and how much of the
#: classical reconstruction's held-out error beyond the noise it must remove to be kept: on the CT
#: validation images in domain it removed 47 % or more, where the prior did not fit at most 16 %
#: (docs/solvers.md#never-below-tv).
CHECK_STEPS = 20
CHECK_MARGIN = 0.7
#: The check's first fold holds out every fourth view: five at 20 views, but two at 8, a noisy judge
#: where the two reconstructions are close. Where a fold holds out fewer than ``CHECK_FEW_VIEWS``
#: views and the first fold's ratio (the diffusion solver's error beyond the noise over the
#: fallback's) lies inside ``CHECK_CLEAR``, all ``CHECK_FOLDS`` folds decide, at up to four times the
#: cost, and the prior must then beat the margin by ``CHECK_STANDARD_ERRORS`` standard errors over
#: the held-out views (a close call: the one-standard-error rule, ``invsolve.selection.margin_test``).
#: On the CT validation images at 8 views (noise 0 to sigma 0.5, 1e4 and 1e5 photons) a prior in its
#: own domain had first folds from 0.09 to 0.60 and four-fold ratios up to 0.58 (0.60 or more needed);
#: a mismatched prior's first folds fell to 0.28, its four-fold ratios to 0.58 (0.56 needed)
#: (docs/solvers.md#never-below-tv).
CHECK_FOLDS = 4
CHECK_FEW_VIEWS = 4
CHECK_CLEAR = (0.2, 1.0)
CHECK_STANDARD_ERRORS = 1.0
#: On a volume, that check (and a per-scan selection) runs on this many consecutive slices from the
#: middle of it: a scan's slices share its anatomy and noise, so they answer for the volume, and the
#: check costs the same whatever the depth.
CHECK_SLICES = 4


@functools.lru_cache(maxsize=8)
def _read_tuned_cached(path: str, modified_ns: int) -> TunedTable:
    return read_tuned(path)


def tuned_table(tuned: TunedTable | str | os.PathLike | None = None) -> TunedTable:
    """``tuned`` as a table: a table as it is, a file read, None the package's ``tuned.toml`` (read
    again whenever the file changes, so ``bench tune --write`` takes effect at once)."""
    if isinstance(tuned, TunedTable):
        return tuned
    path = Path(TUNED_FILE if tuned is None else tuned)
    try:
        modified = path.stat().st_mtime_ns
    except OSError as error:
        raise InvsolveError(f"cannot read the tuned settings {path}: {error.strerror}") from None
    return _read_tuned_cached(str(path), modified)


@dataclass(frozen=True)
class ChosenSettings:
    """The settings a run uses and the tuned row they include (None: generic values only)."""

    values: dict
    tuned: TunedRow | None


def choose_settings(
    solver: Solver,
    operator: Physics,
    prior: Prior | None = None,
    given: dict | None = None,
    tuned: TunedTable | str | os.PathLike | None = None,
) -> ChosenSettings:
    """The settings ``solver`` runs with on ``operator`` with ``prior``: generic values, then the
    tuned row for the operator's preset and the prior's kind, then ``given``.

    A volume operator (``SliceStack``) gets the rows of its slice operator's preset, and over them
    the solver's ``VOLUME_SETTINGS`` (DDS couples the slices by TV) where it has more than one slice. A row applies
    only to an operator that is its preset (at any image size): one that differs,
    say ``make_operator("ct8", views=30)``, gets the generic values and a ``GenericSettingsNotice``
    (unless ``given`` replaces every value the row would set), never another task's values.
    """
    given = check_settings(solver.name, given or {})
    kind = getattr(prior, "kind", None) if solver.needs_prior else None
    deep = isinstance(operator, SliceStack) and operator.depth > 1  # one slice has no neighbour to couple
    for_volume = VOLUME_SETTINGS.get(solver.name, {}) if deep else {}
    operator = getattr(operator, "slice_operator", operator)  # a volume's slices are the preset's task
    row = tuned_table(tuned).row(solver.name, getattr(operator, "name", None), kind)
    if row is not None:
        differences = preset_differences(operator)  # {} for the preset itself
        if differences:
            if not set(row.settings) <= set(given):
                changed = ", ".join(f"{key} {now} instead of {then}" for key, (now, then) in differences.items())
                warnings.warn(
                    f"this {row.preset} operator differs from the {row.preset} preset ({changed}): {solver.name} "
                    f"uses its generic settings, not those tuned for {row.preset}",
                    GenericSettingsNotice,
                    stacklevel=2,
                )
            row = None
    return ChosenSettings(solver.generic | (row.settings if row else {}) | for_volume | given, row)


@dataclass(frozen=True)
class Outcome:
    """One case: the reconstruction (1, C, H, W), the operator's baseline, the ground truth where known
    and the measurement; the settings used and the tuned row's log; cost; scores (None without a truth)."""

    image: torch.Tensor
    baseline: torch.Tensor
    truth: torch.Tensor | None
    measurement: torch.Tensor
    solver: str
    settings: dict
    tuned_log: str | None
    nfe: int
    seconds: float
    peak_memory_mib: float
    memory_kind: str
    psnr: float | None
    ssim: float | None
    baseline_psnr: float | None
    baseline_ssim: float | None
    std: torch.Tensor | None = None  # per-pixel standard deviation over the samples (samples > 1)
    samples: int = 1
    selection: dict | None = None  # the setting chosen for this scan by cross-validation, and why
    fallback: dict | None = None  # the held-out-view check against the classical reconstruction, and its verdict

    def record(self) -> dict:
        """The JSON-ready part: scores, cost and settings (no tensors)."""
        return {
            "solver": self.solver,
            "samples": self.samples,
            "selection": self.selection,
            "fallback": self.fallback,
            **(self.uncertainty() if self.std is not None else {}),
            "psnr": self.psnr,
            "ssim": self.ssim,
            "baseline_psnr": self.baseline_psnr,
            "baseline_ssim": self.baseline_ssim,
            "seconds": round(self.seconds, 4),
            "nfe": self.nfe,
            "peak_memory_mib": round(self.peak_memory_mib, 1),
            "memory_kind": self.memory_kind,
            "settings": self.settings,
            "tuned_log": self.tuned_log,
        }

    def uncertainty(self) -> dict:
        """The std map in two numbers: its mean, and (with a ground truth) its correlation with the
        absolute error, which says whether the map marks where the reconstruction is wrong."""
        assert self.std is not None
        summary = {"std_mean": round(self.std.mean().item(), 5)}
        if self.truth is not None:
            error = (self.image - self.truth).abs().flatten()
            pair = torch.stack((self.std.flatten(), error)).double()
            summary["std_error_correlation"] = round(torch.corrcoef(pair)[0, 1].item(), 4)
        return summary


def run_case(
    operator: Physics,
    solver: Solver,
    prior: Prior | None = None,
    *,
    truth: torch.Tensor | None = None,
    measurement: torch.Tensor | None = None,
    seed: int = 0,
    samples: int = 1,
    settings: dict | None = None,
    select: dict[str, list] | None = None,
    fallback: Solver | None = None,
    tuned: TunedTable | str | os.PathLike | None = None,
    progress: bool = False,
    callback: Callback | None = None,
) -> Outcome:
    """Reconstruct one image: from ``truth`` (1, C, H, W), measured through ``operator`` with noise
    seeded by ``seed``, or from a given ``measurement``; the solver's randomness is seeded by ``seed``
    too, on the device of the data. ``settings`` override the chosen ones (``choose_settings``).

    ``samples`` > 1 draws that many posterior samples in one batch (a diffusion solver's samples
    differ by its noise): the outcome's image is their mean, scored as usual, and ``std`` their
    per-pixel standard deviation.

    ``select``, ``{"tv_weight": [0, 0.003, 0.03]}``, chooses one setting's value for this scan from
    the measurements alone, by cross-validation on held-out views (``invsolve.selection``: each
    value costs one more reconstruction); the outcome's ``selection`` records the held-out errors.

    ``fallback``, a classical solver (``invsolve.reconstruct`` passes ADMM-TV), checks a diffusion
    solver against it on held-out views first (the diffusion solver at ``CHECK_STEPS`` steps): unless
    the learned reconstruction predicts them clearly better (``CHECK_MARGIN``), the prior does not
    fit this scan and the fallback's reconstruction is returned instead, so a learned prior does not
    end below the classical method. The outcome's ``fallback`` records the verdict; its ``seconds``
    and ``nfe`` include the check (and the selection)."""
    check_value("samples", samples, Annotated[int, Ge(1)], "run_case")
    if fallback is not None and fallback.needs_prior:
        raise InvsolveError(
            f"fallback must be a classical solver ({', '.join(CLASSICAL_SOLVERS)}) or None, got {fallback.name}"
        )
    if samples > 1 and not solver.needs_prior:
        raise InvsolveError(f"samples needs a diffusion solver; {solver.name} has no randomness to sample")
    if truth is not None and measurement is None:
        check_image("truth", truth, "run_case")
        data = truth  # the noise is drawn on the CPU: the same measurement on any device
        measurement = operator.simulate(truth, torch.Generator().manual_seed(seed))
    elif measurement is not None and truth is None:
        data = measurement
    else:
        raise InvsolveError("give truth (a ground truth to simulate from) or measurement (measured data), not both")
    if data.shape[0] != 1:
        raise InvsolveError(f"a case is one image; got a batch of {data.shape[0]}")
    device = data.device
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    start = time.perf_counter()
    chosen = choose_settings(solver, operator, prior, settings, tuned)
    checks = Checks(*_check_slab(operator, measurement), seed)
    selection = verdict = None
    if select:
        selection = _select(checks, solver, prior, chosen.values, select)
        chosen = ChosenSettings(chosen.values | {selection["setting"]: selection["chosen"]}, chosen.tuned)
    if fallback is not None and solver.needs_prior:
        classical = choose_settings(fallback, operator, None, None, tuned)
        verdict = _check_against(checks, solver, prior, chosen.values, fallback, classical.values)
        if verdict["chosen"] == fallback.name:
            solver, prior, samples, chosen = fallback, None, 1, classical
    info: dict[str, Any] = {}

    def solve(forward: Physics, data: torch.Tensor) -> torch.Tensor:
        generator = torch.Generator(device).manual_seed(seed)
        return solver(
            forward, data, prior, generator=generator, info=info, progress=progress, callback=callback, **chosen.values
        )

    data = measurement.expand(samples, *measurement.shape[1:])
    if isinstance(operator, SliceStack) and not couples_slices(solver.name, chosen.values, prior):
        image = per_slice(lambda slices: solve(operator.slice_operator, slices), data)  # a separable problem
    else:
        image = solve(operator, data)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    seconds = time.perf_counter() - start
    if not torch.isfinite(image).all():
        raise InvsolveError(f"{solver.name} produced non-finite values; try other solver settings")
    std = image.std(0, keepdim=True) if samples > 1 else None
    image = image.mean(0, keepdim=True)
    if device.type == "cuda":
        memory, memory_kind = torch.cuda.max_memory_allocated(device) / 2**20, "cuda peak allocated"
    else:
        memory, memory_kind = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "process peak RSS"
    baseline = operator_baseline(operator, measurement)
    scores: tuple[float | None, float | None, float | None, float | None] = (None, None, None, None)
    if truth is not None:
        scores = (*_scores(image, truth), *_scores(baseline, truth))
    return Outcome(
        image,
        baseline,
        truth,
        measurement,
        solver.name,
        chosen.values | info.get("derived", {}),  # with what the solver's rules chose (ADMM-TV's lam)
        chosen.tuned.log if chosen.tuned else None,
        info.get("nfe", 0) + checks.nfe,
        seconds,
        memory,
        memory_kind,
        *scores,
        std=std,
        samples=samples,
        selection=selection,
        fallback=verdict,
    )


def couples_slices(solver: str, settings: dict, prior: Prior | None = None) -> bool:
    """Whether ``solver`` with ``settings`` and ``prior`` couples the slices of a volume: a TV term
    does (TV over the volume's three axes), and so does a cross-slice prior (it denoises each slice
    from its neighbours). Otherwise a volume is as many separate problems as slices, and is solved
    as a batch of slices, each with its own step sizes, exactly as slice by slice."""
    across = prior is not None and prior.slices > 1
    return solver == "admm-tv" or settings.get("tv_weight", 0) > 0 or across


@dataclass
class Checks:
    """Reconstructions of one scan from part of its measurements, for cross-validation; counts the
    NFEs they spend."""

    operator: Physics
    measurement: torch.Tensor
    seed: int
    nfe: int = 0

    def candidate(self, solver: Solver, prior: Prior | None, settings: dict) -> Reconstructor:
        def run(kept: Physics, data: torch.Tensor) -> torch.Tensor:
            info: dict[str, Any] = {}
            generator = torch.Generator(data.device).manual_seed(self.seed)
            image = solver(kept, data, prior, generator=generator, info=info, **settings)
            self.nfe += info.get("nfe", 0)
            return image

        return run

    def compare(self, candidates: dict[Any, Reconstructor], first: int = 0, rounds: int = 1) -> Selection:
        """The candidates' predictions of the held-out views over ``rounds`` of ``CHECK_FOLDS`` folds
        from fold ``first``."""
        return cross_validate(
            self.operator, self.measurement, candidates, folds=CHECK_FOLDS, rounds=rounds, first=first
        )


def _check_slab(operator: Physics, measurement: torch.Tensor) -> tuple[Physics, torch.Tensor]:
    """The operator and measurement the held-out checks run on: of a volume deeper than
    ``CHECK_SLICES``, that many consecutive slices from its middle; otherwise the whole case."""
    if not isinstance(operator, SliceStack) or operator.depth <= CHECK_SLICES:
        return operator, measurement
    first = (operator.depth - CHECK_SLICES) // 2
    return SliceStack(operator.slice_operator, CHECK_SLICES), measurement[:, :, first : first + CHECK_SLICES]


def _select(checks: Checks, solver: Solver, prior: Prior | None, settings: dict, select: dict[str, list]) -> dict:
    """The value of the one setting in ``select`` that cross-validation on held-out views prefers."""
    check_value("select", select, dict[str, list], "run_case")
    if len(select) != 1:
        raise InvsolveError(f"select chooses one setting at a time, got {', '.join(select) or 'none'}")
    ((name, values),) = select.items()
    if not isinstance(values, list | tuple) or len(values) < 2:
        raise InvsolveError(f"select {name}: give at least two values to choose from, got {values!r}")
    for value in values:
        check_settings(solver.name, {name: value})
    candidates = {value: checks.candidate(solver, prior, settings | {name: value}) for value in values}
    chosen = checks.compare(candidates)
    return {"setting": name, "chosen": chosen.chosen, "held_out_errors": _rounded(chosen.errors)}


def _check_against(
    checks: Checks, solver: Solver, prior: Prior | None, settings: dict, fallback: Solver, classical: dict
) -> dict:
    """Keep the diffusion solver (run at ``CHECK_STEPS`` steps) only if it predicts held-out views
    clearly better than the classical ``fallback``: with at most ``CHECK_MARGIN`` of the fallback's
    error beyond the noise (the noise's variance adds the same to both errors, so it is taken out
    before they are compared), judged on the first fold, or where the first holds out few views and
    leaves it unclear (``CHECK_CLEAR``), on all ``CHECK_FOLDS`` with ``CHECK_STANDARD_ERRORS`` to
    spare. ``classical``: the fallback's settings."""
    quick = settings | ({"steps": min(settings["steps"], CHECK_STEPS)} if "steps" in settings else {})
    candidates = {
        solver.name: checks.candidate(solver, prior, quick),
        fallback.name: checks.candidate(fallback, None, classical),
    }
    noise = physics.noise_level(checks.operator, checks.measurement) ** 2

    def test(selection: Selection, standard_errors: float = 0.0) -> MarginTest:
        learned, plain = selection.residuals[solver.name], selection.residuals[fallback.name]
        return margin_test(learned, plain, noise, CHECK_MARGIN, standard_errors)

    checked = checks.compare(candidates)
    verdict, folds = test(checked), 1
    views_per_fold = checked.residuals[solver.name].shape[0]  # one row per view the first fold held out
    if views_per_fold < CHECK_FEW_VIEWS and CHECK_CLEAR[0] < verdict.ratio < CHECK_CLEAR[1]:
        rest = checks.compare(candidates, first=1, rounds=CHECK_FOLDS - 1)
        checked = selection_of(
            {name: torch.cat([checked.residuals[name], rest.residuals[name]]) for name in candidates}
        )
        verdict, folds = test(checked, CHECK_STANDARD_ERRORS), CHECK_FOLDS
    return {
        "checked": solver.name,
        "against": fallback.name,
        "chosen": solver.name if verdict.passed else fallback.name,
        "held_out_errors": _rounded(checked.errors),
        "noise_variance": round(noise, 6),
        "ratio": round(verdict.ratio, 4),
        "ratio_needed": round(verdict.needed, 4),
        "check_steps": quick.get("steps"),
        "check_folds": folds,
    }


def _rounded(errors: dict[Any, float]) -> dict[str, float]:
    return {str(label): round(error, 6) for label, error in errors.items()}


def _scores(image: torch.Tensor, truth: torch.Tensor) -> tuple[float, float]:
    """PSNR and SSIM of one image (of a batch of one); of a volume (1, C, D, H, W), the PSNR of all
    its voxels and the mean SSIM of its slices."""
    if image.dim() == 5:
        slices, reference = image[0].movedim(1, 0), truth[0].movedim(1, 0)  # (D, C, H, W)
        stacked_psnr = psnr(image[0].flatten(1, 2), truth[0].flatten(1, 2))  # (C, D H, W): one MSE over the volume
        return float(stacked_psnr), float(statistics.mean(ssim(slices, reference)))  # type: ignore[arg-type]
    return float(psnr(image[0], truth[0])), float(ssim(image[0], truth[0]))  # type: ignore[arg-type]
