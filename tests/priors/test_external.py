"""DDPM models made elsewhere load by path, never unpickled: a diffusers folder and a plain state
dict described by a JSON file naming its network class, both reconstructing with our solvers."""

import json

import pytest
import torch

from invsolve import reconstruct
from invsolve.cli import main
from invsolve.errors import InvsolveError
from invsolve.priors import load
from invsolve.priors.epsilon import EpsilonNetwork
from tests.helpers import TinyEpsilonNet

diffusers = pytest.importorskip("diffusers")


@pytest.fixture(scope="module")
def diffusers_folder(tmp_path_factory):
    """A tiny random UNet2DModel (64 px, one channel) and its DDPM scheduler, saved by diffusers."""
    folder = tmp_path_factory.mktemp("ddpm") / "unet"
    torch.manual_seed(0)
    unet = diffusers.UNet2DModel(
        sample_size=64,
        in_channels=1,
        out_channels=1,
        block_out_channels=(8, 16),
        layers_per_block=1,
        down_block_types=("DownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "UpBlock2D"),
        norm_num_groups=4,
    )
    unet.save_pretrained(folder)
    diffusers.DDPMScheduler(num_train_timesteps=1000, beta_schedule="linear").save_pretrained(folder)
    return folder


def test_a_diffusers_folder_loads_as_an_epsilon_prior_with_the_schedules_noise_range(diffusers_folder):
    prior = load(diffusers_folder)
    assert isinstance(prior.network, EpsilonNetwork) and prior.kind == "whole" and prior.image_size == 64
    scheduler = diffusers.DDPMScheduler.from_pretrained(diffusers_folder)
    abar = scheduler.alphas_cumprod.double()
    assert prior.sigma_max == pytest.approx((((1 - abar[-1]) / abar[-1]).sqrt() / 2).item(), rel=1e-5)
    # the wrapper calls the UNet at the timestep whose noise level is sigma: at a step of the schedule, that step
    unet = prior.network.model
    t = 500
    sigma = (((1 - abar[t]) / abar[t]).sqrt() / 2).item()
    x = torch.rand(1, 1, 32, 32, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        eps = unet((2 * x - 1) / (1 + 4 * sigma**2) ** 0.5, torch.tensor([t])).sample
        torch.testing.assert_close(prior(x, sigma), x - sigma * eps, rtol=1e-4, atol=1e-5)
    assert load(diffusers_folder, patch_size=16).kind == "padis"


@pytest.mark.parametrize("solver", ["dds", "dps"])
def test_a_diffusers_model_reconstructs_by_path(diffusers_folder, solver):
    result = reconstruct("ct8", prior=diffusers_folder, solver=solver, steps=3, fallback=None, device="cpu")
    assert result.image.shape == (1, 1, 64, 64) and torch.isfinite(result.image).all()
    assert result.report["nfe"] > 0


def test_the_command_line_takes_a_diffusers_folder(diffusers_folder, capsys):
    assert main(["reconstruct", "--op", "ct8", "--prior", str(diffusers_folder), "--steps", "2", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["image_size"] == 64


def test_pickled_weights_are_refused(diffusers_folder, tmp_path):
    pickled = tmp_path / "pickled"
    pickled.mkdir()
    (pickled / "config.json").write_text((diffusers_folder / "config.json").read_text())
    (pickled / "diffusion_pytorch_model.bin").write_bytes(b"not read")
    with pytest.raises(InvsolveError, match="never unpickles"):
        load(pickled)


def describe(tmp_path, **changes):
    """A learned-variance network's state dict and the description file that names its class."""
    from safetensors.torch import save_file

    torch.manual_seed(1)
    network = TinyEpsilonNet(channels=1)
    save_file(network.state_dict(), tmp_path / "adm.safetensors")
    entry = {
        "network": "tests.helpers:TinyEpsilonNet",
        "options": {"channels": 1},
        "weights": "adm.safetensors",
        "image_size": 64,
        "channels": 1,
        "learn_sigma": True,
    } | changes
    path = tmp_path / "adm.json"
    path.write_text(json.dumps({"epsilon": entry}))
    return path, network


def test_a_learned_variance_state_dict_loads_through_its_description(tmp_path):
    path, network = describe(tmp_path)
    prior = load(path)
    x, sigma = torch.rand(2, 1, 64, 64), 0.2
    with torch.no_grad():
        t = prior.network.timestep(torch.tensor([2 * sigma]))
        eps = network((2 * x - 1) / (1 + 4 * sigma**2) ** 0.5, t.expand(2))[:, :1]
        torch.testing.assert_close(prior(x, sigma), x - sigma * eps, rtol=1e-4, atol=1e-5)
    result = reconstruct("ct8", prior=path, solver="dds", steps=2, fallback=None, device="cpu")
    assert result.image.shape == (1, 1, 64, 64)


@pytest.mark.parametrize(
    "changes,message",
    [
        ({"network": "tests.helpers:Missing"}, "cannot import"),
        ({"weights": "other.safetensors"}, "does not exist"),
        ({"options": {"channels": 1, "width": 4}}, "do not fit"),
        ({"learn_sigma": False}, "learn_sigma=True"),
        ({"colour": "red"}, "not a DDPM description"),
    ],
)
def test_bad_descriptions_are_refused_in_one_line(tmp_path, changes, message):
    path, _ = describe(tmp_path, **changes)
    with pytest.raises(InvsolveError, match=message):
        load(path)(torch.rand(1, 1, 64, 64), 0.2)


def test_a_suite_runs_a_diffusers_folder_as_its_prior(diffusers_folder, tmp_path):
    from invsolve.benchmarks.runner import read_results

    suite = tmp_path / "ddpm.toml"
    suite.write_text(
        f"""
[suite]
name = "ddpm"
description = "a diffusers folder as a suite's prior"
image_size = 64
count = 1
validation_count = 1

[datasets]
phantoms = "phantoms"

[tasks.ct8]
op = "ct8"
dataset = "phantoms"

[methods.ddpm]
solver = "dds"
prior = "{diffusers_folder}"
settings = {{ steps = 2 }}
"""
    )
    out = tmp_path / "out"
    assert main(["bench", "run", str(suite), "--out", str(out)]) == 0
    result = read_results(out)["ct8/ddpm/0/0"]
    assert result["nfe"] == 2 and result["prior"] == str(diffusers_folder) and 0 < result["psnr"] < 60
