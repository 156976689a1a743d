"""``invsolve bench tune``: a grid over one method's settings, on the validation split only.

Each grid point becomes a method of a derived suite (``padis[zeta=0.3]``) run by the same
resumable, sharded runner; the best point per task (mean PSNR) is written as TOML that pastes
into the suite file (``tuned.toml``).
"""

import copy
import itertools
import json
import os
import statistics
import sys
from pathlib import Path

from invsolve.benchmarks.runner import MIN_VALIDATION_IMAGES, read_results, run_suite
from invsolve.benchmarks.suite import Suite, build_suite
from invsolve.cli.options import parse_value
from invsolve.errors import InvsolveError
from invsolve.io import atomic_write
from invsolve.solvers import get_solver
from invsolve.solvers.defaults import check_setting_values


def parse_grid(assignments: list[str]) -> dict[str, list]:
    """``["zeta=0.1,0.3", "inner=3"]`` -> {"zeta": [0.1, 0.3], "inner": [3]} (numbers where they parse)."""
    grid = {}
    for assignment in assignments:
        name, sep, values = assignment.partition("=")
        if not sep or not values:
            raise InvsolveError(f"--param {assignment!r}: expected NAME=V1,V2,..., e.g. zeta=0.1,0.3,1")
        grid[name.strip()] = [parse_value(v.strip()) for v in values.split(",")]
    return grid


def variant_name(method: str, point: dict) -> str:
    return f"{method}[{','.join(f'{k}={v}' for k, v in point.items())}]"


def tuning_suite(suite: Suite, method: str, grid: dict[str, list]) -> Suite:
    """The suite whose methods are ``method`` at every grid point (applied over its per-task settings)."""
    if method not in suite.methods:
        raise InvsolveError(f"suite {suite.name} has no method {method}; it has {', '.join(suite.methods)}")
    base = suite.raw["methods"][method]
    for solver in map(get_solver, sorted({suite.methods[method].solver_for(task) for task in suite.tasks.values()})):
        unknown = sorted(set(grid) - set(solver.parameters))
        if unknown or not grid:
            raise InvsolveError(
                f"method {method} ({solver.name}) has no setting {', '.join(unknown) or '(none given)'}"
                f"; tune one of {', '.join(solver.parameters) or 'nothing'}"
            )
    raw = copy.deepcopy(suite.raw)
    raw["methods"] = {}
    for values in itertools.product(*grid.values()):
        point = dict(zip(grid, values, strict=True))
        for solver in {suite.methods[method].solver_for(task) for task in suite.tasks.values()}:
            check_setting_values(solver, point)
        variant = copy.deepcopy(base)
        variant["task_settings"] = {t: {**base.get("task_settings", {}).get(t, {}), **point} for t in suite.tasks}
        raw["methods"][variant_name(method, point)] = variant
    for table in raw["tasks"].values():
        table.pop("paper", None)
    raw["suite"] = {**raw["suite"], "seeds": [suite.seeds[0]], "figure_images": 0}
    return build_suite(raw).select(list(suite.tasks))


def tune(
    suite: Suite,
    method: str,
    grid: dict[str, list],
    out: str | os.PathLike,
    *,
    limit: int | None = None,
    device: str = "auto",
    progress: bool = False,
) -> dict:
    """Run the grid on the validation split, write ``out/tuned.toml`` and return the choice.

    Under several ranks, the rank that finishes last (the one that finds every result) writes it;
    the others return ``{"pending": N}`` with the number of cells still running elsewhere.
    """
    derived = tuning_suite(suite, method, grid)
    count = min(limit, suite.validation_count) if limit else suite.validation_count
    if count < MIN_VALIDATION_IMAGES:
        print(
            f"warning: tuning on {count} validation images; at least {MIN_VALIDATION_IMAGES} are needed to choose "
            "a step size reliably",
            file=sys.stderr,
        )
    run_suite(derived, out, split="validation", limit=count, device=device, progress=progress)
    return summarise(derived, method, grid, Path(out), count)


def summarise(derived: Suite, method: str, grid: dict, out: Path, count: int) -> dict:
    results = {key: r for key, r in read_results(out).items() if r["index"] < count}  # an earlier, larger run
    pending = len(derived.tasks) * len(derived.methods) * count - len(results)
    if pending > 0:
        return {"pending": pending}
    table, chosen = [], {}
    for task in derived.tasks:
        scored = []
        for name, variant in derived.methods.items():
            cells = [r for r in results.values() if r["task"] == task and r["method"] == name]
            point = {k: variant.task_settings[task][k] for k in grid}
            scored.append((statistics.mean(r["psnr"] for r in cells), statistics.mean(r["ssim"] for r in cells), point))
            table.append({"task": task, **point, "psnr": scored[-1][0], "ssim": scored[-1][1]})
        chosen[task] = max(scored, key=lambda s: s[0])[2]
    lines = [
        f"# chosen by invsolve bench tune (method {method}, best mean PSNR on {count} validation images "
        f"per task); paste into the suite file"
    ]
    for task, point in chosen.items():
        lines += ["", f"[methods.{method}.task_settings.{task}]"] + [f"{k} = {json.dumps(v)}" for k, v in point.items()]
    text = "\n".join(lines) + "\n"
    atomic_write(out / "tuned.toml", lambda f: f.write(text.encode()))
    return {"chosen": chosen, "table": table, "toml": text}
