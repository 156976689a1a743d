"""Output paths and faults during the run: every path fault is found before the work starts, in
one line; an OS error or a failed allocation during the run is one line too; and no input or other
output is ever overwritten or left half-written."""

import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from invsolve import cli
from invsolve.cli import main
from invsolve.errors import InvsolveError
from invsolve.io import check_distinct, check_output, exclusive_lock
from tests.helpers import train_tiny


@pytest.mark.parametrize(
    "make, name, message",
    [
        (lambda d: (d / "f.png").write_bytes(b"x"), "f.png/out.png", "f.png is a file, not a folder"),
        (lambda d: (d / "f.png").write_bytes(b"x"), "f.png/sub/out.png", "f.png is a file, not a folder"),
        (lambda d: (d / "dir.png").mkdir(), "dir.png", "that is a folder; give a file name"),
        (lambda d: None, "missing/out.png", "folder .*missing does not exist"),
        (lambda d: None, "out.jpg", r"must end in \.png"),
    ],
)
def test_bad_output_paths_are_named_before_any_work(tmp_path, make, name, message):
    make(tmp_path)
    with pytest.raises(InvsolveError, match=message):
        check_output(tmp_path / name, (".png",), "--out")


@pytest.mark.skipif(os.geteuid() == 0 or sys.platform == "win32", reason="root writes into read-only folders")
def test_a_read_only_folder_is_refused(tmp_path):
    tmp_path.chmod(0o500)
    try:
        with pytest.raises(InvsolveError, match="cannot create files in"):
            check_output(tmp_path / "out.png", (".png",), "--out")
    finally:
        tmp_path.chmod(0o700)


def test_a_folder_that_cannot_hold_files_is_refused_even_for_root(tmp_path):
    """/proc refuses new files whoever asks: the probe finds it, as it finds read-only mounts."""
    with pytest.raises(InvsolveError, match="cannot create files in /proc"):
        check_output("/proc/out.png", (".png",), "--out")
    assert not list(tmp_path.iterdir())  # and a writable folder keeps no probe behind
    check_output(tmp_path / "out.png", (".png",), "--out")
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    "inputs, outputs, message",
    [
        ({"--input": "a.png"}, {"--out": "a.png"}, "--out a.png is the same path as --input"),
        ({"--input": "a.png"}, {"--out": "x/../a.png"}, "same path as --input"),
        ({"--measurement": "y.npy"}, {"--out": "y.npy"}, "same path as --measurement"),
        ({}, {"--out": "r.png", "--figure": "./r.png"}, "--figure ./r.png is the same path as --out"),
    ],
)
def test_outputs_never_overwrite_inputs_or_each_other(tmp_path, monkeypatch, inputs, outputs, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "x").mkdir()
    with pytest.raises(InvsolveError, match=message):
        check_distinct(inputs, outputs)
    check_distinct({"--input": "a.png"}, {"--out": "b.png", "--figure": "c.png", "--none": None})


def test_reconstruct_refuses_to_overwrite_its_input_and_leaves_it_alone(tmp_path, capsys):
    image = tmp_path / "in.png"
    assert main(["data", "show", "phantoms", "--count", "1", "--image-size", "64", "--out", str(image)]) == 0
    before = image.read_bytes()
    capsys.readouterr()
    for extra in (["--out", str(image)], ["--out", str(tmp_path / "r.png"), "--figure", str(tmp_path / "r.png")]):
        assert main(["reconstruct", "--op", "ct8", "--solver", "baseline", "--input", str(image), *extra]) == 2
        err = capsys.readouterr().err
        assert "is the same path as" in err and len(err.strip().splitlines()) == 1
    assert image.read_bytes() == before and not (tmp_path / "r.png").exists()


def test_os_errors_at_run_time_are_one_line_with_status_2(tmp_path):
    """A full disk on stdout (/dev/full) after the work: one line, no traceback."""
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full on this system")
    command = [sys.executable, "-m", "invsolve", "data", "show", "phantoms", "--count", "1", "--image-size", "64"]
    with open("/dev/full", "w") as full:
        result = subprocess.run(
            [*command, "--out", str(tmp_path / "p.png")], stdout=full, stderr=subprocess.PIPE, text=True, timeout=120
        )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "No space left on device" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_a_second_training_run_into_the_same_file_stops_at_once(tmp_path):
    out = tmp_path / "p.safetensors"
    with exclusive_lock(tmp_path / "p.lock", "busy"), pytest.raises(InvsolveError, match="another training run"):
        train_tiny(out)
    assert not out.exists()
    with exclusive_lock(tmp_path / "x.lock", "busy"), pytest.raises(InvsolveError, match=r"^busy$"):  # noqa: SIM117
        with exclusive_lock(tmp_path / "x.lock", "busy"):
            pass


def test_a_figure_that_fails_leaves_neither_output(tmp_path, monkeypatch):
    """The reconstruction and its figure are written together: when the second fails, the first
    (and any temporary file) is gone too, and an earlier file at --out is kept."""
    import invsolve.reconstruction as reconstruction
    from invsolve import reconstruct

    result = reconstruct("ct8", image_size=64, iterations=2)
    (tmp_path / "r.png").write_bytes(b"the user's earlier file")

    def broken_figure(path, panels, title):
        raise OSError(28, "No space left on device", str(path))

    monkeypatch.setattr(reconstruction, "save_comparison", broken_figure)
    with pytest.raises(OSError, match="No space left"):
        result.save(tmp_path / "r.png", tmp_path / "f.png")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.png"]
    assert (tmp_path / "r.png").read_bytes() == b"the user's earlier file"
    monkeypatch.undo()
    assert result.save(tmp_path / "r.png", tmp_path / "f.png") == [str(tmp_path / "r.png"), str(tmp_path / "f.png")]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.png", "r.png"]
    assert (tmp_path / "r.png").read_bytes()[:4] == b"\x89PNG"


ALLOCATIONS = {
    # each asks for more than the 47-bit address space, so it fails at once on any machine
    "torch on the CPU": lambda: torch.empty(2**50),
    "numpy": lambda: np.zeros(2**50),
}


@pytest.mark.parametrize("allocate", ALLOCATIONS.values(), ids=ALLOCATIONS.keys())
def test_an_allocation_that_fails_is_one_line_naming_memory(allocate, monkeypatch, capsys):
    monkeypatch.setattr(cli.reconstruct, "run", lambda args, argv: allocate())
    assert main(["reconstruct", "--op", "ct8"]) == 2
    err = capsys.readouterr().err
    assert "not enough memory for this run" in err and "--image-size" in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_other_runtime_errors_are_not_mistaken_for_memory(monkeypatch):
    def broken(args, argv):
        raise RuntimeError("shape mismatch in a plug-in")

    monkeypatch.setattr(cli.reconstruct, "run", broken)
    with pytest.raises(RuntimeError, match="shape mismatch"):
        main(["reconstruct", "--op", "ct8"])
