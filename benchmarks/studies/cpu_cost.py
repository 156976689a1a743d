"""What one NFE of a bundled prior costs on this machine, and what the layout and precision variants
buy: GFLOP per evaluation, GFLOP/s, the share of the CPU's fp32 peak, and each variant's time as a
ratio to the default, all measured in one run, interleaved (round-robin), so machine noise hits
every variant alike.

    python -m invsolve.benchmarks.studies.cpu_cost [--prior padis-ct] [--repeats 5] [--quality 4]

Variants: the default contiguous layout under ``torch.no_grad`` (the reference), the same under
``torch.inference_mode`` (what the forward-only samplers run in), channels-last weights (what
``invsolve.priors.load`` gives) and channels-last with the network in bf16 (``load(...,
precision="bf16")``; slow without bf16 units, and the script says whether this CPU has them).
The last column is the largest change of the denoised image against the reference.
"""

import argparse
import os
import re
import time
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

from invsolve.data import get_source
from invsolve.priors import load
from invsolve.priors.patch_prior import PatchPrior


def cpu_peak_gflops(threads: int) -> tuple[float | None, str]:
    """fp32 peak of ``threads`` cores from /proc/cpuinfo: clock x FLOPs per cycle (two FMA units of the
    widest vector width the flags show), or None where the file does not say."""
    try:
        info = Path("/proc/cpuinfo").read_text()
    except OSError:
        return None, "unknown CPU"
    flags = set(re.search(r"^flags\s*:(.*)$", info, re.M).group(1).split())
    mhz = max(float(m) for m in re.findall(r"^cpu MHz\s*:\s*([\d.]+)", info, re.M))
    lanes = 16 if "avx512f" in flags else 8 if "avx2" in flags else 4
    per_cycle = 2 * 2 * lanes  # two FMA units, two FLOPs each per lane
    bf16 = "avx512_bf16" in flags or "amx_bf16" in flags
    width = {16: "AVX-512", 8: "AVX2"}.get(lanes, "SSE")
    label = f"{width}, {mhz:.0f} MHz, bf16 units {'yes' if bf16 else 'no'}"
    return threads * mhz / 1000 * per_cycle, label


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m invsolve.benchmarks.studies.cpu_cost", description=__doc__)
    parser.add_argument("--prior", default="padis-ct")
    parser.add_argument("--repeats", type=int, default=5, help="timed evaluations per variant (default 5)")
    parser.add_argument(
        "--quality",
        type=int,
        default=0,
        metavar="N",
        help="also run DDS with its ct8 defaults on N validation phantoms in each layout and precision and print the "
        "mean PSNR change against the reference (a variant is accepted below 0.05 dB)",
    )
    args = parser.parse_args(argv)

    threads = torch.get_num_threads()
    default = load(args.prior)
    if args.quality and default.channels != 1:
        parser.error("--quality runs ct8, which needs a 1-channel (CT) prior")
    default.network.to(memory_format=torch.contiguous_format)
    last = load(args.prior)
    last_bf16 = load(args.prior, precision="bf16")
    x = get_source(
        "phantoms" if default.channels == 1 else "photos", "validation", default.image_size, default.channels
    )
    x = x[0][None]
    sigma = 0.5

    def evaluate(prior, context):
        with context():
            return prior(x, sigma, generator=torch.Generator().manual_seed(0))

    variants = {
        "contiguous, no_grad (reference)": (default, torch.no_grad),
        "contiguous, inference_mode": (default, torch.inference_mode),
        "channels-last, inference_mode": (last, torch.inference_mode),
        "channels-last, bf16 autocast": (last_bf16, torch.inference_mode),
    }
    with FlopCounterMode(display=False) as counter:
        evaluate(default, torch.no_grad)
    gflop = counter.get_total_flops() / 1e9
    reference = evaluate(default, torch.no_grad)
    differences = {name: (evaluate(*v).float() - reference).abs().max().item() for name, v in variants.items()}
    times = {name: [] for name in variants}
    for _ in range(args.repeats):
        for name, variant in variants.items():
            start = time.perf_counter()
            evaluate(*variant)
            times[name].append(time.perf_counter() - start)

    peak, cpu = cpu_peak_gflops(threads)
    print(f"# {args.prior}: {default.describe()}")
    if isinstance(default, PatchPrior):
        grid = default.grid(default.image_size)
        border = 1 - default.image_size**2 / grid.span**2
        print(
            f"# the patch grid spans {grid.span} px for a {default.image_size} px image: "
            f"{border:.0%} of its pixels are border"
        )
    print(
        f"# {gflop:.1f} GFLOP per evaluation; {threads} threads; CPU: {cpu}; "
        f"fp32 peak {peak or float('nan'):.0f} GFLOP/s"
    )
    print(
        f"# median of {args.repeats} interleaved evaluations each; "
        f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}"
    )
    base = _median(times["contiguous, no_grad (reference)"])
    print(f"{'variant':<34} {'s / NFE':>8} {'ratio':>6} {'GFLOP/s':>8} {'of peak':>8} {'max |diff|':>11}")
    for name, values in times.items():
        seconds = _median(values)
        share = f"{gflop / seconds / peak:8.0%}" if peak else f"{'?':>8}"
        print(
            f"{name:<34} {seconds:8.3f} {seconds / base:6.2f} {gflop / seconds:8.1f} {share} {differences[name]:11.2g}"
        )
    if args.quality:
        print(f"# DDS with its ct8 defaults on {args.quality} validation phantoms, seeded: mean PSNR")
        scores = {
            name: validation_psnr(prior, args.quality)
            for name, prior in (("contiguous", default), ("channels-last", last), ("channels-last, bf16", last_bf16))
        }
        for name, score in scores.items():
            print(f"{name:<34} {score:8.3f} dB  change {score - scores['contiguous']:+.3f} dB")


def validation_psnr(prior, count: int) -> float:
    """Mean PSNR of DDS (the preset's tuned settings) on ``count`` ct8 validation phantoms, seeded."""
    from invsolve.operators import make_operator
    from invsolve.solvers import get_solver
    from invsolve.tasks import run_case

    source = get_source("phantoms", "validation", prior.image_size, 1)
    op, dds = make_operator("ct8", prior.image_size), get_solver("dds")
    return sum(run_case(op, dds, prior, truth=source[i][None], seed=i).psnr for i in range(count)) / count


def _median(values):
    return sorted(values)[len(values) // 2]


if __name__ == "__main__":
    main()
