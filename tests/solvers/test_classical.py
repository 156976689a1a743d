import pytest
import torch

from invsolve.errors import InvsolveError
from invsolve.operators import make_operator
from invsolve.solvers import SOLVERS, get_solver
from invsolve.solvers.admm_tv import gradient, gradient_transpose, total_variation
from invsolve.solvers.settings import GENERIC


def _piecewise_constant(size=32):
    x = torch.full((1, 1, size, size), 0.2)
    x[..., 8:20, 6:18] = 0.8
    x[..., 20:28, 18:28] = 0.5
    return x


def _objective(op, x, y, lam):
    return 0.5 * (op.A(x) - y).pow(2).flatten(1).sum(1) + lam * total_variation(x)


def test_registry_names():
    assert {"baseline", "admm-tv"} <= set(SOLVERS)
    with pytest.raises(InvsolveError, match="unknown solver"):
        get_solver("nope")


@pytest.mark.parametrize("shape", [(2, 3, 9, 11), (2, 1, 4, 9, 11)], ids=["images", "volumes"])
def test_gradient_transpose_is_exact(generator, shape):
    x = torch.rand(*shape, generator=generator, dtype=torch.float64)
    g = torch.rand(shape[0], shape[1], len(shape) - 2, *shape[2:], generator=generator, dtype=torch.float64)
    assert torch.allclose((gradient(x) * g).sum(), (x * gradient_transpose(g)).sum())


def test_the_tv_of_a_volume_couples_its_slices():
    flat = torch.zeros(1, 1, 3, 8, 8)
    jump = flat.clone()
    jump[:, :, 1] = 1.0  # a slice unlike its neighbours: no in-plane edge, two edges along z
    assert total_variation(flat).item() == 0 and total_variation(jump).item() == pytest.approx(2 * 64)


def test_admm_tv_decreases_its_objective_and_beats_fbp():
    op = make_operator("ct8", 32)
    x = _piecewise_constant()
    y = op.simulate(x)
    admm = get_solver("admm-tv")
    lam = 0.01
    early = admm(op, y, lam=lam, rho=0.1, iterations=3)
    late = admm(op, y, lam=lam, rho=0.1, iterations=100)
    fbp = op.baseline(y)
    assert _objective(op, late, y, lam) < _objective(op, early, y, lam) < _objective(op, fbp, y, lam)
    assert (late - x).norm() < 0.5 * (fbp - x).norm()


def test_admm_tv_reaches_the_minimum_found_independently(generator):
    """On a small deblurring problem, ADMM's objective matches a minimiser found by L-BFGS on a
    barely smoothed TV (|g| ~ sqrt(|g|^2 + 1e-10)), to 0.1%."""
    op = make_operator("deblur", 16, kernel_size=3, noise=0.02)
    x_true = torch.rand(1, 1, 16, 16, generator=generator).round()
    y = op.simulate(x_true, generator)
    lam = 0.02
    admm = get_solver("admm-tv")(op, y, lam=lam, rho_factor=25.0, iterations=400, cg_iterations=5)

    x = op.baseline(y).clone().requires_grad_(True)
    lbfgs = torch.optim.LBFGS(
        [x], max_iter=3000, tolerance_grad=1e-12, tolerance_change=1e-15, line_search_fn="strong_wolfe"
    )

    def closure():
        lbfgs.zero_grad()
        smooth_tv = (gradient(x).pow(2).sum(2) + 1e-10).sqrt().sum()
        loss = 0.5 * (op.A(x) - y).pow(2).sum() + lam * smooth_tv
        loss.backward()
        return loss

    lbfgs.step(closure)
    reference = _objective(op, x.detach(), y, lam).item()
    assert _objective(op, admm, y, lam).item() <= reference * 1.001


def test_admm_tv_treats_each_image_of_a_batch_on_its_own(generator):
    """Solving a batch equals solving each image alone. In float64 the two agree to ~1e-7; a
    variant whose CG inner products run over the whole batch differs by ~3e-4."""
    op = make_operator("deblur", 32)
    x = torch.cat([_piecewise_constant(), torch.rand(1, 1, 32, 32, generator=generator)]).double()
    y = op.simulate(x, generator)
    admm = get_solver("admm-tv")
    settings = {"lam": 0.01, "rho": 0.1, "iterations": 20}
    together = admm(op, y, **settings)
    alone = torch.cat([admm(op, y[i : i + 1], **settings) for i in range(2)])
    assert (together - alone).abs().max() < 1e-6


def test_anisotropic_tv_runs_and_differs():
    op = make_operator("deblur", 32)
    y = op.simulate(_piecewise_constant(), torch.Generator().manual_seed(0))
    admm = get_solver("admm-tv")
    iso, aniso = admm(op, y, lam=0.001, iterations=10), admm(op, y, lam=0.001, iterations=10, tv="anisotropic")
    assert not torch.allclose(iso, aniso)


def test_settings_are_checked():
    op = make_operator("ct8", 32)
    y = op.simulate(_piecewise_constant())
    admm = get_solver("admm-tv")
    with pytest.raises(InvsolveError, match="no setting zeta"):
        admm(op, y, zeta=1.0)
    with pytest.raises(InvsolveError, match="takes no prior"):
        admm(op, y, prior=object())
    with pytest.raises(InvsolveError, match=r"shape \(B, 1, 8, 64\)"):
        admm(op, torch.zeros(1, 1, 20, 64))
    with pytest.raises(InvsolveError, match="isotropic"):
        admm(op, y, tv="l2")


def test_the_tv_weight_follows_the_noise_level_by_its_rule(generator):
    x = _piecewise_constant()
    admm = get_solver("admm-tv")
    rule = GENERIC["admm-tv"]
    for noise in (0.0, 0.2, 0.5):
        op, info = make_operator("ct8", 32, noise=noise), {}
        admm(op, op.simulate(x, generator), iterations=2, info=info)
        expected = rule["lam_noiseless"] + rule["lam_per_noise"] * noise ** rule["lam_noise_exponent"]
        assert info["derived"]["lam"] == pytest.approx(expected, rel=1e-3)
    info = {}
    admm(op, op.simulate(x, generator), lam=0.7, iterations=2, info=info)
    assert "derived" not in info  # a weight given is the weight used


def test_an_operator_without_tuned_values_runs_on_the_rule(generator):
    from deepinv.physics import Denoising, GaussianNoise

    physics = Denoising(noise_model=GaussianNoise(sigma=0.1))
    y = torch.rand(1, 1, 16, 16, generator=generator)
    x = get_solver("admm-tv")(physics, y, iterations=20)
    assert total_variation(x) < total_variation(y)  # deepinv's own physics works too


def test_baseline_solver_is_the_operator_baseline():
    op = make_operator("sr4", 32)
    y = op.simulate(_piecewise_constant())
    assert torch.equal(get_solver("baseline")(op, y), op.baseline(y))
