"""The operator contract, for every preset at two sizes and the channel counts it takes."""

import pytest
import torch

from invsolve.data.phantoms import ct_phantom
from invsolve.errors import InvsolveError
from invsolve.operators import PRESETS, make_operator, noise_level
from invsolve.operators.ct import ParallelBeamCT, default_backend

CASES = [
    (name, size, channels)
    for name, preset in PRESETS.items()
    for size in (32, 48)
    for channels in ([preset.channels] if preset.channels else [1, 3])
]


def _inner(a, b):
    return (a.double() * b.double()).sum().item()


@pytest.mark.parametrize("name,size,channels", CASES)
def test_adjoint_is_the_transpose(name, size, channels, generator, device):
    op = make_operator(name, size, channels=channels, device=device)
    x = torch.rand(2, *op.image_shape, generator=generator).to(device)
    y = torch.rand(2, *op.measurement_shape, generator=generator).to(device)
    lhs, rhs = _inner(op.A(x), y), _inner(x, op.A_adjoint(y))
    assert abs(lhs - rhs) / abs(lhs) < 1e-4


@pytest.mark.parametrize("name,size,channels", CASES)
def test_gradient_flows_through_A(name, size, channels, generator):
    op = make_operator(name, size, channels=channels)
    x = torch.rand(1, *op.image_shape, generator=generator, requires_grad=True)
    y = torch.rand(1, *op.measurement_shape, generator=generator)
    (0.5 * (op.A(x) - y).pow(2).sum()).backward()
    expected = op.A_adjoint(op.A(x.detach()) - y)
    assert torch.allclose(x.grad, expected, rtol=1e-4, atol=1e-4 * expected.abs().max().item())


@pytest.mark.parametrize("name,size,channels", CASES)
def test_noise_is_reproducible_from_a_seed(name, size, channels):
    op = make_operator(name, size, channels=channels, noise=0.05)
    x = torch.rand(2, *op.image_shape, generator=torch.Generator().manual_seed(0))
    y1 = op.simulate(x, torch.Generator().manual_seed(7))
    y2 = op.simulate(x, torch.Generator().manual_seed(7))
    y3 = op.simulate(x, torch.Generator().manual_seed(8))
    assert torch.equal(y1, y2)
    assert not torch.equal(y1, y3)
    assert abs((y1 - op.A(x)).std().item() - 0.05) < 0.01


@pytest.mark.parametrize("name,size,channels", CASES)
def test_baseline_is_an_image_in_unit_range(name, size, channels, generator):
    op = make_operator(name, size, channels=channels)
    x = torch.rand(2, *op.image_shape, generator=generator)
    b = op.baseline(op.simulate(x, generator))
    assert b.shape == x.shape and b.min() >= 0 and b.max() <= 1


def test_default_noise_levels_are_the_papers_inverse_problems():
    """Section 4 of the paper: noiseless sparse-view CT, white Gaussian noise on deblurring and
    superresolution (0.01 for images in [0, 1])."""
    assert make_operator("ct20", 32).noise_sigma == 0.0
    assert make_operator("ct8", 32).noise_sigma == 0.0
    assert make_operator("deblur", 32).noise_sigma == 0.01
    assert make_operator("sr4", 32).noise_sigma == 0.01


@pytest.mark.parametrize("name", ["ct8", "deblur", "sr4"])
def test_the_noise_level_follows_the_noise_model_deepinv_uses(name):
    """After ``set_noise_model`` the operator reports, simulates and weighs the data with the new
    level, as deepinv's own ``physics(x)`` does."""
    from deepinv.physics import GaussianNoise, PoissonNoise, ZeroNoise

    op = make_operator(name, 32)
    op.set_noise_model(GaussianNoise(sigma=0.1))
    assert op.noise_sigma == noise_level(op) == 0.1 and op.describe()["noise"] == 0.1
    x = torch.rand(4, *op.image_shape, generator=torch.Generator().manual_seed(0))
    ours = op.simulate(x, torch.Generator().manual_seed(1)) - op.A(x)
    theirs = op(x) - op.A(x)
    assert abs(ours.std().item() - 0.1) < 0.01 and abs(theirs.std().item() - 0.1) < 0.01
    op.set_noise_model(ZeroNoise())
    assert op.noise_sigma == 0.0 and torch.equal(op.simulate(x), op.A(x))
    op.set_noise_model(PoissonNoise())
    with pytest.raises(InvsolveError, match=r"PoissonNoise; .* take Gaussian noise"):
        op.simulate(x)


def test_diffpir_weighs_the_data_by_the_noise_model_set_afterwards():
    """DiffPIR's data weight follows the noise level: an operator whose noise model was changed
    to 0.05 after construction reconstructs exactly as one built with 0.05, and not as one with the
    stale 0.01."""
    from deepinv.physics import GaussianNoise

    from invsolve.priors import GaussianPrior
    from invsolve.solvers import get_solver

    prior = GaussianPrior(16, mean=0.5, std=0.2)
    built, changed, stale = (make_operator("deblur", 16, kernel_size=3, noise=n) for n in (0.05, 0.01, 0.01))
    changed.set_noise_model(GaussianNoise(sigma=0.05))
    y = built.simulate(prior.sample(1, torch.Generator().manual_seed(0)), torch.Generator().manual_seed(1))
    run = {"steps": 10, "lam": 1.0, "xi": 1.0}
    results = [
        get_solver("diffpir")(op, y, prior, generator=torch.Generator().manual_seed(2), **run)
        for op in (built, changed, stale)
    ]
    assert torch.equal(results[0], results[1]) and not torch.allclose(results[0], results[2])


@pytest.mark.parametrize("fbp_filter,frequency_scaling", [("Ram-Lak", 1.0), ("Hann", 0.9)])
def test_fbp_of_180_noiseless_views_recovers_the_phantoms(fbp_filter, frequency_scaling):
    """FBP from 180 noiseless views is within 10% relative error on the first four test phantoms,
    band-limited by a 1-pixel Gaussian (measured: Ram-Lak 2.1-2.9%, Hann 0.9 (the default)
    4.1-6.4%). Unsmoothed, the lungs' pixel-sized vessels are finer than 180 views resolve at
    128 pixels (about pi/2 * 128 = 201 views are needed): Ram-Lak 6.1-10.8%, Hann 11-19%."""
    from scipy import ndimage

    op = make_operator("ct20", 128, views=180, fbp_filter=fbp_filter, fbp_frequency_scaling=frequency_scaling)
    for seed in range(2_000_000, 2_000_004):
        x = torch.from_numpy(ndimage.gaussian_filter(ct_phantom(seed, 128), 1.0))[None, None]
        fbp = op.A_dagger(op.A(x))
        assert ((fbp - x).norm() / x.norm()).item() < 0.10


def test_ct_geometry_matches_the_paper():
    op = make_operator("ct8", 64)
    assert op.measurement_shape == (1, 8, 128)  # 2N detector bins
    assert op.impl == ("astra_cuda" if torch.cuda.is_available() else "matrix")
    # Line integrals do not depend on the resolution: the field of view is fixed.
    small, large = make_operator("ct8", 32), make_operator("ct8", 64)
    ones_small, ones_large = torch.ones(1, 1, 32, 32), torch.ones(1, 1, 64, 64)
    peak_small, peak_large = small.A(ones_small).max().item(), large.A(ones_large).max().item()
    assert abs(peak_small - peak_large) / peak_large < 0.05


@pytest.mark.parametrize("size,views,bins", [(32, 8, None), (48, 20, 50)])
def test_the_stored_projection_matrix_is_astras_ray_transform(size, views, bins, generator):
    """The CPU operator's sparse matrix gives what an ASTRA call per slice gives, forward and
    transposed, for a batch of several channels at once."""
    stored = ParallelBeamCT(size, views, channels=2, detector_bins=bins, impl="matrix")
    called = ParallelBeamCT(size, views, channels=2, detector_bins=bins, impl="astra_cpu")
    x = torch.rand(3, 2, size, size, generator=generator, dtype=torch.float64)
    y = torch.rand(3, *called.measurement_shape, generator=generator, dtype=torch.float64)
    assert stored.A(x).dtype == torch.float64
    torch.testing.assert_close(stored.A(x), called.A(x), rtol=1e-5, atol=1e-5 * called.A(x).abs().max().item())
    torch.testing.assert_close(
        stored.A_adjoint(y), called.A_adjoint(y), rtol=1e-5, atol=1e-5 * called.A_adjoint(y).abs().max().item()
    )


def test_a_large_ct_geometry_calls_astra_and_an_unknown_backend_is_refused():
    assert default_backend(128, 20, 256) == ("astra_cuda" if torch.cuda.is_available() else "matrix")
    if not torch.cuda.is_available():
        assert default_backend(1024, 2048, 2048) == "astra_cpu"  # 4e9 entries: no stored matrix
    with pytest.raises(InvsolveError, match="CT backend must be one of matrix, astra_cpu, astra_cuda, got 'gpu'"):
        ParallelBeamCT(32, 8, impl="gpu")


def test_box_blur_is_a_centred_uniform_kernel():
    op = make_operator("deblur", 32, noise=0)
    delta = torch.zeros(1, 1, 32, 32)
    delta[..., 16, 16] = 1
    blurred = op.A(delta)[0, 0]
    expected = torch.zeros(32, 32)
    expected[12:21, 12:21] = 1 / 81
    assert torch.allclose(blurred, expected, atol=1e-6)


def test_superresolution_keeps_every_fourth_pixel_and_upsamples_by_nearest(generator):
    op = make_operator("sr4", 32, channels=3, noise=0)
    x = torch.rand(2, 3, 32, 32, generator=generator)
    y = op.A(x)
    assert torch.equal(y, x[..., ::4, ::4])
    up = op.baseline(y)
    assert torch.equal(up[..., ::4, ::4], y) and torch.equal(up[..., 3::4, 3::4], y)


@pytest.mark.parametrize("name", ["deblur", "sr4"])
def test_pseudo_inverse_reproduces_the_measurement(name, generator):
    op = make_operator(name, 32, noise=0)
    x = torch.rand(1, 1, 32, 32, generator=generator)
    y = op.A(x)
    assert torch.allclose(op.A(op.A_dagger(y)), y, atol=1e-4)


@pytest.mark.parametrize("name", ["deblur", "sr4"])
@pytest.mark.parametrize("gamma", [0.1, 100.0])
def test_proximal_step_solves_its_least_squares_problem(name, gamma, generator):
    """p = argmin 1/2 ||A p - y||^2 + 1/(2 gamma) ||p - z||^2, so A^T (A p - y) + (p - z) / gamma = 0."""
    op = make_operator(name, 32, channels=3)
    y = op.simulate(torch.rand(2, 3, 32, 32, generator=generator), generator)
    z = torch.rand(2, 3, 32, 32, generator=generator)
    p = op.prox_l2(z, y, gamma)
    optimality = op.A_adjoint(op.A(p) - y) + (p - z) / gamma
    assert optimality.norm() < 1e-4 * (z / gamma).norm()
    assert (op.A(p) - y).norm() < (op.A(z) - y).norm()


def test_operators_are_deepinv_physics(generator):
    import deepinv

    for name in PRESETS:
        op = make_operator(name, 32)
        assert isinstance(op, deepinv.physics.LinearPhysics)
        x = torch.rand(1, *op.image_shape, generator=generator)
        assert op(x).shape == (1, *op.measurement_shape)  # deepinv's y = N(A(x))
    ct = make_operator("ct8", 32)
    assert abs(ct.adjointness_test(torch.rand(1, 1, 32, 32, generator=generator)).item()) < 1e-4


def test_bad_shapes_and_values_are_refused():
    op = make_operator("ct8", 32)
    with pytest.raises(InvsolveError, match=r"shape \(B, 1, 32, 32\)"):
        op.simulate(torch.zeros(1, 1, 48, 48))
    with pytest.raises(InvsolveError, match="NaN"):
        op.simulate(torch.full((1, 1, 32, 32), float("nan")))
    with pytest.raises(InvsolveError, match="multiple of the superresolution factor 4"):
        make_operator("sr4", 30)
    with pytest.raises(InvsolveError, match="takes 1-channel"):
        make_operator("ct8", 32, channels=3)
    with pytest.raises(InvsolveError, match="no setting kernel_size"):
        make_operator("ct8", 32, kernel_size=3)
    with pytest.raises(InvsolveError, match="unknown operator"):
        make_operator("ct9", 32)
    with pytest.raises(InvsolveError, match="odd"):
        make_operator("deblur", 32, kernel_size=4)


def test_every_parameter_is_overridable():
    op = make_operator("ct20", 32, views=5, detector_bins=40, noise=0.1)
    assert op.measurement_shape == (1, 5, 40) and op.noise_sigma == 0.1
    assert make_operator("deblur", 32, kernel_size=17).kernel_size == 17
    assert make_operator("sr4", 32, factor=2).measurement_shape == (1, 16, 16)
