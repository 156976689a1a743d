"""No command writes over, into or around one of its inputs, whatever --replace says; SIGTERM
leaves what SIGINT leaves. Each case checks that the user's files survive byte for byte."""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from invsolve.cli import main as cli
from invsolve.errors import InvsolveError
from invsolve.io import check_distinct


def snapshot(folder):
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def photos(folder, count=12):
    import imageio.v3 as iio

    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(count):
        iio.imwrite(folder / f"{i:05d}.png", rng.integers(0, 255, (40, 30, 3), dtype=np.uint8))
    return folder


PREPARE = ["--size", "16", "--train", "6", "--test", "3", "--validation", "2", "--replace"]


@pytest.mark.parametrize(
    "where, message",
    [
        (lambda src: src, "is the same path as src"),  # DST = SRC
        (lambda src: src / "prepared", "lies inside src"),  # DST inside SRC: a rerun would read its own outputs
        (lambda src: src.parent, "holds src"),  # SRC inside DST: replacing DST whole would delete SRC
    ],
    ids=["dst-is-src", "dst-inside-src", "src-inside-dst"],
)
def test_prepare_never_destroys_its_source_even_with_replace(tmp_path, capsys, where, message):
    src = photos(tmp_path / "data" / "celeba")
    before = snapshot(tmp_path)
    assert cli(["data", "prepare", "celeba", str(src), str(where(src)), *PREPARE]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert snapshot(tmp_path) == before


def test_reconstruct_never_writes_over_its_input(tmp_path, capsys):
    image = tmp_path / "slice.npy"
    np.save(image, np.random.default_rng(0).random((64, 64), dtype=np.float32))
    before = image.read_bytes()
    args = ["reconstruct", "--op", "ct8", "--solver", "baseline", "--input", str(image), "--image-size", "64"]
    assert cli([*args, "--out", str(tmp_path / "." / "slice.npy")]) == 2
    assert "same path as --input" in capsys.readouterr().err and image.read_bytes() == before


def test_train_refuses_an_existing_prior_unless_resuming_or_replacing(tmp_path, tiny_prior_file, capsys):
    out = tmp_path / "prior.safetensors"
    out.write_bytes(tiny_prior_file.read_bytes())
    before = out.read_bytes()
    args = ["train", "--net", "tiny", "--image-size", "64", "--patch-sizes", "16", "--patch-probs", "1"]
    assert cli([*args, "--batch", "2", "--max-images", "4", "--duration", "4", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "exists; pass resume=True" in err and out.read_bytes() == before
    assert cli([*args, "--batch", "2", "--max-images", "4", "--duration", "4", "--out", str(out), "--replace"]) == 0
    assert out.read_bytes() != before


def test_outputs_inside_or_around_inputs_and_symlink_loops_are_refused(tmp_path):
    (tmp_path / "images").mkdir()
    with pytest.raises(InvsolveError, match="lies inside --data"):
        check_distinct({"--data": tmp_path / "images"}, {"--out": tmp_path / "images" / "p.safetensors"})
    with pytest.raises(InvsolveError, match="holds SUITE"):
        check_distinct({"SUITE": tmp_path / "runs" / "s.toml"}, {"--out": tmp_path / "runs"})
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    with pytest.raises(InvsolveError, match=r"cannot be resolved .*loop of symbolic links"):
        check_distinct({"--input": tmp_path / "a"}, {"--out": tmp_path / "out.png"})
    check_distinct({"--input": tmp_path / "images"}, {"--out": tmp_path / "elsewhere.png", "--figure": None})


def test_a_symlink_loop_at_the_input_is_one_line(tmp_path, capsys):
    (tmp_path / "a.png").symlink_to(tmp_path / "b.png")
    (tmp_path / "b.png").symlink_to(tmp_path / "a.png")
    args = ["reconstruct", "--op", "ct8", "--solver", "baseline", "--input", str(tmp_path / "a.png")]
    assert cli([*args, "--out", str(tmp_path / "r.png")]) == 2
    err = capsys.readouterr().err
    assert "loop of symbolic links" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_stopped_prepare_leaves_no_temporary_folder_and_the_earlier_output(tmp_path, stop):
    src, dst = photos(tmp_path / "celeba", count=160), tmp_path / "out"
    base = [sys.executable, "-m", "invsolve", "data", "prepare", "celeba", str(src), str(dst), "--size", "256"]
    subprocess.run([*base, "--train", "6", "--test", "3", "--validation", "2"], check=True, capture_output=True)
    earlier = snapshot(dst)
    run = subprocess.Popen([*base, "--train", "150", "--test", "5", "--validation", "5"], stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not list(tmp_path.glob(".*.building/*/*.png")) and time.monotonic() < deadline:
        time.sleep(0.01)  # stop it once the first image is written, 159 before the end of the work
    os.kill(run.pid, stop)
    _, err = run.communicate(timeout=60)
    assert run.returncode == 130 and b"interrupted" in err, (run.returncode, err.decode(errors="replace")[-800:])
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]
    assert snapshot(dst) == earlier


def test_suspect_inputs_get_a_one_line_notice_and_still_run(tmp_path, capsys):
    from tests.helpers import write_cmyk_jpeg, write_test_dicom

    np.save(tmp_path / "dot.npy", np.full((1, 1), 0.5, dtype=np.float32))
    write_test_dicom(tmp_path / "mr.dcm", np.full((32, 32), 1000, dtype=np.uint16), modality="MR")
    write_test_dicom(tmp_path / "ct.dcm", np.full((32, 32), 1000, dtype=np.uint16))
    base = ["reconstruct", "--op", "ct8", "--solver", "baseline", "--image-size", "64", "--input"]
    write_cmyk_jpeg(tmp_path / "print.jpg")
    expected = {"dot.npy": "upsampled 64x", "mr.dcm": "is MR, not CT", "print.jpg": "is a CMYK image", "ct.dcm": None}
    for name, notice in expected.items():
        assert cli([*base, str(tmp_path / name)]) == 0
        err = capsys.readouterr().err
        notices = [line for line in err.splitlines() if line.startswith("invsolve: notice:")]
        if notice is None:
            assert not notices, err
        else:
            assert len([line for line in notices if notice in line]) == 1, err
