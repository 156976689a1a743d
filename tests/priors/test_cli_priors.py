"""`invsolve train` and `invsolve sample` end to end, and their one-line errors."""

import json

import numpy as np
import pytest

from invsolve.cli import main
from invsolve.operators import make_operator
from invsolve.priors import load
from invsolve.solvers import get_solver
from invsolve.tasks import choose_settings
from tests.helpers import tiny_train_flags

TINY = tiny_train_flags(max_images=4, batch=4)


def run(args) -> int:
    """The exit status, whether main returns it or argparse exits."""
    try:
        return main(args)
    except SystemExit as done:
        return done.code


def test_train_then_sample(tmp_path, capsys):
    out = tmp_path / "p.safetensors"
    assert run(["train", *TINY, "--duration", "40", "--out", str(out)]) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    config = load(out).config
    assert config["command"].startswith("invsolve train --net tiny") and config["training"]["images"] == 40
    assert (tmp_path / "p.log.csv").exists() and (tmp_path / "p.state.safetensors").exists()

    grid, raw = tmp_path / "grid.png", tmp_path / "samples.npy"
    assert run(["sample", "--prior", str(out), "-n", "2", "--steps", "4", "--inner", "1", "--out", str(grid)]) == 0
    assert grid.stat().st_size > 1000 and "4 NFEs" in capsys.readouterr().out
    assert (
        run(
            [
                "sample",
                "--prior",
                str(out),
                "-n",
                "2",
                "--steps",
                "4",
                "--inner",
                "2",
                "--fixed-grid",
                "--image-size",
                "48",
                "--out",
                str(raw),
            ]
        )
        == 0
    )
    samples = np.load(raw)
    assert samples.shape == (2, 1, 48, 48) and samples.min() >= 0 and samples.max() <= 1
    printed = capsys.readouterr().out
    assert "8 NFEs" in printed and "fixed grid" in printed
    heun = ["sample", "--prior", str(out), "-n", "2", "--steps", "4", "--method", "heun", "--out", str(grid)]
    assert run(heun) == 0 and "7 NFEs" in capsys.readouterr().out  # two per level, one on the last
    ddim = ["sample", "--prior", str(out), "-n", "2", "--steps", "4", "--method", "ddim", "--eta", "0.5"]
    assert run([*ddim, "--out", str(grid)]) == 0 and "4 NFEs" in capsys.readouterr().out


@pytest.mark.parametrize(
    "args,message",
    [
        (["train", *TINY, "--patch-probs", "0.5,0.4", "--out", "p.safetensors"], "sum to 1"),
        (["train", *TINY, "--out", "p.pt"], ".safetensors"),
        (["train", *TINY, "--patch-sizes", "16,x", "--out", "p.safetensors"], "comma-separated integers"),
        (["sample", "--prior", "missing.safetensors", "--out", "s.png"], "does not exist"),
        (["sample", "--prior", "p.safetensors", "--out", "s.jpg"], ".png or .npy"),
        (
            ["sample", "--prior", "p.safetensors", "--out", "s.png", "--method", "ddim", "--eta", "2"],
            "must lie in 0..1",
        ),
    ],
)
def test_errors_are_one_line_with_exit_status_2(tmp_path, monkeypatch, capsys, args, message):
    monkeypatch.chdir(tmp_path)
    assert run(args) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


@pytest.mark.parametrize("solver", ["dps", "langevin", "pc", "ddnm", "diffpir", "dds"])
def test_reconstruct_with_a_prior_reports_nfe(tiny_prior_file, tmp_path, monkeypatch, capsys, solver):
    monkeypatch.chdir(tmp_path)
    # diffpir and dds have no inner iterations
    per_level = {"diffpir": ["--xi", "0.5"], "dds": ["--cg-iterations", "2", "--gamma", "0.1"]}.get(
        solver, ["--inner", "1"]
    )
    assert (
        run(
            [
                "reconstruct",
                "--op",
                "ct20",
                "--image-size",
                "64",
                "--prior",
                str(tiny_prior_file),
                "--solver",
                solver,
                "--steps",
                "3",
                *per_level,
                "--fallback",
                "none",
                "--json",
                "--no-save",
            ]
        )
        == 0
    )
    report = json.loads(capsys.readouterr().out)
    assert report["solver"] == solver and report["nfe"] == (6 if solver == "pc" else 3)
    assert report["prior"] == str(tiny_prior_file) and 0 < report["psnr"] < 60
    assert report["out"] is None and not list(tmp_path.iterdir())


@pytest.mark.parametrize("op,solver", [("ct8", "dds"), ("deblur", "diffpir"), ("sr4", "diffpir")])
def test_a_prior_runs_the_preferred_solver_of_the_operator(tiny_prior_file, tmp_path, monkeypatch, capsys, op, solver):
    monkeypatch.chdir(tmp_path)
    np.save(
        tmp_path / "gray.npy", np.random.default_rng(0).random((32, 32), dtype=np.float32)
    )  # 1 channel, as the prior
    assert (
        run(
            [
                "reconstruct",
                "--op",
                op,
                "--input",
                "gray.npy",
                "--prior",
                str(tiny_prior_file),
                "--steps",
                "2",
                "--fallback",
                "none",
                "--json",
                "--no-save",
            ]
        )
        == 0
    )
    report = json.loads(capsys.readouterr().out)
    chosen = choose_settings(get_solver(solver), make_operator(op, 32, channels=1), load(tiny_prior_file))
    inner = chosen.values.get("inner", 1)
    assert report["solver"] == solver and report["nfe"] == 2 * inner


def test_reconstruct_with_a_prior_keeps_its_image_and_figure(tiny_prior_file, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert run(["reconstruct", "--op", "ct8", "--prior", str(tiny_prior_file), "--steps", "2"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ct8-tiny-figure.png", "ct8-tiny.png"]
    assert "wrote ct8-tiny.png" in capsys.readouterr().out


def test_padis_and_whole_name_the_bundled_prior_of_the_operators_domain(tiny_prior_file, tmp_path, monkeypatch, capsys):
    bundled = tmp_path / "bundled"
    bundled.mkdir()
    (bundled / "padis-ct.safetensors").write_bytes(tiny_prior_file.read_bytes())
    monkeypatch.setattr("invsolve.priors.checkpoint.BUNDLED_DIR", bundled)
    monkeypatch.chdir(tmp_path)
    assert run(["reconstruct", "--op", "ct8", "--prior", "padis", "--steps", "2", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (
        report["prior"] == "padis-ct" and report["out"] == "ct8-padis-ct.png" and (tmp_path / report["figure"]).exists()
    )
    assert run(["reconstruct", "--op", "deblur", "--prior", "whole", "--json"]) == 2
    assert "the bundled prior whole-photo is missing from this installation" in capsys.readouterr().err


def test_reconstruct_defaults_to_dds_at_the_priors_size_and_refuses_mismatches(
    tiny_prior_file, tmp_path, monkeypatch, capsys
):
    monkeypatch.chdir(tmp_path)
    argv = ["reconstruct", "--op", "ct8", "--prior", str(tiny_prior_file), "--steps", "2", "--fallback", "none"]
    assert run([*argv, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["solver"] == "dds" and report["image_size"] == 64  # the prior's size, not the usual 128
    for extra, message in (
        (["--op", "deblur"], "1-channel images"),
        (["--op", "ct8", "--lam", "0.1"], "no setting lam"),
        (["--op", "ct8", "--inner", "2"], "no setting inner"),
        (["--op", "ct8", "--solver", "admm-tv"], "takes no prior"),
    ):
        assert run(["reconstruct", "--image-size", "64", "--prior", str(tiny_prior_file), *extra]) == 2
        err = capsys.readouterr().err.strip()
        assert message in err and len(err.splitlines()) == 1
