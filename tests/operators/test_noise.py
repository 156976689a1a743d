"""The measurement-noise models (Gaussian on the data, photon counts after the log) and the noise
level estimated from a measurement alone."""

import math

import pytest
import torch

from invsolve import reconstruct
from invsolve.data.phantoms import ct_phantom
from invsolve.errors import InvsolveError
from invsolve.operators import estimate_noise_level, make_operator, noise_level
from invsolve.operators.base import ZERO_COUNT
from invsolve.operators.ct import ATTENUATION


def _phantoms(count: int, size: int = 64) -> torch.Tensor:
    return torch.stack([torch.from_numpy(ct_phantom(seed, size))[None] for seed in range(count)])


def test_gaussian_noise_has_the_level_asked_for():
    op = make_operator("ct20", 64, noise=0.2)
    x = _phantoms(4)
    noise = op.simulate(x, torch.Generator().manual_seed(0)) - op.A(x)
    assert noise.std().item() == pytest.approx(0.2, rel=0.03) and abs(noise.mean().item()) < 0.01
    assert noise_level(op) == 0.2


def test_photon_counts_have_the_beer_lambert_statistics():
    """Post-log photon noise: unbiased to first order, variance exp(mu p) / (I0 mu^2) per bin, and
    noise_level the root mean of that variance. Measured over 400 draws of one phantom."""
    photons = 1e4
    op = make_operator("ct8", 64, photons=photons)
    x = _phantoms(1).expand(400, -1, -1, -1)
    clean = op.A(x[:1])[0]
    y = op.simulate(x, torch.Generator().manual_seed(1))
    predicted = torch.exp(ATTENUATION * clean) / (photons * ATTENUATION**2)
    assert (y.var(0) / predicted).mean().item() == pytest.approx(1.0, abs=0.05)
    assert (y.mean(0) - clean).abs().max().item() < 3 * predicted.max().sqrt().item() / math.sqrt(400) + 0.01
    rms = predicted.mean().sqrt().item()
    assert noise_level(op, y[:1]) == pytest.approx(rms, rel=0.1)
    assert op.noise_sigma == 0.0 and op.describe()["photons"] == photons


def test_a_bin_that_counts_no_photon_is_read_as_a_tenth_of_one():
    op = make_operator("ct8", 32, photons=1.0)
    y = op.simulate(torch.ones(1, 1, 32, 32), torch.Generator().manual_seed(0))
    assert torch.isfinite(y).all()
    assert y.max().item() == pytest.approx(-math.log(ZERO_COUNT) / ATTENUATION, rel=1e-5)


def test_photon_measurements_repeat_from_a_seed():
    op = make_operator("ct8", 64, photons=1e3)
    x = _phantoms(1)
    first, again = (op.simulate(x, torch.Generator().manual_seed(5)) for _ in range(2))
    assert torch.equal(first, again)
    assert not torch.equal(first, op.simulate(x, torch.Generator().manual_seed(6)))


@pytest.mark.parametrize(
    "options, message",
    [
        ({"noise": 0.1, "photons": 1e4}, "not both"),
        ({"photons": 0.5}, "photons .* must be a number from 1 to"),
        ({"photons": float("inf")}, "photons must be a finite number"),
    ],
)
def test_bad_noise_settings_are_refused(options, message):
    with pytest.raises(InvsolveError, match=message):
        make_operator("ct8", 32, **options)


def test_photon_counts_are_a_ct_setting():
    with pytest.raises(InvsolveError, match="deblur has no setting photons"):
        make_operator("deblur", 32, photons=1e4)


def test_photon_noise_has_a_level_only_with_its_measurement():
    with pytest.raises(InvsolveError, match="only for a given measurement"):
        noise_level(make_operator("ct8", 32, photons=1e4))


@pytest.mark.parametrize("op_name", ["ct20", "ct8"])
@pytest.mark.parametrize("sigma", [0.02, 0.1, 0.5])
def test_the_noise_estimate_recovers_a_known_level(op_name, sigma):
    op = make_operator(op_name, 64, noise=sigma)
    for seed in range(3):
        y = op.simulate(_phantoms(1, 64), torch.Generator().manual_seed(seed))
        assert estimate_noise_level(op, y) == pytest.approx(sigma, rel=0.2)


def test_the_noise_estimate_of_a_noiseless_sinogram_is_zero():
    op = make_operator("ct20", 64)
    assert estimate_noise_level(op, op.simulate(_phantoms(1, 64))) == 0.0


def test_without_bins_beyond_the_image_the_estimate_uses_second_differences():
    """A detector as wide as the image's diagonal has no noise-only bins; the sinogram is smooth
    along the detector, so its second differences still give the level."""
    op = make_operator("ct20", 64, noise=0.2, detector_bins=64)
    y = op.simulate(_phantoms(1, 64), torch.Generator().manual_seed(0))
    assert estimate_noise_level(op, y) == pytest.approx(0.2, rel=0.2)


def test_measured_data_without_a_level_gets_the_estimate_and_says_so(tmp_path):
    import numpy as np

    op = make_operator("ct8", 64, noise=0.3)
    y = op.simulate(_phantoms(1, 64), torch.Generator().manual_seed(0))
    np.save(tmp_path / "y.npy", y[0].numpy())
    estimated = reconstruct("ct8", solver="baseline", image_size=64, measurement=tmp_path / "y.npy")
    assert estimated.report["noise_source"] == "estimated"
    assert estimated.report["noise"] == pytest.approx(0.3, rel=0.2)
    assert "estimated from the measurement" in estimated.summary()
    given = reconstruct("ct8", solver="baseline", image_size=64, measurement=tmp_path / "y.npy", noise=0.25)
    assert (given.report["noise_source"], given.report["noise"]) == ("given", 0.25)
