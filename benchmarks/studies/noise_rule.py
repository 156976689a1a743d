"""Fit a noise rule for ADMM-TV's weight, lam = floor + slope * sigma_y^exponent, to a ``bench tune``
grid over ``lam`` run at several noise levels (the suites ``benchmarks/noise-ct.toml`` and
``noise-photo.toml``).

    python -m invsolve.benchmarks.studies.noise_rule TUNE_DIR [--floors 0.03] [--slopes 2,3,4,5,6,8]
        [--exponents 1.5,2]

For every task it finds sigma_y, the noise level the solver weighs (Gaussian: the level given;
photon counts: ``noise_level(op, y)`` of the task's own validation measurements, root mean square
over the images), and the grid's best weight by PSNR (what a comparator tuned on validation uses).
For every (floor, slope, exponent) it reads each task's mean validation PSNR and SSIM at the rule's
weight off the grid (linear in log lam between grid points) and prints, against the grid's best:
the PSNR regret (mean and largest over the tasks), the SSIM shortfall (likewise; negative where
the rule's weight scores a higher SSIM) and the tasks where the rule falls more than ``PSNR_SLACK``
dB or ``SSIM_SLACK`` below. The rule to put in the tuned table is the one with the fewest such
tasks, ties broken by the smaller mean PSNR regret (marked with *).
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

#: How far below the validation-tuned weight's scores a rule may fall in a task and still count as
#: matching it: the tolerance the robustness suite holds the learned reconstruction to.
PSNR_SLACK, SSIM_SLACK = 0.3, 0.01


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


def score_at(grid: dict[float, float], lam: float) -> float:
    """A mean score (PSNR or SSIM) at ``lam``, linear in log lam between the grid's points, flat beyond its ends."""
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
    parser.add_argument("--slopes", type=numbers, default=[2, 3, 4, 5, 6, 8], help="lam_per_noise values")
    parser.add_argument("--exponents", type=numbers, default=[2], help="lam_noise_exponent values")
    args = parser.parse_args(argv)

    suite = build_suite(read_recorded_suite(args.tune_dir)["suite"])
    results = list(read_results(args.tune_dir).values())
    sigma = task_noise(suite, results)
    cells = collections.defaultdict(list)
    for r in results:
        cells[(r["task"], r["settings"]["lam"])].append((r["psnr"], r["ssim"]))
    grids = {
        metric: {
            task: {
                lam: statistics.mean(c[metric] for c in scored) for (name, lam), scored in cells.items() if name == task
            }
            for task in sigma
        }
        for metric in (0, 1)
    }
    psnr_grids, ssim_grids = grids[0], grids[1]
    tuned = {task: max(grid, key=grid.get) for task, grid in psnr_grids.items()}
    print(f"# {args.tune_dir}: {len(results)} validation cells, {len(tuned)} tasks")
    print(f"{'task':<24} {'sigma_y':>8} {'best lam':>9} {'PSNR':>7} {'SSIM':>6}")
    for task, best in sorted(tuned.items()):
        print(f"{task:<24} {sigma[task]:8.4f} {best:9.4g} {psnr_grids[task][best]:7.2f} {ssim_grids[task][best]:6.3f}")
    rows = []
    for floor, slope, exponent in itertools.product(args.floors, args.slopes, args.exponents):
        lam = {t: floor + slope * sigma[t] ** exponent for t in tuned}
        regret = {t: psnr_grids[t][tuned[t]] - score_at(psnr_grids[t], lam[t]) for t in tuned}
        shortfall = {t: ssim_grids[t][tuned[t]] - score_at(ssim_grids[t], lam[t]) for t in tuned}
        outside = sorted(t for t in tuned if regret[t] > PSNR_SLACK or shortfall[t] > SSIM_SLACK)
        rows.append(
            (len(outside), statistics.mean(regret.values()), floor, slope, exponent, regret, shortfall, outside)
        )
    chosen = min(rows, key=lambda row: row[:2])
    print(
        f"\n{'floor':>8} {'slope':>6} {'exp':>4} {'PSNR regret mean':>17} {'largest':>8} {'SSIM shortfall mean':>20} "
        f"{'largest':>8}  tasks more than {PSNR_SLACK} dB / {SSIM_SLACK} SSIM below"
    )
    for row in rows:
        count, mean_regret, floor, slope, exponent, regret, shortfall, outside = row
        print(
            f"{floor:8.4g} {slope:6.3g} {exponent:4.3g} {mean_regret:17.3f} {max(regret.values()):8.3f} "
            f"{statistics.mean(shortfall.values()):20.4f} {max(shortfall.values()):8.4f}  {count}"
            f"{' *' if row is chosen else ''}{': ' + ', '.join(outside) if outside else ''}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
