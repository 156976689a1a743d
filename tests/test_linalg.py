"""The one conjugate-gradient routine: it solves SPD systems to tolerance, one per image, and the CT
operator's proximal map built on it meets its optimality condition."""

import deepinv
import pytest
import torch

from invsolve.linalg import conjugate_gradient, regularised_least_squares
from invsolve.operators import base as physics
from invsolve.operators import make_operator


def spd_matrices(count, n, generator):
    """``count`` random symmetric positive definite n x n matrices, condition number ~ 100."""
    q, _ = torch.linalg.qr(torch.randn(count, n, n, generator=generator, dtype=torch.float64))
    eigenvalues = torch.logspace(0, 2, n, dtype=torch.float64)
    return q @ torch.diag_embed(eigenvalues.expand(count, n)) @ q.transpose(1, 2)


def per_image(matrices):
    """apply(v) multiplies image i of a (B, 1, 4, 4) batch by matrices[i]."""
    return lambda v: (matrices @ v.reshape(len(matrices), -1, 1)).reshape(v.shape)


def test_cg_solves_a_batch_of_spd_systems_each_to_tolerance(generator):
    matrices = spd_matrices(3, 16, generator)
    rhs = torch.randn(3, 1, 4, 4, generator=generator, dtype=torch.float64)
    x = conjugate_gradient(per_image(matrices), rhs, torch.zeros_like(rhs), iterations=200, tolerance=1e-10)
    exact = torch.linalg.solve(matrices, rhs.reshape(3, 16)).reshape(rhs.shape)
    assert (x - exact).abs().max() < 1e-8


def test_cg_treats_each_image_on_its_own(generator):
    """An image's iterates do not depend on the other images of the batch, and one already solved
    stays exactly where it is while the others converge."""
    matrices = spd_matrices(2, 16, generator)
    rhs = torch.randn(2, 1, 4, 4, generator=generator, dtype=torch.float64)
    exact = torch.linalg.solve(matrices, rhs.reshape(2, 16)).reshape(rhs.shape)
    start = torch.stack([exact[0], torch.zeros_like(exact[1])])
    x = conjugate_gradient(per_image(matrices), rhs, start, iterations=5, tolerance=1e-12)
    assert torch.equal(x[0], exact[0])
    alone = conjugate_gradient(per_image(matrices[1:]), rhs[1:], start[1:], iterations=5, tolerance=1e-12)
    assert torch.allclose(x[1:], alone, rtol=0, atol=1e-12)
    assert (x[1] - exact[1]).norm() < 0.5 * exact[1].norm()  # 5 steps made progress, but are not the answer


def test_cg_warm_start_with_no_iterations_is_the_start(generator):
    matrices = spd_matrices(1, 16, generator)
    start = torch.randn(1, 1, 4, 4, generator=generator, dtype=torch.float64)
    assert torch.equal(conjugate_gradient(per_image(matrices), torch.ones_like(start), start, iterations=0), start)


@pytest.mark.parametrize("gamma", [1e-3, 1.0, 1e3])
def test_ct_proximal_map_meets_its_optimality_condition(gamma, generator):
    """prox(z) = argmin 1/2 ||A p - y||^2 + 1/(2 gamma) ||p - z||^2, so A^T (A p - y) + (p - z) / gamma = 0."""
    op = make_operator("ct20", 32)
    y = op.A(torch.rand(2, 1, 32, 32, generator=generator))
    z = torch.rand(2, 1, 32, 32, generator=generator)
    p = op.prox_l2(z, y, gamma)
    optimality = op.A_adjoint(op.A(p) - y) + (p - z) / gamma
    scale = (op.A_adjoint(y) + z / gamma).flatten(1).norm(dim=1)
    assert (optimality.flatten(1).norm(dim=1) / scale).max() < 2e-4


def test_krylov_steps_from_the_anchor_reduce_the_misfit_and_stay_near_it(generator):
    """gamma = 0 (DDS): a few CG steps from the anchor lower ||A u - y|| and move u by a bounded amount."""
    op = make_operator("ct8", 32)
    truth = torch.rand(1, 1, 32, 32, generator=generator)
    y = op.A(truth)
    anchor = truth + 0.1 * torch.randn(truth.shape, generator=generator)
    u = regularised_least_squares(op, y, anchor, gamma=0.0, iterations=3)
    misfit = [(op.A(v) - y).norm().item() for v in (anchor, u)]
    assert misfit[1] < 0.5 * misfit[0]
    assert (u - anchor).norm() < (truth - anchor).norm()


def test_which_operators_have_a_closed_form_prox():
    closed = [make_operator("deblur", 16, channels=1), make_operator("sr4", 16, channels=1)]
    closed.append(deepinv.physics.Inpainting((1, 16, 16), mask=0.5))
    iterative = [make_operator("ct8", 16), deepinv.physics.LinearPhysics(A=lambda x: 2 * x, A_adjoint=lambda y: 2 * y)]
    assert [physics.has_closed_form_prox(p) for p in closed + iterative] == [True, True, True, False, False]
