"""The denoising table ranks priors by how well they denoise: the exact posterior mean comes first."""

import math

import pytest
import torch

from invsolve.benchmarks.studies.denoising import denoising_psnr, main, markdown, parse_sigmas
from invsolve.errors import InvsolveError
from invsolve.priors.base import Prior
from invsolve.priors.gaussian import GaussianPrior


class Identity(Prior):
    """Returns the noisy image: its PSNR is the input's, about -20 log10(sigma)."""

    channels, image_size = 1, 16

    def denoise(self, x, sigma, generator=None):
        return x


def test_the_exact_posterior_mean_beats_a_misspecified_prior_and_no_denoising():
    exact = GaussianPrior(16, correlation_length=3.0)
    images = exact.sample(6, torch.Generator().manual_seed(1))
    priors = {"exact": exact, "misspecified": GaussianPrior(16, correlation_length=0.5), "identity": Identity()}
    sigmas = [0.5, 0.1, 0.01]
    table = denoising_psnr(priors, images, sigmas)
    for level in range(len(sigmas)):
        assert table["exact"][level] > table["misspecified"][level] > table["identity"][level]
    assert table["identity"][2] == pytest.approx(-20 * math.log10(0.01), abs=0.5)
    assert denoising_psnr(priors, images, sigmas) == table  # seeded: the same noise every run
    assert "| 0.1 | " in markdown(table, sigmas) and "exact - " not in markdown(table, sigmas)
    # a 2D prior denoises a volume slice by slice: the same table
    as_volume = denoising_psnr(priors, images, sigmas, volume=True)
    assert all(as_volume[name] == pytest.approx(row, abs=1e-4) for name, row in table.items())


def test_the_script_prints_the_table_and_writes_the_figure(tmp_path, capsys):
    figure = tmp_path / "denoising.png"
    main(["--priors", "padis-ct,whole-ct", "--images", "2", "--image-size", "64", "--sigmas", "0.5,0.05"])
    main(["--priors", "whole-ct", "--images", "1", "--image-size", "64", "--sigmas", "0.2", "--figure", str(figure)])
    out = capsys.readouterr().out
    assert "| sigma | padis-ct | whole-ct | whole-ct - padis-ct |" in out
    assert out.count("\n| 0.5 | ") == 1 and out.count("\n| 0.05 | ") == 1
    assert figure.stat().st_size > 0


@pytest.mark.parametrize("text", ["", "0.5,x", "0", "-1", "inf"])
def test_bad_noise_levels_are_refused(text):
    with pytest.raises(InvsolveError, match="--sigmas"):
        parse_sigmas(text)
