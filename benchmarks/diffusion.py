"""Diffusion solvers with a trained prior on the built-in data: tune on validation, evaluate on test.

    python -m invsolve.benchmarks.diffusion tune --op ct20 --prior padis.safetensors --solver dps \
        --zeta 0.1,0.3 --inner 3 [--steps 100] [--count 8]
    python -m invsolve.benchmarks.diffusion evaluate --op ct20 --prior padis.safetensors \
        [--solvers dps,langevin,pc,ddnm] [--count 8] [--figure FILE.png]

``tune`` runs every combination of the comma-separated values on the first ``count`` validation
images (one batch: per-image norms and step sizes keep them independent) and prints PSNR/SSIM,
seconds per image, NFEs and the best setting by mean PSNR; it never reads the test split.
``evaluate`` runs the baseline, ADMM-TV and each diffusion solver with its defaults (the values
``tune`` chose, recorded in ``invsolve/solvers/diffusion.py``) on the first ``count`` test images,
at the prior's image size, and prints one table row per method and the per-image PSNRs.
"""

import argparse
import itertools
import statistics
import time

import torch

from invsolve.benchmarks.classical import mean, simulate
from invsolve.errors import InvsolveError
from invsolve.figures import save_comparison
from invsolve.metrics import psnr, ssim
from invsolve.priors import load
from invsolve.solvers import get_solver

GRID = ("steps", "inner", "zeta", "snr", "sigma_max", "sigma_min")


def tune(args) -> None:
    prior = load(args.prior)
    args.image_size = args.image_size or prior.image_size
    x, op, y = simulate(args.op, "validation", args.count, args.image_size, args.seed)
    solver = get_solver(args.solver)
    grid = {k: getattr(args, k) for k in GRID if getattr(args, k) is not None}
    print(f"# {args.solver} tuning on {args.op}, {args.count} validation images, {args.image_size}x{args.image_size}, "
          f"prior {args.prior}, {torch.get_num_threads()} threads")
    print(f"baseline: PSNR {mean(psnr(op.baseline(y), x)):.2f}", flush=True)
    results = []
    for values in itertools.product(*grid.values()):
        settings = dict(zip(grid, values, strict=True))
        info, start = {}, time.perf_counter()
        try:
            r = solver(op, y, prior, generator=torch.Generator().manual_seed(args.seed), info=info, **settings)
        except InvsolveError as error:  # a step size that diverges is a result of the scan, not its end
            print(f"{settings}  diverged: {error}", flush=True)
            continue
        p, s = mean(psnr(r, x)), mean(ssim(r, x))
        results.append((p, s, settings))
        print(f"{settings}  PSNR {p:6.2f}  SSIM {s:.3f}  ({(time.perf_counter() - start) / len(x):.1f} s/image, "
              f"{info['nfe']} NFEs)", flush=True)
    p, s, settings = max(results, key=lambda r: r[0])
    print(f"best: {settings}: PSNR {p:.2f} SSIM {s:.3f}")


def evaluate(args) -> None:
    prior = load(args.prior)
    x, op, y = simulate(args.op, "test", args.count, prior.image_size, args.seed)
    print(f"# {args.op}, first {args.count} test images, {prior.image_size}x{prior.image_size}, prior {args.prior}, "
          f"{torch.get_num_threads()} threads, seed {args.seed}")
    print("| method | PSNR (dB) | SSIM | s/image | NFEs |")
    print("|---|---|---|---|---|")
    results = {op.baseline_name: (op.baseline(y), 0.0, 0)}
    overrides = {k: v for k in ("steps", "inner") if (v := getattr(args, k)) is not None}
    for name in ("admm-tv", *args.solvers):
        solver, info = get_solver(name), {}
        start = time.perf_counter()
        r = solver(op, y, prior if solver.needs_prior else None, generator=torch.Generator().manual_seed(args.seed),
                   info=info, **(overrides if solver.needs_prior else {}))
        results[name] = (r, (time.perf_counter() - start) / len(x), info["nfe"])
    for name, (r, seconds, nfe) in results.items():
        p, s = psnr(r, x), ssim(r, x)
        print(f"| {name} | {mean(p):.2f} +- {statistics.pstdev(p):.2f} | {mean(s):.3f} +- {statistics.pstdev(s):.3f} "
              f"| {seconds:.1f} | {nfe} |", flush=True)
    print("\nPSNR per image:")
    for name, (r, _, _) in results.items():
        print(f"  {name:<8} " + " ".join(f"{v:6.2f}" for v in psnr(r, x)))
    if args.figure:
        panels = [(f"image {i}: ground truth" if name is None else f"{name} {psnr(results[name][0][i], x[i]):.2f} dB",
                   x[i] if name is None else results[name][0][i])
                  for i in range(min(args.figure_images, len(x))) for name in (None, *results)]
        save_comparison(args.figure, panels, rows=min(args.figure_images, len(x)), panel_inches=2.2,
                        title=f"{args.op}, {prior.image_size} px test images")
        print(f"figure: {args.figure}")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m invsolve.benchmarks.diffusion", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("tune", help="grid-search a diffusion solver's settings on the validation split")
    t.add_argument("--op", required=True)
    t.add_argument("--prior", required=True)
    t.add_argument("--solver", default="dps")
    for name, kind in (("steps", int), ("inner", int), ("zeta", float), ("snr", float), ("sigma_max", float),
                       ("sigma_min", float)):
        t.add_argument(f"--{name.replace('_', '-')}", type=lambda text, kind=kind: [kind(v) for v in text.split(",")])
    t.add_argument("--count", type=int, default=8, help="validation images (at least 8 to tune on)")
    t.add_argument("--image-size", type=int, help="default: the prior's")
    e = sub.add_parser("evaluate", help="baseline, ADMM-TV and the diffusion solvers (defaults) on the test split")
    e.add_argument("--op", required=True)
    e.add_argument("--prior", required=True)
    e.add_argument("--solvers", type=lambda text: text.split(","), default=["dps", "langevin", "pc", "ddnm"])
    e.add_argument("--count", type=int, default=8, help="test images")
    e.add_argument("--steps", type=int, help="noise levels of every diffusion solver (default: each solver's)")
    e.add_argument("--inner", type=int, help="inner iterations of every diffusion solver (default: each solver's)")
    e.add_argument("--figure", help="PNG: ground truth | baseline | ADMM-TV | each solver, one row per image")
    e.add_argument("--figure-images", type=int, default=2, help="images (rows) in the figure")
    for p in (t, e):
        p.add_argument("--seed", type=int, default=0, help="measurement-noise and sampler seed")
        p.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    {"tune": tune, "evaluate": evaluate}[args.command](args)


if __name__ == "__main__":
    main()
