"""The robustness table: a run of ``benchmarks/robust-ct.toml`` read cell by cell, where a cell is a
task (operator, noise, test source) and a prior. For each it prints the mean PSNR / SSIM of the
PaDIS defaults (checked against ADMM-TV on held-out views, as ``invsolve reconstruct`` runs), of
the prior alone and of ADMM-TV at the validation-tuned weight, the defaults' margin over that
ADMM-TV, and how many images fell back to ADMM-TV; then the cells that miss the robustness bar
(at least tuned ADMM-TV - 0.3 dB and - 0.01 SSIM) and, in domain, the lead over tuned ADMM-TV.

    python -m invsolve.benchmarks.studies.robustness RUN_DIR [--markdown]
"""

import argparse
import collections
import statistics
from pathlib import Path

from invsolve.benchmarks.runner import read_results

#: The suite's PaDIS methods: (with the fallback, alone, the prior's own domain).
PRIORS = {
    "phantom prior": ("padis-phantoms", "padis-phantoms-alone", "phantoms"),
    "head-CT prior": ("padis-headct", "padis-headct-alone", "headct"),
}
NOISES = {"": "0", "-s02": "sigma 0.2", "-s05": "sigma 0.5", "-p1e4": "1e4 photons"}
DATASETS = {"phantoms": "phantoms", "headct": "head CT", "ctsmall": "CT_small"}
PSNR_MARGIN, SSIM_MARGIN = 0.3, 0.01


def split_task(name: str) -> tuple[str, str, str]:
    """``ct8-headct-s02`` as (ct8, headct, -s02)."""
    op, rest = name.split("-", 1)
    for suffix in sorted(NOISES, key=len, reverse=True):
        if suffix and rest.endswith(suffix):
            return op, rest[: -len(suffix)], suffix
    return op, rest, ""


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m invsolve.benchmarks.studies.robustness", description=__doc__)
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--markdown", action="store_true", help="also print the README's table")
    args = parser.parse_args(argv)
    scores = collections.defaultdict(list)
    fallbacks = collections.Counter()
    for record in read_results(args.run_dir).values():
        scores[record["task"], record["method"]].append((record["psnr"], record["ssim"]))
        verdict = record.get("fallback")
        fallbacks[record["task"], record["method"]] += bool(verdict and verdict["chosen"] == verdict["against"])

    def mean(task: str, method: str) -> tuple[float, float] | None:
        values = scores.get((task, method))
        if not values:
            return None
        return statistics.fmean(p for p, _ in values), statistics.fmean(s for _, s in values)

    tasks = sorted(
        {task for task, _ in scores},
        key=lambda t: (split_task(t)[0], list(DATASETS).index(split_task(t)[1]), list(NOISES).index(split_task(t)[2])),
    )
    misses, leads, table = [], [], collections.defaultdict(dict)
    print(f"{'task':<20} {'prior':<14} {'defaults':>15} {'alone':>15} {'tuned TV':>15} {'margin':>15}  fallbacks")
    for task in tasks:
        op, data, noise = split_task(task)
        tuned = mean(task, "admm-tv-tuned")
        for label, (checked, alone, home) in PRIORS.items():
            default, solo = mean(task, checked), mean(task, alone)
            if default is None or solo is None or tuned is None:
                continue
            margin = (default[0] - tuned[0], default[1] - tuned[1])
            count = len(scores[task, checked])
            print(
                f"{task:<20} {label:<14} {default[0]:6.2f} / {default[1]:.3f} "
                f"{solo[0]:6.2f} / {solo[1]:.3f} {tuned[0]:6.2f} / {tuned[1]:.3f} "
                f"{margin[0]:+6.2f} / {margin[1]:+.3f}  {fallbacks[task, checked]} of {count}"
            )
            table[op, noise][label, data] = (margin, fallbacks[task, checked], count)
            if margin[0] < -PSNR_MARGIN or margin[1] < -SSIM_MARGIN:
                misses.append(f"{task} with the {label}: {margin[0]:+.2f} dB, {margin[1]:+.3f} SSIM")
            if data == home:
                leads.append((task, label, margin[0]))
    cells = sum(len(row) for row in table.values())
    print(f"\n# {cells - len(misses)} of {cells} cells within {PSNR_MARGIN} dB and {SSIM_MARGIN} SSIM of tuned ADMM-TV")
    for miss in misses:
        print(f"#   misses: {miss}")
    if leads:
        smallest = min(leads, key=lambda lead: lead[2])
        largest = max(lead[2] for lead in leads)
        print(
            f"# in domain the defaults lead tuned ADMM-TV by {smallest[2]:+.2f} to {largest:+.2f} dB "
            f"(smallest: {smallest[0]}, {smallest[1]})"
        )
    if args.markdown:
        columns = [(label, data) for label in PRIORS for data in DATASETS]
        print("\n| task, noise | " + " | ".join(f"{label} on {DATASETS[data]}" for label, data in columns) + " |")
        print("|---" * (len(columns) + 1) + "|")
        for (op, noise), row in table.items():
            entries = []
            for column in columns:
                if column not in row:
                    entries.append("")
                    continue
                (dp, ds), fell, count = row[column]
                mark = f" ({fell}/{count} TV)" if fell else ""
                entries.append(f"{dp:+.2f} / {ds:+.3f}{mark}")
            print(f"| {op}, {NOISES[noise]} | " + " | ".join(entries) + " |")


if __name__ == "__main__":
    main()
