"""Quality against NFEs: mean PSNR and SSIM on validation images against the prior evaluations a
diffusion solver spends, one line per solver, ADMM-TV as a horizontal line, and the seconds each
point took per image. It reads what ``invsolve bench tune`` wrote (validation runs only), so the
points are the tuning runs themselves:

    invsolve bench tune benchmarks/mini.toml --method padis --tasks ct8,ct20 \\
        --set methods.padis.solver.ct=dds --param steps=10,20,50,100,200 --out tune-dds
    invsolve bench tune benchmarks/mini.toml --method admm-tv --tasks ct8,ct20 --param iterations=200 --out tune-admm
    python -m invsolve.benchmarks.studies.quality_vs_nfe tune-dds tune-dps tune-admm --images 4 --figure quality.png

Every point averages the same images (``--images``: the first N validation images of each task);
a point missing one of them is left out.
"""

import argparse
import json
from collections import defaultdict
from pathlib import Path

from invsolve.catalog import method_label
from invsolve.errors import InvsolveError


def read_validation_records(folders: list[str]) -> list[dict]:
    records = []
    for folder in map(Path, folders):
        files = sorted(folder.glob("results-rank*.jsonl"))
        if not files:
            raise InvsolveError(f"{folder} holds no results-rank*.jsonl; give folders written by invsolve bench tune")
        for file in files:
            for line in file.read_text().splitlines():
                record = json.loads(line)
                if record.get("split") != "validation":
                    raise InvsolveError(f"{file} holds {record.get('split')} results; this figure uses validation only")
                records.append(record)
    return records


def curves(records: list[dict], images: int) -> dict:
    """{task: {label: [(nfe, psnr, ssim, seconds), ...] sorted by nfe}}, means over images 0..images-1;
    several settings at one NFE (a tuning grid) keep the best mean PSNR."""
    cells = defaultdict(list)
    for r in records:
        if r["index"] < images:
            cells[(r["task"], method_label(r["solver"], r["prior"]), r["method"], r["nfe"])].append(r)
    best = {}
    for (task, label, _, nfe), rows in cells.items():
        if len({r["index"] for r in rows}) < images:
            continue
        point = tuple(sum(r[k] for r in rows) / len(rows) for k in ("psnr", "ssim", "seconds"))
        key = (task, label, nfe)
        if key not in best or point[0] > best[key][0]:
            best[key] = point
    result = defaultdict(lambda: defaultdict(list))
    for (task, label, nfe), point in sorted(best.items()):
        result[task][label].append((nfe, *point))
    return result


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m invsolve.benchmarks.studies.quality_vs_nfe",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("folders", nargs="+", help="output folders of invsolve bench tune")
    parser.add_argument("--images", type=int, default=8, help="validation images per point (default 8)")
    parser.add_argument("--figure", help="write the figure here (.png)")
    args = parser.parse_args(argv)
    data = curves(read_validation_records(args.folders), args.images)
    if not data:
        raise SystemExit(f"no point has all of the first {args.images} validation images")
    for task, lines in sorted(data.items()):
        print(f"## {task}: mean over the first {args.images} validation images")
        print(f"{'method':<28} {'NFE':>5} {'PSNR':>6} {'SSIM':>6} {'s/image':>8}")
        for label, points in lines.items():
            for nfe, p, s, seconds in points:
                print(f"{label:<28} {nfe:5d} {p:6.2f} {s:6.3f} {seconds:8.1f}")
    if args.figure:
        write_figure(args.figure, data, args.images)
        print(f"# wrote {args.figure}")


def write_figure(path: str, data: dict, images: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from invsolve.io import atomic_write

    tasks = sorted(data)
    fig, axes = plt.subplots(2, len(tasks), figsize=(5 * len(tasks), 7), squeeze=False)
    for column, task in enumerate(tasks):
        classical = {label: points[0] for label, points in data[task].items() if [p[0] for p in points] == [0]}
        for row, (metric, margin) in enumerate(((1, 4.0), (2, 0.15))):
            ax = axes[row][column]
            # keep the scale on what beats the classical line: a diverged run shows as "off scale"
            floor = min((p[metric] for p in classical.values()), default=None)
            floor = None if floor is None else floor - margin
            for label, points in data[task].items():
                values = [p[metric] for p in points]
                if label in classical:  # a classical method: a line across
                    ax.axhline(values[0], color="black", linestyle="--", label=label)
                    continue
                shown = [v if floor is None else max(v, floor) for v in values]
                ax.plot([p[0] for p in points], shown, marker="o", label=label)
                for point, value, at in zip(points, values, shown, strict=True):
                    note = f"{point[3]:.0f}s" if row == 0 else ""
                    if at != value:
                        note = f"{value:.3g} (off scale)"
                    if note:
                        ax.annotate(note, (point[0], at), fontsize=7, textcoords="offset points", xytext=(3, -9))
            if floor is not None:
                ax.set_ylim(bottom=floor)
        for row, name in enumerate(("PSNR (dB)", "SSIM")):
            ax = axes[row][column]
            ax.set_xscale("log")
            ax.set_xlabel("NFEs (prior evaluations)")
            ax.set_ylabel(name)
            ax.grid(alpha=0.3)
        axes[0][column].set_title(f"{task}: {images} validation phantoms (labels: s / image)")
        axes[1][column].legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    try:
        atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=100))
    finally:
        plt.close(fig)


if __name__ == "__main__":
    main()
