"""Diffusion solvers against an exact Gaussian posterior, DDNM's data consistency, and every
solver x prior x preset combination."""

import deepinv
import pytest
import torch

from invsolve.errors import InvsolveError
from invsolve.operators import make_operator
from invsolve.priors import DenoiserPrior, EDMNetwork, GaussianPrior, PatchPrior, WholeImagePrior, load
from invsolve.solvers import diffusion, get_solver
from tests.helpers import SAMPLES, bias_in_posterior_sds

# Sampling error alone: the mean of 64 samples is off by 1/8 = 0.125 posterior sd per pixel (rms), so
# |bias| averages ~0.1. Measured (seeded): Langevin 0.16, PC 0.13, DPS 0.33 (DPS is an approximation:
# its plain-norm step never shrinks). A data step of the wrong sign or 10x the size gives > 1.
CASES = {
    "langevin": (dict(inner=5, zeta=0.01), 0.3),
    "pc": (dict(inner=2, zeta=0.01), 0.3),
    "dps": (dict(inner=5, zeta=0.03), 0.5),
}


@pytest.mark.parametrize("solver", list(CASES))
def test_sample_mean_matches_the_exact_posterior_mean(gaussian_problem, solver, device):
    settings, bound = CASES[solver]
    assert bias_in_posterior_sds(gaussian_problem, solver, device, **settings) < bound


@pytest.mark.parametrize("solver", list(CASES))
@pytest.mark.parametrize("broken", [0.0, 10.0])
def test_a_broken_data_step_fails_the_same_check(gaussian_problem, solver, broken):
    settings, bound = CASES[solver]
    settings = settings | {"zeta": broken * settings["zeta"]}
    assert bias_in_posterior_sds(gaussian_problem, solver, **settings) > bound


# DiffPIR with lam 1 weighs the data by its noise exactly (rho = sigma_y^2 / sigma^2) and xi 1 renoises
# afresh: measured bias 0.08. Trusting the data 10x too much or too little (lam 0.1 / 10): 0.79 / 0.60.
def test_diffpir_sample_mean_matches_the_exact_posterior_mean(gaussian_problem, device):
    assert bias_in_posterior_sds(gaussian_problem, "diffpir", device, lam=1.0, xi=1.0) < 0.3


@pytest.mark.parametrize("lam", [0.1, 10.0])
def test_diffpir_with_a_wrong_data_weight_fails_the_same_check(gaussian_problem, lam):
    assert bias_in_posterior_sds(gaussian_problem, "diffpir", lam=lam, xi=1.0) > 0.3


def test_diffpir_refuses_settings_outside_their_range(gaussian_problem):
    prior, op, y, _, _ = gaussian_problem
    with pytest.raises(InvsolveError, match=r"setting xi must be a finite number in 0\.\.1"):
        get_solver("diffpir")(op, y, prior, steps=5, xi=1.5)
    with pytest.raises(InvsolveError, match="setting lam must be a finite number above 0"):
        get_solver("diffpir")(op, y, prior, steps=5, lam=0.0)


@pytest.fixture(scope="module")
def inpainting_problem():
    """Noiseless 4x subsampling of a 16 px Gaussian image: the exact posterior is the Gaussian
    conditioned on the kept pixels (mean and standard deviations of the pixels it leaves unknown)."""
    size = 16
    prior = GaussianPrior(size, mean=0.5, std=0.2, correlation_length=1.5)
    op = make_operator("sr4", size, channels=1, noise=0.0)
    y = op.A(prior.sample(1, torch.Generator().manual_seed(1)).clamp(0, 1))  # outputs are clamped too
    A = op.A(torch.eye(size * size).reshape(-1, 1, size, size)).reshape(size * size, -1).T.double()
    cov, mean = prior.covariance(), torch.full((size * size,), 0.5, dtype=torch.float64)
    gain = cov @ A.T @ torch.linalg.inv(A @ cov @ A.T)
    post_mean = mean + gain @ (y.reshape(-1).double() - A @ mean)
    post_sd = (cov - gain @ A @ cov).diagonal().clamp_min(0).sqrt()
    return prior, op, y, post_mean, post_sd


def dds_errors(problem):
    """DDS from 64 seeds: the mean over unknown pixels of |sample mean - posterior mean| / posterior sd,
    and the relative data misfit ||A x - y|| / ||y||."""
    prior, op, y, post_mean, post_sd = problem
    ys = y.repeat(SAMPLES, 1, 1, 1)
    x = get_solver("dds")(op, ys, prior, generator=torch.Generator().manual_seed(3), steps=50, cg_iterations=1)
    unknown = post_sd > 1e-3
    bias = ((x.reshape(SAMPLES, -1).double().mean(0) - post_mean) / post_sd)[unknown].abs().mean().item()
    return bias, ((op.A(x) - ys).norm() / ys.norm()).item()


# DDS is not an exact posterior sampler (where A^T A is a mask, its CG step replaces the kept pixels
# and leaves the others to the prior): measured bias 0.29, misfit 0. Without the data step the sample
# mean is the prior's (bias 0.62, misfit 0.47); with the data's sign flipped, bias 2.2, misfit 1.
def test_dds_fits_noiseless_data_and_comes_near_the_posterior_mean(inpainting_problem):
    bias, misfit = dds_errors(inpainting_problem)
    assert bias < 0.45 and misfit < 1e-4


@pytest.mark.parametrize(
    "broken_step",
    [
        lambda step: lambda op, y, anchor, *rest: anchor,  # no data step
        lambda step: lambda op, y, anchor, *rest: step(op, -y, anchor, *rest),  # the data's sign flipped
    ],
    ids=["removed", "flipped"],
)
def test_dds_with_a_broken_data_step_fails_the_same_check(inpainting_problem, monkeypatch, broken_step):
    monkeypatch.setattr(diffusion, "data_consistent", broken_step(diffusion.data_consistent))
    bias, misfit = dds_errors(inpainting_problem)
    assert bias > 0.45 and misfit > 0.1


def test_dds_uses_the_closed_form_prox_when_gamma_is_positive(monkeypatch):
    op = make_operator("deblur", 8, channels=1, kernel_size=3)
    y = op.simulate(torch.full((1, 1, 8, 8), 0.5), torch.Generator().manual_seed(0))
    calls = []
    monkeypatch.setattr(op, "prox_l2", lambda z, y, gamma: calls.append(gamma) or z)
    get_solver("dds")(op, y, GaussianPrior(8), steps=4, gamma=0.5, prior_weight=0.0)
    assert calls == [2.0] * 4  # deepinv's prox_l2 weighs the data by 1 / gamma


def test_dds_refuses_settings_outside_their_range(gaussian_problem):
    prior, op, y, _, _ = gaussian_problem
    run = get_solver("dds")
    for settings, message in (
        ({"xi": 1.5}, r"setting xi must be a finite number in 0\.\.1"),
        ({"gamma": -1.0}, "setting gamma must be a finite number, 0 or more"),
        ({"cg_iterations": 0}, "at least one CG iteration"),
        ({"start": "middle"}, "setting start must be baseline or noise"),
    ):
        with pytest.raises(InvsolveError, match=message):
            run(op, y, prior, steps=5, **settings)


@pytest.mark.parametrize("preset,size", [("deblur", 8), ("sr4", 16)])
def test_ddnm_fits_noiseless_data(preset, size):
    prior = GaussianPrior(size, mean=0.5, std=0.2)
    op = make_operator(preset, size, channels=1, noise=0.0, **({"kernel_size": 3} if preset == "deblur" else {}))
    y = op.simulate(prior.sample(2, torch.Generator().manual_seed(0)).clamp(0, 1))  # outputs are clamped too
    info = {}
    x = get_solver("ddnm")(op, y, prior, generator=torch.Generator().manual_seed(1), steps=20, inner=2, info=info)
    assert ((op.A(x) - y).flatten(1).norm(dim=1) / y.flatten(1).norm(dim=1)).max() < 1e-3
    assert info["nfe"] == 40


SOLVERS = ["dps", "langevin", "pc", "ddnm", "diffpir", "dds"]


def short_run(solver, steps=3):
    """Settings for a few-level run; DiffPIR and DDS have no inner iterations. Returns (settings, NFEs)."""
    settings = {"steps": steps} | ({} if solver in ("diffpir", "dds") else {"inner": 1})
    return settings, 2 * steps if solver == "pc" else steps


@pytest.fixture(scope="module")
def learned_priors():
    torch.manual_seed(0)
    return {
        channels: (
            PatchPrior(EDMNetwork(channels, "tiny", True, 8), 32, 8),
            WholeImagePrior(EDMNetwork(channels, "tiny", False, 32), 32),
        )
        for channels in (1, 3)
    }


@pytest.mark.parametrize("preset", ["ct20", "ct8", "deblur", "sr4"])
@pytest.mark.parametrize("solver", SOLVERS)
def test_every_solver_runs_with_patch_and_whole_image_priors_on_every_preset(learned_priors, preset, solver):
    channels = 1 if preset.startswith("ct") else 3
    op = make_operator(preset, 32, channels=channels)
    y = op.simulate(
        torch.rand(1, channels, 32, 32, generator=torch.Generator().manual_seed(0)), torch.Generator().manual_seed(1)
    )
    settings, nfe = short_run(solver)
    for prior in learned_priors[channels]:
        info = {}
        x = get_solver(solver)(op, y, prior, generator=torch.Generator().manual_seed(2), info=info, **settings)
        assert x.shape == (1, channels, 32, 32) and torch.isfinite(x).all() and x.min() >= 0 and x.max() <= 1
        assert info["nfe"] == nfe


def test_a_patch_prior_runs_inside_deepinvs_diffpir(learned_priors):
    prior = learned_priors[3][0]
    op = make_operator("deblur", 32, channels=3)
    y = op.simulate(torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(0)))
    sampler = deepinv.sampling.DiffPIR(prior, data_fidelity=deepinv.optim.data_fidelity.L2(), max_iter=4, sigma=0.01)
    x = sampler(y, op)
    assert x.shape == (1, 3, 32, 32) and torch.isfinite(x).all()


class ExplodingPrior(GaussianPrior):
    def denoise(self, x, sigma, generator=None):
        return super().denoise(x, sigma, generator) * (float("inf") if sigma.max() < 1 else 1)


@pytest.mark.parametrize("solver", SOLVERS)
def test_non_finite_iterates_stop_with_a_clear_error(solver):
    op = make_operator("deblur", 8, channels=1, kernel_size=3)
    y = op.simulate(torch.full((1, 1, 8, 8), 0.5))
    with pytest.raises(InvsolveError, match="the prior returned NaN/Inf at sigma"):
        get_solver(solver)(op, y, ExplodingPrior(8), **short_run(solver, steps=20)[0])


@pytest.mark.parametrize("solver", ["dps", "langevin", "pc"])
def test_a_diverging_data_step_is_blamed_on_the_step_size(solver):
    op = make_operator("deblur", 8, channels=1, kernel_size=3)
    y = op.simulate(torch.full((1, 1, 8, 8), 0.5))
    with pytest.raises(InvsolveError, match=r"iterate became NaN/Inf at noise level 1/20 .* lower the step size"):
        get_solver(solver)(op, y, GaussianPrior(8), steps=20, inner=1, zeta=1e300)


def test_diffusion_solvers_need_a_prior_and_refuse_unknown_settings():
    op = make_operator("deblur", 8, channels=1, kernel_size=3)
    y = op.simulate(torch.full((1, 1, 8, 8), 0.5))
    with pytest.raises(InvsolveError, match="needs a prior"):
        get_solver("dps")(op, y)
    with pytest.raises(InvsolveError, match="no setting lam"):
        get_solver("dps")(op, y, GaussianPrior(8), lam=0.1)


@pytest.mark.parametrize("solver", SOLVERS)
def test_a_deepinv_denoiser_and_a_deepinv_physics_work_with_every_solver(solver):
    torch.manual_seed(0)
    drunet = deepinv.models.DRUNet(1, 1, nc=(8, 8, 8, 8), nb=1, pretrained=None)
    prior = DenoiserPrior(drunet, sigma_min=0.01, sigma_max=0.2, channels=1)
    physics = deepinv.physics.Inpainting((1, 16, 16), mask=0.5, rng=torch.Generator().manual_seed(1))
    y = physics(torch.rand(2, 1, 16, 16, generator=torch.Generator().manual_seed(2)))
    info, (settings, nfe) = {}, short_run(solver)
    x = get_solver(solver)(physics, y, prior, generator=torch.Generator().manual_seed(3), info=info, **settings)
    assert x.shape == (2, 1, 16, 16) and torch.isfinite(x).all() and info["nfe"] == nfe


def test_a_bare_denoiser_is_refused_with_a_pointer_to_the_wrapper():
    op = make_operator("deblur", 8, channels=1, kernel_size=3)
    y = op.simulate(torch.full((1, 1, 8, 8), 0.5))
    with pytest.raises(InvsolveError, match="DenoiserPrior"):
        get_solver("dps")(op, y, deepinv.models.DRUNet(1, 1, nc=(8, 8, 8, 8), nb=1, pretrained=None))


def test_dps_can_start_from_noise_and_refuses_other_starts(gaussian_problem):
    prior, op, y, _, _ = gaussian_problem
    run = get_solver("dps")
    from_noise = run(op, y, prior, generator=torch.Generator().manual_seed(0), steps=10, inner=1, start="noise")
    from_baseline = run(op, y, prior, generator=torch.Generator().manual_seed(0), steps=10, inner=1)
    assert torch.isfinite(from_noise).all() and not torch.equal(from_noise, from_baseline)
    with pytest.raises(InvsolveError, match="setting start must be baseline or noise"):
        run(op, y, prior, steps=10, inner=1, start="middle")


def test_a_prior_with_broken_weights_is_blamed_not_the_step_size(tiny_prior_file):
    prior = load(tiny_prior_file)
    with torch.no_grad():
        next(prior.network.parameters()).fill_(float("nan"))
    op = make_operator("ct8", image_size=64)
    y = op.A(torch.full((1, 1, 64, 64), 0.5))
    for solver in ("dps", "dds"):
        with pytest.raises(InvsolveError, match=r"the prior returned NaN/Inf .* weights are damaged") as caught:
            get_solver(solver)(op, y, prior, steps=3)
        assert "zeta" not in str(caught.value)
