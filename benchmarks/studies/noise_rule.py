"""Fit a noise rule for ADMM-TV's weight, lam = floor + slope * sigma_y^2, to a ``bench tune`` grid
over ``lam`` run at several noise levels (the suites ``benchmarks/noise-ct.toml`` and
``noise-photo.toml``).

    python -m invsolve.benchmarks.studies.noise_rule TUNE_DIR [--floors 0.03] [--slopes 2,3,4,5,6,8]

For every task it finds sigma_y, the noise level the solver weighs (Gaussian: the level given;
photon counts: ``noise_level(op, y)`` of the task's own validation measurements, root mean square
over the images), and the grid's best weight. For every (floor, slope) it reads each task's mean
validation PSNR at the rule's weight off the grid (linear in log lam between grid points) and
prints the regret against the grid's best: the mean and the largest over the tasks. The rule with
the smallest mean regret is the one to put in the tuned table.
"""

import argparse
import collections
import itertools
import math
import statistics
from pathlib import Path

import torch

from invsolve.benchmarks.runner import read_recorded_suite, read_results
from invsolve.benchmarks.suite import build_suite
from invsolve.data import get_source
from invsolve.operators import make_operator, noise_level


def numbers(text: str) -> list[float]:
    return [float(v) for v in text.split(",")]


def task_noise(suite, results: list[dict]) -> dict[str, float]:
    """sigma_y per task, from the measurements its validation cells were scored on."""
    levels = collections.defaultdict(dict)
    for r in results:
        task = suite.tasks[r["task"]]
        if r["index"] in levels[task.name]:
            continue
        truth = get_source(task.dataset, "validation", suite.image_size)[r["index"]][None]
        op = make_operator(task.op, suite.image_size, channels=truth.shape[1], **task.options)
        y = op.simulate(truth, torch.Generator().manual_seed(r["seed"]))
        levels[task.name][r["index"]] = noise_level(op, y)
    return {name: math.sqrt(statistics.mean(v**2 for v in by_image.values())) for name, by_image in levels.items()}


def psnr_at(grid: dict[float, float], lam: float) -> float:
    """Mean PSNR at ``lam``, linear in log lam between the grid's points, flat beyond its ends."""
    points = sorted(grid)
    x = math.log(lam)
    if x <= math.log(points[0]):
        return grid[points[0]]
    for low, high in itertools.pairwise(points):
        if x <= math.log(high):
            w = (x - math.log(low)) / (math.log(high) - math.log(low))
            return grid[low] * (1 - w) + grid[high] * w
    return grid[points[-1]]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m invsolve.benchmarks.studies.noise_rule", description=__doc__)
    parser.add_argument("tune_dir", type=Path, help="a bench tune output folder with a grid over lam")
    parser.add_argument("--floors", type=numbers, default=[0.03], help="lam_noiseless values to try")
    parser.add_argument("--slopes", type=numbers, default=[2, 3, 4, 5, 6, 8], help="lam_per_variance values")
    args = parser.parse_args(argv)

    suite = build_suite(read_recorded_suite(args.tune_dir)["suite"])
    results = list(read_results(args.tune_dir).values())
    sigma = task_noise(suite, results)
    scores = collections.defaultdict(list)
    for r in results:
        scores[(r["task"], r["settings"]["lam"])].append(r["psnr"])
    grids = {
        task: {lam: statistics.mean(psnrs) for (name, lam), psnrs in scores.items() if name == task} for task in sigma
    }
    print(f"# {args.tune_dir}: {len(results)} validation cells, {len(grids)} tasks")
    print(f"{'task':<24} {'sigma_y':>8} {'best lam':>9} {'PSNR':>7}")
    for task, grid in sorted(grids.items()):
        best = max(grid, key=grid.get)
        print(f"{task:<24} {sigma[task]:8.4f} {best:9.4g} {grid[best]:7.2f}")
    print(f"\n{'floor':>8} {'slope':>6} {'mean regret dB':>15} {'largest':>8}  where")
    for floor, slope in itertools.product(args.floors, args.slopes):
        regret = {t: max(g.values()) - psnr_at(g, floor + slope * sigma[t] ** 2) for t, g in grids.items()}
        worst = max(regret, key=regret.get)
        print(f"{floor:8.4g} {slope:6.3g} {statistics.mean(regret.values()):15.3f} {regret[worst]:8.3f}  {worst}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
