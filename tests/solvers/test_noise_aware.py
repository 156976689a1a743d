"""DDS on noisy data: the data step weighs the denoised image by the noise, stops at the discrepancy
principle, and with a TV term sits between DDS and ADMM-TV."""

import math

import pytest
import torch

from invsolve.data.phantoms import ct_phantom
from invsolve.operators import make_operator
from invsolve.priors.base import Prior
from invsolve.solvers import get_solver
from invsolve.solvers.admm_tv import TVSplit, total_variation
from invsolve.solvers.diffusion import data_consistent, tv_anchored

SIZE = 64


@pytest.fixture(scope="module")
def phantom():
    return torch.from_numpy(ct_phantom(0, SIZE))[None, None]


class SwitchedOff(Prior):
    """A prior that proposes nothing: the denoised image is its input."""

    channels, image_size = 1, None

    def denoise(self, x, sigma, generator):
        return x


def _objective(op, x, y, lam):
    return (0.5 * (op.A(x) - y).pow(2).sum() + lam * total_variation(x).sum()).item()


def test_the_tv_anchored_step_tends_to_the_cg_step_as_its_weight_vanishes(phantom):
    op = make_operator("ct8", SIZE, noise=0.1)
    y = op.simulate(phantom, torch.Generator().manual_seed(0))
    anchor = op.baseline(y)
    plain = data_consistent(op, y, anchor, 0.5, 5)
    for weight, close in ((1e-9, True), (1e-2, False)):
        with_tv = tv_anchored(op, y, anchor, 0.5, weight, 5, TVSplit.at(anchor))
        assert ((with_tv - plain).abs().max().item() < 1e-4) == close


def test_with_the_prior_switched_off_the_tv_anchored_dds_is_admm_tv(phantom):
    """An identity denoiser at negligible noise levels: each level is one warm-started ADMM
    iteration, so 200 levels reach ADMM-TV's minimum after 200 iterations (same penalty)."""
    op = make_operator("ct8", SIZE, noise=0.2)
    y = op.simulate(phantom, torch.Generator().manual_seed(0))
    lam = 0.2
    off = {"steps": 200, "sigma_max": 1e-6, "sigma_min": 1e-7, "xi": 0.0, "prior_weight": 0.0}
    dds = get_solver("dds")(op, y, SwitchedOff(), tv_weight=lam, cg_iterations=3, **off)
    admm = get_solver("admm-tv")(op, y, lam=lam, rho_factor=10.0, iterations=200, cg_iterations=3)
    admm = admm.clamp(0, 1)  # as every diffusion solver returns its estimate
    assert _objective(op, dds, y, lam) == pytest.approx(_objective(op, admm, y, lam), rel=0.01)
    plain = get_solver("dds")(op, y, SwitchedOff(), **off)
    assert _objective(op, plain, y, lam) > 1.1 * _objective(op, admm, y, lam)  # without TV: far from it


def test_the_discrepancy_principle_stops_the_fit_at_the_noise(phantom):
    sigma = 0.3
    op = make_operator("ct8", SIZE, noise=sigma)
    y = op.simulate(phantom, torch.Generator().manual_seed(0))
    target = math.sqrt(y.numel()) * sigma
    start = op.baseline(y)
    stopped = data_consistent(op, y, start, 0.0, 100, fitted_enough=target)
    overfit = data_consistent(op, y, start, 0.0, 100)
    assert 0.7 * target < (op.A(stopped) - y).norm().item() <= target
    assert (op.A(overfit) - y).norm().item() < 0.7 * target  # run on, CG fits the noise too
    assert (stopped - phantom).norm() < (overfit - phantom).norm()


def test_the_noise_weight_is_inert_on_noiseless_data_and_acts_on_noisy_data(phantom):
    def run(noise, prior_weight):
        op = make_operator("ct8", SIZE, noise=noise)
        y = op.simulate(phantom, torch.Generator().manual_seed(0))
        return get_solver("dds")(
            op, y, SwitchedOff(), steps=4, prior_weight=prior_weight, generator=torch.Generator().manual_seed(1)
        )

    assert torch.equal(run(0.0, 0.0), run(0.0, 5.0))
    assert not torch.allclose(run(0.3, 0.0), run(0.3, 5.0))
