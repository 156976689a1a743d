"""Diffusion solvers with a trained prior on the built-in data: tune on validation images only.

    python -m invsolve.benchmarks.diffusion tune --op ct20 --prior padis.safetensors --solver dps \
        --zeta 0.1,0.3 --inner 3 [--steps 100] [--count 8] [--image-size 64]

Every combination of the comma-separated values runs on the first ``count`` validation images
(one batch: per-image norms and step sizes keep them independent). It prints PSNR/SSIM, seconds
per image and NFEs, and the best setting by mean PSNR. ``tune`` never reads the test split.
"""

import argparse
import itertools
import time

import torch

from invsolve.benchmarks.classical import mean, simulate
from invsolve.metrics import psnr, ssim
from invsolve.priors import load
from invsolve.solvers import get_solver

GRID = ("steps", "inner", "zeta", "snr", "sigma_max", "sigma_min")


def tune(args) -> None:
    x, op, y = simulate(args.op, "validation", args.count, args.image_size, args.seed)
    prior = load(args.prior)
    solver = get_solver(args.solver)
    grid = {k: getattr(args, k) for k in GRID if getattr(args, k) is not None}
    print(f"# {args.solver} tuning on {args.op}, {args.count} validation images, {args.image_size}x{args.image_size}, "
          f"prior {args.prior}, {torch.get_num_threads()} threads")
    print(f"baseline: PSNR {mean(psnr(op.baseline(y), x)):.2f}", flush=True)
    results = []
    for values in itertools.product(*grid.values()):
        settings = dict(zip(grid, values, strict=True))
        info, start = {}, time.perf_counter()
        r = solver(op, y, prior, generator=torch.Generator().manual_seed(args.seed), info=info, **settings)
        p, s = mean(psnr(r, x)), mean(ssim(r, x))
        results.append((p, s, settings))
        print(f"{settings}  PSNR {p:6.2f}  SSIM {s:.3f}  ({(time.perf_counter() - start) / len(x):.1f} s/image, "
              f"{info['nfe']} NFEs)", flush=True)
    p, s, settings = max(results, key=lambda r: r[0])
    print(f"best: {settings}: PSNR {p:.2f} SSIM {s:.3f}")


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
    t.add_argument("--image-size", type=int, default=64)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    tune(args)


if __name__ == "__main__":
    main()
