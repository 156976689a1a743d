"""The ``invsolve`` command line.

    invsolve reconstruct --op ct8 --solver admm-tv [--input FILE | --measurement FILE] [--json]

Bad input gives one line on stderr and exit status 2; outputs are written atomically.
"""

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from invsolve.data import SOURCE_FOR_DOMAIN, SPLITS, get_source
from invsolve.devices import DEVICE_CHOICES, resolve_device
from invsolve.errors import InvsolveError
from invsolve.figures import save_comparison
from invsolve.io import read_image, read_measurement, write_image
from invsolve.metrics import psnr, ssim
from invsolve.operators import PRESETS, get_preset, make_operator
from invsolve.solvers import SOLVERS, get_solver

OUTPUT_SUFFIXES = (".png", ".npy")


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
    rec.add_argument("--solver", default="admm-tv", choices=list(SOLVERS),
                     metavar="{" + ",".join(SOLVERS) + "}", help="reconstruction method (default: admm-tv)")
    given = rec.add_mutually_exclusive_group()
    given.add_argument("--input", metavar="FILE",
                       help="ground-truth image to simulate measurements from (PNG/JPEG/TIFF/NPY/DICOM); default: "
                            "the first test image of the built-in source (phantoms for CT, photos otherwise)")
    given.add_argument("--measurement", metavar="FILE", help="measured data (.npy) to reconstruct; no ground truth")
    rec.add_argument("--image-size", type=int, default=128, metavar="N", help="image side in pixels (default 128)")
    rec.add_argument("--noise", type=float, metavar="SIGMA",
                     help="measurement noise std (default: the preset's: 0 for CT, 0.01 otherwise)")
    rec.add_argument("--window", type=_window, metavar="LOW,HIGH",
                     help="map input values LOW..HIGH to 0..1 (DICOM: HU, default -1000,1000)")
    rec.add_argument("--seed", type=int, default=0, help="seed of the simulated noise (default 0)")
    rec.add_argument("--device", default="auto", choices=DEVICE_CHOICES, help="default: auto (CUDA when present)")
    rec.add_argument("--out", metavar="FILE", help="write the reconstruction (.png or .npy)")
    rec.add_argument("--figure", metavar="FILE", help="write ground truth | baseline | reconstruction (.png)")
    rec.add_argument("--json", action="store_true", help="print one JSON object instead of a summary")
    tv = rec.add_argument_group("ADMM-TV settings (default: tuned per preset)")
    tv.add_argument("--lam", type=float, help="TV weight lambda")
    tv.add_argument("--rho", type=float, help="ADMM penalty rho")
    tv.add_argument("--iterations", type=int, help="ADMM iterations")
    tv.add_argument("--tv", choices=["isotropic", "anisotropic"], help="TV flavour (default isotropic)")

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
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "reconstruct":
            return reconstruct(args)
        if args.command == "data":
            return show_data(args)
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
    _check_output(args.out, OUTPUT_SUFFIXES, "--out")
    _check_output(args.figure, (".png",), "--figure")
    preset = get_preset(args.op)
    solver = get_solver(args.solver)
    device = resolve_device(args.device)
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

    overrides = {"lam": args.lam, "rho": args.rho, "iterations": args.iterations, "tv": args.tv}
    settings = solver.settings(op, **{k: v for k, v in overrides.items() if k in solver.parameters})
    baseline = op.baseline(y)
    start = time.perf_counter()
    recon = solver(op, y, generator=torch.Generator().manual_seed(args.seed),
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
        save_comparison(args.figure, _figure_panels(op.baseline_name, args.solver, truth, baseline, recon, scores),
                        title=f"{args.op}: {preset.summary}")

    report = {"op": args.op, "solver": args.solver, **scores, "seconds": round(seconds, 3), "input": source_label,
              "image_size": args.image_size, "channels": op.image_shape[0], "noise": op.noise_sigma,
              "baseline": op.baseline_name, "seed": args.seed, "device": str(device), "settings": settings,
              "operator": op.describe(), "out": args.out, "figure": args.figure}
    print(json.dumps(report) if args.json else _summary(report))
    return 0


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


def _figure_panels(baseline_name, solver_name, truth, baseline, recon, scores):
    def title(name, p, s):
        return name if p is None else f"{name}\nPSNR {p:.2f} dB  SSIM {s:.3f}"

    panels = [] if truth is None else [("ground truth", truth[0])]
    return panels + [(title(baseline_name, scores["baseline_psnr"], scores["baseline_ssim"]), baseline[0]),
                     (title(solver_name, scores["psnr"], scores["ssim"]), recon[0])]


def _summary(r: dict) -> str:
    lines = [f"{r['op']} on {r['input']} ({r['image_size']}x{r['image_size']}, {r['channels']} channel(s), "
             f"noise {r['noise']:g})"]
    for name, p, s in ((r["baseline"], r["baseline_psnr"], r["baseline_ssim"]), (r["solver"], r["psnr"], r["ssim"])):
        lines.append(f"  {name:<20} " + ("(no ground truth)" if p is None else f"PSNR {p:6.2f} dB   SSIM {s:.3f}"))
    lines.append(f"  {r['solver']} took {r['seconds']:.1f} s on {r['device']}")
    lines += [f"  wrote {path}" for path in (r["out"], r["figure"]) if path]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
