"""`invsolve reconstruct` end to end: JSON output, files, measured data, and one-line errors."""

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from invsolve.cli import main
from invsolve.data import get_source
from invsolve.io import read_image
from invsolve.operators import make_operator
from invsolve.solvers.settings import read_tuned

FAST = ["--image-size", "64", "--iterations", "5"]


def run_json(capsys, *args):
    assert main(["reconstruct", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("op", ["ct20", "ct8", "deblur", "sr4"])
def test_reconstruct_default_image_prints_the_json_report(capsys, op):
    report = run_json(capsys, "--op", op, *FAST)
    for key in ("op", "solver", "psnr", "ssim", "baseline_psnr", "baseline_ssim", "seconds"):
        assert key in report
    assert report["op"] == op and report["solver"] == "admm-tv"
    assert report["input"].startswith("phantoms:test:" if op.startswith("ct") else "photos:test:")
    assert 5 < report["psnr"] < 60 and 0 < report["ssim"] <= 1
    assert report["settings"]["iterations"] == 5


def test_outputs_and_figure_are_written(tmp_path, capsys):
    out, figure = tmp_path / "rec.npy", tmp_path / "fig.png"
    report = run_json(capsys, "--op", "ct8", *FAST, "--out", str(out), "--figure", str(figure))
    recon = np.load(out)
    assert recon.shape == (64, 64)
    truth = get_source("phantoms", "test", 64)[0]
    from invsolve.metrics import psnr

    assert psnr(torch.from_numpy(recon)[None], truth) == pytest.approx(report["psnr"], abs=1e-4)
    assert read_image(figure).shape[0] == 3  # an RGB picture


def test_human_summary(capsys):
    assert main(["reconstruct", "--op", "sr4", "--solver", "baseline", "--image-size", "64"]) == 0
    out = capsys.readouterr().out
    assert "nearest upsampling" in out and "PSNR" in out and "sr4" in out


def test_input_file_and_seeded_noise(tmp_path, capsys):
    image = get_source("photos", "test", 64)[1]
    np.save(tmp_path / "x.npy", image.permute(1, 2, 0).numpy())
    first = run_json(capsys, "--op", "deblur", "--input", str(tmp_path / "x.npy"), *FAST, "--seed", "3")
    again = run_json(capsys, "--op", "deblur", "--input", str(tmp_path / "x.npy"), *FAST, "--seed", "3")
    other = run_json(capsys, "--op", "deblur", "--input", str(tmp_path / "x.npy"), *FAST, "--seed", "4")
    assert first["psnr"] == again["psnr"] != other["psnr"]
    assert first["channels"] == 3


def test_measured_data_without_ground_truth(tmp_path, capsys):
    x = get_source("phantoms", "test", 64)[0][None]
    op = make_operator("ct20", 64)
    np.save(tmp_path / "sino.npy", op.A(x)[0, 0].numpy())
    report = run_json(
        capsys, "--op", "ct20", "--measurement", str(tmp_path / "sino.npy"), *FAST, "--out", str(tmp_path / "r.png")
    )
    assert report["psnr"] is None and report["baseline_psnr"] is None
    assert read_image(tmp_path / "r.png").shape == (1, 64, 64)


def test_measurement_of_the_wrong_shape_is_refused(tmp_path, capsys):
    np.save(tmp_path / "sino.npy", np.zeros((8, 100), dtype=np.float32))
    assert main(["reconstruct", "--op", "ct8", "--measurement", str(tmp_path / "sino.npy"), *FAST]) == 2
    assert "shape (B, 1, 8, 128)" in capsys.readouterr().err


BAD_INPUTS = [
    ["--op", "nope"],
    ["--op", "ct8", "--input", "missing.png"],
    ["--op", "ct8", "--input", "notes.txt"],
    ["--op", "ct8", "--input", "nan.npy"],
    ["--op", "sr4", "--image-size", "66"],
    ["--op", "ct8", "--out", "rec.jpg"],
    ["--op", "ct8", "--device", "tpu"],
    ["--op", "ct8", "--window", "5"],
]


@pytest.fixture
def bad_files(tmp_path, monkeypatch):
    (tmp_path / "notes.txt").write_text("not an image")
    np.save(tmp_path / "nan.npy", np.array([[0.5, np.nan], [0.1, 0.2]]))
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("args", BAD_INPUTS, ids=lambda a: " ".join(a))
def test_bad_input_gives_one_line_exit_2_and_writes_nothing(bad_files, capsys, args):
    args = args if "--out" in args else [*args, "--out", "rec.png"]
    try:
        code = main(["reconstruct", *args])
    except SystemExit as exit_:  # argparse's own exit
        code = exit_.code
    err = capsys.readouterr().err
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "error" in lines[0], err
    assert not (bad_files / "rec.png").exists() and not (bad_files / "rec.jpg").exists()


@pytest.mark.parametrize("args", [BAD_INPUTS[0], BAD_INPUTS[3]], ids=["unknown-op", "nan-input"])
def test_the_console_command_prints_no_traceback(bad_files, args):
    result = subprocess.run(
        [sys.executable, "-m", "invsolve", "reconstruct", *args],
        capture_output=True,
        text=True,
        cwd=bad_files,
        timeout=300,
    )
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_another_noise_level_keeps_the_presets_tuned_values_and_weighs_the_noise(capsys):
    lams = {}
    for noise in ("0", "0.2"):
        assert main(["reconstruct", "--op", "ct8", "--solver", "admm-tv", "--noise", noise, *FAST, "--json"]) == 0
        captured = capsys.readouterr()
        settings = json.loads(captured.out)["settings"]
        assert (
            captured.err == ""
            and settings["rho_factor"] == read_tuned().row("admm-tv", "ct8", None).settings["rho_factor"]
        )
        lams[noise] = settings["lam"]
    assert lams["0.2"] > lams["0"]  # the TV weight follows the noise (ADMM-TV's rule)


def test_reconstruct_help_states_the_defaults_of_the_settings_tables(capsys):
    from invsolve.solvers.settings import GENERIC, read_tuned

    with pytest.raises(SystemExit):
        main(["reconstruct", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())  # argparse wraps lines
    dds = read_tuned().row("dds", "ct8", "padis").settings
    assert f"dds {GENERIC['dds']['steps']}" in help_text and f"dds on ct20/ct8 {dds['steps']}" in help_text
    assert f"tuned: dds on ct20/ct8 {dds['cg_iterations']}" in help_text
    assert "ADMM-TV settings" not in help_text  # one group for every solver's settings


def test_json_is_strict_json_even_for_an_infinite_psnr():
    from invsolve.cli.reconstruct import json_report

    text = json_report({"psnr": float("inf"), "ssim": 1.0, "baseline_psnr": float("nan"), "op": "ct8"})
    report = json.loads(text, parse_constant=lambda name: pytest.fail(f"{name} is not JSON"))
    assert report["psnr"] is None and report["baseline_psnr"] is None and report["ssim"] == 1.0
    assert "equals the ground truth" in report["notes"]["psnr"] and "undefined" in report["notes"]["baseline_psnr"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--tasks", ","], "expected one or more comma-separated names"),
        (["--method", "admm-tv", "--param", "lam=0.1", "--param", "lam=0.3"], "--param lam is given twice"),
    ],
)
def test_selections_that_run_nothing_or_twice_are_refused(capsys, args, message):
    from pathlib import Path

    suite = Path(__file__).resolve().parents[1] / "benchmarks" / "mini.toml"
    command = "tune" if "--method" in args else "run"
    try:
        status = main(["bench", command, str(suite), *args])
    except SystemExit as stop:  # argparse refuses while parsing
        status = stop.code
    assert status == 2 and message in capsys.readouterr().err
