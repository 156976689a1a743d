"""Cost of the diffusion solvers' machinery, and our DPS against deepinv's on the same denoiser and operator.

    python -m invsolve.benchmarks.studies.solvers [--op ct20] [--image-size 64] [--net small] [--steps 20]

``overhead``: DPS time per NFE / (the prior's forward + backward + the operator's forward +
adjoint, each measured alone on the same input); target <= 1.15 on CPU. Then deepinv's DPS
(VE schedule, Euler) with the same PatchPrior and operator, time per step; target: ours no slower.
Weights are random: cost does not depend on what a network learned.
"""

import argparse
import time

import deepinv
import torch

from invsolve.benchmarks.studies.priors import median_seconds
from invsolve.operators import get_preset, make_operator
from invsolve.priors import EDMNetwork, PatchPrior
from invsolve.solvers import get_solver


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m invsolve.benchmarks.studies.solvers",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--op", default="ct20")
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--net", default="small")
    parser.add_argument("--patch-size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=20, help="noise levels timed (x1 inner iteration)")
    args = parser.parse_args(argv)

    channels = get_preset(args.op).channels or 1
    torch.manual_seed(0)
    prior = PatchPrior(EDMNetwork(channels, args.net, True, args.patch_size), args.image_size, args.patch_size)
    op = make_operator(args.op, args.image_size, channels=channels)
    x = torch.rand(1, channels, args.image_size, args.image_size, generator=torch.Generator().manual_seed(0))
    y = op.simulate(x, torch.Generator().manual_seed(1))

    def network_forward_backward():  # the gradient with respect to the image only, as DPS needs
        xg = x.clone().requires_grad_()
        torch.autograd.grad(prior(xg, 0.5, generator=torch.Generator().manual_seed(2)).sum(), xg)

    def operator_forward_adjoint():
        with torch.no_grad():
            op.A_adjoint(op.A(x))

    cpu = torch.device("cpu")
    parts = median_seconds(network_forward_backward, cpu, 5) + median_seconds(operator_forward_adjoint, cpu, 5)
    dps = get_solver("dps")
    dps(op, y, prior, steps=2, inner=1)  # warm-up
    info = {}
    start = time.perf_counter()
    dps(op, y, prior, generator=torch.Generator().manual_seed(3), steps=args.steps, inner=1, info=info)
    ours = (time.perf_counter() - start) / info["nfe"]
    print(
        f"# {args.op} at {args.image_size}px, {args.net} PatchPrior ({args.patch_size}px patches), "
        f"{torch.get_num_threads()} threads, {args.steps} NFEs"
    )
    print(f"prior forward+backward + operator forward+adjoint, alone: {parts * 1e3:8.1f} ms")
    print(f"our DPS, per NFE:                                         {ours * 1e3:8.1f} ms")
    print(f"overhead ratio:                                           {ours / parts:8.3f}   (target <= 1.15)")

    theirs_sampler = deepinv.sampling.DPS(
        prior,
        schedule="ve",
        solver="euler",
        num_steps=args.steps,
        dtype=torch.float32,
        rng=torch.Generator().manual_seed(4),
    )
    start = time.perf_counter()
    theirs_sampler(y, op, seed=4)
    theirs = (time.perf_counter() - start) / args.steps
    print(f"deepinv DPS (VE, Euler), same prior and operator, per step: {theirs * 1e3:6.1f} ms")
    print(f"ours / deepinv:                                           {ours / theirs:8.3f}   (target <= 1.0)")


if __name__ == "__main__":
    main()
