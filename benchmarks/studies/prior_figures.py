"""Pictures of what a trained prior learned (the spirit of the PaDIS paper's figure 4) and how it trained.

    python -m invsolve.benchmarks.studies.prior_figures samples --prior padis.safetensors [--whole whole.safetensors] \
        --out samples.png [--count 4] [--steps 100] [--inner 5] [--seed 0]
    python -m invsolve.benchmarks.studies.prior_figures loss padis.log.csv [whole.log.csv ...] --out loss.png

``samples`` draws one row per variant from the same seeds (after a row of training images with
``--training-images``): PaDIS (random shift), the fixed-grid
ablation of the same network (naive patch assembly: seams), optionally the same network with its
position channels zeroed, and a whole-image prior if given. ``loss`` plots smoothed training loss
against images seen from the ``.log.csv`` files ``invsolve train`` writes.
"""

import argparse
import csv
import time
from pathlib import Path

import torch

from invsolve.data import get_source
from invsolve.figures import save_comparison
from invsolve.io import atomic_write
from invsolve.priors import load
from invsolve.solvers.prior_sampling import sample_prior


def samples(args) -> None:
    variants = [
        ("PaDIS (random shift)", args.prior, {}),
        ("fixed grid (no shift)", args.prior, {"random_shift": False}),
    ]
    if args.no_positions:
        variants.append(("PaDIS, positions zeroed", args.prior, {"positional_encoding": False}))
    if args.whole:
        variants.append(("whole-image prior", args.whole, {}))
    panels, rows = [], len(variants)
    if args.training_images:  # what the samples should look like
        data = load(args.prior).config["data"]
        source = get_source(data["source"], "train", data["image_size"], data["channels"])
        panels += [(f"training images ({data['source']})" if i == 0 else "", source[i]) for i in range(args.count)]
        rows += 1
    for label, path, options in variants:
        prior = load(path, **options)
        start = time.perf_counter()
        images, nfe = sample_prior(
            prior,
            args.count,
            method=args.method,
            steps=args.steps,
            inner=args.inner,
            generator=torch.Generator().manual_seed(args.seed),
            progress=True,
        )
        print(f"{label}: {args.count} samples, {nfe} NFEs, {time.perf_counter() - start:.0f} s", flush=True)
        panels += [(f"{label}" if i == 0 else "", image) for i, image in enumerate(images)]
    save_comparison(
        args.out,
        panels,
        rows=rows,
        panel_inches=1.9,
        title=f"unconditional samples, same seeds per column ({args.method}, {args.steps} levels x "
        f"{args.inner}, {nfe} NFEs)",
    )
    print(f"wrote {args.out}")


def loss(args) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    for log in args.logs:
        with open(log, newline="") as f:
            rows = list(csv.DictReader(f))
        images = [int(r["images"]) for r in rows]
        values = [float(r["loss"]) for r in rows]
        smoothed, average = [], values[0]
        for v in values:  # the per-step loss is very noisy (sigma is random): show a running average
            average = 0.98 * average + 0.02 * v
            smoothed.append(average)
        ax.plot(images, smoothed, label=f"{Path(log).name.removesuffix('.log.csv')} ({rows[-1]['seconds']} s)")
    ax.set_xlabel("images seen (for a patch prior: patches of its largest size)")
    ax.set_ylabel("training loss (running mean)")
    ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    atomic_write(args.out, lambda f: fig.savefig(f, format="png", dpi=110))
    plt.close(fig)
    print(f"wrote {args.out}")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m invsolve.benchmarks.studies.prior_figures",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    sample = commands.add_parser("samples")
    sample.add_argument("--prior", required=True)
    sample.add_argument("--whole")
    sample.add_argument("--no-positions", action="store_true", help="add a row with the position channels zeroed")
    sample.add_argument("--training-images", action="store_true", help="add a first row of training images")
    sample.add_argument("--count", type=int, default=4)
    sample.add_argument("--method", default="langevin")
    sample.add_argument("--steps", type=int, default=100)
    sample.add_argument("--inner", type=int, default=5)
    sample.add_argument("--seed", type=int, default=0)
    sample.add_argument("--out", required=True)
    curve = commands.add_parser("loss")
    curve.add_argument("logs", nargs="+")
    curve.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    {"samples": samples, "loss": loss}[args.command](args)


if __name__ == "__main__":
    main()
