"""``invsolve bench tune``: a grid over one method's settings, on the validation split only.

Each grid point becomes a method of a derived suite (``padis[zeta=0.3]``) run by the same
resumable, sharded runner; the best point per task (mean PSNR) is written as TOML that pastes
into the suite file (``tuned.toml``), with every point's scores beside it (``tuning.txt``, the
validation log). ``write`` also puts the choice into a tuned table (by default the package's own,
``invsolve/solvers/tuned.toml``), which ``invsolve.tasks`` reads for every later run.
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
from invsolve.errors import InvsolveError
from invsolve.io import atomic_write
from invsolve.solvers import get_solver
from invsolve.solvers.settings import TunedRow, check_setting_values, parse_value


def parse_grid(assignments: list[str]) -> dict[str, list]:
    """``["zeta=0.1,0.3", "inner=3"]`` -> {"zeta": [0.1, 0.3], "inner": [3]} (numbers where they parse)."""
    grid = {}
    for assignment in assignments:
        name, sep, values = assignment.partition("=")
        if not sep or not values:
            raise InvsolveError(f"--param {assignment!r}: expected NAME=V1,V2,..., e.g. zeta=0.1,0.3,1")
        if name.strip() in grid:
            raise InvsolveError(f"--param {name.strip()} is given twice; list all its values in one: NAME=V1,V2")
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
    write: str | os.PathLike | None = None,
) -> dict:
    """Run the grid on the validation split, write ``out/tuned.toml`` and ``out/tuning.txt`` and
    return the choice; with ``write``, also update that tuned table (``write_tuned``).

    Under several ranks, the rank that finishes last (the one that finds every result) writes them;
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
    summary = summarise(derived, method, grid, Path(out), count)
    if write is not None and "chosen" in summary:
        summary["written"] = write_tuned(suite, method, summary["chosen"], Path(out) / "tuning.txt", write)
    return summary


def write_tuned(suite: Suite, method: str, chosen: dict, log: Path, path: str | os.PathLike) -> str:
    """Put the settings ``chosen`` per task into the tuned table at ``path``: one row per task's
    solver, preset and prior kind, holding the row it replaces, the method's suite settings and the
    chosen point (every value the validation run set). Returns the path written."""
    from invsolve.priors import load
    from invsolve.tasks import tuned_table

    table = tuned_table(path)
    spec = suite.methods[method]
    for name, point in chosen.items():
        task = suite.tasks[name]
        if task.options:
            raise InvsolveError(
                f"task {name} changes its {task.op} preset ({', '.join(task.options)}): tuned values apply to "
                "presets only; keep them in the suite file (out/tuned.toml) instead of writing them"
            )
        solver = get_solver(spec.solver_for(task))
        kind = load(spec.prior_for(task)).kind if solver.needs_prior else None
        current = table.row(solver.name, task.op, kind)
        settings = (current.settings if current else {}) | spec.settings_for(task) | point
        table = table.with_row(TunedRow(solver.name, task.op, kind, settings, str(log)))
    atomic_write(Path(path), lambda f: f.write(table.toml().encode()))
    return str(path)


def summarise(derived: Suite, method: str, grid: dict, out: Path, count: int) -> dict:
    cells = {name: task.cells(count) for name, task in derived.tasks.items()}  # a volume task: one per volume
    results = {key: r for key, r in read_results(out).items() if r["index"] < cells[r["task"]]}  # not a larger run's
    pending = sum(cells.values()) * len(derived.methods) - len(results)
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
    scores = [f"# invsolve bench tune: method {method}, mean PSNR / SSIM on {count} validation images per task"]
    scores += ["  ".join(f"{k} {shown(k, v)}" for k, v in row.items()) for row in table]
    atomic_write(out / "tuning.txt", lambda f: f.write(("\n".join(scores) + "\n").encode()))
    atomic_write(out / "tuned.toml", lambda f: f.write(text.encode()))
    return {"chosen": chosen, "table": table, "toml": text, "scores": scores[1:]}


def shown(key: str, value) -> str:
    """Scores to three decimals; settings as given (``lam 3e-05``, not ``lam 0.000``)."""
    return f"{value:.3f}" if key in ("psnr", "ssim") else f"{value:g}" if isinstance(value, float) else str(value)
