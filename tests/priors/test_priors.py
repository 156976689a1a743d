"""PatchPrior equals its patch denoiser applied patch by patch; chunking, GaussianPrior, WholeImagePrior."""

import pytest
import torch

from invsolve.errors import InvsolveError
from invsolve.priors import EDMNetwork, GaussianPrior, PatchPrior, WholeImagePrior, default_pad


class AnalyticPatchDenoiser(torch.nn.Module):
    """A known per-patch denoiser that uses its input, sigma and the position channels."""

    positional, size, size_multiple, slices = True, "analytic", 1, 1

    def __init__(self, channels=1):
        super().__init__()
        self.channels = channels

    def forward(self, x, sigma, positions):
        mean = x.mean(dim=(2, 3), keepdim=True)
        return mean + (x - mean) / (1 + sigma**2) + 0.1 * positions[:, :1] - 0.05 * positions[:, 1:]


def patch_by_patch(denoiser, image, sigma, patch, pad, shift):
    """The same thing with plain loops and no PatchGrid: pad, cut, denoise, put back, crop."""
    size = image.shape[-1]
    per_side = size // patch + 1
    side = pad + per_side * patch + patch
    canvas = torch.zeros(1, image.shape[1], side, side, dtype=image.dtype)
    canvas[..., pad : pad + size, pad : pad + size] = image
    out = torch.zeros_like(canvas)
    for i in range(per_side):
        for j in range(per_side):
            top, left = shift[0] + i * patch, shift[1] + j * patch
            rows = (torch.arange(top, top + patch) - pad) * 2 / (size - 1) - 1
            cols = (torch.arange(left, left + patch) - pad) * 2 / (size - 1) - 1
            positions = torch.stack([rows[:, None].expand(patch, patch), cols[None, :].expand(patch, patch)])[None]
            window = (..., slice(top, top + patch), slice(left, left + patch))
            out[window] = denoiser(canvas[window], torch.tensor(sigma).reshape(1, 1, 1, 1), positions)
    return out[..., pad : pad + size, pad : pad + size]


@pytest.mark.parametrize("size,patch,channels", [(32, 8, 1), (40, 12, 3), (64, 16, 1)])
def test_patch_prior_equals_the_patch_denoiser_applied_patch_by_patch(size, patch, channels, device):
    image = torch.rand(1, channels, size, size, generator=torch.Generator().manual_seed(size))
    sigma = 1e-7  # the border's fresh noise (sigma * n) is then far below the tolerance
    denoiser = AnalyticPatchDenoiser(channels)
    prior = PatchPrior(denoiser, size, patch)
    for seed in range(4):
        # the shift is the first draw; on a GPU the generator is the GPU's, as reconstruct passes it
        shift = prior.grid(size).random_shift(torch.Generator(device).manual_seed(seed))
        got = prior(image.to(device), sigma, generator=torch.Generator(device).manual_seed(seed))
        want = patch_by_patch(denoiser, image, sigma, patch, default_pad(size, patch), shift)
        assert got.device.type == device.type and torch.allclose(got.cpu(), want, atol=1e-5)


def test_fixed_grid_is_deterministic_and_random_shift_is_not():
    image = torch.rand(1, 1, 32, 32, generator=torch.Generator().manual_seed(0))
    fixed = PatchPrior(AnalyticPatchDenoiser(), 32, 8, random_shift=False)
    first, second = (fixed(image, 1e-7, generator=torch.Generator().manual_seed(s)) for s in (1, 2))
    assert torch.allclose(first, second, atol=1e-5)  # only the border's sigma-sized noise differs
    shifted = PatchPrior(AnalyticPatchDenoiser(), 32, 8)
    outputs = [shifted(image, 1.0, generator=torch.Generator().manual_seed(s)) for s in range(5)]
    assert any(not torch.allclose(outputs[0], other, atol=1e-3) for other in outputs[1:])


def test_averaging_over_shifts_is_the_mean_of_single_shift_evaluations():
    """shifts=K draws K grids from the generator in turn and averages; shifts_below keeps one grid
    above that sigma. Both are the same expectation over shifts as one grid (the paper's eq. 4)."""
    image = torch.rand(1, 1, 32, 32, generator=torch.Generator().manual_seed(0))
    one = PatchPrior(AnalyticPatchDenoiser(), 32, 8)
    generator = torch.Generator().manual_seed(5)
    singles = [one(image, 0.5, generator=generator) for _ in range(3)]
    averaged = PatchPrior(AnalyticPatchDenoiser(), 32, 8, shifts=3)
    assert torch.allclose(averaged(image, 0.5, generator=torch.Generator().manual_seed(5)), sum(singles) / 3, atol=1e-6)
    late = PatchPrior(AnalyticPatchDenoiser(), 32, 8, shifts=3, shifts_below=0.1)
    assert torch.equal(late(image, 0.5, generator=torch.Generator().manual_seed(5)), singles[0])
    assert "averaged over 3 shifts at sigma <= 0.1" in late.describe()
    with pytest.raises(InvsolveError, match="needs the random shift"):
        PatchPrior(AnalyticPatchDenoiser(), 32, 8, shifts=2, random_shift=False)


@pytest.fixture(scope="module")
def tiny_network():
    torch.manual_seed(0)
    network = EDMNetwork(1, "tiny", positional=True, resolution=16)
    with torch.no_grad():  # the last layer starts near zero; make the network's output depend on its input
        for p in network.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return network


def test_chunked_evaluation_matches_one_batch_with_and_without_autograd(tiny_network):
    x = torch.rand(2, 1, 48, 48, generator=torch.Generator().manual_seed(1))
    whole = PatchPrior(tiny_network, 48, 16)
    chunked = PatchPrior(tiny_network, 48, 16, max_batch=5)
    sigma = torch.tensor([0.3, 1.5])
    assert torch.allclose(
        whole(x, sigma, generator=torch.Generator().manual_seed(2)),
        chunked(x, sigma, generator=torch.Generator().manual_seed(2)),
        atol=1e-6,
    )
    grads = []
    for prior in (whole, chunked):
        xg = x.clone().requires_grad_()
        prior(xg, sigma, generator=torch.Generator().manual_seed(2)).square().sum().backward()
        grads.append(xg.grad)
    assert torch.allclose(*grads, atol=1e-5)


def test_score_is_tweedie_and_sigma_can_differ_per_image(tiny_network):
    prior = PatchPrior(tiny_network, 32, 16)
    x = torch.rand(2, 1, 32, 32)
    sigma = torch.tensor([0.1, 2.0])
    g = torch.Generator().manual_seed(0)
    d = prior(x, sigma, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(prior.score(x, sigma, generator=g), (d - x) / sigma.reshape(-1, 1, 1, 1) ** 2)
    same_sigma = prior(x, 2.0, generator=torch.Generator().manual_seed(0))  # same shift and border noise
    assert torch.allclose(d[1], same_sigma[1], atol=1e-6) and not torch.allclose(d[0], same_sigma[0], atol=1e-3)


def test_bad_inputs_are_refused(tiny_network):
    prior = PatchPrior(tiny_network, 32, 16)
    with pytest.raises(InvsolveError, match=r"\(B, 1, H, W\)"):
        prior(torch.rand(1, 3, 32, 32), 0.5)
    with pytest.raises(InvsolveError, match="square"):
        prior(torch.rand(1, 1, 32, 48), 0.5)
    with pytest.raises(InvsolveError, match="sigma must be positive"):
        prior(torch.rand(1, 1, 32, 32), 0.0)
    with pytest.raises(InvsolveError, match="pad must be"):
        PatchPrior(tiny_network, 32, 16, pad=16)
    network = EDMNetwork(1, "small", positional=False, resolution=16)
    with pytest.raises(InvsolveError, match="multiple of 4"):
        PatchPrior(network, 32, 10, positional_encoding=False)
    with pytest.raises(InvsolveError, match="without position channels"):
        PatchPrior(network, 32, 16)


def test_whole_image_prior_runs_the_network_on_the_full_image(tiny_network):
    network = EDMNetwork(3, "tiny", positional=False, resolution=16)
    prior = WholeImagePrior(network, 16)
    x = torch.rand(2, 3, 16, 16)
    assert torch.equal(prior(x, 0.5), network(x, torch.full((2, 1, 1, 1), 0.5)))


def test_gaussian_prior_denoiser_is_the_exact_posterior_mean():
    prior = GaussianPrior(6, mean=0.4, std=0.3, correlation_length=1.5)
    cov = prior.covariance()
    assert torch.allclose(cov, cov.T, atol=1e-12) and torch.linalg.eigvalsh(cov).min() > 0
    assert torch.allclose(cov.diagonal(), torch.full((36,), 0.09, dtype=torch.float64))
    x = torch.rand(3, 1, 6, 6, dtype=torch.float64)
    for sigma in (0.05, 0.5, 5.0):
        exact = (
            0.4
            + (
                cov
                @ torch.linalg.solve(cov + sigma**2 * torch.eye(36, dtype=torch.float64), (x - 0.4).reshape(3, 36).T)
            ).T
        )
        assert torch.allclose(prior(x.float(), sigma).double().reshape(3, 36), exact, atol=1e-5)


def test_gaussian_prior_samples_have_its_covariance():
    prior = GaussianPrior(6, mean=0.4, std=0.3, correlation_length=1.5)
    samples = prior.sample(20000, torch.Generator().manual_seed(0)).reshape(20000, 36).double()
    empirical = torch.cov(samples.T)
    # standard error of a covariance entry ~ 0.09 * sqrt(2 / 20000) = 0.0009; allow 5 of them
    assert (empirical - prior.covariance()).abs().max() < 0.0045
    assert (samples.mean(0) - 0.4).abs().max() < 5 * 0.3 / 20000**0.5
