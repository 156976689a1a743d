"""Seams of few-step sampling (the paper's appendix A.7): PSNR, SSIM, seam score and seconds of DDS
on validation phantoms, for a fixed patch grid, the random shift with K = 1, 2, 4 shifts averaged
per evaluation (throughout, or only at the last levels), and the whole-image prior.

    python -m invsolve.benchmarks.studies.seams [--op ct8] [--images 4] [--nfe 10,20,50] [--figure seams.png]

The seam score (``invsolve.metrics.seam_score``, period = the prior's patch size) is near 1 without
seams; the fixed grid shows what seams score. Every run uses the preset's tuned DDS settings but
the number of levels, on the validation split only.
"""

import argparse
import time

import torch

from invsolve.data import get_source
from invsolve.metrics import psnr, seam_score, ssim
from invsolve.operators import make_operator
from invsolve.priors import load
from invsolve.solvers import get_solver
from invsolve.solvers.settings import settings_from
from invsolve.tasks import run_case

#: (label, prior, load options): the variants compared, the PaDIS prior first.
VARIANTS = (
    ("fixed grid", "padis-ct", {"random_shift": False}),
    ("random shift, K=1", "padis-ct", {}),
    ("random shift, K=2", "padis-ct", {"shifts": 2}),
    ("random shift, K=4", "padis-ct", {"shifts": 4}),
    ("K=4 at sigma <= 0.1", "padis-ct", {"shifts": 4, "shifts_below": 0.1}),
    ("whole-image prior", "whole-ct", {}),
)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m invsolve.benchmarks.studies.seams", description=__doc__)
    parser.add_argument("--op", default="ct8")
    parser.add_argument("--images", type=int, default=4, help="validation phantoms (default 4)")
    parser.add_argument("--nfe", default="10,20,50", help="levels to run, comma-separated (default 10,20,50)")
    parser.add_argument("--figure", help="write the last image's reconstructions and errors at the fewest NFEs (.png)")
    parser.add_argument("--setting", action="append", default=[], metavar="NAME=VALUE", help="a DDS setting")
    args = parser.parse_args(argv)
    levels = [int(n) for n in args.nfe.split(",")]
    extra = settings_from(args.setting)

    source = get_source("phantoms", "validation", 128, 1)
    op = make_operator(args.op, 128)
    truths = torch.stack([source[i] for i in range(args.images)])
    dds = get_solver("dds")
    priors = {label: load(name, **options) for label, name, options in VARIANTS}
    period = priors[VARIANTS[0][0]].patch_size  # the PaDIS prior's
    print(f"# DDS on {args.op}, {args.images} validation phantoms (128 px); seam period {period} px")
    print(f"{'variant':<22} {'NFE':>4} {'PSNR':>6} {'SSIM':>6} {'seam':>6} {'s/image':>8}")
    images, errors = [("ground truth", truths[-1])], []
    for label, prior in priors.items():
        for nfe in levels:
            start = time.perf_counter()
            outcomes = [
                run_case(op, dds, prior, truth=truth[None], seed=i, settings={"steps": nfe, **extra})
                for i, truth in enumerate(truths)
            ]
            x = torch.cat([outcome.image for outcome in outcomes])
            if not errors:
                errors.append(("FBP", outcomes[-1].baseline[0]))
            seconds = (time.perf_counter() - start) / len(truths)
            scores = [sum(metric(x, truths)) / len(truths) for metric in (psnr, ssim)]
            seams = sum(seam_score(x, truths, period)) / len(truths)
            print(f"{label:<22} {nfe:4d} {scores[0]:6.2f} {scores[1]:6.3f} {seams:6.3f} {seconds:8.1f}", flush=True)
            if nfe == levels[0]:
                images.append((f"{label}\nPSNR {psnr(x[-1], truths[-1]):.2f}", x[-1]))
                errors.append(
                    (f"5 x |error|, seam {seam_score(x[-1], truths[-1], period):.2f}", 5 * (x[-1] - truths[-1]).abs())
                )
    if args.figure:
        from invsolve.figures import save_comparison

        title = f"DDS on {args.op}, {levels[0]} NFEs: reconstructions (top) and their errors (bottom)"
        save_comparison(args.figure, images + errors, rows=2, title=title)
        print(f"# wrote {args.figure}")


if __name__ == "__main__":
    main()
