"""The data-size study (the paper's table 3): PSNR / SSIM against the number of training images, one
line per prior kind (PaDIS, whole image), ADMM-TV as a horizontal line, from a finished
``invsolve bench run`` of a data-size suite such as ``benchmarks/mini-headct-data-size.toml``.

    python -m invsolve.benchmarks.studies.data_size bench-headct-data-size [--task ct20] [--figure data-size.png]

The training-set size and kind of each method come from its prior file's metadata (``data.count``,
``kind``), not from method names. Prints a Markdown table: one row per size, both kinds side by side.
"""

import argparse
from collections import defaultdict
from pathlib import Path

from invsolve.benchmarks.report import summary_rows
from invsolve.benchmarks.runner import read_recorded_suite, read_results
from invsolve.benchmarks.suite import build_suite
from invsolve.catalog import PRIOR_KINDS
from invsolve.errors import InvsolveError
from invsolve.priors.checkpoint import read_checkpoint, resolve_prior_path

KIND_LABELS = {"padis": "PaDIS", "whole": "whole image"}


def study(out: Path, task: str) -> tuple[dict, list[dict]]:
    """({kind: [(training images, psnr, ssim), ...] by size}, rows of methods without a prior)."""
    suite = build_suite(read_recorded_suite(out)["suite"])
    rows = [r for r in summary_rows(suite, read_results(out)) if r["task"] == task]
    if not rows:
        raise InvsolveError(f"{out} holds no finished cells of task {task}")
    lines, classical = defaultdict(list), []
    for row in rows:
        prior = suite.methods[row["method"]].prior_for(suite.tasks[task])
        if prior is None:
            classical.append(row)
            continue
        config, _ = read_checkpoint(resolve_prior_path(prior))
        lines[config["kind"]].append((config["data"]["count"], row["psnr"], row["ssim"], row["cells"]))
    return {kind: sorted(points) for kind, points in lines.items()}, classical


def table(lines: dict, classical: list[dict]) -> str:
    kinds = [k for k in PRIOR_KINDS if k in lines]
    sizes = sorted({point[0] for points in lines.values() for point in points})
    head = "| training images | " + " | ".join(f"{KIND_LABELS[k]} PSNR / SSIM" for k in kinds) + " | PaDIS - whole |"
    out = [head, "|---" * (len(kinds) + 2) + "|"]
    for size in sizes:
        cells = {k: next((p for p in lines[k] if p[0] == size), None) for k in kinds}
        scores = [f"{c[1]:.2f} / {c[2]:.3f}" if c else "" for c in cells.values()]
        both = cells.get("padis") and cells.get("whole")
        gap = f"{cells['padis'][1] - cells['whole'][1]:+.2f} dB" if both else ""
        out.append(f"| {size} | " + " | ".join(scores) + f" | {gap} |")
    out.extend(f"| {row['label']} (no training) | {row['psnr']:.2f} / {row['ssim']:.3f} | | |" for row in classical)
    return "\n".join(out)


def write_figure(path: str, lines: dict, classical: list[dict], title: str) -> None:
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    for metric, ax in enumerate(axes):
        for kind in (k for k in PRIOR_KINDS if k in lines):
            sizes = [p[0] for p in lines[kind]]
            ax.plot(sizes, [p[1 + metric] for p in lines[kind]], marker="o", label=KIND_LABELS[kind])
        for row in classical:
            ax.axhline(row["psnr" if metric == 0 else "ssim"], color="grey", linestyle="--", label=row["label"])
        ax.set_xscale("log", base=2)
        sizes = sorted({p[0] for points in lines.values() for p in points})
        ax.set_xticks(sizes, [str(s) for s in sizes])
        ax.set_xlabel("training images")
        ax.set_ylabel("PSNR (dB)" if metric == 0 else "SSIM")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m invsolve.benchmarks.studies.data_size", description=__doc__)
    parser.add_argument("out", help="a folder written by invsolve bench run")
    parser.add_argument("--task", default="ct20")
    parser.add_argument("--figure", help="write PSNR and SSIM against training images (.png)")
    args = parser.parse_args(argv)
    lines, classical = study(Path(args.out), args.task)
    print(table(lines, classical))
    if args.figure:
        cells = {p[3] for points in lines.values() for p in points}
        write_figure(
            args.figure,
            lines,
            classical,
            f"{args.task}: test PSNR / SSIM against training-set size "
            f"(mean of {', '.join(map(str, sorted(cells)))} images)",
        )
        print(f"wrote {args.figure}")


if __name__ == "__main__":
    main()
