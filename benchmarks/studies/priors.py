"""Cost of the PaDIS patch prior: time overhead over the raw network, and peak memory against image size.

    python -m invsolve.benchmarks.studies.priors overhead [--net small] [--image-size 256] [--patch-size 32]
    python -m invsolve.benchmarks.studies.priors memory [--sizes 512,1024,2048] [--max-batch 64]

``overhead``: one PatchPrior denoise (pad, shift, cut, position channels, network, put back, crop)
against the network alone on the same batch of patches; target <= 1.10 on CPU.
``memory``: peak memory of one PatchPrior denoise (forward, no autograd) with a fixed ``max_batch``
against the WholeImagePrior with the same network; each measurement runs in a fresh process
(CPU: the rise of the peak resident set, Linux; CUDA: torch's peak allocation). Target: the patch
prior stays within 1.5x from 512 to 2048 while the whole-image prior grows with the image.
Weights are random: cost does not depend on what a network learned.
"""

import argparse
import json
import statistics
import subprocess
import sys
import time

import torch

from invsolve.devices import resolve_device
from invsolve.priors import EDMNetwork, PatchPrior, WholeImagePrior, position_channels

ATTENTION_LIMIT_BYTES = 8e9  # skip whole-image runs whose bottleneck attention matrix alone exceeds this


def build_prior(kind: str, net: str, image_size: int, patch_size: int, max_batch: int | None, device):
    torch.manual_seed(0)
    network = EDMNetwork(1, net, positional=kind == "patch", resolution=patch_size).to(device).eval()
    if kind == "patch":
        return PatchPrior(network, image_size, patch_size, max_batch=max_batch).to(device)
    return WholeImagePrior(network, image_size).to(device)


def synchronize(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def median_seconds(fn, device, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        synchronize(device)
        start = time.perf_counter()
        fn()
        synchronize(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def overhead(args) -> None:
    device = resolve_device(args.device)
    prior = build_prior("patch", args.net, args.image_size, args.patch_size, None, device)
    grid = prior.grid(args.image_size)
    x = torch.rand(args.batch, 1, args.image_size, args.image_size, device=device)
    sigma = torch.full((args.batch,), 0.5, device=device)
    shift = grid.random_shift(torch.Generator().manual_seed(0))
    patches = grid.split(x, shift)
    positions = position_channels(args.image_size, *(t.to(device) for t in grid.origins(shift)), args.patch_size)
    positions = positions.repeat(args.batch, 1, 1, 1)
    patch_sigma = torch.full((patches.shape[0], 1, 1, 1), 0.5, device=device)
    generator = torch.Generator(device).manual_seed(0)
    with torch.no_grad():
        raw = median_seconds(lambda: prior.network(patches, patch_sigma, positions), device, args.repeats)
        full = median_seconds(lambda: prior(x, sigma, generator=generator), device, args.repeats)
    print(
        f"# PatchPrior overhead: {args.net} network, {args.batch} x {args.image_size}px image(s), "
        f"{args.patch_size}px patches, pad {grid.pad}, {patches.shape[0]} patches per call, {device}, "
        f"{torch.get_num_threads()} threads, median of {args.repeats}"
    )
    print(f"network alone:       {raw * 1e3:8.1f} ms")
    print(f"PatchPrior denoise:  {full * 1e3:8.1f} ms")
    print(f"overhead ratio:      {full / raw:8.3f}   (target <= 1.10)")


def measure_once(args) -> None:
    """Child process: one denoise, print its peak memory rise in bytes as JSON."""
    device = resolve_device(args.device)
    prior = build_prior(args.kind, args.net, args.image_size, args.patch_size, args.max_batch, device)
    x = torch.rand(1, 1, args.image_size, args.image_size, device=device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        before = torch.cuda.memory_allocated(device)
    else:
        with open("/proc/self/clear_refs", "w") as f:  # reset the peak resident set (VmHWM) to the current one
            f.write("5")
        before = _proc_status("VmRSS")
    start = time.perf_counter()
    with torch.no_grad():
        prior(x, 0.5, generator=torch.Generator(device).manual_seed(0))
    synchronize(device)
    seconds = time.perf_counter() - start
    peak = torch.cuda.max_memory_allocated(device) if device.type == "cuda" else _proc_status("VmHWM")
    print(json.dumps({"peak_rise": peak - before, "seconds": seconds}))


def _proc_status(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field} in /proc/self/status (the CPU memory figure needs Linux)")


def attention_bytes(net: str, image_size: int) -> float:
    """The bottleneck self-attention matrix of one whole image: (tokens)^2 float32 values."""
    tokens = (image_size // EDMNetwork.size_multiple_of(net)) ** 2
    return 4.0 * tokens**2


def memory(args) -> None:
    sizes = [int(s) for s in args.sizes.split(",")]
    print(
        f"# peak memory of one denoise (forward, no autograd), {args.net} network, {args.patch_size}px patches, "
        f"max_batch {args.max_batch}, device {resolve_device(args.device)}; MiB above the loaded model"
    )
    print(f"{'image':>7} {'PatchPrior':>12} {'seconds':>8} {'WholeImagePrior':>16} {'seconds':>8}")
    patch_peaks, skipped = [], []
    for size in sizes:
        row = [f"{size:>7}"]
        for kind in ("patch", "whole"):
            if kind == "whole" and attention_bytes(args.net, size) > ATTENTION_LIMIT_BYTES:
                row.append(f"{'skipped*':>16} {'':>8}")
                skipped.append(size)
                continue
            result = _child(args, kind, size)
            width = 12 if kind == "patch" else 16
            if result is None:
                row.append(f"{'failed':>{width}} {'':>8}")
                continue
            if kind == "patch":
                patch_peaks.append(result["peak_rise"])
            row.append(f"{result['peak_rise'] / 2**20:>{width}.0f} {result['seconds']:>8.1f}")
        print(" ".join(row), flush=True)
    if len(patch_peaks) > 1:
        print(
            f"PatchPrior peak, {sizes[-1]} px / {sizes[0]} px: {patch_peaks[-1] / patch_peaks[0]:.2f}   "
            "(target <= 1.5 from 512 to 2048 px; below 512 px a 32 px grid has fewer patches than max_batch)"
        )
    if skipped:
        print(
            f"* skipped: the whole-image network's bottleneck attention matrix alone would exceed "
            f"{ATTENTION_LIMIT_BYTES / 1e9:.0f} GB ("
            + ", ".join(f"{s}px: {attention_bytes(args.net, s) / 1e9:.0f} GB" for s in skipped)
            + ")"
        )


def _child(args, kind: str, size: int):
    command = [
        sys.executable,
        "-m",
        "invsolve.benchmarks.studies.priors",
        "_measure",
        "--kind",
        kind,
        "--image-size",
        str(size),
        "--net",
        args.net,
        "--patch-size",
        str(args.patch_size),
        "--max-batch",
        str(args.max_batch),
        "--device",
        args.device,
    ]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        print(f"  ({kind} at {size}px failed: {done.stderr.strip().splitlines()[-1:] or ['killed']})", file=sys.stderr)
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m invsolve.benchmarks.studies.priors",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    for name in ("overhead", "memory", "_measure"):
        sub = commands.add_parser(name)
        sub.add_argument("--net", default="small")
        sub.add_argument("--patch-size", type=int, default=32)
        sub.add_argument("--device", default="auto")
    over = commands.choices["overhead"]
    over.add_argument("--image-size", type=int, default=256)
    over.add_argument("--batch", type=int, default=1)
    over.add_argument("--repeats", type=int, default=10)
    commands.choices["memory"].add_argument("--sizes", default="512,1024,2048")
    commands.choices["memory"].add_argument("--max-batch", type=int, default=64)
    child = commands.choices["_measure"]
    child.add_argument("--kind", choices=["patch", "whole"])
    child.add_argument("--image-size", type=int)
    child.add_argument("--max-batch", type=int)
    args = parser.parse_args(argv)
    {"overhead": overhead, "memory": memory, "_measure": measure_once}[args.command](args)


if __name__ == "__main__":
    main()
