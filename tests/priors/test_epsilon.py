"""DDPM epsilon-prediction networks behind the Prior interface: for Gaussian data the epsilon
network is known in closed form, so the converted denoiser must be the exact one, and a solver
with it must sample the exact posterior."""

import pytest
import torch

from invsolve.errors import InvsolveError
from invsolve.priors import GaussianPrior
from invsolve.priors.epsilon import ddpm_alphas_cumprod, epsilon_prior
from tests.helpers import bias_in_posterior_sds

ABAR = ddpm_alphas_cumprod()


def sigma_of_timestep(t: torch.Tensor) -> torch.Tensor:
    """The schedule's noise level (model units) at fractional timestep t, log-linear between steps."""
    log_sigmas = ((1 - ABAR) / ABAR).sqrt().log()
    low = t.floor().long().clamp(0, len(ABAR) - 2)
    fraction = (t.double() - low).reshape(-1)
    return (log_sigmas[low] * (1 - fraction) + log_sigmas[low + 1] * fraction).exp().reshape(-1, 1, 1, 1)


class GaussianEpsilon(torch.nn.Module):
    """The exact eps(z_t, t) when the data in [-1, 1] are 2 u - 1 with u drawn from ``gaussian``
    (a GaussianPrior on [0, 1]): eps = (z_VE - E[z0 | z_VE]) / s with z_VE = z_t / sqrt(abar_t)."""

    def __init__(self, gaussian, extra_channels=0):
        super().__init__()
        self.gaussian, self.extra_channels = gaussian, extra_channels

    def forward(self, z_t, t):
        s = sigma_of_timestep(t).to(z_t.dtype)
        z_ve = z_t * (1 + s**2).sqrt()
        clean = 2 * self.gaussian.denoise((z_ve + 1) / 2, s / 2) - 1
        eps = (z_ve - clean) / s
        return torch.cat([eps, torch.randn_like(eps)[:, : self.extra_channels]], dim=1)


class WhiteGaussianEpsilon(torch.nn.Module):
    """The exact eps for i.i.d. pixels z0 ~ N(0.2, 0.3^2) in [-1, 1] units: a per-pixel Wiener filter,
    so it denoises patches exactly as it denoises the whole image."""

    mean, variance = 0.2, 0.09

    def forward(self, z_t, t):
        s = sigma_of_timestep(t).to(z_t.dtype)
        z_ve = z_t * (1 + s**2).sqrt()
        clean = self.mean + self.variance / (self.variance + s**2) * (z_ve - self.mean)
        return (z_ve - clean) / s


@pytest.fixture(scope="module")
def gaussian():
    return GaussianPrior(8, mean=0.5, std=0.2, correlation_length=1.5).double()


def schedule_sigmas() -> torch.Tensor:
    """Every noise level of the DDPM schedule, in [0, 1] image units (half the [-1, 1] model's)."""
    return ((1 - ABAR) / ABAR).sqrt() / 2


def test_the_converted_epsilon_network_is_the_exact_denoiser_at_every_sigma_of_the_schedule(gaussian):
    prior = epsilon_prior(GaussianEpsilon(gaussian), image_size=8, channels=1)
    sigmas = schedule_sigmas()
    noisy = 0.5 + sigmas.reshape(-1, 1, 1, 1) * torch.randn(len(sigmas), 1, 8, 8, dtype=torch.float64)
    exact = gaussian.denoise(noisy, sigmas.reshape(-1, 1, 1, 1))
    torch.testing.assert_close(prior(noisy, sigmas), exact, rtol=0, atol=1e-5)
    assert prior.sigma_min == pytest.approx(sigmas[0].item()) and prior.sigma_max == pytest.approx(sigmas[-1].item())
    # the usual slip, the VE image fed where the VP input z / sqrt(1 + s^2) belongs, is far off
    unscaled = epsilon_prior(
        GaussianEpsilon(gaussian),
        image_size=8,
        channels=1,
        call=lambda model, z, t: model(z * (1 + sigma_of_timestep(t).to(z.dtype) ** 2).sqrt(), t),
    )
    assert (unscaled(noisy, sigmas) - exact).abs().max() > 0.1


def test_learned_variance_outputs_are_cut_and_an_uncut_model_is_refused_in_one_line(gaussian):
    x, sigma = torch.rand(2, 1, 8, 8, dtype=torch.float64), torch.tensor([0.1, 1.0], dtype=torch.float64)
    exact = gaussian.denoise(x, sigma.reshape(-1, 1, 1, 1))
    cut = epsilon_prior(GaussianEpsilon(gaussian, extra_channels=1), image_size=8, channels=1, learn_sigma=True)
    torch.testing.assert_close(cut(x, sigma), exact, rtol=0, atol=1e-5)
    with pytest.raises(InvsolveError, match="learn_sigma=True"):
        epsilon_prior(GaussianEpsilon(gaussian, extra_channels=1), image_size=8, channels=1)(x, sigma)


def test_a_patch_prior_from_a_pixelwise_epsilon_network_denoises_as_the_whole_image():
    whole = epsilon_prior(WhiteGaussianEpsilon(), image_size=16, channels=1)
    patches = epsilon_prior(WhiteGaussianEpsilon(), image_size=16, channels=1, patch_size=8, shifts=2)
    x, sigma = torch.rand(3, 1, 16, 16), torch.tensor([0.02, 0.3, 5.0])
    torch.testing.assert_close(patches(x, sigma, generator=torch.Generator().manual_seed(0)), whole(x, sigma))
    assert patches.kind == "padis" and whole.kind == "whole"
    assert (
        "8px patches" in patches.describe()
        and "1000-step VP schedule" in whole.describe()
        and "epsilon" in patches.describe()
    )


# Measured: the right conversion 0.08 posterior sd of bias (sampling error alone is about 0.1); told
# the wrong data range ([0, 1]: sigma not doubled, no shift), 0.45.
CONVERSIONS = {"right": (dict(), (0, 0.3)), "wrong data range": (dict(data_range="[0,1]"), (0.3, float("inf")))}


@pytest.mark.parametrize("conversion", list(CONVERSIONS))
def test_a_solver_with_the_epsilon_prior_samples_the_exact_posterior_and_a_wrong_conversion_does_not(
    gaussian_problem, conversion
):
    """DiffPIR (lam 1, fresh noise) with the converted network passes the exact-posterior check the
    EDM priors pass (its bias below 0.3 posterior sd); converted wrongly, it fails it."""
    gaussian, *rest = gaussian_problem
    options, (low, high) = CONVERSIONS[conversion]
    prior = epsilon_prior(GaussianEpsilon(gaussian), image_size=8, channels=1, **options)
    bias = bias_in_posterior_sds((prior, *rest), "diffpir", lam=1.0, xi=1.0, sigma_max=10.0)
    assert low <= bias < high


def test_bad_schedules_and_ranges_are_refused():
    with pytest.raises(InvsolveError, match="decreasing"):
        epsilon_prior(WhiteGaussianEpsilon(), image_size=8, channels=1, alphas_cumprod=torch.tensor([0.5, 0.9]))
    with pytest.raises(InvsolveError, match="data_range"):
        epsilon_prior(WhiteGaussianEpsilon(), image_size=8, channels=1, data_range="0-255")


def test_the_ddpm_loss_is_zero_for_the_true_noise_and_one_for_none():
    """An oracle that reads the noise back from (z_t, t) and the clean patch scores 0; a network that
    predicts no noise scores E[eps^2] = 1."""
    from invsolve.priors.objectives import eps_loss

    clean = torch.rand(256, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    abar = ABAR.float()

    def oracle(noisy, t):
        a = abar[t].reshape(-1, 1, 1, 1)
        return (noisy - a.sqrt() * (2 * clean - 1)) / (1 - a).sqrt()

    kwargs = dict(alphas_cumprod=abar, autocast=False)
    assert eps_loss(oracle, clean, None, torch.Generator().manual_seed(1), **kwargs) < 1e-8
    silent = eps_loss(lambda noisy, t: torch.zeros_like(noisy), clean, None, torch.Generator().manual_seed(1), **kwargs)
    assert silent == pytest.approx(1.0, abs=0.02)


def test_an_eps_trained_patch_prior_round_trips_and_resumes(tmp_path):
    """``invsolve train --objective eps``: the file names its objective and schedule, loads as a patch
    prior over the converted network with the schedule's noise range, and a resumed run continues."""
    from invsolve.priors import load
    from invsolve.priors.epsilon import EpsilonNetwork, EpsilonUNet
    from tests.helpers import train_tiny

    out = train_tiny(tmp_path / "eps.safetensors", duration="64", objective="eps")
    prior = load(out)
    assert prior.config["objective"] == "eps" and prior.config["network"]["schedule"]["steps"] == 1000
    assert isinstance(prior.network, EpsilonNetwork) and isinstance(prior.network.model, EpsilonUNet)
    assert prior.sigma_max == pytest.approx(float(((1 - ABAR[-1]) / ABAR[-1]).sqrt() / 2), rel=1e-5)
    x = torch.rand(1, 1, 64, 64)
    assert torch.isfinite(prior(x, 0.5)).all()
    train_tiny(tmp_path / "eps.safetensors", duration="128", objective="eps", resume=True)
    assert load(out).config["training"]["images"] == 128
    with pytest.raises(InvsolveError, match="objective"):
        train_tiny(tmp_path / "eps.safetensors", duration="192", resume=True)


def test_deepinvs_ddpm_network_converted_here_denoises_as_deepinvs_own_conversion_and_runs_dds():
    """deepinv's DiffUNet (guided diffusion's ADM, learned variances; random weights, its zero-initialised
    output layer perturbed so the check can fail): at the schedule's noise levels our conversion of
    its epsilon output equals deepinv's own denoiser form of it, and DDS runs with it."""
    from deepinv.models import DiffUNet

    from invsolve.operators import make_operator
    from invsolve.solvers import get_solver

    torch.manual_seed(0)
    network = DiffUNet(in_channels=3, out_channels=3, pretrained=None).eval()
    with torch.no_grad():
        for weight in network.parameters():
            weight.add_(0.01 * torch.randn_like(weight))
    prior = epsilon_prior(
        network,
        image_size=32,
        channels=3,
        learn_sigma=True,
        size_multiple=32,
        call=lambda model, z, t: model(z, t, type_t="timestep"),
    )
    sigmas = schedule_sigmas()[[50, 400, 900]].float()
    x = torch.rand(3, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    noisy = x + sigmas.reshape(-1, 1, 1, 1) * torch.randn(x.shape, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        ours, theirs = prior(noisy, sigmas), network(noisy, sigmas, type_t="noise_level")
        assert (ours - noisy).abs().max() > 1e-3  # the network does something
        # deepinv clamps its denoised image to the data range; the solvers here clamp only their result
        torch.testing.assert_close(ours.clamp(0, 1), theirs, rtol=1e-3, atol=1e-4)
        operator = make_operator("deblur", 32, channels=3, noise=0.05)
        y = operator.simulate(x[:1], torch.Generator().manual_seed(3))
        result = get_solver("dds")(operator, y, prior, generator=torch.Generator().manual_seed(4), steps=2)
    assert result.shape == (1, 3, 32, 32) and torch.isfinite(result).all()
