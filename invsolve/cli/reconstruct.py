"""``invsolve reconstruct``: the command-line face of ``invsolve.reconstruction.reconstruct``."""

import json
import sys

from invsolve.catalog import (
    BUNDLED_PRIORS,
    CLASSICAL_DEFAULT,
    DEVICE_CHOICES,
    DPS_STARTS,
    PRECISIONS,
    PREFERRED_SOLVER,
    PRESET_DOMAINS,
    SCHEDULE_KINDS,
    SOLVER_NAMES,
    prior_label,
)
from invsolve.cli.options import braced, count, fraction, image_side, non_negative, positive, positive_int, seed, window

#: Solver settings the command line takes, as ``--flag`` for setting ``flag`` (dashes for underscores).
SETTINGS = (
    "lam",
    "rho",
    "rho_factor",
    "iterations",
    "cg_iterations",
    "tv",
    "steps",
    "inner",
    "zeta",
    "snr",
    "xi",
    "gamma",
    "sigma_max",
    "sigma_min",
    "schedule",
    "start",
)


def add_parser(commands) -> None:
    rec = commands.add_parser(
        "reconstruct",
        help="reconstruct one image from (simulated or given) measurements",
        description="Simulate measurements of a ground-truth image (or read measured data) and reconstruct it.",
    )
    rec.add_argument(
        "--op",
        required=True,
        choices=list(PRESET_DOMAINS),
        metavar=braced(PRESET_DOMAINS),
        help="forward operator preset",
    )
    rec.add_argument(
        "--solver",
        choices=SOLVER_NAMES,
        metavar=braced(SOLVER_NAMES),
        help="reconstruction method (default with --prior: "
        + ", ".join(f"{solver} for {preset}" for preset, solver in PREFERRED_SOLVER.items())
        + f"; {CLASSICAL_DEFAULT} without)",
    )
    rec.add_argument(
        "--prior",
        metavar="PRIOR",
        help="padis or whole (the bundled prior for the operator: -ct for CT, -photo otherwise), a "
        f"bundled name ({', '.join(BUNDLED_PRIORS)}) or a file from invsolve train; "
        "for dps, langevin, pc, ddnm, diffpir. Writes OP-PRIOR.png and OP-PRIOR-figure.png unless "
        "--out, --figure or --no-save say otherwise",
    )
    given = rec.add_mutually_exclusive_group()
    given.add_argument(
        "--input",
        metavar="FILE",
        help="ground-truth image to simulate measurements from (PNG/JPEG/TIFF/NPY/DICOM); default: "
        "the first test image of the built-in source (phantoms for CT, photos otherwise)",
    )
    given.add_argument("--measurement", metavar="FILE", help="measured data (.npy) to reconstruct; no ground truth")
    rec.add_argument(
        "--image-size",
        type=image_side,
        metavar="N",
        help="image side in pixels (default: the size the prior was trained for; 128 without a prior)",
    )
    rec.add_argument(
        "--noise",
        type=non_negative,
        metavar="SIGMA",
        help="measurement noise std (default: the preset's: 0 for CT, 0.01 otherwise; another value "
        "runs the solver's generic settings, not those tuned for the preset)",
    )
    rec.add_argument(
        "--window",
        type=window,
        metavar="LOW,HIGH",
        help="map input values LOW..HIGH to 0..1 (DICOM: HU, default -1000,1000)",
    )
    rec.add_argument("--seed", type=seed, default=0, help="seed of the simulated noise (default 0)")
    rec.add_argument("--device", default="auto", choices=DEVICE_CHOICES, help="default: auto (CUDA when present)")
    rec.add_argument(
        "--precision",
        default="auto",
        choices=PRECISIONS,
        help="the prior network's arithmetic (default auto: bf16 on a CUDA GPU that supports it, fp32 on CPUs)",
    )
    rec.add_argument("--out", metavar="FILE", help="write the reconstruction (.png or .npy)")
    rec.add_argument("--figure", metavar="FILE", help="write ground truth | baseline | reconstruction (.png)")
    rec.add_argument("--no-save", action="store_true", help="with a prior: write no files unless --out/--figure")
    rec.add_argument("--json", action="store_true", help="print one JSON object instead of a summary")
    tv = rec.add_argument_group("ADMM-TV settings (default: tuned per preset)")
    tv.add_argument("--lam", type=positive, help="TV weight lambda (diffpir: the prior's weight against the data)")
    tv.add_argument("--rho-factor", type=positive, help="ADMM penalty rho as a multiple of lam")
    tv.add_argument("--rho", type=positive, help="ADMM penalty rho (default: rho-factor x lam)")
    tv.add_argument("--iterations", type=positive_int, help="ADMM iterations")
    tv.add_argument(
        "--cg-iterations", type=count, help="conjugate-gradient steps per ADMM iteration (default 3) or per dds level"
    )
    tv.add_argument("--tv", choices=["isotropic", "anisotropic"], help="TV flavour (default isotropic)")
    diffusion = rec.add_argument_group("diffusion solver settings (dps, langevin, pc, ddnm, diffpir, dds)")
    diffusion.add_argument("--steps", type=positive_int, help="noise levels (default 100)")
    diffusion.add_argument(
        "--inner", type=positive_int, help="iterations per noise level (default 10; pc: 1; diffpir has none)"
    )
    diffusion.add_argument("--zeta", type=non_negative, help="data step size (dps, langevin, pc)")
    diffusion.add_argument("--snr", type=positive, help="pc corrector signal-to-noise ratio (default 0.16)")
    diffusion.add_argument(
        "--xi", type=fraction, help="diffpir, dds: share of fresh noise per level, 0 to 1 (default: tuned per preset)"
    )
    diffusion.add_argument(
        "--gamma",
        type=non_negative,
        help="dds: weight on staying near the denoised image in the data step (0: DDS's CG form)",
    )
    diffusion.add_argument("--sigma-max", type=positive, help="largest noise level (default: the prior's)")
    diffusion.add_argument("--sigma-min", type=positive, help="smallest noise level (default: the prior's)")
    diffusion.add_argument("--schedule", choices=SCHEDULE_KINDS, help="noise levels: edm (rho 7, default) or geometric")
    diffusion.add_argument(
        "--start", choices=DPS_STARTS, help="dps, dds: start from the baseline (default) or from noise"
    )


def run(args, argv) -> int:
    from invsolve.io import check_distinct, check_output
    from invsolve.reconstruction import FIGURE_SUFFIXES, OUTPUT_SUFFIXES, reconstruct, resolve_prior_name

    out, figure = args.out, args.figure
    if args.prior and not args.no_save:  # a diffusion run takes a while: keep what it made unless told not to
        stem = f"{args.op}-{prior_label(resolve_prior_name(args.prior, args.op))}"
        out, figure = out or f"{stem}.png", figure or f"{stem}-figure.png"
    check_output(out, OUTPUT_SUFFIXES, "--out")
    check_output(figure, FIGURE_SUFFIXES, "--figure")
    check_distinct({"--input": args.input, "--measurement": args.measurement}, {"--out": out, "--figure": figure})
    settings = {name: getattr(args, name) for name in SETTINGS}
    result = reconstruct(
        args.op,
        prior=args.prior,
        solver=args.solver,
        image=args.input,
        measurement=args.measurement,
        image_size=args.image_size,
        noise=args.noise,
        window=args.window,
        seed=args.seed,
        device=args.device,
        precision=args.precision,
        progress=not args.json and sys.stderr.isatty(),
        **settings,
    )
    written = result.save(out, figure)
    if args.json:
        print(json.dumps({**result.report, "out": out, "figure": figure}))
    else:
        print("\n".join([result.summary(), *(f"  wrote {path}" for path in written)]))
    return 0
