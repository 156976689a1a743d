"""The shared schedule and loop: unconditional sampling reproduces a Gaussian prior exactly."""

import pytest
import torch

from invsolve.errors import InvsolveError
from invsolve.priors import GaussianPrior
from invsolve.solvers.prior_sampling import sample_prior
from invsolve.solvers.schedule import NoiseSchedule

COUNT = 2000


def draw(method, steps, inner, nfe_per_level=1, **options):
    prior = GaussianPrior(8, mean=0.5, std=0.2, correlation_length=1.5)
    samples, nfe = sample_prior(
        prior, COUNT, method=method, steps=steps, inner=inner, generator=torch.Generator().manual_seed(0), **options
    )
    assert nfe == steps * inner * nfe_per_level - (nfe_per_level - 1)  # Heun: one call on the last level
    return prior, samples.reshape(COUNT, -1).double()


# Sampling error with 2000 samples: the pixel mean's standard error is 0.2 / sqrt(2000) = 0.0045; a variance's
# relative standard error is sqrt(2 / 2000) = 3 % per pixel (less for the mean over 64 pixels).


def test_reverse_ve_samples_have_the_gaussian_priors_mean_and_covariance():
    prior, flat = draw("reverse-ve", 200, 1)
    assert (flat.mean(0) - 0.5).abs().max() < 5 * 0.2 / COUNT**0.5
    assert abs(flat.var(0).mean() / 0.04 - 1) < 0.05
    assert (torch.cov(flat.T) - prior.covariance()).abs().max() < 0.006


# Measured variance ratios (sample / prior): deterministic DDIM 0.950 / 0.968 / 0.977 at 100 / 200 / 400
# levels, ancestral DDIM 0.906 / 0.925 / 0.951 (first order, slow on the rho-7 schedule's coarse high
# levels), Heun 1.001 at 30 levels.
@pytest.mark.parametrize(
    "method,steps,nfe_per_level,options,tolerance",
    [("ddim", 200, 1, {"eta": 0.0}, 0.05), ("ddim", 400, 1, {"eta": 1.0}, 0.06), ("heun", 30, 2, {}, 0.02)],
)
def test_ddim_and_heun_samples_have_the_gaussian_priors_mean_and_covariance(
    method, steps, nfe_per_level, options, tolerance
):
    """Deterministic DDIM and Heun integrate the probability-flow ODE, ancestral DDIM the reverse
    SDE: all three must end at the prior, Heun (second order) in far fewer steps."""
    prior, flat = draw(method, steps, 1, nfe_per_level, **options)
    assert (flat.mean(0) - 0.5).abs().max() < 5 * 0.2 / COUNT**0.5
    assert abs(flat.var(0).mean() / 0.04 - 1) < tolerance
    assert (torch.cov(flat.T) - prior.covariance()).abs().max() < 0.007


def test_a_first_order_step_in_as_few_levels_misses_the_variance_heun_reaches():
    """The check above can fail: Euler (deterministic DDIM) in 30 levels ends with its variance 13 %
    off, Heun in the same levels 0.1 %."""
    _, euler = draw("ddim", 30, 1)
    _, heun = draw("heun", 30, 1, 2)
    assert abs(euler.var(0).mean() / 0.04 - 1) > 0.1 > 10 * abs(heun.var(0).mean() / 0.04 - 1)


def test_annealed_langevin_has_the_mean_and_its_known_variance_inflation():
    # A Langevin step alpha on a Gaussian of variance s keeps variance s / (1 - alpha / (4 s)), not s: with
    # alpha = 0.5 sigma^2 the chain stops mixing once sigma^2 << s with up to ~1/(1 - 1/8) too much variance.
    _, flat = draw("langevin", 60, 5)
    assert (flat.mean(0) - 0.5).abs().max() < 5 * 0.2 / COUNT**0.5
    assert 1.0 < flat.var(0).mean() / 0.04 < 1 / (1 - 1 / 8)


def test_schedules_run_from_sigma_max_down_to_sigma_min():
    for kind in ("edm", "geometric"):
        sigmas = NoiseSchedule(10.0, 0.002, 50, kind).sigmas()
        assert sigmas[0] == pytest.approx(10.0) and sigmas[-1] == pytest.approx(0.002)
        assert (sigmas.diff() < 0).all()
    geometric = NoiseSchedule(10.0, 0.01, 4, "geometric").sigmas()
    assert torch.allclose(geometric[1:] / geometric[:-1], torch.full((3,), 0.1, dtype=torch.float64))
    with pytest.raises(InvsolveError, match="sigma_min < sigma_max"):
        NoiseSchedule(0.1, 1.0)


class BrokenPrior(GaussianPrior):
    def denoise(self, x, sigma, generator=None):
        return super().denoise(x, sigma, generator) * (float("nan") if sigma.max() < 1 else 1)


def test_a_non_finite_iterate_stops_with_a_clear_error():
    with pytest.raises(InvsolveError, match="the prior returned NaN/Inf at sigma"):
        sample_prior(BrokenPrior(8), 2, steps=20, inner=1)
