"""How fast the command line answers when it has no work to do: ``invsolve --help`` and a usage error
against ``python -c "import torch"``, each a fresh process, run alternately, median wall time and
peak memory.

    python -m invsolve.benchmarks.studies.cli_start [--repeat 7]

The parser is built from ``invsolve.catalog`` alone, so neither command should import torch; the
ratio (target: at most 0.5) says how much of torch's import time a user still waits for.
"""

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

MEASURE_RSS = (
    "import resource, subprocess, sys; subprocess.run(sys.argv[1:], capture_output=True); "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
)


def invsolve_command() -> list[str]:
    """The console script beside this interpreter (as a user runs it), else ``python -m invsolve``."""
    script = Path(sys.executable).with_name("invsolve")
    found = script if script.exists() else shutil.which("invsolve")
    return [str(found)] if found else [sys.executable, "-m", "invsolve"]


def wall_seconds(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, capture_output=True)
    return time.perf_counter() - start


def peak_rss_mib(command: list[str]) -> float:
    done = subprocess.run([sys.executable, "-c", MEASURE_RSS, *command], capture_output=True, text=True, check=True)
    return int(done.stdout.strip()) / 1024


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m invsolve.benchmarks.studies.cli_start",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args(argv)
    commands = {
        "invsolve --help": [*invsolve_command(), "--help"],
        "invsolve reconstruct (usage error)": [*invsolve_command(), "reconstruct"],
        "python -c 'import torch'": [sys.executable, "-c", "import torch"],
    }
    for command in commands.values():  # warm the file cache once
        wall_seconds(command)
    times = {name: [] for name in commands}
    for _ in range(args.repeat):
        for name, command in commands.items():
            times[name].append(wall_seconds(command))
    torch_time = statistics.median(times["python -c 'import torch'"])
    print(f"# median of {args.repeat} fresh processes each, run alternately; {sys.executable}")
    for name, command in commands.items():
        median = statistics.median(times[name])
        print(
            f"{name:<36} {median * 1e3:7.0f} ms  {peak_rss_mib(command):6.0f} MiB peak   "
            f"ratio to import torch {median / torch_time:.3f}"
        )
    ratio = statistics.median(times["invsolve --help"]) / torch_time
    print(f"invsolve --help / import torch: {ratio:.3f}   (target <= 0.5: {'met' if ratio <= 0.5 else 'NOT met'})")


if __name__ == "__main__":
    main()
