"""The ``invsolve`` command line.

    invsolve reconstruct --op ct8 [--prior FILE --solver dps | --solver admm-tv] [--input FILE] [--json]

Bad input gives one line on stderr and exit status 2; outputs are written atomically.
"""

import argparse
import json
import os
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import torch

from invsolve.data import SOURCE_FOR_DOMAIN, SPLITS, get_source
from invsolve.devices import DEVICE_CHOICES, resolve_device
from invsolve.errors import InvsolveError
from invsolve.figures import save_comparison
from invsolve.io import atomic_write, read_image, read_measurement, write_image
from invsolve.metrics import psnr, ssim
from invsolve.operators import PRESETS, get_preset, make_operator
from invsolve.priors import NETWORK_SIZES, PatchPrior, TrainingConfig, load, train
from invsolve.priors.training import companion_paths
from invsolve.solvers.diffusion import DPS_STARTS
from invsolve.solvers.prior_sampling import SAMPLING_METHODS, sample_prior
from invsolve.solvers.schedule import SCHEDULE_KINDS
from invsolve.units import CT_WINDOW_HU
from invsolve.solvers import SOLVERS, get_solver, preferred_solver

OUTPUT_SUFFIXES = (".png", ".npy")
PRIOR_KINDS = ("padis", "whole")


class _Parser(argparse.ArgumentParser):
    """argparse, but usage errors are one line (and exit 2) like every other input error."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _window(text: str) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"window must be LOW,HIGH (e.g. -1000,1000), got {text!r}") from None
    return lo, hi


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="invsolve", description="Reconstruct images from incomplete, noisy measurements.")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    rec = commands.add_parser("reconstruct", help="reconstruct one image from (simulated or given) measurements",
                              description="Simulate measurements of a ground-truth image (or read measured data) "
                                          "and reconstruct it.")
    rec.add_argument("--op", required=True, choices=list(PRESETS), metavar="{" + ",".join(PRESETS) + "}",
                     help="forward operator preset")
    rec.add_argument("--solver", choices=list(SOLVERS), metavar="{" + ",".join(SOLVERS) + "}",
                     help="reconstruction method (default with --prior: dps, diffpir for deblur and sr4; "
                          "admm-tv without)")
    rec.add_argument("--prior", metavar="PRIOR",
                     help="padis or whole (the bundled prior for the operator: -ct for CT, -photo otherwise), a "
                          "bundled name (padis-ct, whole-ct, padis-photo, whole-photo) or a file from invsolve train; "
                          "for dps, langevin, pc, ddnm, diffpir. Writes OP-PRIOR.png and OP-PRIOR-figure.png unless --out, "
                          "--figure or --no-save say otherwise")
    given = rec.add_mutually_exclusive_group()
    given.add_argument("--input", metavar="FILE",
                       help="ground-truth image to simulate measurements from (PNG/JPEG/TIFF/NPY/DICOM); default: "
                            "the first test image of the built-in source (phantoms for CT, photos otherwise)")
    given.add_argument("--measurement", metavar="FILE", help="measured data (.npy) to reconstruct; no ground truth")
    rec.add_argument("--image-size", type=int, metavar="N",
                     help="image side in pixels (default: the size the prior was trained for; 128 without a prior)")
    rec.add_argument("--noise", type=float, metavar="SIGMA",
                     help="measurement noise std (default: the preset's: 0 for CT, 0.01 otherwise)")
    rec.add_argument("--window", type=_window, metavar="LOW,HIGH",
                     help="map input values LOW..HIGH to 0..1 (DICOM: HU, default -1000,1000)")
    rec.add_argument("--seed", type=int, default=0, help="seed of the simulated noise (default 0)")
    rec.add_argument("--device", default="auto", choices=DEVICE_CHOICES, help="default: auto (CUDA when present)")
    rec.add_argument("--out", metavar="FILE", help="write the reconstruction (.png or .npy)")
    rec.add_argument("--figure", metavar="FILE", help="write ground truth | baseline | reconstruction (.png)")
    rec.add_argument("--no-save", action="store_true", help="with a prior: write no files unless --out/--figure")
    rec.add_argument("--json", action="store_true", help="print one JSON object instead of a summary")
    tv = rec.add_argument_group("ADMM-TV settings (default: tuned per preset)")
    tv.add_argument("--lam", type=float, help="TV weight lambda (diffpir: the prior's weight against the data)")
    tv.add_argument("--rho", type=float, help="ADMM penalty rho")
    tv.add_argument("--iterations", type=int, help="ADMM iterations")
    tv.add_argument("--tv", choices=["isotropic", "anisotropic"], help="TV flavour (default isotropic)")
    diffusion = rec.add_argument_group("diffusion solver settings (dps, langevin, pc, ddnm, diffpir)")
    diffusion.add_argument("--steps", type=int, help="noise levels (default 100)")
    diffusion.add_argument("--inner", type=int, help="iterations per noise level (default 10; pc: 1; diffpir has none)")
    diffusion.add_argument("--zeta", type=float, help="data step size (dps, langevin, pc)")
    diffusion.add_argument("--snr", type=float, help="pc corrector signal-to-noise ratio (default 0.16)")
    diffusion.add_argument("--xi", type=float, help="diffpir: share of fresh noise per level, 0 to 1 (default: tuned per preset, else 0.1)")
    diffusion.add_argument("--sigma-max", type=float, help="largest noise level (default: the prior's)")
    diffusion.add_argument("--sigma-min", type=float, help="smallest noise level (default: the prior's)")
    diffusion.add_argument("--schedule", choices=SCHEDULE_KINDS, help="noise levels: edm (rho 7, default) or geometric")
    diffusion.add_argument("--start", choices=DPS_STARTS, help="dps: start from the baseline (default) or from noise")

    data = commands.add_parser("data", help="look at the built-in image sources or a folder of images")
    data_commands = data.add_subparsers(dest="data_command", required=True, parser_class=_Parser)
    show = data_commands.add_parser("show", help="draw the first images of a source as a labelled grid (PNG)")
    show.add_argument("source", help="phantoms, photos or a folder path")
    show.add_argument("--split", default="test", choices=SPLITS)
    show.add_argument("--count", type=int, default=8, help="number of images (default 8)")
    show.add_argument("--columns", type=int, default=4)
    show.add_argument("--image-size", type=int, default=128, metavar="N")
    show.add_argument("--channels", type=int, choices=[1, 3], help="default: the source's own")
    show.add_argument("--out", required=True, metavar="FILE.png")
    prepare = data_commands.add_parser(
        "prepare", help="turn your copy of AAPM CT or CelebA-HQ into train/validation/test folders",
        description="aapm: DICOM volumes -> 256x256 slices in [0,1] (16-bit PNG), 9 volumes train, 25 slices of the "
                    "tenth test, 25 slices of the ninth validation. celeba: images -> 256x256 RGB PNG, the first "
                    "3000 train, a seeded 25 of the rest test and 25 validation.")
    prepare.add_argument("dataset", choices=["aapm", "celeba"])
    prepare.add_argument("src", metavar="SRC", help="folder holding the original files (searched recursively)")
    prepare.add_argument("dst", metavar="DST", help="output folder (gets train/, validation/, test/)")
    prepare.add_argument("--size", type=int, default=256, help="image side (default 256)")
    prepare.add_argument("--test", type=int, default=25, help="test images (default 25)")
    prepare.add_argument("--validation", type=int, default=25, help="validation images (default 25)")
    prepare.add_argument("--train", type=int, default=3000, help="celeba: training images (default 3000)")
    prepare.add_argument("--slices", type=int, default=256, help="aapm: middle slices kept per volume (default 256)")
    prepare.add_argument("--window", type=_window, default=CT_WINDOW_HU, metavar="LOW,HIGH",
                         help="aapm: HU mapped to 0..1 (default %g,%g)" % CT_WINDOW_HU)
    prepare.add_argument("--seed", type=int, default=0, help="celeba: seed of the test/validation draw")
    _add_train_parser(commands)
    _add_bench_parser(commands)
    _add_sample_parser(commands)
    return parser


def _add_sample_parser(commands) -> None:
    sample = commands.add_parser(
        "sample", help="draw unconditional samples from a trained prior (what did it learn?)",
        description="Draw samples from a prior alone, no measurements: annealed Langevin dynamics (the prior "
                    "half of PaDIS Algorithm 1) or the reverse VE SDE, over the prior's sigma range.")
    sample.add_argument("--prior", required=True, metavar="FILE", help="a prior file from invsolve train")
    sample.add_argument("-n", "--count", type=int, default=4, help="number of samples (default 4)")
    sample.add_argument("--out", required=True, metavar="FILE.png", help="a labelled grid of the samples (.png); "
                                                                         ".npy keeps the raw (n, C, N, N) array")
    sample.add_argument("--method", default="langevin", choices=SAMPLING_METHODS, help="default: langevin")
    sample.add_argument("--steps", type=int, default=100, help="noise levels (default 100)")
    sample.add_argument("--inner", type=int, default=5, help="Langevin iterations per level (default 5)")
    sample.add_argument("--schedule", default="edm", choices=SCHEDULE_KINDS, help="default: edm (rho 7)")
    sample.add_argument("--image-size", type=int, metavar="N", help="default: the size the prior was trained for")
    sample.add_argument("--fixed-grid", action="store_true", help="ablation: one fixed patch grid, no random shift")
    sample.add_argument("--no-positional", action="store_true", help="ablation: zero the position channels")
    sample.add_argument("--patch-size", type=int, help="inference patch size (default: the prior's)")
    sample.add_argument("--pad", type=int, help="inference pad (default: the tightest for the grid)")
    sample.add_argument("--columns", type=int, default=4)
    sample.add_argument("--seed", type=int, default=0)
    sample.add_argument("--device", default="auto", choices=DEVICE_CHOICES)


def _int_list(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None


def _float_list(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None


def _add_bench_parser(commands) -> None:
    bench = commands.add_parser("bench", help="run benchmark suites (TOML), tune a method, report tables and figures")
    bench_commands = bench.add_subparsers(dest="bench_command", required=True, parser_class=_Parser)
    run = bench_commands.add_parser(
        "run", help="run a suite's cells (resumable; sharded under torchrun or SLURM)",
        description="Run every (task, method, test image, seed) cell of a suite that the output folder does not hold "
                    "yet. Under `torchrun --nproc_per_node K` or SLURM (RANK/WORLD_SIZE) each rank runs its share "
                    "and writes its own results file.")
    tune = bench_commands.add_parser(
        "tune", help="grid-search one method's settings on the validation split",
        description="Run METHOD at every combination of the --param values on the suite's validation images "
                    "(never the test images) and write the best values per task to OUT/tuned.toml.")
    for p in (run, tune):
        p.add_argument("suite", metavar="SUITE.toml")
        p.add_argument("--out", metavar="DIR", help="output folder (default: bench-NAME, or bench-NAME-tune-METHOD)")
        p.add_argument("--limit", type=int, metavar="N", help="images per task (default: the suite's count)")
        p.add_argument("--tasks", type=_names, metavar="a,b", help="run these tasks only")
        p.add_argument("--device", default="auto", choices=DEVICE_CHOICES, help="default: auto (CUDA when present)")
        p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="overrides",
                       help="override a suite value, e.g. methods.padis.prior.ct=my.safetensors (repeatable)")
    run.add_argument("--methods", type=_names, metavar="a,b", help="run these methods only")
    tune.add_argument("--method", required=True, help="the suite's method to tune")
    tune.add_argument("--param", action="append", required=True, metavar="NAME=V1,V2",
                      help="values to try, e.g. zeta=0.1,0.3,1 (repeatable: the grid is every combination)")
    rep = bench_commands.add_parser("report", help="merge results into report.md, CSVs and figures")
    rep.add_argument("out", metavar="DIR")


def _names(text: str) -> list[str]:
    return [name.strip() for name in text.split(",") if name.strip()]


def bench(args) -> int:
    from invsolve.benchmarks.report import report
    from invsolve.benchmarks.runner import run_suite
    from invsolve.benchmarks.suite import load_suite
    from invsolve.benchmarks.tuning import parse_grid, tune

    if args.bench_command == "report":
        written = report(args.out)
        print(written["markdown"])
        print(f"wrote {', '.join(map(str, written['files'] + written['figures']))} ({written['cells']} cells)")
        return 0
    if args.limit is not None and args.limit < 1:
        raise InvsolveError(f"--limit must be at least 1, got {args.limit}")
    suite = load_suite(args.suite, args.overrides).select(args.tasks, getattr(args, "methods", None))
    progress = sys.stderr.isatty()
    if args.bench_command == "run":
        done = run_suite(suite, args.out or f"bench-{suite.name}", limit=args.limit, device=args.device,
                         progress=progress)
        print(f"rank {done['rank']}/{done['world']}: ran {done['ran']} cells, {done['skipped']} already finished, "
              f"{done['mine']} of {done['cells']} are this rank's; results in {done['out']} "
              f"(invsolve bench report {done['out']})")
        return 0
    out = args.out or f"bench-{suite.name}-tune-{args.method}"
    chosen = tune(suite, args.method, parse_grid(args.param), out, limit=args.limit, device=args.device,
                  progress=progress)
    if "pending" in chosen:
        print(f"{chosen['pending']} cells are still running on other ranks; the last rank writes {out}/tuned.toml")
        return 0
    for row in chosen["table"]:
        print("  ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in row.items()))
    print(chosen["toml"] + f"(written to {out}/tuned.toml)")
    return 0


def _add_train_parser(commands) -> None:
    defaults = TrainingConfig(out="")
    train = commands.add_parser(
        "train", help="train a PaDIS patch prior or a whole-image prior",
        description="Train a diffusion prior with the EDM loss. One process by default; under "
                    "`torchrun --nproc_per_node K` each process trains a DDP replica (gloo on CPU, nccl on GPU).")
    train.add_argument("--prior", default="padis", choices=["padis", "whole"], help="default: padis")
    train.add_argument("--data", default=defaults.data, metavar="{phantoms,photos,DIR}",
                       help="training images: phantoms, photos or a folder (its train/ subfolder if it has one)")
    train.add_argument("--image-size", type=int, default=defaults.image_size, metavar="N",
                       help=f"image side (default {defaults.image_size})")
    train.add_argument("--channels", type=int, choices=[1, 3], help="default: the data's own")
    train.add_argument("--patch-sizes", type=_int_list, default=defaults.patch_sizes, metavar="P1,P2,...",
                       help="patch sizes drawn per step (default 32,16,8); the largest is used at inference")
    train.add_argument("--patch-probs", type=_float_list, default=defaults.patch_probs, metavar="p1,p2,...",
                       help="their probabilities (default 0.5,0.3,0.2)")
    train.add_argument("--pad", type=int, help="zero border of the training images (default: the tightest grid pad "
                                               "of the largest patch, N//P*P+P-N capped at P-1)")
    train.add_argument("--no-positional", dest="positional", action="store_false",
                       help="train without position channels (the paper's ablation)")
    train.add_argument("--net", default=defaults.net, choices=list(NETWORK_SIZES), help="network size (default small)")
    train.add_argument("--batch", type=int, default=defaults.batch,
                       help="patches per step at the largest patch size; smaller patches get proportionally more "
                            f"(default {defaults.batch})")
    train.add_argument("--lr", type=float, default=defaults.lr, help=f"Adam learning rate (default {defaults.lr:g})")
    train.add_argument("--ema-halflife", type=float, default=defaults.ema_halflife, metavar="IMAGES",
                       help="EMA half-life in images, ramped up as 5%% of the images seen (default 500000)")
    train.add_argument("--max-images", type=int, metavar="N",
                       help="train on the first N images only (default: all; phantoms: 1000)")
    train.add_argument("--duration", default=defaults.duration,
                       help="training time (30m, 2h) or images (200k, 1.5M); default 30m")
    train.add_argument("--checkpoint-every", default=defaults.checkpoint_every, metavar="TIME",
                       help="save the prior and the training state this often (default 10m)")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--device", default="auto", choices=DEVICE_CHOICES)
    train.add_argument("--out", required=True, metavar="FILE.safetensors",
                       help="the prior file; FILE.state.safetensors (for --resume) and FILE.log.csv go beside it")
    train.add_argument("--resume", action="store_true", help="continue the run whose state is beside --out")


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "reconstruct":
            return reconstruct(args)
        if args.command == "data":
            return show_data(args) if args.data_command == "show" else prepare_data(args)
        if args.command == "sample":
            return sample_from_prior(args)
        if args.command == "train":
            return train_prior(args, argv if argv is not None else sys.argv[1:])
        if args.command == "bench":
            return bench(args)
    except InvsolveError as err:
        print(f"invsolve {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("invsolve: interrupted", file=sys.stderr)
        return 130
    return 0


def _check_output(path: str | None, suffixes: tuple[str, ...], flag: str) -> None:
    """Fail before any work, not after a long run, when an output cannot be written."""
    if path is None:
        return
    p = Path(path)
    if p.suffix.lower() not in suffixes:
        raise InvsolveError(f"{flag} {path}: the file name must end in {' or '.join(suffixes)}")
    if not p.parent.is_dir():
        raise InvsolveError(f"{flag} {path}: folder {p.parent} does not exist")


def reconstruct(args) -> int:
    preset = get_preset(args.op)
    if args.prior in PRIOR_KINDS:  # the bundled prior of the operator's domain: padis-ct, whole-photo, ...
        args.prior = f"{args.prior}-{preset.domain}"
    if args.prior and not args.no_save:  # a diffusion run takes a while: keep what it made unless told not to
        stem = f"{args.op}-{_prior_name(args.prior)}"
        args.out, args.figure = args.out or f"{stem}.png", args.figure or f"{stem}-figure.png"
    _check_output(args.out, OUTPUT_SUFFIXES, "--out")
    _check_output(args.figure, (".png",), "--figure")
    args.solver = args.solver or (preferred_solver(args.op) if args.prior else "admm-tv")
    solver = get_solver(args.solver)
    device = resolve_device(args.device)
    prior = load(args.prior, device) if args.prior else None
    if args.image_size is None:
        args.image_size = prior.image_size if prior is not None else 128
    if args.image_size < 8:
        raise InvsolveError(f"--image-size must be at least 8, got {args.image_size}")

    truth = None
    if args.measurement:
        y = read_measurement(args.measurement)
        y = y[None] if y.dim() == 2 else y  # (m1, m2) -> one channel
        if y.dim() != 3:
            raise InvsolveError(f"{args.measurement} has shape {tuple(y.shape)}; expected (C, ...) measurements "
                                "of one image, e.g. (views, bins) for CT")
        op = make_operator(args.op, args.image_size, channels=y.shape[0], device=device, noise=args.noise)
        y = y[None].to(device)
        op.check_measurement(y)
        source_label = args.measurement
    else:
        if args.input:
            truth = read_image(args.input, channels=preset.channels, image_size=args.image_size, window=args.window)
            source_label = args.input
        else:
            source = get_source(SOURCE_FOR_DOMAIN[preset.domain], "test", args.image_size, preset.channels)
            truth = source[0]
            source_label = f"{source.name}:test:{source.label(0)}"
        op = make_operator(args.op, args.image_size, channels=truth.shape[0], device=device, noise=args.noise)
        truth = truth[None].to(device)
        y = op.simulate(truth, torch.Generator().manual_seed(args.seed))

    overrides = {"lam": args.lam, "rho": args.rho, "iterations": args.iterations, "tv": args.tv,
                 "steps": args.steps, "inner": args.inner, "zeta": args.zeta, "snr": args.snr, "xi": args.xi,
                 "sigma_max": args.sigma_max, "sigma_min": args.sigma_min, "schedule": args.schedule,
                 "start": args.start}
    settings = solver.settings(op, **overrides)  # a setting the solver does not take is an error, not ignored
    baseline = op.baseline(y)
    start = time.perf_counter()
    info = {}
    recon = solver(op, y, prior, info=info, generator=torch.Generator(device).manual_seed(args.seed),
                   progress=not args.json and sys.stderr.isatty(), **settings)
    seconds = time.perf_counter() - start
    if not torch.isfinite(recon).all():
        raise InvsolveError(f"{args.solver} produced non-finite values; try other solver settings")

    scores = {"psnr": None, "ssim": None, "baseline_psnr": None, "baseline_ssim": None}
    if truth is not None:
        scores = {"psnr": psnr(recon[0], truth[0]), "ssim": ssim(recon[0], truth[0]),
                  "baseline_psnr": psnr(baseline[0], truth[0]), "baseline_ssim": ssim(baseline[0], truth[0])}
    if args.out:
        write_image(args.out, recon[0])
    if args.figure:
        save_comparison(args.figure, _figure_panels(op.baseline_name, _method_label(args.solver, args.prior), truth,
                                                    baseline, recon, scores),
                        title=f"{args.op}: {preset.summary}")

    report = {"op": args.op, "solver": args.solver, **scores, "seconds": round(seconds, 3), "nfe": info["nfe"],
              "prior": args.prior, "input": source_label,
              "image_size": args.image_size, "channels": op.image_shape[0], "noise": op.noise_sigma,
              "baseline": op.baseline_name, "seed": args.seed, "device": str(device), "settings": settings,
              "operator": op.describe(), "out": args.out, "figure": args.figure}
    print(json.dumps(report) if args.json else _summary(report))
    return 0


def train_prior(args, argv) -> int:
    _check_output(args.out, (".safetensors",), "--out")
    config = TrainingConfig(**{k: v for k, v in vars(args).items() if k != "command"},
                            command=shlex.join(["invsolve", *argv]))
    out = train(config, progress=sys.stderr.isatty())
    if int(os.environ.get("RANK", "0")) == 0:
        trained = load(out).config["training"]
        _, state, log = companion_paths(out)
        print(f"wrote {out}: {trained['steps']} steps, {trained['images']:.0f} images in {trained['seconds']:.0f} s; "
              f"loss log {log}, training state {state}")
    return 0


def sample_from_prior(args) -> int:
    _check_output(args.out, (".png", ".npy"), "--out")
    device = resolve_device(args.device)
    ablations = {"random_shift": False if args.fixed_grid else None,
                 "positional_encoding": False if args.no_positional else None,
                 "patch_size": args.patch_size, "pad": args.pad}
    prior = load(args.prior, device, **{k: v for k, v in ablations.items() if v is not None})
    generator = torch.Generator(device).manual_seed(args.seed)
    start = time.perf_counter()
    samples, nfe = sample_prior(prior, args.count, image_size=args.image_size, method=args.method, steps=args.steps,
                                inner=args.inner, schedule=args.schedule, generator=generator, device=device,
                                progress=sys.stderr.isatty())
    seconds = time.perf_counter() - start
    if args.out.lower().endswith(".npy"):
        atomic_write(args.out, lambda f: np.save(f, samples.cpu().numpy()))
    else:
        panels = [(f"seed {args.seed}, #{i + 1}", image) for i, image in enumerate(samples)]
        save_comparison(args.out, panels, rows=-(-args.count // max(args.columns, 1)), panel_inches=2.2,
                        title=f"{Path(args.prior).name}\n{_prior_label(prior)}; {args.method}, {nfe} NFEs")
    print(f"wrote {args.out}: {args.count} samples, {nfe} NFEs in {seconds:.1f} s on {device} ({prior.describe()})")
    return 0


def _prior_label(prior) -> str:
    if not isinstance(prior, PatchPrior):
        return "whole-image prior"
    grid = "random-shift grid" if prior.random_shift else "fixed grid"
    positions = "" if prior.positional_encoding else ", no positions"
    return f"PaDIS, {prior.patch_size}px patches, {grid}{positions}"


def show_data(args) -> int:
    _check_output(args.out, (".png",), "--out")
    source = get_source(args.source, args.split, args.image_size, args.channels)
    count = min(args.count, len(source))
    if count < 1:
        raise InvsolveError(f"--count must be at least 1, got {args.count}")
    panels = [(source.label(i), source[i]) for i in range(count)]
    rows = -(-count // max(args.columns, 1))
    save_comparison(args.out, panels, rows=rows, title=f"{args.source} ({args.split}, {args.image_size}x"
                                                       f"{args.image_size})", panel_inches=2.2)
    print(f"wrote {args.out}: {count} of {len(source)} {args.split} images of {args.source}")
    return 0


def prepare_data(args) -> int:
    from invsolve.data.prepare import prepare_aapm, prepare_celeba

    if args.dataset == "aapm":
        counts = prepare_aapm(args.src, args.dst, size=args.size, slices=args.slices, test_slices=args.test,
                              validation=args.validation, window=args.window)
    else:
        counts = prepare_celeba(args.src, args.dst, size=args.size, train=args.train, test=args.test,
                                validation=args.validation, seed=args.seed)
    print(f"wrote {args.dst}: " + ", ".join(f"{n} {split}" for split, n in counts.items()) +
          f" images ({args.size}x{args.size}); sources listed in {args.dst}/prepared.json")
    return 0


def _prior_name(prior: str) -> str:
    """``padis-ct`` for the bundled name or for ``.../padis-ct.safetensors``."""
    return Path(prior).name.removesuffix(".safetensors")


def _method_label(solver: str, prior: str | None) -> str:
    """``dps + padis-ct``: the solver and, for a diffusion solver, the prior it ran with."""
    return solver if not prior else f"{solver} + {_prior_name(prior)}"


def _figure_panels(baseline_name, solver_name, truth, baseline, recon, scores):
    def title(name, p, s):
        return name if p is None else f"{name}\nPSNR {p:.2f} dB  SSIM {s:.3f}"

    panels = [] if truth is None else [("ground truth", truth[0])]
    return panels + [(title(baseline_name, scores["baseline_psnr"], scores["baseline_ssim"]), baseline[0]),
                     (title(solver_name, scores["psnr"], scores["ssim"]), recon[0])]


def _summary(r: dict) -> str:
    lines = [f"{r['op']} on {r['input']} ({r['image_size']}x{r['image_size']}, {r['channels']} channel(s), "
             f"noise {r['noise']:g})"]
    method = _method_label(r["solver"], r["prior"])
    rows = ((r["baseline"], r["baseline_psnr"], r["baseline_ssim"]), (method, r["psnr"], r["ssim"]))
    width = max(20, *(len(name) for name, _, _ in rows))
    for name, p, s in rows:
        lines.append(f"  {name:<{width}} " + ("(no ground truth)" if p is None else f"PSNR {p:6.2f} dB   SSIM {s:.3f}"))
    lines.append(f"  {method} took {r['seconds']:.1f} s on {r['device']}" + (f", {r['nfe']} NFEs" if r["nfe"] else ""))
    lines += [f"  wrote {path}" for path in (r["out"], r["figure"]) if path]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
