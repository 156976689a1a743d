"""Does the posterior standard deviation mark where a reconstruction is wrong, above all where the
prior does not fit the scan? Each bundled CT prior on each CT test source (in domain and
mismatched), with DDS at its defaults and no fallback, as the mean of K posterior samples
(``invsolve.reconstruct(..., samples=K)``); per image the PSNR / SSIM of the mean, the mean std and
the correlation of the std map with the absolute error.

    python -m invsolve.benchmarks.studies.uncertainty [--ops ct8,ct20] [--noise 0,0.2] [--samples 4]
        [--images 1] [--figures DIR]

``--figures DIR`` writes each case's figure (ground truth | FBP | mean | std | |error|), as
``invsolve reconstruct --samples K --figure`` does.
"""

import argparse
from pathlib import Path

from invsolve import reconstruct
from invsolve.data import get_source

#: (prior, test source): both bundled CT priors on both their own domains and the other's, and on
#: pydicom's CT_small.dcm, which neither has seen.
PAIRS = [
    ("padis-ct", "phantoms"),
    ("padis-headct", "headct"),
    ("padis-ct", "headct"),
    ("padis-headct", "phantoms"),
    ("padis-ct", "ct-small"),
    ("padis-headct", "ct-small"),
]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m invsolve.benchmarks.studies.uncertainty",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--ops", default="ct8,ct20")
    parser.add_argument("--noise", default="0,0.2", help="Gaussian sinogram noise levels")
    parser.add_argument("--samples", type=int, default=4)
    parser.add_argument("--images", type=int, default=1, help="test images per source (CT_small has one)")
    parser.add_argument("--figures", type=Path)
    args = parser.parse_args(argv)
    print(f"# DDS defaults without fallback, mean of {args.samples} posterior samples, 128 px, seed 0")
    print("op    noise  prior         data      image  PSNR   SSIM   std_mean  corr(std, |error|)")
    for op in args.ops.split(","):
        for noise in map(float, args.noise.split(",")):
            for prior, data in PAIRS:
                source = get_source(data, "test", 128)
                for index in range(min(args.images, len(source))):
                    result = reconstruct(
                        op, prior=prior, image=source[index], noise=noise, samples=args.samples, fallback=None
                    )
                    r = result.report
                    print(
                        f"{op:<5} {noise:<6g} {prior:<13} {data:<9} {index:<6} {r['psnr']:5.2f}  {r['ssim']:.3f}  "
                        f"{r['std_mean']:.4f}    {r['std_error_correlation']:.3f}",
                        flush=True,
                    )
                    if args.figures:
                        args.figures.mkdir(parents=True, exist_ok=True)
                        name = f"{op}-{prior}-on-{data}-noise{noise:g}-{index}.png"
                        result.save(figure=args.figures / name)


if __name__ == "__main__":
    main()
