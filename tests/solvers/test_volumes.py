"""Solvers on volumes: a volume of one slice is the 2D problem, a deeper one is denoised slice by
slice in bounded batches and coupled along z by TV."""

import pytest
import torch

from invsolve.operators import SliceStack, make_operator
from invsolve.priors import load
from invsolve.solvers import get_solver, loop


@pytest.fixture(scope="module")
def prior(tiny_prior_file):
    return load(tiny_prior_file)


@pytest.mark.parametrize("name,settings", [("dds", {"steps": 4, "tv_weight": 0.01}), ("admm-tv", {"iterations": 20})])
def test_a_volume_of_one_slice_reconstructs_as_its_image(prior, name, settings):
    image_operator = make_operator("ct8", 64, noise=0.05)
    x = torch.rand(1, 1, 64, 64, generator=torch.Generator().manual_seed(0))
    y = image_operator.simulate(x, torch.Generator().manual_seed(1))
    solver, used = get_solver(name), prior if name == "dds" else None
    flat = solver(image_operator, y, used, generator=torch.Generator().manual_seed(2), **settings)
    volume = solver(
        SliceStack(image_operator, 1), y[:, :, None], used, generator=torch.Generator().manual_seed(2), **settings
    )
    assert volume.shape == (1, 1, 1, 64, 64)
    assert torch.equal(volume[:, :, 0], flat)


def test_a_volume_goes_through_the_prior_a_bounded_number_of_slices_at_a_time(prior, monkeypatch):
    monkeypatch.setattr(loop, "SLICES_PER_CALL", 2)
    seen = []

    class Recording:
        slices = 1

        def __call__(self, x, sigma, generator=None):
            seen.append(x.shape[0])
            return prior(x, sigma, generator=generator)

    counted = loop.CountedPrior(Recording())
    volume = torch.rand(1, 1, 5, 64, 64, generator=torch.Generator().manual_seed(0))
    denoised = counted.denoise(volume, 0.5, torch.Generator().manual_seed(1))
    assert denoised.shape == volume.shape and seen == [2, 2, 1] and counted.nfe == 1


def test_admm_tv_on_a_volume_couples_its_slices():
    """Four noisy 8-view measurements of one phantom slice: TV over the volume's three axes keeps
    the reconstructed slices together (and nearer the truth) where TV slice by slice lets each
    follow its own noise."""
    from invsolve.data import get_source

    image_operator = make_operator("ct8", 64, noise=0.2)
    volume_operator = SliceStack(image_operator, 4)
    x = get_source("phantoms", "validation", 64)[0][None, :, None].expand(1, 1, 4, 64, 64).contiguous()
    y = volume_operator.simulate(x, torch.Generator().manual_seed(1))
    admm = get_solver("admm-tv")
    coupled = admm(volume_operator, y, lam=0.1)
    by_slice = admm(image_operator, y[0].movedim(1, 0), lam=0.1).movedim(0, 1)[None]
    along_z = {name: run.diff(dim=2).abs().mean().item() for name, run in (("coupled", coupled), ("slices", by_slice))}
    assert along_z["coupled"] < 0.6 * along_z["slices"]  # measured 0.012 against 0.025
    assert ((coupled - x) ** 2).mean() < ((by_slice - x) ** 2).mean()


def test_without_a_tv_term_a_volume_case_is_solved_slice_by_slice(prior):
    """z coupling off: the volume's reconstruction is the 2D solver's on the batch of its slices."""
    from invsolve.tasks import couples_slices, run_case

    image_operator = make_operator("ct8", 64, noise=0.05)
    volume_operator = SliceStack(image_operator, 3)
    x = torch.rand(1, 1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    dds = get_solver("dds")
    settings = {"steps": 4, "tv_weight": 0.0}
    assert not couples_slices("dds", settings) and couples_slices("dds", {"tv_weight": 0.01})
    outcome = run_case(volume_operator, dds, prior, truth=x, seed=5, settings=settings)
    slices = outcome.measurement[0].movedim(1, 0)  # (D, C, views, bins)
    by_slice = dds(image_operator, slices, prior, generator=torch.Generator().manual_seed(5), **outcome.settings)
    assert torch.equal(outcome.image[0].movedim(1, 0), by_slice)
    coupled = run_case(volume_operator, dds, prior, truth=x, seed=5, settings=settings | {"tv_weight": 0.01})
    assert not torch.equal(coupled.image, outcome.image)


@pytest.mark.parametrize("noise", [0.0, 0.2])
def test_a_volume_couples_its_slices_by_a_weight_that_grows_with_the_noise_as_admm_tvs_does(prior, noise):
    """By default DDS couples a volume's slices by TV at its noiseless weight times ADMM-TV's own
    growth with the noise, lam(sigma) / lam(0); the outcome records the weight used, and giving that
    weight with the growth off reproduces the reconstruction."""
    from invsolve.solvers.admm_tv import tv_weight as admm_weight
    from invsolve.solvers.settings import GENERIC, VOLUME_SETTINGS
    from invsolve.tasks import run_case

    volume_operator = SliceStack(make_operator("ct8", 64, noise=noise), 3)
    x = torch.rand(1, 1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    dds = get_solver("dds")
    outcome = run_case(volume_operator, dds, prior, truth=x, seed=5, settings={"steps": 3})
    admm = {k: v for k, v in GENERIC["admm-tv"].items() if k.startswith("lam_")}
    growth = admm_weight(volume_operator, outcome.measurement, **admm) / admm["lam_noiseless"]
    used = VOLUME_SETTINGS["dds"]["tv_weight"] * growth
    assert outcome.settings["tv_weight_used"] == pytest.approx(used, rel=1e-3)
    assert (growth > 1) == (noise > 0)
    fixed = {"steps": 3, "tv_weight": outcome.settings["tv_weight_used"], "tv_noise_gain": 0.0}
    given = run_case(volume_operator, dds, prior, truth=x, seed=5, settings=fixed)
    assert torch.allclose(given.image, outcome.image, atol=1e-5)


def test_the_check_on_a_deep_volume_runs_on_its_middle_slab(prior):
    """The held-out check of a volume deeper than CHECK_SLICES sees only that many slices from its
    middle: its verdict and held-out errors are those of the middle slab given as a volume."""
    from invsolve.tasks import CHECK_SLICES, run_case

    image_operator = make_operator("ct8", 64, noise=0.05)
    depth = CHECK_SLICES + 3
    x = torch.rand(1, 1, depth, 64, 64, generator=torch.Generator().manual_seed(0))
    y = SliceStack(image_operator, depth).simulate(x, torch.Generator().manual_seed(1))
    dds, admm = get_solver("dds"), get_solver("admm-tv")
    settings = {"steps": 3}
    deep = run_case(SliceStack(image_operator, depth), dds, prior, measurement=y, settings=settings, fallback=admm)
    middle = y[:, :, 1 : 1 + CHECK_SLICES]
    slab = run_case(
        SliceStack(image_operator, CHECK_SLICES), dds, prior, measurement=middle, settings=settings, fallback=admm
    )
    assert deep.fallback == slab.fallback
    assert deep.image.shape[2] == depth
