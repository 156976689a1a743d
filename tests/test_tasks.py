"""The table of tuned defaults: a value applies only to the task it was tuned for."""

import re
import warnings
from pathlib import Path

import pytest
import torch

from invsolve.errors import GenericSettingsNotice, InvsolveError
from invsolve.operators import PRESETS, make_operator, preset_differences
from invsolve.priors import DenoiserPrior, EDMNetwork, PatchPrior, WholeImagePrior, load
from invsolve.solvers import SOLVERS, get_solver, preferred_solver
from invsolve.solvers.defaults import GENERIC, TUNED

ROOT = Path(__file__).resolve().parents[2]


def tuned(solver, preset, kind):
    (row,) = [r for r in TUNED if r.solver == solver and r.preset == preset and kind in r.kinds]
    return row.settings


@pytest.fixture(scope="module")
def padis_ct():
    return load("padis-ct")


def test_every_row_names_a_preset_a_solver_its_settings_and_an_existing_log():
    for row in TUNED:
        assert row.preset in PRESETS and row.solver in SOLVERS
        assert set(row.settings) <= set(get_solver(row.solver).parameters), row
        assert (ROOT / row.log).is_file(), row.log
    keys = [(row.solver, row.preset, kind) for row in TUNED for kind in row.kinds]
    assert len(keys) == len(set(keys))  # one row per (solver, preset, prior kind)


def test_the_preset_itself_gets_its_tuned_values_at_any_size_without_a_notice(padis_ct):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for size in (64, 128):
            settings = get_solver("dps").settings(make_operator("ct8", size), padis_ct)
            assert settings == GENERIC["dps"] | tuned("dps", "ct8", "padis")
        assert get_solver("admm-tv").settings(make_operator("ct20", 64))["lam"] == tuned("admm-tv", "ct20", None)["lam"]


def test_ct8_with_30_views_gets_the_generic_values_and_a_notice_not_ct8s(padis_ct):
    op = make_operator("ct8", image_size=128, views=30)
    assert preset_differences(op) == {"views": (30, 8)}
    with pytest.warns(GenericSettingsNotice, match=r"views 30 instead of 8.*dps uses its generic settings"):
        settings = get_solver("dps").settings(op, padis_ct)
    assert settings == GENERIC["dps"]
    assert settings["zeta"] != tuned("dps", "ct8", "padis")["zeta"]


def test_a_noise_level_other_than_the_presets_is_another_task():
    op = make_operator("deblur", 32, noise=0.05)
    prior = WholeImagePrior(EDMNetwork(1, "tiny", False, 32), 32)
    with pytest.warns(GenericSettingsNotice, match="noise 0.05 instead of 0.01"):
        assert get_solver("diffpir").settings(op, prior) == GENERIC["diffpir"]
    with warnings.catch_warnings():  # every tuned value passed: nothing to warn about
        warnings.simplefilter("error")
        get_solver("diffpir").settings(op, prior, steps=10, lam=1.0, xi=0.5, sigma_max=1.0)


def test_values_are_keyed_by_the_prior_kind():
    op = make_operator("ct20", 32)
    patch = PatchPrior(EDMNetwork(1, "tiny", True, 8), 32, 8)
    whole = WholeImagePrior(EDMNetwork(1, "tiny", False, 32), 32)
    other = DenoiserPrior(torch.nn.Identity(), channels=1)
    langevin = get_solver("langevin")
    assert langevin.settings(op, patch) == GENERIC["langevin"] | tuned("langevin", "ct20", "padis")
    assert langevin.settings(op, whole) == GENERIC["langevin"]  # tuned with a PaDIS prior only
    assert get_solver("dps").settings(op, whole)["zeta"] == tuned("dps", "ct20", "whole")["zeta"]
    assert get_solver("dps").settings(op, other) == GENERIC["dps"]


def test_deepinv_physics_and_unnamed_operators_get_the_generic_values():
    from deepinv.physics import Denoising

    assert preset_differences(Denoising()) is None
    assert get_solver("admm-tv").settings(Denoising())["lam"] is None  # ADMM-TV then asks for lam


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
        ("dds", {"xi": 1.5}, "setting xi must be a number in 0..1"),
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
        get_solver(solver).settings(operator, **settings)
