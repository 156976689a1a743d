"""The volume operator: every slice of a (B, C, D, H, W) volume through the 2D operator in one batch."""

import pytest
import torch

from invsolve.errors import InvsolveError
from invsolve.operators import make_operator, noise_level
from invsolve.operators.volume import SliceStack


@pytest.mark.parametrize("name,channels", [("ct8", 1), ("deblur", 3)])
def test_the_volume_transpose_is_exact(name, channels, generator, device):
    volume = SliceStack(make_operator(name, 32, channels=channels, device=device), depth=4)
    x = torch.rand(2, channels, 4, 32, 32, generator=generator, dtype=torch.float64).to(device)
    y = torch.rand(2, *volume.measurement_shape, generator=generator, dtype=torch.float64).to(device)
    lhs, rhs = (volume.A(x) * y).sum().item(), (x * volume.A_adjoint(y)).sum().item()
    assert abs(lhs - rhs) <= 1e-5 * max(abs(lhs), 1.0)


def test_each_slice_is_measured_as_the_2d_operator_measures_it(generator):
    flat = make_operator("ct20", 32)
    volume = SliceStack(flat, depth=3)
    x = torch.rand(2, 1, 3, 32, 32, generator=generator)
    y = volume.A(x)
    assert y.shape == (2, 1, 3, 20, 64) == (2, *volume.measurement_shape)
    for b in range(2):
        for d in range(3):
            torch.testing.assert_close(y[b, :, d], flat.A(x[b : b + 1, :, d])[0])
            torch.testing.assert_close(volume.baseline(y)[b, :, d], flat.baseline(y[b : b + 1, :, d])[0])


def test_a_volume_of_one_slice_is_the_2d_operator(generator):
    flat = make_operator("ct8", 32, noise=0.1)
    volume = SliceStack(flat, depth=1)
    x = torch.rand(1, 1, 32, 32, generator=generator)
    torch.testing.assert_close(volume.A(x[:, :, None])[:, :, 0], flat.A(x))
    y = volume.simulate(x[:, :, None], torch.Generator().manual_seed(0))[:, :, 0]
    torch.testing.assert_close(y, flat.simulate(x, torch.Generator().manual_seed(0)))


def test_the_noise_model_is_shared_and_bad_shapes_are_refused():
    volume = SliceStack(make_operator("ct8", 32, noise=0.1), depth=2)
    assert noise_level(volume) == noise_level(volume.slice_operator) == pytest.approx(0.1)
    with pytest.raises(InvsolveError, match="at least one slice"):
        SliceStack(make_operator("ct8", 32), depth=0)
    with pytest.raises(InvsolveError, match=r"\(B, C, D, H, W\)"):
        volume.A(torch.zeros(1, 1, 32, 32))
    with pytest.raises(InvsolveError, match="image"):
        volume.simulate(torch.zeros(1, 1, 3, 32, 32))
