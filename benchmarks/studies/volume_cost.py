"""What a volume costs: a slab of consecutive slices of the real head CT reconstructed as one volume
with ``invsolve.reconstruct(op, volume=...)`` at its defaults, in a fresh process; prints the wall
time, the seconds per slice, the NFEs, the peak memory and the scores.

    python -m invsolve.benchmarks.studies.volume_cost [--op ct20] [--slices 76:108] [--image-size 256]
        [--prior padis-headct-256] [--setting NAME=VALUE ...] [--fallback admm-tv|none]

The default slab, slices 76-107 (32 slices, the top of the head), lies in the training part of
``headct-slabs``: this measures cost, not quality.
"""

import argparse
import time

from invsolve.catalog import DEFAULT_FALLBACK
from invsolve.cli.options import slab


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m invsolve.benchmarks.studies.volume_cost",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--op", default="ct20")
    parser.add_argument("--slices", type=slab, default=(76, 108), metavar="START:STOP")
    parser.add_argument("--image-size", type=int, default=256)
    parser.add_argument("--prior", default="padis-headct-256")
    parser.add_argument("--setting", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--fallback", default=DEFAULT_FALLBACK)
    args = parser.parse_args(argv)

    from invsolve import reconstruct
    from invsolve.data import headct
    from invsolve.solvers.settings import settings_from

    start = time.perf_counter()
    first, stop = args.slices
    result = reconstruct(
        args.op,
        volume=headct.DEFAULT_PATH,
        slices=args.slices,
        prior=args.prior,
        image_size=args.image_size,
        fallback=None if args.fallback == "none" else args.fallback,
        **settings_from(args.setting),
    )
    wall = time.perf_counter() - start
    r = result.report
    depth = r["depth"]
    print(
        f"{args.op}, {depth} slices of {args.image_size} px (slices {first}-{stop - 1}), {result.method}: "
        f"{wall:.1f} s wall, {r['seconds']:.1f} s solving ({r['seconds'] / depth:.2f} s per slice), "
        f"{r['nfe']} NFEs, peak memory {r['peak_memory_mib'] / 1024:.2f} GiB ({r['memory_kind']}); "
        f"PSNR {r['psnr']:.2f} dB, SSIM {r['ssim']:.3f} (FBP {r['baseline_psnr']:.2f} / {r['baseline_ssim']:.3f})"
    )


if __name__ == "__main__":
    main()
