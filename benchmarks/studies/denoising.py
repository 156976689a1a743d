"""Denoising quality against the noise level: how close D(x0 + sigma n, sigma) comes to x0, per prior.

    python -m invsolve.benchmarks.studies.denoising --priors padis-ct,whole-ct [--data phantoms] [--split validation]
        [--images 8] [--image-size 128] [--sigmas 1,0.5,0.2,0.1,0.05,0.02,0.01] [--figure denoising.png] [--volume]

A diffusion sampler is only as good as its denoiser at the levels it visits. This isolates the
prior from the solver and the operator: every prior denoises the same images with the same noise
(and PaDIS the same patch shifts), and the table gives the mean PSNR (dB, clamped to [0, 1] as the
benchmarks score reconstructions) per noise level, and each prior's difference to the first
(prior files are labelled by their name without the folder and suffix).
High noise levels show what a prior knows of the image's layout, low ones its fine detail.
``--volume`` denoises the images as one volume, in order (consecutive slices, e.g. a slab of
``headct-slabs``), as the solvers denoise a volume: a cross-slice prior sees each slice with its
neighbours.
"""

import argparse

import torch

from invsolve.catalog import prior_label
from invsolve.cli.options import positive
from invsolve.errors import InvsolveError
from invsolve.metrics import psnr

DEFAULT_SIGMAS = "1,0.5,0.2,0.1,0.05,0.02,0.01"


def denoising_psnr(
    priors: dict, images: torch.Tensor, sigmas: list[float], seed: int = 0, volume: bool = False
) -> dict[str, list[float]]:
    """{name: [mean PSNR of prior(images + sigma n, sigma) for each sigma]}, one noise draw shared by
    all; with ``volume`` the (N, C, H, W) images are the N slices of one volume."""
    from invsolve.solvers.loop import CountedPrior

    noise = torch.randn(images.shape, generator=torch.Generator().manual_seed(seed))
    table = {}
    for name, prior in priors.items():
        row = []
        for level, sigma in enumerate(sigmas):
            with torch.inference_mode():
                shifts = torch.Generator().manual_seed(seed + level)
                noisy = images + sigma * noise
                if volume:  # (N, C, H, W) slices as the volume (1, C, N, H, W), and back
                    denoised = CountedPrior(prior).denoise(noisy.movedim(0, 1)[None], sigma, shifts)[0].movedim(1, 0)
                else:
                    denoised = prior(noisy, sigma, generator=shifts)
                denoised = denoised.clamp(0, 1)
            scores = psnr(denoised, images)
            row.append(sum(scores) / len(scores))
        table[name] = row
    return table


def markdown(table: dict[str, list[float]], sigmas: list[float]) -> str:
    names = list(table)
    lines = [
        "| sigma | " + " | ".join(names) + "".join(f" | {n} - {names[0]}" for n in names[1:]) + " |",
        "|---" * (2 * len(names)) + "|",
    ]
    for level, sigma in enumerate(sigmas):
        first = table[names[0]][level]
        cells = [f"{table[n][level]:.2f}" for n in names] + [f"{table[n][level] - first:+.2f}" for n in names[1:]]
        lines.append(f"| {sigma:g} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def write_figure(path: str, table: dict[str, list[float]], sigmas: list[float], title: str) -> None:
    """PSNR against sigma would hide the differences (they span 20 dB); plot each prior's gain over the first."""
    import matplotlib.pyplot as plt

    first = next(iter(table))
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    for name, row in table.items():
        ax.plot(sigmas, [v - r for v, r in zip(row, table[first], strict=True)], marker="o", label=name)
    ax.set_xscale("log")
    ax.invert_xaxis()
    ax.set_xlabel("noise level sigma (images in [0, 1])")
    ax.set_ylabel(f"denoising PSNR - {first} (dB)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def parse_sigmas(text: str) -> list[float]:
    """Comma-separated noise levels, each a finite number above 0 (the command line's ``positive``)."""
    try:
        return [positive(v) for v in text.split(",")]
    except argparse.ArgumentTypeError as error:
        raise InvsolveError(f"--sigmas: {error}") from None


def main(argv=None) -> None:
    from invsolve.data import get_source
    from invsolve.priors import load

    parser = argparse.ArgumentParser(
        prog="python -m invsolve.benchmarks.studies.denoising",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--priors", required=True, help="bundled names or prior files, separated by commas")
    parser.add_argument("--data", default="phantoms")
    parser.add_argument("--split", default="validation")
    parser.add_argument("--images", type=int, default=8)
    parser.add_argument("--image-size", type=int, default=128)
    parser.add_argument("--sigmas", default=DEFAULT_SIGMAS)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--figure", help="write each prior's PSNR gain over the first against sigma (.png)")
    parser.add_argument("--volume", action="store_true", help="the images are consecutive slices of one volume")
    args = parser.parse_args(argv)
    sigmas = parse_sigmas(args.sigmas)
    source = get_source(args.data, split=args.split, image_size=args.image_size)
    if not 0 < args.images <= len(source):
        raise InvsolveError(f"--images must be in 1..{len(source)} for the {args.split} split of {args.data}")
    images = source.batch(range(args.images))
    priors = {prior_label(name): load(name).eval() for name in args.priors.split(",")}
    table = denoising_psnr(priors, images, sigmas, args.seed, volume=args.volume)
    print(
        f"# denoising PSNR (dB), mean of the first {args.images} {args.split} images of {args.data} at "
        f"{args.image_size} px{', as one volume' if args.volume else ''}, noise seed {args.seed}, "
        f"{torch.get_num_threads()} threads"
    )
    print(markdown(table, sigmas))
    if args.figure:
        title = f"denoising: {args.images} {args.split} images of {args.data}, {args.image_size} px"
        write_figure(args.figure, table, sigmas, title)
        print(f"wrote {args.figure}")


if __name__ == "__main__":
    main()
