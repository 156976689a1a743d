"""Training lowers the loss, resumes exactly, and keeps DDP replicas identical."""

import csv
import os
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file

from invsolve.errors import InvsolveError
from invsolve.priors import TrainingConfig, load, parse_duration, read_checkpoint, train
from tests.helpers import TINY_RUN, tiny_train_flags, train_tiny


def losses(log_path):
    with open(log_path, newline="") as f:
        return [float(row["loss"]) for row in csv.DictReader(f)]


@pytest.mark.slow
def test_training_lowers_the_loss(tmp_path):
    out = train_tiny(tmp_path / "p.safetensors", duration="2400")
    curve = losses(tmp_path / "p.log.csv")
    assert len(curve) == 2400 // 8
    first, last = sum(curve[:30]) / 30, sum(curve[-30:]) / 30
    assert last < 0.7 * first, (first, last)
    config = load(out).config
    assert config["training"]["steps"] == 300 and config["data"]["count"] == 8 and config["command"] == "test"


@pytest.mark.slow
def test_resume_continues_exactly_where_the_run_stopped(tmp_path):
    straight = train_tiny(tmp_path / "straight.safetensors", duration="480")
    train_tiny(tmp_path / "resumed.safetensors", duration="240")
    resumed = train_tiny(tmp_path / "resumed.safetensors", duration="480", resume=True)
    a, b = load_file(straight), load_file(resumed)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    state_a, state_b = (load_file(p.with_name(p.stem + ".state.safetensors")) for p in (straight, resumed))
    assert all(torch.equal(state_a[k], state_b[k]) for k in state_a)
    assert losses(tmp_path / "straight.log.csv") == losses(tmp_path / "resumed.log.csv")
    assert load(resumed).config["resumed_with"] == ["test"]


def test_a_second_run_without_resume_and_a_changed_resume_are_refused(tmp_path):
    train_tiny(tmp_path / "p.safetensors", duration="16")
    with pytest.raises(InvsolveError, match="pass resume=True"):
        train_tiny(tmp_path / "p.safetensors", duration="16")
    with pytest.raises(InvsolveError, match=r"differ .*batch \(was 8, now 4\)"):
        train_tiny(tmp_path / "p.safetensors", duration="32", batch=4, resume=True)
    with pytest.raises(InvsolveError, match="no training state"):
        train_tiny(tmp_path / "other.safetensors", resume=True)


@pytest.mark.parametrize(
    "changes,message",
    [
        (dict(patch_probs=(0.5, 0.4)), "sum to 1"),
        (dict(patch_sizes=(128,), patch_probs=(1.0,)), "at most the image"),
        (dict(net="small", patch_sizes=(16, 6)), "multiple of 4"),
        (dict(duration="ten"), "duration"),
        (dict(max_images=20000), "more than"),
        (dict(pad=64), "pad must be"),
        (dict(net="huge"), "network size"),
        (dict(out="missing/p.safetensors"), "does not exist"),
    ],
)
def test_bad_settings_are_refused_before_any_work(tmp_path, changes, message):
    with pytest.raises(InvsolveError, match=message):
        settings = {"out": str(tmp_path / "p.safetensors")} | TINY_RUN | changes
        if not settings["out"].startswith("/"):
            settings["out"] = str(tmp_path / settings["out"])
        train(TrainingConfig(**settings), progress=False)


def test_durations():
    assert parse_duration("30m") == ("seconds", 1800) and parse_duration("2h") == ("seconds", 7200)
    assert parse_duration("200k") == ("images", 200_000) and parse_duration("1.5M") == ("images", 1_500_000)
    assert parse_duration("5000") == ("images", 5000)


@pytest.mark.slow
def test_two_process_gloo_ddp_run_ends_with_identical_replicas(tmp_path):
    out = tmp_path / "ddp.safetensors"
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        "-m",
        "invsolve",
        "train",
        *tiny_train_flags(),
        "--duration",
        "160",
        "--device",
        "cpu",
        "--out",
        str(out),
    ]
    env = os.environ | {"OMP_NUM_THREADS": "1"}
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    config, _ = read_checkpoint(out)
    assert config["training"]["processes"] == 2
    assert config["training"]["replica_spread"] == 0.0  # max |w_rank0 - w_rank1| over all weights
    assert config["training"]["images"] == 160 and config["training"]["steps"] == 10
