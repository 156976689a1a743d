"""``invsolve sample``: unconditional samples from a trained prior (what did it learn?)."""

import sys
import time
from pathlib import Path

from invsolve.catalog import DEVICE_CHOICES, PRECISIONS, SAMPLING_METHODS, SCHEDULE_KINDS
from invsolve.cli.options import count, fraction, image_side, positive_int, seed


def add_parser(commands) -> None:
    sample = commands.add_parser(
        "sample",
        help="draw unconditional samples from a trained prior (what did it learn?)",
        description="Draw samples from a prior alone, no measurements: annealed Langevin dynamics (the prior "
        "half of PaDIS Algorithm 1), the reverse VE SDE, DDIM or EDM's Heun sampler, over the prior's sigma range.",
    )
    sample.add_argument("--prior", required=True, metavar="FILE", help="a prior file from invsolve train")
    sample.add_argument("-n", "--count", type=positive_int, default=4, help="number of samples (default 4)")
    sample.add_argument(
        "--out",
        required=True,
        metavar="FILE.png",
        help="a labelled grid of the samples (.png); .npy keeps the raw (n, C, N, N) array",
    )
    sample.add_argument("--method", default="langevin", choices=SAMPLING_METHODS, help="default: langevin")
    sample.add_argument("--steps", type=positive_int, default=100, help="noise levels (default 100)")
    sample.add_argument("--inner", type=positive_int, default=5, help="Langevin iterations per level (default 5)")
    sample.add_argument(
        "--eta", type=fraction, default=0.0, help="DDIM's share of fresh noise: 0 deterministic (default), 1 ancestral"
    )
    sample.add_argument("--schedule", default="edm", choices=SCHEDULE_KINDS, help="default: edm (rho 7)")
    sample.add_argument(
        "--image-size", type=image_side, metavar="N", help="default: the size the prior was trained for"
    )
    sample.add_argument("--fixed-grid", action="store_true", help="ablation: one fixed patch grid, no random shift")
    sample.add_argument("--no-positional", action="store_true", help="ablation: zero the position channels")
    sample.add_argument("--patch-size", type=positive_int, help="inference patch size (default: the prior's)")
    sample.add_argument("--pad", type=count, help="inference pad (default: the tightest for the grid)")
    sample.add_argument("--columns", type=positive_int, default=4)
    sample.add_argument("--seed", type=seed, default=0)
    sample.add_argument("--device", default="auto", choices=DEVICE_CHOICES)
    sample.add_argument(
        "--precision",
        default="auto",
        choices=PRECISIONS,
        help="network arithmetic (default auto: bf16 on a CUDA GPU that supports it, fp32 on CPUs)",
    )


def run(args, argv) -> int:
    import numpy as np
    import torch

    from invsolve.devices import resolve_device
    from invsolve.figures import save_comparison
    from invsolve.io import atomic_write, check_output
    from invsolve.priors import load
    from invsolve.solvers.prior_sampling import sample_prior

    check_output(args.out, (".png", ".npy"), "--out")
    device = resolve_device(args.device)
    ablations = {
        "random_shift": False if args.fixed_grid else None,
        "positional_encoding": False if args.no_positional else None,
        "patch_size": args.patch_size,
        "pad": args.pad,
    }
    prior = load(args.prior, device, args.precision, **{k: v for k, v in ablations.items() if v is not None})
    generator = torch.Generator(device).manual_seed(args.seed)
    start = time.perf_counter()
    samples, nfe = sample_prior(
        prior,
        args.count,
        image_size=args.image_size,
        method=args.method,
        steps=args.steps,
        inner=args.inner,
        schedule=args.schedule,
        eta=args.eta,
        generator=generator,
        device=device,
        progress=sys.stderr.isatty(),
    )
    seconds = time.perf_counter() - start
    if args.out.lower().endswith(".npy"):
        atomic_write(args.out, lambda f: np.save(f, samples.cpu().numpy()))
    else:
        panels = [(f"seed {args.seed}, #{i + 1}", image) for i, image in enumerate(samples)]
        save_comparison(
            args.out,
            panels,
            rows=-(-args.count // max(args.columns, 1)),
            panel_inches=2.2,
            title=f"{Path(args.prior).name}\n{_prior_label(prior)}; {args.method}, {nfe} NFEs",
        )
    print(f"wrote {args.out}: {args.count} samples, {nfe} NFEs in {seconds:.1f} s on {device} ({prior.describe()})")
    return 0


def _prior_label(prior) -> str:
    if prior.kind != "padis":
        return "whole-image prior"
    grid = "random-shift grid" if prior.random_shift else "fixed grid"
    positions = "" if prior.positional_encoding else ", no positions"
    return f"PaDIS, {prior.patch_size}px patches, {grid}{positions}"
