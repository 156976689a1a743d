"""The prior network's run-time precision: fp32 or bf16 autocast, chosen explicitly or by the hardware."""

import pytest
import torch

from invsolve.devices import bf16_pays, resolve_precision
from invsolve.errors import InvsolveError
from invsolve.priors import load
from invsolve.priors.network import EDMNetwork


def test_auto_follows_the_hardware_and_explicit_choices_stand():
    cpu = torch.device("cpu")
    assert resolve_precision("auto", cpu) == ("bf16" if bf16_pays(cpu) else "fp32")
    assert resolve_precision("fp32", cpu) == "fp32" and resolve_precision("bf16", cpu) == "bf16"
    with pytest.raises(InvsolveError, match="unknown precision 'fp16'; choose one of auto, fp32, bf16"):
        resolve_precision("fp16", cpu)


def test_bf16_changes_the_denoised_image_a_little_and_fp32_not_at_all(tiny_prior_file, generator):
    x = torch.rand(1, 1, 64, 64, generator=generator)

    def denoised(prior):  # the same patch shift and border noise for every variant
        with torch.inference_mode():
            return prior(x, 0.1, generator=torch.Generator().manual_seed(0))

    outputs = {}
    for precision in ("fp32", "bf16"):
        prior = load(tiny_prior_file, precision=precision)
        assert prior.network.precision == precision
        outputs[precision] = denoised(prior)
    assert torch.equal(denoised(load(tiny_prior_file)), outputs["fp32"])  # the default is fp32
    change = (outputs["bf16"] - outputs["fp32"]).abs().max().item()
    assert outputs["bf16"].dtype == torch.float32 and 0 < change < 0.05


def test_fp32_leaves_a_callers_autocast_in_force(generator):
    """Training runs the network under its own bf16 autocast; the fp32 default must not switch it off."""
    network = EDMNetwork(1, "tiny", positional=False, resolution=16)
    x = torch.rand(2, 1, 16, 16, generator=generator)
    sigma = torch.full((2, 1, 1, 1), 0.2)
    with torch.inference_mode():
        plain = network(x, sigma)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            under_callers_autocast = network(x, sigma)
        network.precision = "bf16"
        own_bf16 = network(x, sigma)
    assert not torch.equal(plain, under_callers_autocast)
    assert torch.allclose(under_callers_autocast, own_bf16)
