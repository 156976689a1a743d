"""The head-CT split and its leakage: which slices train, validate and test, and how close each
held-out slice comes to its most similar training slice.

    python -m invsolve.benchmarks.studies.headct_split [--path Cranium.inv3] [--image-size 128] [--figure split.png]

Prints, per validation and test slice, the most similar training slice and their PSNR, beside the
PSNR of adjacent slices (1.5 mm apart), the level a split without gaps would leak at. The figure
shows a sagittal cut through the volume with the splits marked, and each test slice over its most
similar training slice.
"""

import argparse
import statistics

from invsolve.data import get_source, headct, leakage
from invsolve.metrics import psnr

SPLIT_COLOURS = {"train": "tab:green", "validation": "tab:orange", "test": "tab:red"}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m invsolve.benchmarks.studies.headct_split", description=__doc__)
    parser.add_argument("--path", help=f"an .inv3 file (default {headct.DEFAULT_PATH})")
    parser.add_argument("--image-size", type=int, default=128)
    parser.add_argument("--figure", help="write the split and the test slices' nearest training slices (.png)")
    args = parser.parse_args(argv)
    sources = {split: get_source("headct", split, args.image_size, 1, path=args.path) for split in SPLIT_COLOURS}
    volume = sources["train"].volume
    print(f"{volume.name} ({volume.path}): {len(volume)} slices, spacing {volume.spacing_mm} mm, {args.image_size} px")
    for split, source in sources.items():
        print(f"{split}: {len(source)} slices: {sorted(source.slices)}")
    nearest = {split: leakage(sources[split], sources["train"]) for split in ("validation", "test")}
    print("held-out slice -> most similar training slice, PSNR (dB)")
    for split, rows in nearest.items():
        for label, match, score in rows:
            print(f"  {split:10s} {label} -> {match}  {score:.2f}")
        print(f"  {split}: mean {statistics.fmean(r[2] for r in rows):.2f}, max {max(r[2] for r in rows):.2f}")
    test = sources["test"]
    adjacent = [psnr(test[i], test.volume_slice(test.slices[i] + 1)) for i in range(len(test))]
    print(f"adjacent slices (test slice and the next): mean {statistics.fmean(adjacent):.2f}, max {max(adjacent):.2f}")
    if args.figure:
        _figure(sources, nearest["test"], args.figure)
        print(f"wrote {args.figure}")


def _figure(sources, nearest, out):
    import matplotlib.pyplot as plt

    from invsolve.units import window_to_unit

    volume = sources["train"].volume
    test, train = sources["test"], sources["train"]
    by_label = {train.label(i): i for i in range(len(train))}
    columns = len(test)
    fig = plt.figure(figsize=(2.0 * columns + 4, 4.6))
    grid = fig.add_gridspec(2, columns + 2)
    side = fig.add_subplot(grid[:, :2])
    sagittal = window_to_unit(volume.hu[:, :, volume.hu.shape[2] // 2])
    aspect = volume.spacing_mm[0] / volume.spacing_mm[1]
    side.imshow(sagittal, cmap="gray", vmin=0, vmax=1, aspect=aspect, origin="lower")
    for split, source in sources.items():
        for index in source.slices:
            side.axhspan(index - 0.5, index + 0.5, xmin=0, xmax=0.04, color=SPLIT_COLOURS[split])
    for split, colour in SPLIT_COLOURS.items():
        side.plot([], [], color=colour, linewidth=6, label=f"{split} ({len(sources[split])})")
    side.legend(loc="upper right", fontsize=7)
    side.set_title("sagittal cut: slices by split (unmarked: gaps)", fontsize=9)
    side.set_ylabel("slice (jaw 0 to vertex)")
    side.set_xticks([])
    for column, (label, match, score) in enumerate(nearest):
        top = fig.add_subplot(grid[0, column + 2])
        top.imshow(test[column][0], cmap="gray", vmin=0, vmax=1)
        top.set_title(f"test {label[-3:]}", fontsize=8)
        bottom = fig.add_subplot(grid[1, column + 2])
        bottom.imshow(train[by_label[match]][0], cmap="gray", vmin=0, vmax=1)
        bottom.set_title(f"train {match[-3:]}: {score:.1f} dB", fontsize=8)
        for ax in (top, bottom):
            ax.axis("off")
    fig.suptitle("head-CT split: each test slice (top) over its most similar training slice (bottom)", fontsize=10)
    fig.tight_layout()
    fig.savefig(out, dpi=80)
    plt.close(fig)


if __name__ == "__main__":
    main()
