"""``invsolve bench report DIR``: merge every rank's results into a Markdown table, CSVs and one
figure per task (ground truth | each method, PSNR in the titles)."""

import csv
import io
import statistics
from pathlib import Path

import numpy as np
import torch

from invsolve.benchmarks.runner import read_recorded_suite, read_results
from invsolve.benchmarks.suite import build_suite
from invsolve.errors import InvsolveError
from invsolve.figures import save_comparison, save_slice_differences, save_volume_views
from invsolve.io import atomic_write

CELL_COLUMNS = (
    "task",
    "method",
    "index",
    "image",
    "seed",
    "psnr",
    "ssim",
    "seconds",
    "nfe",
    "peak_memory_mib",
    "device",
    "rank",
)


def summary_rows(suite, results: dict) -> list[dict]:
    """Mean +- std of PSNR/SSIM, mean seconds, NFEs and memory per (task, method) that has results."""
    rows = []
    for task in suite.tasks.values():
        for method in suite.methods.values():
            cells = [r for r in results.values() if r["task"] == task.name and r["method"] == method.name]
            if not cells:
                continue
            p, s = [r["psnr"] for r in cells], [r["ssim"] for r in cells]
            paper = task.paper.get(method.name)
            rows.append(
                {
                    "task": task.name,
                    "method": method.name,
                    "label": method.label,
                    "cells": len(cells),
                    "psnr": statistics.mean(p),
                    "psnr_std": statistics.pstdev(p),
                    "ssim": statistics.mean(s),
                    "ssim_std": statistics.pstdev(s),
                    "seconds": statistics.mean(r["seconds"] for r in cells),
                    "nfe": max(r["nfe"] for r in cells),
                    "peak_memory_mib": max(r["peak_memory_mib"] for r in cells),
                    "paper_psnr": paper[0] if paper else None,
                    "paper_ssim": paper[1] if paper else None,
                    "z_difference": _mean_of(cells, "z_difference"),
                    "truth_z_difference": _mean_of(cells, "truth_z_difference"),
                }
            )
    return rows


def _mean_of(cells: list[dict], key: str) -> float | None:
    """The mean of ``key`` over the cells that have it (volume cells' z differences), else None."""
    values = [r[key] for r in cells if r.get(key) is not None]
    return statistics.mean(values) if values else None


def markdown(suite, rows: list[dict], split: str) -> str:
    images = sorted({r["cells"] for r in rows})
    lines = [
        f"# {suite.name}: {suite.description}".rstrip(": "),
        "",
        f"Mean +- standard deviation over {'/'.join(map(str, images))} cells ({split} images x seeds) per "
        f"task and method, {suite.image_size}x{suite.image_size}. PSNR in dB. Peak memory: on CUDA the "
        "largest allocation during the solve; on CPU the process's peak resident size so far.",
    ]
    lines += overview(suite, rows)
    for task in suite.tasks.values():
        task_rows = [r for r in rows if r["task"] == task.name]
        if not task_rows:
            continue
        has_paper = any(r["paper_psnr"] is not None for r in task_rows)
        volume = task.volume is not None
        lines += [
            "",
            f"## {task.name} ({task.op} on {task.dataset}" + (f", volumes of {task.volume} slices)" if volume else ")"),
            "",
            "| method | PSNR | SSIM |"
            + (" paper PSNR / SSIM |" if has_paper else "")
            + (" slice-to-slice difference (truth) |" if volume else "")
            + (" s / volume |" if volume else " s / image |")
            + " NFEs | peak MiB |",
            "|---|---|---|" + ("---|" if has_paper else "") + ("---|" if volume else "") + "---|---|---|",
        ]
        for r in task_rows:
            paper = (
                (f" {r['paper_psnr']:.2f} / {r['paper_ssim']:.3f} |" if r["paper_psnr"] is not None else " |")
                if has_paper
                else ""
            )
            z = f" {r['z_difference']:.4f} ({r['truth_z_difference']:.4f}) |" if volume else ""
            lines.append(
                f"| {r['label']} | {r['psnr']:.2f} +- {r['psnr_std']:.2f} | {r['ssim']:.3f} +- "
                f"{r['ssim_std']:.3f} |{paper}{z} {r['seconds']:.1f} | {r['nfe']} | {r['peak_memory_mib']:.0f} |"
            )
    return "\n".join(lines) + "\n"


def overview(suite, rows: list[dict]) -> list[str]:
    """The paper's table-1 layout: a row per method, a column per task, mean PSNR / SSIM in each cell."""
    tasks = [t for t in suite.tasks if any(r["task"] == t for r in rows)]
    score = {(r["task"], r["method"]): f"{r['psnr']:.2f} / {r['ssim']:.3f}" for r in rows}
    lines = [
        "",
        "## Overview (mean PSNR / SSIM)",
        "",
        "| method | " + " | ".join(tasks) + " |",
        "|---|" + "---|" * len(tasks),
    ]
    lines.extend(
        f"| {method.label} | " + " | ".join(score.get((t, method.name), "-") for t in tasks) + " |"
        for method in suite.methods.values()
        if any((t, method.name) in score for t in tasks)
    )
    return lines


def _csv(rows: list[dict], columns) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode()


def figure_panels(suite, results: dict, out: Path) -> dict[str, tuple[int, list]]:
    """Per task with saved images: (rows, panels), a row per saved image, ground truth then each
    method with its PSNR. Everything is read here, before the report writes anything."""
    figures = {}
    for task in suite.tasks.values():
        folder = out / "images" / task.name
        panels, rows = [], 0
        for index in range(suite.figure_images):
            truth_file = folder / f"{index}-truth.npy"
            if not truth_file.exists():
                continue
            rows += 1
            panels.append((f"ground truth #{index}", torch.from_numpy(_read_array(truth_file))))
            for method in suite.methods.values():
                seed = suite.seeds[0]
                record = results.get(f"{task.name}/{method.name}/{index}/{seed}")
                image_file = folder / f"{index}-{method.name}-seed{seed}.npy"
                if record and image_file.exists():
                    title = f"{method.label}\n{record['psnr']:.2f} dB / {record['ssim']:.3f}"
                    panels.append((title, torch.from_numpy(_read_array(image_file))))
        if rows:
            figures[task.name] = (rows, panels)
    return figures


def _read_array(path: Path) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        raise InvsolveError(f"{path} is damaged ({error}); delete it and rerun its cell") from None


def write_figures(suite, figures: dict[str, tuple[int, list]], out: Path, results: dict) -> list[Path]:
    written = []
    for name, (rows, panels) in figures.items():
        columns = -(-len(panels) // rows)
        path = out / "figures" / f"{name}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        title = f"{suite.name}: {name} ({suite.tasks[name].op}, {suite.image_size} px)"
        if suite.tasks[name].volume:  # a row of axial, coronal and sagittal views per volume and method
            spacing = next(
                (r["spacing_mm"] for r in results.values() if r["task"] == name and r.get("spacing_mm")), None
            )
            save_volume_views(path, panels, tuple(spacing or (1.0, 1.0, 1.0)), title=title)
            z_path = out / "figures" / f"{name}-z.png"
            save_slice_differences(z_path, panels[: len(panels) // rows], title=f"{title}: slice to slice")
            written += [path, z_path]
            continue
        save_comparison(
            path,
            panels,
            rows=rows,
            panel_inches=2.4 if columns < 6 else 2.0,
            title=title,
        )
        written.append(path)
    return written


def report(out: str | Path) -> dict:
    """Write ``report.md``, ``results.csv`` (one row per cell), ``summary.csv`` and ``figures/*.png``,
    once every input (suite record, results, saved images) has been read: a damaged input stops the
    report before it has written anything."""
    out = Path(out)
    recorded = read_recorded_suite(out)
    suite = build_suite(recorded["suite"])
    results = read_results(out)
    if not results:
        raise InvsolveError(f"{out} holds no finished cells yet")
    rows = summary_rows(suite, results)
    text = markdown(suite, rows, recorded["split"])
    panels = figure_panels(suite, results, out)  # every input read before the first file is written
    atomic_write(out / "report.md", lambda f: f.write(text.encode()))
    cells = sorted(results.values(), key=lambda r: (r["task"], r["method"], r["index"], r["seed"]))
    atomic_write(out / "results.csv", lambda f: f.write(_csv(cells, CELL_COLUMNS)))
    atomic_write(out / "summary.csv", lambda f: f.write(_csv(rows, rows[0].keys())))
    return {
        "markdown": text,
        "rows": rows,
        "cells": len(cells),
        "figures": write_figures(suite, panels, out, results),
        "files": [out / "report.md", out / "results.csv", out / "summary.csv"],
    }
