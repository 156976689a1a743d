"""``invsolve reconstruct``: the command-line face of ``invsolve.reconstruction.reconstruct``."""

import json
import math
import sys

from invsolve.catalog import (
    BUNDLED_PRIORS,
    CLASSICAL_DEFAULT,
    CLASSICAL_SOLVERS,
    DEFAULT_FALLBACK,
    DEVICE_CHOICES,
    DPS_STARTS,
    PRECISIONS,
    PREFERRED_SOLVER,
    PRESET_DOMAINS,
    SCHEDULE_KINDS,
    SOLVER_NAMES,
    prior_label,
)
from invsolve.cli.options import (
    braced,
    choices,
    count,
    fraction,
    image_side,
    non_negative,
    positive,
    positive_int,
    seed,
    slab,
    window,
)
from invsolve.solvers.settings import GENERIC

#: Solver settings the command line takes, as ``--flag`` for setting ``flag`` (dashes for underscores):
#: what each means and its argparse type (or choices). Defaults are shown from the settings tables.
SETTINGS = {
    "lam": (
        "TV weight (admm-tv; default: by the noise level); the prior's weight against the data, times "
        "sigma_y^2 / sigma^2 (diffpir)",
        positive,
    ),
    "lam_noiseless": ("TV weight on noiseless data, the rule's floor (admm-tv)", positive),
    "lam_per_noise": ("the rule's TV weight per unit of sigma_y^lam_noise_exponent (admm-tv)", non_negative),
    "lam_noise_exponent": ("the power of the noise level sigma_y in the TV weight's rule (admm-tv)", positive),
    "rho_factor": ("ADMM penalty as a multiple of lam (admm-tv)", positive),
    "rho": ("ADMM penalty (admm-tv)", positive),
    "iterations": ("ADMM iterations (admm-tv)", positive_int),
    "cg_iterations": ("conjugate-gradient steps per ADMM iteration (admm-tv) or per noise level (dds)", count),
    "tv": ("TV flavour (admm-tv)", ("isotropic", "anisotropic")),
    "steps": ("noise levels (diffusion solvers)", positive_int),
    "inner": ("iterations per noise level (dps, langevin, pc, ddnm)", positive_int),
    "zeta": ("data step size (dps, langevin, pc)", non_negative),
    "snr": ("corrector signal-to-noise ratio (pc)", positive),
    "xi": ("share of fresh noise per level, 0 to 1 (diffpir, dds)", fraction),
    "gamma": ("weight on staying near the denoised image in the data step, 0: DDS's CG form (dds)", non_negative),
    "prior_weight": ("the denoised image's weight in the data step, times sigma_y^2 / sigma^2 (dds)", non_negative),
    "discrepancy": ("stop the data step's CG at this many noise levels of misfit, 0: never (dds)", non_negative),
    "tv_weight": ("TV weight in the data step, 0: none (dds)", non_negative),
    "sigma_max": ("largest noise level", positive),
    "sigma_min": ("smallest noise level", positive),
    "schedule": ("noise levels: edm (rho 7) or geometric", SCHEDULE_KINDS),
    "start": ("start from the baseline or from noise (dps, dds)", DPS_STARTS),
}


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
        f"bundled name ({', '.join(BUNDLED_PRIORS)}), a file from invsolve train, or a DDPM network "
        "(a diffusers folder or a .json description, docs/priors.md); "
        "for dps, langevin, pc, ddnm, diffpir, dds. Writes OP-PRIOR.png and OP-PRIOR-figure.png unless "
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
    given.add_argument(
        "--volume",
        metavar="PATH",
        help="a CT volume to simulate measurements of, slice by slice, and reconstruct as one volume: a "
        "DICOM series folder, .nii/.nii.gz (pip install 'invsolve[volume]'), .npy (slices, H, W) or .inv3; "
        "writes OP-PRIOR.nii.gz and an axial/coronal/sagittal figure",
    )
    rec.add_argument(
        "--slices",
        type=slab,
        metavar="START:STOP",
        help="with --volume: reconstruct slices START to STOP-1 only (a slab of the volume)",
    )
    rec.add_argument(
        "--image-size",
        type=image_side,
        metavar="N",
        help="image side in pixels (default: the size the prior was trained for; 128 without a prior)",
    )
    noise = rec.add_mutually_exclusive_group()
    noise.add_argument(
        "--noise",
        type=non_negative,
        metavar="SIGMA",
        help="std of Gaussian measurement noise (default: the preset's, 0 for CT and 0.01 otherwise; "
        "for --measurement, estimated from the data)",
    )
    noise.add_argument(
        "--photons",
        type=positive,
        metavar="I0",
        help="CT: photon-count noise instead, I0 photons per detector bin before the object (post-log, "
        "as low-dose CT; 1e4 is low dose, 1e5 moderate)",
    )
    rec.add_argument(
        "--window",
        type=window,
        metavar="LOW,HIGH",
        help="map input values LOW..HIGH to 0..1 (DICOM: HU, default -1000,1000)",
    )
    rec.add_argument("--seed", type=seed, default=0, help="seed of the simulated noise (default 0)")
    rec.add_argument(
        "--select",
        type=choices,
        metavar="NAME=V1,V2",
        help="choose one solver setting for this scan from the measurements alone, by cross-validation "
        "on held-out views (one more reconstruction per value), e.g. tv_weight=0,0.003,0.03",
    )
    rec.add_argument(
        "--fallback",
        default=DEFAULT_FALLBACK,
        choices=(*CLASSICAL_SOLVERS, "none"),
        help="diffusion solvers: first check the prior against this classical solver on held-out views, "
        f"and keep the classical reconstruction unless the prior predicts them clearly better (default "
        f"{DEFAULT_FALLBACK}; none: trust the prior)",
    )
    rec.add_argument(
        "--samples",
        type=positive_int,
        default=1,
        metavar="K",
        help="diffusion solvers: reconstruct the mean of K posterior samples (one batch) and show their "
        "per-pixel standard deviation in the figure (default 1)",
    )
    rec.add_argument("--device", default="auto", choices=DEVICE_CHOICES, help="default: auto (CUDA when present)")
    rec.add_argument(
        "--precision",
        default="auto",
        choices=PRECISIONS,
        help="the prior network's arithmetic (default auto: bf16 on a CUDA GPU that supports it, fp32 on CPUs)",
    )
    rec.add_argument(
        "--out", metavar="FILE", help="write the reconstruction (.png or .npy; a volume .nii.gz/.nii/.npy)"
    )
    rec.add_argument("--figure", metavar="FILE", help="write ground truth | baseline | reconstruction (.png)")
    rec.add_argument("--no-save", action="store_true", help="with a prior: write no files unless --out/--figure")
    rec.add_argument("--json", action="store_true", help="print one JSON object instead of a summary")
    group = rec.add_argument_group(
        "solver settings",
        "Each setting a solver takes defaults to the solver's generic value, or to the value tuned for the "
        "preset and the prior's kind where the operator is that preset (invsolve/solvers/tuned.toml, "
        "each row with its validation log); the defaults below come from those two tables.",
    )
    table = _tuned_rows()
    for name, (what, kind) in SETTINGS.items():
        option = {"choices": kind} if isinstance(kind, tuple) else {"type": kind}
        group.add_argument(f"--{name.replace('_', '-')}", help=f"{what} ({setting_defaults(name, table)})", **option)


def _tuned_rows() -> tuple:
    """The tuned table's rows, or none where it cannot be read (then a run names the problem)."""
    from invsolve.errors import InvsolveError
    from invsolve.solvers.settings import read_tuned

    try:
        return read_tuned().rows
    except InvsolveError:
        return ()


def setting_defaults(name: str, tuned_rows) -> str:
    """``generic: dds 50, dps/langevin/pc/ddnm/diffpir 100; tuned: dds on ct20/ct8 50, ...``, from the
    settings table (generic values) and the tuned table, grouped by value."""
    generic: dict[str, list[str]] = {}
    for solver, values in GENERIC.items():
        if name in values:
            generic.setdefault(_shown(values[name], name), []).append(solver)
    tuned: dict[tuple[str, str], list[str]] = {}
    for row in tuned_rows:
        if name in row.settings:
            presets = tuned.setdefault((row.solver, _shown(row.settings[name], name)), [])
            if row.preset not in presets:
                presets.append(row.preset)
    text = "generic: " + ", ".join(f"{'/'.join(solvers)} {value}" for value, solvers in generic.items())
    if tuned:
        text += "; tuned: " + ", ".join(f"{solver} on {'/'.join(p)} {value}" for (solver, value), p in tuned.items())
    return text


def _shown(value, name: str) -> str:
    if value is None:
        return {"lam": "none (pass it)", "rho": "rho-factor x lam"}.get(name, "the prior's")
    return f"{value:g}" if isinstance(value, float) else str(value)


def json_report(report: dict) -> str:
    """The report as strict JSON: a score that is not finite (PSNR of a perfect reconstruction is
    infinite) becomes null, with the reason under ``notes``; JSON has no Infinity or NaN."""
    notes = {}
    for key, value in report.items():
        if isinstance(value, float) and not math.isfinite(value):
            notes[key] = f"{value} (not a JSON number): " + (
                "the reconstruction equals the ground truth" if value == math.inf else "undefined for these images"
            )
    clean = {key: (None if key in notes else value) for key, value in report.items()}
    return json.dumps(clean | ({"notes": notes} if notes else {}), allow_nan=False)


def run(args, argv) -> int:
    from invsolve.io import check_distinct, check_output
    from invsolve.reconstruction import (
        FIGURE_SUFFIXES,
        OUTPUT_SUFFIXES,
        VOLUME_OUTPUT_SUFFIXES,
        reconstruct,
        resolve_prior_name,
    )

    out, figure = args.out, args.figure
    if args.prior and not args.no_save:  # a diffusion run takes a while: keep what it made unless told not to
        stem = f"{args.op}-{prior_label(resolve_prior_name(args.prior, args.op))}"
        out, figure = out or f"{stem}{'.nii.gz' if args.volume else '.png'}", figure or f"{stem}-figure.png"
    check_output(out, VOLUME_OUTPUT_SUFFIXES if args.volume else OUTPUT_SUFFIXES, "--out")
    check_output(figure, FIGURE_SUFFIXES, "--figure")
    inputs = {"--input": args.input, "--measurement": args.measurement, "--volume": args.volume}
    check_distinct(inputs, {"--out": out, "--figure": figure})
    settings = {name: getattr(args, name) for name in SETTINGS}
    result = reconstruct(
        args.op,
        prior=args.prior,
        solver=args.solver,
        image=args.input,
        measurement=args.measurement,
        volume=args.volume,
        slices=args.slices,
        image_size=args.image_size,
        noise=args.noise,
        photons=args.photons,
        window=args.window,
        seed=args.seed,
        samples=args.samples,
        select=args.select,
        fallback=None if args.fallback == "none" else args.fallback,
        device=args.device,
        precision=args.precision,
        progress=not args.json and sys.stderr.isatty(),
        **settings,
    )
    written = result.save(out, figure)
    if args.json:
        print(json_report({**result.report, "out": out, "figure": figure}))
    else:
        print("\n".join([result.summary(), *(f"  wrote {path}" for path in written)]))
    return 0
