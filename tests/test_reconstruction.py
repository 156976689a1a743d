"""``invsolve.reconstruct``: the function behind ``invsolve reconstruct`` and the main job."""

import json

import pytest
import torch

from invsolve import InvsolveError, get_source, make_operator, psnr, reconstruct
from invsolve.cli import main
from invsolve.io import read_image
from invsolve.operators import get_preset
from invsolve.solvers import get_solver, preferred_solver
from invsolve.solvers.settings import read_tuned

FAST = {"image_size": 64, "iterations": 5}


def test_the_command_line_reports_what_the_function_returns(capsys):
    result = reconstruct("ct8", seed=3, **FAST)
    assert main(["reconstruct", "--op", "ct8", "--image-size", "64", "--iterations", "5", "--seed", "3", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed.pop("out") is None and printed.pop("figure") is None
    measured = {"seconds": printed["seconds"], "peak_memory_mib": printed["peak_memory_mib"]}  # of each run
    assert printed == {**result.report, **measured}
    assert result.report["solver"] == "admm-tv" and result.report["settings"]["lam"] == 0.03
    assert result.image.shape == result.truth.shape == (1, 1, 64, 64)
    assert psnr(result.image[0], result.truth[0]) == result.report["psnr"] > result.report["baseline_psnr"]


def test_a_tensor_image_and_a_tensor_measurement_work_like_files(tmp_path):
    truth = get_source("photos", "test", 64)[1]
    from_tensor = reconstruct("deblur", image=truth, seed=1, **FAST)
    assert from_tensor.report["input"] == "tensor" and from_tensor.report["channels"] == 3
    y = make_operator("deblur", 64, channels=3).simulate(truth[None], torch.Generator().manual_seed(1))
    measured = reconstruct("deblur", measurement=y[0], noise=0.01, **FAST)  # the level simulated, given
    assert torch.equal(measured.image, from_tensor.image)  # the same data, the same reconstruction
    assert measured.truth is None and measured.report["psnr"] is None


def test_save_writes_the_image_and_the_figure(tmp_path):
    result = reconstruct("sr4", solver="baseline", image_size=64)
    written = result.save(tmp_path / "r.png", tmp_path / "f.png")
    assert written == [str(tmp_path / "r.png"), str(tmp_path / "f.png")]
    assert read_image(tmp_path / "r.png").shape == (3, 64, 64) and read_image(tmp_path / "f.png").shape[0] == 3
    assert "nearest upsampling" in result.summary() and "PSNR" in result.summary()


@pytest.mark.parametrize(
    "call,message",
    [
        (dict(image_size=4), "image_size must be at least 8"),
        (dict(image=torch.zeros(1, 64, 64), measurement=torch.zeros(1, 8, 128)), "only one of"),
        (dict(image=torch.zeros(1, 64, 64), volume="scan.nii"), "only one of"),
        (dict(volume=5), "volume must be a path or a Volume, got int"),
        (dict(image=torch.zeros(1, 32, 32), image_size=64), "image_size is 64"),
        (dict(solver="dps"), "needs a prior"),
        (dict(zeta=1.0), "no setting zeta"),
    ],
)
def test_bad_arguments_are_refused_naming_the_python_parameter(call, message):
    with pytest.raises(InvsolveError, match=message) as error:
        reconstruct("ct8", **call)
    assert "--" not in str(error.value)


def test_save_refuses_a_bad_name_before_writing(tmp_path):
    result = reconstruct("sr4", solver="baseline", image_size=64)
    with pytest.raises(InvsolveError, match=r"out .*must end in \.png or \.npy"):
        result.save(tmp_path / "r.jpg")
    assert not list(tmp_path.iterdir())


def test_the_prior_precision_is_chosen_and_reported(tiny_prior_file, device):
    from invsolve.devices import bf16_pays

    runs = {
        precision: reconstruct(
            "ct8", prior=tiny_prior_file, precision=precision, steps=4, image_size=64, device=device, fallback=None
        )
        for precision in ("auto", "fp32", "bf16")
    }
    assert runs["fp32"].report["precision"] == "fp32" and runs["bf16"].report["precision"] == "bf16"
    assert runs["auto"].report["precision"] == ("bf16" if bf16_pays(device) else "fp32")
    assert runs["auto"].report["device"] == str(device) and runs["auto"].image.device.type == device.type
    assert not torch.equal(runs["fp32"].image, runs["bf16"].image)
    assert torch.equal(runs["auto"].image, runs[runs["auto"].report["precision"]].image)
    assert reconstruct("ct8", solver="admm-tv", **FAST).report["precision"] is None  # no network, no precision


@pytest.mark.parametrize("op", ["ct20", "ct8", "deblur", "sr4"])
@pytest.mark.parametrize("kind", ["padis", "whole"])
def test_every_preset_runs_both_bundled_priors_with_its_tuned_solver(op, kind):
    """What ``invsolve reconstruct --op OP --prior padis|whole`` runs: the domain's bundled prior, the
    preset's preferred solver at the values tuned for it (four levels here instead of its own)."""
    result = reconstruct(op, prior=kind, steps=4, fallback=None)  # the prior itself, unchecked
    report, solver = result.report, preferred_solver(op)
    domain = get_preset(op).domain
    assert report["solver"] == solver and report["prior"] == f"{kind}-{domain}" and report["nfe"] == 4
    tuned = read_tuned().row(solver, op, kind)
    assert tuned is not None and report["settings"] == get_solver(solver).generic | tuned.settings | {"steps": 4}
    assert report["tuned_log"] == tuned.log
    assert result.image.shape == result.truth.shape and 0 <= result.image.min() <= result.image.max() <= 1
    if domain == "ct":  # four data-consistent levels already clear FBP's streaks
        assert report["psnr"] > report["baseline_psnr"] + 2


def test_posterior_samples_give_a_mean_and_a_std_map_repeatable_by_seed(tiny_prior_file, tmp_path):
    run = {"prior": tiny_prior_file, "image_size": 64, "steps": 3, "fallback": None}
    first, again = (reconstruct("ct8", samples=3, seed=4, **run) for _ in range(2))
    assert torch.equal(first.image, again.image) and torch.equal(first.std, again.std)
    assert first.std.shape == first.image.shape == (1, 1, 64, 64) and first.std.max() > 0
    assert first.report["samples"] == 3 and -1 <= first.report["std_error_correlation"] <= 1
    other = reconstruct("ct8", samples=3, seed=5, **run)
    assert not torch.equal(first.std, other.std)
    one = reconstruct("ct8", seed=4, **run)
    assert one.std is None and "std_mean" not in one.report
    assert first.save(figure=tmp_path / "f.png") and "posterior std over 3 samples" in first.summary()


def test_samples_are_refused_where_nothing_is_random():
    with pytest.raises(InvsolveError, match="samples needs a diffusion solver; admm-tv"):
        reconstruct("ct8", image_size=64, samples=2)
    with pytest.raises(InvsolveError, match="samples must be an integer"):
        reconstruct("ct8", image_size=64, samples=2.5)
