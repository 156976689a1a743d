"""The task layer: settings are the solver's generic values, then the tuned row of the task (read
from the tuned table, applied only to the preset it was tuned for), then what the caller passes;
a case runs, and is scored, in one place."""

import dataclasses
import inspect
import math
import re
import shutil
import warnings
from pathlib import Path

import pytest
import torch

from invsolve import reconstruct
from invsolve.errors import GenericSettingsNotice, InvsolveError
from invsolve.metrics import ssim
from invsolve.operators import PRESETS, SliceStack, make_operator, preset_differences
from invsolve.priors import DenoiserPrior, EDMNetwork, GaussianPrior, PatchPrior, WholeImagePrior, load
from invsolve.solvers import SOLVERS, get_solver, preferred_solver
from invsolve.solvers.settings import GENERIC, TUNED_FILE, VOLUME_SETTINGS, TunedRow, read_tuned
from invsolve.tasks import choose_settings, couples_slices, run_case

ROOT = Path(__file__).resolve().parents[1]
TUNED = read_tuned().rows


def tuned(solver, preset, kind):
    (row,) = [r for r in TUNED if r.key == (solver, preset, kind)]
    return row.settings


def settings(solver, operator, prior=None, **given):
    return choose_settings(get_solver(solver), operator, prior, given).values


def test_every_solver_takes_exactly_the_settings_of_the_table():
    for name, solver in SOLVERS.items():
        keywords = inspect.signature(solver.run).parameters.values()
        taken = {p.name for p in keywords if p.kind is p.KEYWORD_ONLY} - {"generator", "progress", "callback", "info"}
        assert taken == set(GENERIC[name]) == set(solver.generic), name


def test_a_solver_called_directly_runs_its_generic_values_and_looks_nothing_up():
    seen = {}
    dds = dataclasses.replace(get_solver("dds"), run=lambda *args, **kwargs: seen.update(kwargs))
    op = make_operator("ct8", 32)  # a preset with tuned dds values: a direct call does not use them
    dds(op, op.A(torch.rand(1, 1, 32, 32)), GaussianPrior(32, mean=0.5, std=0.2), steps=7)
    assert {k: seen[k] for k in GENERIC["dds"]} == GENERIC["dds"] | {"steps": 7}


@pytest.fixture(scope="module")
def padis_ct():
    return load("padis-ct")


def test_every_row_names_a_preset_a_solver_its_settings_and_an_existing_log():
    for row in TUNED:
        assert row.preset in PRESETS and row.solver in SOLVERS
        assert set(row.settings) <= set(get_solver(row.solver).parameters), row
        assert (ROOT / row.log).is_file(), row.log
        assert (row.prior is None) == (not get_solver(row.solver).needs_prior)
    keys = [row.key for row in TUNED]
    assert len(keys) == len(set(keys))  # one row per (solver, preset, prior kind)


def test_a_changed_value_in_a_copy_of_the_tuned_table_is_what_reconstruct_runs(tmp_path):
    copy = tmp_path / "tuned.toml"
    shutil.copy(TUNED_FILE, copy)
    row = read_tuned(copy).row("admm-tv", "ct8", None)
    copy.write_text(read_tuned(copy).with_row(TunedRow(**{**row.__dict__, "settings": {"lam": 0.7}})).toml())
    changed = reconstruct("ct8", solver="admm-tv", image_size=64, iterations=2, tuned=copy).report
    packaged = reconstruct("ct8", solver="admm-tv", image_size=64, iterations=2).report
    assert changed["settings"]["lam"] == 0.7
    assert packaged["settings"]["lam"] == row.settings["lam_noiseless"]  # noiseless: the rule's floor
    assert changed["settings"]["rho_factor"] == GENERIC["admm-tv"]["rho_factor"]  # the row replaced whole
    assert changed["psnr"] != packaged["psnr"]


def test_a_damaged_tuned_table_is_named(tmp_path):
    bad = tmp_path / "tuned.toml"
    bad.write_text('[[tuned]]\nsolver = "dds"\npreset = "ct8"\nprior = "padis"\nsettings = { xi = 3 }\nlog = "x"\n')
    with pytest.raises(InvsolveError, match=r"setting xi must be a finite number in 0\.\.1"):
        read_tuned(bad)
    bad.write_text('[[tuned]]\nsolver = "dds"\npreset = "ct8"\nprior = "padis"\nsettings = 3\nlog = "x"\n')
    with pytest.raises(InvsolveError, match="tuned row 1: field settings is 3; expected a table"):
        read_tuned(bad)
    bad.write_text('[[tuned]]\nsolver = "dds"\n')
    with pytest.raises(InvsolveError, match="tuned row 1: field preset is missing"):
        read_tuned(bad)


def test_the_preset_itself_gets_its_tuned_values_at_any_size_without_a_notice(padis_ct):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for size in (64, 128):
            chosen = settings("dps", make_operator("ct8", size), padis_ct)
            assert chosen == GENERIC["dps"] | tuned("dps", "ct8", "padis")
        chosen = settings("admm-tv", make_operator("ct20", 64))
        assert chosen["lam_noiseless"] == tuned("admm-tv", "ct20", None)["lam_noiseless"]


def test_a_volume_of_a_presets_slices_gets_the_presets_tuned_values(padis_ct):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        volume = SliceStack(make_operator("ct8", 64), depth=3)
        assert settings("dps", volume, padis_ct) == GENERIC["dps"] | tuned("dps", "ct8", "padis")
    with pytest.warns(GenericSettingsNotice, match="views 30 instead of 8"):
        assert settings("dps", SliceStack(make_operator("ct8", 64, views=30), 3), padis_ct) == GENERIC["dps"]


def test_dds_couples_the_slices_of_a_deeper_volume_by_default_and_not_a_single_slice(padis_ct):
    image_operator = make_operator("ct8", 64)
    flat = settings("dds", image_operator, padis_ct)
    assert flat["tv_weight"] == 0
    assert settings("dds", SliceStack(image_operator, 3), padis_ct) == flat | VOLUME_SETTINGS["dds"]
    assert VOLUME_SETTINGS["dds"]["tv_weight"] > 0 and couples_slices("dds", VOLUME_SETTINGS["dds"])
    assert settings("dds", SliceStack(image_operator, 1), padis_ct) == flat  # as its image
    assert settings("dds", SliceStack(image_operator, 3), padis_ct, tv_weight=0.0)["tv_weight"] == 0


def test_a_volume_case_scores_all_its_voxels_and_the_mean_ssim_of_its_slices():
    x = torch.rand(1, 1, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    outcome = run_case(
        SliceStack(make_operator("ct20", 32), 3), get_solver("admm-tv"), truth=x, settings={"iterations": 5}
    )
    squared_error = ((outcome.image.clamp(0, 1) - x) ** 2).double().mean().item()
    assert outcome.image.shape == x.shape and outcome.psnr == pytest.approx(-10 * math.log10(squared_error))
    per_slice = ssim(outcome.image[0].movedim(1, 0), x[0].movedim(1, 0))
    assert outcome.ssim == pytest.approx(sum(per_slice) / 3)


def test_ct8_with_30_views_gets_the_generic_values_and_a_notice_not_ct8s(padis_ct):
    op = make_operator("ct8", image_size=128, views=30)
    assert preset_differences(op) == {"views": (30, 8)}
    with pytest.warns(GenericSettingsNotice, match=r"views 30 instead of 8.*dps uses its generic settings"):
        chosen = settings("dps", op, padis_ct)
    assert chosen == GENERIC["dps"]
    assert chosen["zeta"] != tuned("dps", "ct8", "padis")["zeta"]


def test_a_noise_level_other_than_the_presets_keeps_its_tuned_values():
    """The solvers follow the measurement's noise by their rules, so a noisier (or photon-count)
    measurement of a preset is still that preset's task."""
    prior = WholeImagePrior(EDMNetwork(1, "tiny", False, 32), 32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for op in (make_operator("deblur", 32, noise=0.05), make_operator("deblur", 32)):
            assert settings("diffpir", op, prior) == GENERIC["diffpir"] | tuned("diffpir", "deblur", "whole")
        for op in (make_operator("ct8", 32, noise=0.3), make_operator("ct8", 32, photons=1e4)):
            assert settings("admm-tv", op) == GENERIC["admm-tv"] | tuned("admm-tv", "ct8", None)


def test_values_are_keyed_by_the_prior_kind():
    op = make_operator("ct20", 32)
    patch = PatchPrior(EDMNetwork(1, "tiny", True, 8), 32, 8)
    whole = WholeImagePrior(EDMNetwork(1, "tiny", False, 32), 32)
    other = DenoiserPrior(torch.nn.Identity(), channels=1)
    assert settings("langevin", op, patch) == GENERIC["langevin"] | tuned("langevin", "ct20", "padis")
    assert settings("langevin", op, whole) == GENERIC["langevin"]  # tuned with a PaDIS prior only
    assert settings("dps", op, whole)["zeta"] == tuned("dps", "ct20", "whole")["zeta"]
    assert settings("dps", op, other) == GENERIC["dps"]


def test_deepinv_physics_and_unnamed_operators_get_the_generic_values():
    from deepinv.physics import Denoising

    assert preset_differences(Denoising()) is None
    assert settings("admm-tv", Denoising())["lam"] is None  # ADMM-TV then asks for lam


def test_each_preset_has_its_preferred_solver():
    assert {p: preferred_solver(p) for p in PRESETS} == {
        "ct20": "dds",
        "ct8": "dds",
        "deblur": "diffpir",
        "sr4": "diffpir",
    }
    assert preferred_solver("ct8", with_prior=False) == "admm-tv"


@pytest.mark.parametrize(
    "solver, settings, message",
    [
        ("dps", {"inner": -1}, "setting inner must be an integer of at least 1, got -1"),
        ("dps", {"zeta": -1.0}, "setting zeta must be a finite number, 0 or more"),
        ("dps", {"steps": "50"}, "setting steps must be an integer of at least 1, got '50'"),
        ("dps", {"steps": True}, "setting steps must be an integer"),
        ("dds", {"xi": 1.5}, "setting xi must be a finite number in 0..1"),
        ("dds", {"cg_iterations": 2.5}, "setting cg_iterations must be an integer, 0 or more"),
        ("dds", {"sigma_max": float("nan")}, "setting sigma_max must be a finite number above 0"),
        ("dds", {"sigma_max": 0.01, "sigma_min": 0.1}, "sigma_max (0.01) must exceed sigma_min (0.1)"),
        ("dds", {"schedule": "cosine"}, "setting schedule must be edm or geometric"),
        ("admm-tv", {"lam": "0.1"}, "setting lam must be a finite number above 0, got '0.1'"),
        ("admm-tv", {"tv": "l1"}, "setting tv must be isotropic or anisotropic"),
    ],
)
def test_settings_of_the_wrong_type_or_range_are_refused_before_any_work(solver, settings, message):
    operator = make_operator("ct8", image_size=32)
    with pytest.raises(InvsolveError, match=re.escape(message)):
        choose_settings(get_solver(solver), operator, given=settings)
    with pytest.raises(InvsolveError, match=re.escape(message)):
        get_solver(solver).complete(**settings)


def test_a_case_scores_the_reconstruction_and_the_baseline_and_names_its_tuned_log():
    op = make_operator("ct20", 32)
    truth = torch.rand(1, 1, 32, 32, generator=torch.Generator().manual_seed(0))
    outcome = run_case(op, get_solver("admm-tv"), truth=truth, settings={"iterations": 5})
    assert outcome.tuned_log == read_tuned().row("admm-tv", "ct20", None).log
    assert outcome.settings["iterations"] == 5 and outcome.nfe == 0 and outcome.seconds > 0
    assert outcome.baseline_psnr < outcome.psnr  # ADMM-TV beats FBP on the phantom-free random image too
    again = run_case(op, get_solver("admm-tv"), measurement=outcome.measurement, settings={"iterations": 5})
    assert again.psnr is None and torch.equal(again.image, outcome.image)
    with pytest.raises(InvsolveError, match="not both"):
        run_case(op, get_solver("admm-tv"), truth=truth, measurement=outcome.measurement)
