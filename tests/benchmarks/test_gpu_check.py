"""The GPU check: one line and status 0 without CUDA; its checks themselves run (on the CPU here,
on every device the suite sees), so a GPU session does not find a broken script."""

import subprocess
import sys

import pytest
import torch

from invsolve.benchmarks import gpu_check


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU: the script runs its checks instead")
def test_without_cuda_it_says_so_in_one_line_and_exits_0():
    done = subprocess.run([sys.executable, "-m", "invsolve.benchmarks.gpu_check"], capture_output=True, text=True)
    assert done.returncode == 0 and done.stderr == ""
    assert done.stdout.strip().count("\n") == 0 and "no CUDA GPU" in done.stdout


def test_the_operator_and_solver_checks_pass(device, capsys):
    lines = [*gpu_check._operator(32, device), *gpu_check._solvers(64, "padis-ct", device, steps=2)]
    solvers = {line.split()[0] for line in lines[1:]}
    assert {"baseline", "admm-tv", "dps", "langevin", "pc", "ddnm", "diffpir", "dds"} == solvers
    assert all("PSNR" in line and "peak" in line for line in lines[1:])


@pytest.mark.slow
def test_the_ddp_step_trains_under_torchrun(device):
    (line,) = gpu_check._ddp_step(device)
    assert ("nccl" if device.type == "cuda" else "gloo") in line
