"""The README's main job, timed end to end as a user meets it: a fresh Python process that imports
invsolve, loads the bundled prior, simulates the measurements, reconstructs with
``invsolve.reconstruct`` (the function behind ``invsolve reconstruct``) and writes the image and the
figure.

    python -m invsolve.benchmarks.studies.main_job [--op ct8] [--prior padis] [--repeat 1] [--setting zeta=1 ...]
        [--fallback none]

Prints the wall time of each run (process start to exit) and the PSNR/SSIM of the baseline and the
reconstruction.
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time

from invsolve.catalog import DEFAULT_FALLBACK

CHILD = "--run-once"


def run_once(op: str, prior: str, settings: list[str], fallback: str) -> None:
    """The timed process: reconstruct, write both files as the command line does, print the report."""
    from invsolve import reconstruct
    from invsolve.catalog import prior_label
    from invsolve.solvers.settings import settings_from

    values = settings_from(settings)
    result = reconstruct(op, prior=prior, fallback=None if fallback == "none" else fallback, **values)
    stem = f"{op}-{prior_label(result.report['prior'])}"
    result.save(f"{stem}.png", f"{stem}-figure.png")
    print(json.dumps(result.report))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m invsolve.benchmarks.studies.main_job",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--op", default="ct8")
    parser.add_argument("--prior", default="padis")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument(
        "--setting",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a solver setting other than the tuned default (repeatable)",
    )
    parser.add_argument(
        "--fallback",
        default=DEFAULT_FALLBACK,
        help=f"the classical solver the prior is checked against (default {DEFAULT_FALLBACK}; none: no check)",
    )
    parser.add_argument(CHILD, action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.run_once:
        run_once(args.op, args.prior, args.setting, args.fallback)
        return
    command = [
        sys.executable,
        "-m",
        "invsolve.benchmarks.studies.main_job",
        CHILD,
        "--op",
        args.op,
        "--prior",
        args.prior,
        *(f"--setting={s}" for s in args.setting),
        f"--fallback={args.fallback}",
    ]
    print(
        f"# reconstruct({args.op!r}, prior={args.prior!r}, fallback={args.fallback!r}) in a fresh process, timed "
        "from its start to its exit"
    )
    for run in range(args.repeat):
        with tempfile.TemporaryDirectory() as folder:
            start = time.perf_counter()
            done = subprocess.run(command, cwd=folder, capture_output=True, text=True)
            wall = time.perf_counter() - start
        if done.returncode != 0:
            sys.exit(f"the run failed ({done.returncode}): {done.stderr.strip()}")
        report = json.loads(done.stdout.strip().splitlines()[-1])
        print(
            f"run {run + 1}: {wall:.1f} s wall ({report['seconds']:.1f} s solving, {report['nfe']} NFEs on "
            f"{report['device']}); {report['baseline']} {report['baseline_psnr']:.2f} dB / "
            f"{report['baseline_ssim']:.3f}, {report['solver']} + {report['prior']} {report['psnr']:.2f} dB / "
            f"{report['ssim']:.3f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
