"""The README's main job, timed end to end as a user runs it (a fresh process: imports, loading the
bundled prior, simulating, reconstructing, writing the image and the figure).

    python -m invsolve.benchmarks.main_job [--op ct8] [--prior padis] [--repeat 1] [-- extra reconstruct flags]

Prints the wall time of each run and the PSNR/SSIM of the baseline and the reconstruction.
Target (issue 8): at most 120 s on a 2-core CPU, PSNR above the baseline's.
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time

import torch


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m invsolve.benchmarks.main_job", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--op", default="ct8")
    parser.add_argument("--prior", default="padis")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("extra", nargs="*", help="more invsolve reconstruct flags (after --)")
    args = parser.parse_args(argv)
    command = ["invsolve", "reconstruct", "--op", args.op, "--prior", args.prior, "--json", *args.extra]
    print(f"# {' '.join(command)}  ({torch.get_num_threads()} threads available to torch)")
    for run in range(args.repeat):
        with tempfile.TemporaryDirectory() as folder:
            start = time.perf_counter()
            done = subprocess.run(command, cwd=folder, capture_output=True, text=True)
            wall = time.perf_counter() - start
        if done.returncode != 0:
            sys.exit(f"the command failed ({done.returncode}): {done.stderr.strip()}")
        report = json.loads(done.stdout)
        print(f"run {run + 1}: {wall:.1f} s wall ({report['seconds']:.1f} s solving, {report['nfe']} NFEs on "
              f"{report['device']}); {report['baseline']} {report['baseline_psnr']:.2f} dB / "
              f"{report['baseline_ssim']:.3f}, {report['solver']} {report['psnr']:.2f} dB / {report['ssim']:.3f}; "
              f"target <= 120 s: {'met' if wall <= 120 else 'NOT met'}", flush=True)


if __name__ == "__main__":
    main()
