"""Classical reconstruction on the built-in data: tune ADMM-TV on validation, evaluate on test.

    python -m invsolve.benchmarks.classical tune --op ct8 --lam 0.01,0.03,0.1 --rho-factor 3,30
    python -m invsolve.benchmarks.classical evaluate --ops ct20,ct8,deblur,sr4 --count 8

``tune`` only ever reads the validation split; ``evaluate`` reads the test split with the solvers'
defaults (the values ``tune`` chose, recorded in ``invsolve/solvers/admm_tv.py``). Both print
their figures; ``evaluate --figure FILE`` also draws ground truth | baseline | ADMM-TV.
"""

import argparse
import itertools
import time

import torch

from invsolve.data import SOURCE_FOR_DOMAIN, get_source
from invsolve.figures import save_comparison
from invsolve.metrics import psnr, ssim
from invsolve.operators import get_preset, make_operator
from invsolve.solvers import get_solver


def simulate(op_name: str, split: str, count: int, image_size: int, seed: int):
    """Ground truth, operator and seeded measurements for the first ``count`` images of ``split``."""
    source = get_source(SOURCE_FOR_DOMAIN[get_preset(op_name).domain], split, image_size)
    x = source.batch(range(count))
    op = make_operator(op_name, image_size, channels=x.shape[1])
    return x, op, op.simulate(x, torch.Generator().manual_seed(seed))


def mean(values) -> float:
    return sum(values) / len(values)


def tune(args) -> None:
    x, op, y = simulate(args.op, "validation", args.count, args.image_size, args.seed)
    admm = get_solver("admm-tv")
    print(f"# ADMM-TV tuning on {args.op}, {args.count} validation images, {args.image_size}x{args.image_size}, "
          f"{args.iterations} iterations")
    print(f"baseline: PSNR {mean(psnr(op.baseline(y), x)):.2f}")
    results = []
    for lam, factor in itertools.product(args.lam, args.rho_factor):
        start = time.perf_counter()
        r = admm(op, y, lam=lam, rho=lam * factor, iterations=args.iterations)
        p, s = mean(psnr(r, x)), mean(ssim(r, x))
        results.append((p, s, lam, factor))
        print(f"lam {lam:<8g} rho {lam * factor:<8g} PSNR {p:6.2f}  SSIM {s:.3f}  "
              f"({(time.perf_counter() - start) / len(x):.1f} s/image)", flush=True)
    p, s, lam, factor = max(results)
    print(f"best: lam {lam:g} rho {lam * factor:g} iterations {args.iterations}: PSNR {p:.2f} SSIM {s:.3f}")


def evaluate(args) -> None:
    print(f"# first {args.count} test images, {args.image_size}x{args.image_size}, noise seed {args.seed}")
    print("| task | baseline PSNR / SSIM | ADMM-TV PSNR / SSIM | ADMM-TV s/image |")
    print("|---|---|---|---|")
    panels = []
    for op_name in args.ops:
        x, op, y = simulate(op_name, "test", args.count, args.image_size, args.seed)
        base = get_solver("baseline")(op, y)
        start = time.perf_counter()
        tv = get_solver("admm-tv")(op, y)
        seconds = (time.perf_counter() - start) / len(x)
        bp, bs, tp, ts = mean(psnr(base, x)), mean(ssim(base, x)), mean(psnr(tv, x)), mean(ssim(tv, x))
        print(f"| {op_name} | {bp:.2f} / {bs:.3f} | {tp:.2f} / {ts:.3f} | {seconds:.1f} |", flush=True)
        for i in range(min(args.figure_images, len(x))):
            panels += [(f"{op_name} ground truth", x[i]),
                       (f"{op.baseline_name} {psnr(base[i], x[i]):.2f} dB", base[i]),
                       (f"ADMM-TV {psnr(tv[i], x[i]):.2f} dB", tv[i])]
    if args.figure:
        save_comparison(args.figure, panels, rows=len(panels) // 3, panel_inches=2.6)
        print(f"figure: {args.figure}")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m invsolve.benchmarks.classical", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    def floats(text):
        return [float(v) for v in text.split(",")]

    t = sub.add_parser("tune", help="grid-search ADMM-TV's lam and rho on the validation split")
    t.add_argument("--op", required=True)
    t.add_argument("--lam", type=floats, required=True)
    t.add_argument("--rho-factor", type=floats, default=[10.0], help="rho = factor * lam")
    t.add_argument("--iterations", type=int, default=200)
    e = sub.add_parser("evaluate", help="baseline and ADMM-TV (tuned defaults) on the test split")
    e.add_argument("--ops", type=lambda s: s.split(","), default=["ct20", "ct8", "deblur", "sr4"])
    e.add_argument("--figure", help="PNG: ground truth | baseline | ADMM-TV per task")
    e.add_argument("--figure-images", type=int, default=1, help="images per task in the figure")
    for p in (t, e):
        p.add_argument("--count", type=int, default=8, help="images (at least 8 to tune on)")
        p.add_argument("--image-size", type=int, default=128)
        p.add_argument("--seed", type=int, default=0, help="measurement-noise seed")
        p.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    {"tune": tune, "evaluate": evaluate}[args.command](args)


if __name__ == "__main__":
    main()
