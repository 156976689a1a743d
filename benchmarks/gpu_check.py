"""The GPU path, checked in one short run (a few minutes on one GPU): every solver with the bundled
patch and whole-image CT priors on CUDA at 64 and 256 px through the task layer, the CT operator on
``astra_cuda``, bf16 autocast, and one DDP training step under a one-process ``torchrun`` with
nccl. It prints a line per check, the time per NFE at 256 px and the peak GPU memory, and ends
with the number of failures (exit status 1 if any).

    python -m invsolve.benchmarks.gpu_check [--steps 4] | tee docs/logs/gpu-check.txt

On a machine without CUDA it says so in one line and exits 0: the CPU-only test suite covers the
rest, and this script is what a GPU machine adds.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
import traceback

import torch

SIZES = (64, 256)
PRIORS = ("padis-ct", "whole-ct")
TIMED_NFE = 20  # levels of the per-NFE timing at 256 px


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m invsolve.benchmarks.gpu_check", description=__doc__)
    parser.add_argument("--steps", type=int, default=4, help="noise levels per solver run (default 4)")
    args = parser.parse_args(argv)
    if not torch.cuda.is_available():
        print("gpu_check: no CUDA GPU is visible; nothing to check here (run it on a machine with one)")
        return 0
    checks = Checks()
    device = torch.device("cuda")
    print(
        f"# gpu_check: {torch.cuda.get_device_name(device)}, torch {torch.__version__} (CUDA {torch.version.cuda}), "
        f"bf16 {'supported' if torch.cuda.is_bf16_supported() else 'not supported'}"
    )
    for size in SIZES:
        checks.run(f"ct20 operator on astra_cuda at {size} px", lambda size=size: _operator(size, device))
        for prior in PRIORS:
            checks.run(
                f"every solver with {prior} at {size} px", lambda s=size, p=prior: _solvers(s, p, device, args.steps)
            )
    for prior in PRIORS:
        checks.run(f"per-NFE time of dds with {prior} at 256 px", lambda p=prior: _timing(p, device))
    checks.run("one DDP training step, torchrun with 1 process, nccl", lambda: _ddp_step(device))
    print(f"# {checks.failures} of {checks.count} checks failed; {time.perf_counter() - checks.start:.0f} s in all")
    return 1 if checks.failures else 0


class Checks:
    """Runs each check, prints ``ok``/``FAILED`` with its detail, and keeps going after a failure."""

    def __init__(self):
        self.count, self.failures, self.start = 0, 0, time.perf_counter()

    def run(self, name: str, check) -> None:
        self.count += 1
        try:
            for line in check():
                print(f"  {line}", flush=True)
            print(f"ok      {name}", flush=True)
        except Exception as error:  # a check that fails is reported, and the others still run
            self.failures += 1
            print(f"FAILED  {name}: {type(error).__name__}: {error}", flush=True)
            traceback.print_exc(limit=4, file=sys.stdout)


def _operator(size: int, device: torch.device):
    from invsolve.operators import make_operator
    from invsolve.operators.ct import default_backend

    op = make_operator("ct20", size, device=device)
    backend = op.describe()["backend"]
    if backend != ("astra_cuda" if device.type == "cuda" else default_backend(size, 20, 2 * size)):
        raise RuntimeError(f"the CT operator runs on {backend}: ASTRA sees no GPU (astra.use_cuda() is False)")
    x = torch.rand(1, 1, size, size, device=device, generator=torch.Generator(device).manual_seed(0))
    y = torch.rand(1, *op.measurement_shape, device=device, generator=torch.Generator(device).manual_seed(1))
    lhs, rhs = (op.A(x) * y).sum().item(), (x * op.A_adjoint(y)).sum().item()
    if abs(lhs - rhs) > 1e-3 * abs(lhs):
        raise RuntimeError(f"<Ax, y> = {lhs:.6g} but <x, A^T y> = {rhs:.6g}: not adjoint on the GPU")
    yield f"adjoint to {abs(lhs - rhs) / abs(lhs):.1e}, output on {op.A(x).device}"


def _solvers(size: int, prior_name: str, device: torch.device, steps: int):
    from invsolve.data import get_source
    from invsolve.operators import make_operator
    from invsolve.priors import load
    from invsolve.solvers import SOLVERS
    from invsolve.tasks import run_case

    op = make_operator("ct20", size, device=device)
    truth = get_source("phantoms", "test", size, 1)[0][None].to(device)
    prior = load(prior_name, device, precision="fp32")
    for name, solver in SOLVERS.items():
        settings = {"steps": steps} if solver.needs_prior else {"iterations": 20} if name == "admm-tv" else {}
        if "inner" in solver.parameters:
            settings["inner"] = 1
        outcome = run_case(op, solver, prior if solver.needs_prior else None, truth=truth, settings=settings)
        if outcome.image.device.type != device.type:
            raise RuntimeError(f"{name} returned its result on {outcome.image.device}, not {device}")
        yield (
            f"{name:<9} PSNR {outcome.psnr:6.2f} dB  NFEs {outcome.nfe:3d}  {outcome.seconds:6.2f} s  "
            f"peak {outcome.peak_memory_mib:8.1f} MiB"
        )


def _timing(prior_name: str, device: torch.device):
    from invsolve.data import get_source
    from invsolve.operators import make_operator
    from invsolve.priors import load
    from invsolve.solvers import get_solver
    from invsolve.tasks import run_case

    op = make_operator("ct20", 256, device=device)
    truth = get_source("phantoms", "test", 256, 1)[0][None].to(device)
    scores = {}
    for precision in ("fp32", "bf16"):
        prior = load(prior_name, device, precision=precision)
        run_case(op, get_solver("dds"), prior, truth=truth, settings={"steps": 2})  # warm-up
        outcome = run_case(op, get_solver("dds"), prior, truth=truth, settings={"steps": TIMED_NFE})
        scores[precision] = outcome.psnr
        yield (
            f"{precision}: {outcome.seconds / outcome.nfe * 1e3:7.1f} ms per NFE (dds, {outcome.nfe} NFEs, CT "
            f"data steps included), PSNR {outcome.psnr:.2f} dB, peak {outcome.peak_memory_mib:.1f} MiB"
        )
    if abs(scores["fp32"] - scores["bf16"]) > 1.0:
        raise RuntimeError(f"bf16 autocast moved PSNR by {scores['bf16'] - scores['fp32']:+.2f} dB (more than 1 dB)")


def _ddp_step(device: torch.device):
    """Train two steps of a tiny prior under a one-process torchrun on ``device``: DDP over nccl on a
    GPU, gloo on the CPU."""
    from invsolve.priors import read_checkpoint

    backend = "nccl" if device.type == "cuda" else "gloo"
    with tempfile.TemporaryDirectory() as folder:
        out = os.path.join(folder, "ddp.safetensors")
        command = [
            *(sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "1"),
            *("-m", "invsolve", "train", "--prior", "padis", "--data", "phantoms", "--image-size", "64"),
            *("--net", "tiny", "--patch-sizes", "16", "--patch-probs", "1", "--batch", "4", "--max-images", "8"),
            *("--duration", "8", "--device", device.type, "--out", out),
        ]
        done = subprocess.run(command, capture_output=True, text=True, timeout=300)
        if done.returncode != 0:
            raise RuntimeError(f"torchrun exited {done.returncode}: {done.stderr.strip()[-600:]}")
        training = read_checkpoint(out)[0]["training"]
        if training["backend"] != backend or not training["device"].startswith(device.type):
            raise RuntimeError(
                f"trained with backend {training['backend']} on {training['device']}, not {backend} on {device.type}"
            )
        yield f"{training['steps']} step(s) on {training['device']} with {training['backend']}"


if __name__ == "__main__":
    sys.exit(main())
