"""Diffusion posterior samplers (VE convention, images in [0, 1]), each as its pseudocode.

All six walk one ``NoiseSchedule`` through the shared ``diffusion_loop`` and call the prior
through ``CountedPrior`` (NFEs). Norms and step sizes are per image, never across the batch, so a
batch is a set of independent reconstructions.

- ``dps``: PaDIS Algorithm 1, VE-DPS with Langevin. Start from the clamped baseline; per noise
  level, ``inner`` iterations, each with a fresh patch shift:
    x <- x - zeta * grad_x ||y - A D(x, sigma)||      (the plain norm; gradient through the prior)
    x <- x + alpha/2 * score(x, sigma) + sqrt(alpha) z,   alpha = 0.5 sigma^2 (no z at the end)
  (both use the one prior evaluation at the current x: one NFE per iteration).
- ``langevin``: annealed Langevin from sigma_max noise, alpha = sigma^2, then the data step
    x <- x + zeta / ||y - A x|| * min(40, 200 sigma) * A^T (y - A x).
- ``pc``: predictor-corrector: a reverse-VE Euler predictor, then ``inner`` Langevin corrector
  steps with signal-to-noise ratio ``snr`` (step 2 (snr ||z|| / ||score||)^2), each followed by the
  same data step as ``langevin``.
- ``ddnm``: VE-DDNM: replace the denoised image by its null-space correction
  x0 = A_dagger y + D(x) - A_dagger A D(x) and take the Langevin step of ``dps`` with it.
- ``diffpir``: DiffPIR (Zhu et al. 2023), plug-and-play in diffusion form. Per noise level, pull the
  denoised image to the data by an exact proximal step, then re-noise it to the next level:
    x0 = argmin_u 1/2 ||y - A u||^2 + rho/2 ||u - D(x, sigma)||^2,   rho = lam sigma_y^2 / sigma^2
    x <- x0 + sigma' (sqrt(1 - xi) (x - x0) / sigma + sqrt(xi) z)
  No gradient goes through the prior, and the data step is solved, not stepped: blur and
  subsampling have it in closed form, where DPS's gradient step hardly reaches the frequencies the
  operator damps.
- ``dds``: the Decomposed Diffusion Sampler (Chung, Lee and Ye, ICLR 2024). Per noise level, a few
  conjugate-gradient steps on the data from the denoised image, then a DDIM-style step to the next:
    x0 = CG_k on (A^T A + w I) u = A^T y + w D(x, sigma), started at D(x, sigma),
         w = gamma + prior_weight sigma_y^2 / sigma^2, stopped once ||A u - y|| <= discrepancy sqrt(m) sigma_y
    x <- x0 + sigma' (sqrt(1 - xi) (x - D(x, sigma)) / sigma + sqrt(xi) z)
  Noiseless, w = 0 is DDS's Krylov form (k small: the iterates stay near the denoised image); the
  noise weighs the denoised image as DiffPIR does, and the discrepancy principle stops the fit at
  the noise. w > 0 is solved in closed form where the operator has one. ``tv_weight`` > 0 adds
  tv_weight TV(u) to the step (ADMM-TV's routine, warm-started). Forward passes only.
"""

import math

import torch

from invsolve.devices import seeded_normal
from invsolve.errors import InvsolveError
from invsolve.linalg import per_image_norm, regularised_least_squares
from invsolve.operators import base as physics
from invsolve.operators.base import Physics
from invsolve.priors.base import Prior
from invsolve.solvers.admm_tv import TVSplit, tv_least_squares
from invsolve.solvers.admm_tv import tv_weight as admm_tv_weight  # DDS's own setting is tv_weight
from invsolve.solvers.loop import Callback, CountedPrior, diffusion_loop
from invsolve.solvers.registry import Solver, register
from invsolve.solvers.schedule import NoiseSchedule
from invsolve.solvers.settings import GENERIC


def _schedule(
    prior: Prior, steps: int, sigma_max: float | None, sigma_min: float | None, schedule: str
) -> NoiseSchedule:
    return NoiseSchedule.for_prior(prior, steps, schedule, sigma_max, sigma_min)


def _langevin_move(
    x: torch.Tensor,
    denoised: torch.Tensor,
    sigma: float,
    generator: torch.Generator | None,
    final: bool,
    alpha: float,
) -> torch.Tensor:
    """x + alpha/2 * score + sqrt(alpha) z, with score = (denoised - x) / sigma^2; no z when ``final``."""
    x = x + alpha / 2 * (denoised - x) / sigma**2
    return x if final else x + math.sqrt(alpha) * seeded_normal(x.shape, generator, x)


def _data_step(operator: Physics, y: torch.Tensor, x: torch.Tensor, sigma: float, zeta: float) -> torch.Tensor:
    """Langevin/PC's data consistency: a normalised gradient step on ||y - A x||^2 (per image)."""
    residual = y - operator.A(x)
    step = zeta * min(40.0, 200.0 * sigma) / per_image_norm(residual).clamp_min(1e-12)
    return x + step.reshape(-1, 1, 1, 1) * operator.A_adjoint(residual)


def dps(
    operator: Physics,
    y: torch.Tensor,
    prior: Prior,
    *,
    generator: torch.Generator | None = None,
    progress: bool = False,
    callback: Callback | None = None,
    info: dict | None = None,
    steps: int,
    inner: int,
    zeta: float,
    sigma_max: float | None,
    sigma_min: float | None,
    schedule: str,
    start: str,
) -> torch.Tensor:
    """PaDIS Algorithm 1 (VE-DPS with Langevin). ``start``: "baseline" (the clamped baseline, as the
    reference code) or "noise" (sigma_max times white noise, the paper's ablation of table 5)."""
    counted = CountedPrior(prior)
    levels = _schedule(prior, steps, sigma_max, sigma_min, schedule)

    def step(x: torch.Tensor, sigma: float, next_sigma: float, final: bool) -> torch.Tensor:
        x = x.detach().requires_grad_()
        denoised = counted.denoise(x, sigma, generator)
        misfit = per_image_norm(y - operator.A(denoised)).sum()  # a sum of per-image norms: independent images
        (gradient,) = torch.autograd.grad(misfit, x)
        x = x - zeta * gradient
        return _langevin_move(x, denoised, sigma, generator, final, alpha=0.5 * sigma**2).detach()

    initial = physics.baseline(operator, y) if start == "baseline" else _noised_start(operator, y, levels, generator)
    x = diffusion_loop(initial, levels, inner, step, name="DPS", progress=progress, callback=callback)
    return _finish(x, counted, info)


def langevin(
    operator: Physics,
    y: torch.Tensor,
    prior: Prior,
    *,
    generator: torch.Generator | None = None,
    progress: bool = False,
    callback: Callback | None = None,
    info: dict | None = None,
    steps: int,
    inner: int,
    zeta: float,
    sigma_max: float | None,
    sigma_min: float | None,
    schedule: str,
) -> torch.Tensor:
    """Annealed Langevin dynamics with a normalised data step."""
    counted = CountedPrior(prior)

    def step(x: torch.Tensor, sigma: float, next_sigma: float, final: bool) -> torch.Tensor:
        with torch.no_grad():
            x = _langevin_move(x, counted.denoise(x, sigma, generator), sigma, generator, final, alpha=sigma**2)
            return _data_step(operator, y, x, sigma, zeta)

    levels = _schedule(prior, steps, sigma_max, sigma_min, schedule)
    start = _noised_start(operator, y, levels, generator)
    x = diffusion_loop(start, levels, inner, step, name="Langevin", progress=progress, callback=callback)
    return _finish(x, counted, info)


def pc(
    operator: Physics,
    y: torch.Tensor,
    prior: Prior,
    *,
    generator: torch.Generator | None = None,
    progress: bool = False,
    callback: Callback | None = None,
    info: dict | None = None,
    steps: int,
    inner: int,
    zeta: float,
    snr: float,
    sigma_max: float | None,
    sigma_min: float | None,
    schedule: str,
) -> torch.Tensor:
    """Predictor-corrector: per level, ``inner`` Langevin corrector steps at signal-to-noise ratio ``snr``
    (each followed by the data step), then a reverse-VE Euler predictor to the next level."""
    counted = CountedPrior(prior)

    def step(x: torch.Tensor, sigma: float, next_sigma: float, final: bool) -> torch.Tensor:
        with torch.no_grad():
            for _ in range(inner):
                score, z = counted.score(x, sigma, generator), seeded_normal(x.shape, generator, x)
                epsilon = 2 * (snr * per_image_norm(z) / per_image_norm(score).clamp_min(1e-12)) ** 2
                x = _data_step(operator, y, x + epsilon * score + (2 * epsilon).sqrt() * z, sigma, zeta)
            variance = sigma**2 - next_sigma**2
            x = x + variance * counted.score(x, sigma, generator)
            return x if final else x + math.sqrt(variance) * seeded_normal(x.shape, generator, x)

    levels = _schedule(prior, steps, sigma_max, sigma_min, schedule)
    start = _noised_start(operator, y, levels, generator)
    x = diffusion_loop(start, levels, 1, step, name="PC", progress=progress, callback=callback)
    return _finish(x, counted, info)


def ddnm(
    operator: Physics,
    y: torch.Tensor,
    prior: Prior,
    *,
    generator: torch.Generator | None = None,
    progress: bool = False,
    callback: Callback | None = None,
    info: dict | None = None,
    steps: int,
    inner: int,
    sigma_max: float | None,
    sigma_min: float | None,
    schedule: str,
) -> torch.Tensor:
    """VE-DDNM: the Langevin move of ``dps`` with the denoised image replaced by its range-space
    correction x0 = A_dagger y + D(x) - A_dagger A D(x). The result is the last x0, so A x = y holds
    wherever A_dagger is an exact pseudo-inverse (blur, subsampling); for CT A_dagger is FBP."""
    counted = CountedPrior(prior)
    measured = operator.A_dagger(y)
    corrected = None

    def step(x: torch.Tensor, sigma: float, next_sigma: float, final: bool) -> torch.Tensor:
        nonlocal corrected
        with torch.no_grad():
            denoised = counted.denoise(x, sigma, generator)
            corrected = measured + denoised - operator.A_dagger(operator.A(denoised))
            return _langevin_move(x, corrected, sigma, generator, final, alpha=0.5 * sigma**2)

    diffusion_loop(
        physics.baseline(operator, y),
        _schedule(prior, steps, sigma_max, sigma_min, schedule),
        inner,
        step,
        name="DDNM",
        progress=progress,
        callback=callback,
    )
    return _finish(corrected, counted, info)


#: DiffPIR's data weight rho = lam sigma_y^2 / sigma^2 needs a noise level; noiseless operators (the CT
#: presets) count as this one, so the proximal step stays a finite, well-posed solve.
NOISELESS_SIGMA_Y = 1e-3


def diffpir(
    operator: Physics,
    y: torch.Tensor,
    prior: Prior,
    *,
    generator: torch.Generator | None = None,
    progress: bool = False,
    callback: Callback | None = None,
    info: dict | None = None,
    steps: int,
    lam: float,
    xi: float,
    sigma_max: float | None,
    sigma_min: float | None,
    schedule: str,
) -> torch.Tensor:
    """DiffPIR from the baseline noised to sigma_max. ``lam`` weighs the prior against the data (small:
    trust the data), ``xi`` is the share of fresh noise when moving to the next level (0: deterministic).
    The result is the last proximal estimate, so it fits the data as closely as ``lam`` allows."""
    counted = CountedPrior(prior)
    sigma_y = max(physics.noise_level(operator, y), NOISELESS_SIGMA_Y)
    estimate = None

    def step(x: torch.Tensor, sigma: float, next_sigma: float, final: bool) -> torch.Tensor:
        nonlocal estimate
        denoised = counted.denoise(x, sigma, generator)
        estimate = operator.prox_l2(denoised, y, sigma**2 / (lam * sigma_y**2))  # gamma = 1 / rho
        return _renoise(estimate, (x - estimate) / sigma, next_sigma, xi, generator)

    levels = _schedule(prior, steps, sigma_max, sigma_min, schedule)
    with torch.inference_mode():
        start = _noised_start(operator, y, levels, generator, from_baseline=True)
        diffusion_loop(start, levels, 1, step, name="DiffPIR", progress=progress, callback=callback)
    return _finish(estimate, counted, info)


def dds(
    operator: Physics,
    y: torch.Tensor,
    prior: Prior,
    *,
    generator: torch.Generator | None = None,
    progress: bool = False,
    callback: Callback | None = None,
    info: dict | None = None,
    steps: int,
    cg_iterations: int,
    gamma: float,
    prior_weight: float,
    discrepancy: float,
    tv_weight: float,
    tv_noise_gain: float,
    xi: float,
    sigma_max: float | None,
    sigma_min: float | None,
    schedule: str,
    start: str,
) -> torch.Tensor:
    """DDS: per level, a data step from the denoised image, then re-noise with a share ``xi`` of
    fresh noise. ``start``: "baseline" (the baseline noised to sigma_max) or "noise". The result is the
    last data-consistent estimate.

    The data step weighs the denoised image by ``gamma + prior_weight sigma_y^2 / sigma^2`` (DiffPIR's rho: 0
    on noiseless data, so DDS's Krylov form; growing as the level falls towards the noise) and runs
    ``cg_iterations`` CG steps, an image stopping once ``||A u - y|| <= discrepancy sqrt(m) sigma_y``
    (the discrepancy principle: fitting the data closer than its noise fits the noise). With
    ``tv_weight`` > 0 the step also weighs ``tv_weight TV(u)``: one ADMM iteration per level,
    warm-started from level to level, so as the prior's pull weakens the estimate tends to ADMM-TV's.
    ``tv_noise_gain`` g grows that weight with the noise as ADMM-TV's rule grows its own, to
    ``tv_weight (1 + g sigma_y^lam_noise_exponent)``; ``info["derived"]`` then records it
    (``tv_weight_used``)."""
    # the value ranges are checked where settings enter (invsolve.solvers.settings.SETTING_TYPES)
    if gamma == 0 and cg_iterations == 0:
        raise InvsolveError("dds with gamma 0 needs at least one CG iteration (cg_iterations), or no data enters")
    counted = CountedPrior(prior)
    sigma_y = physics.noise_level(operator, y)
    fitted_enough = discrepancy * math.sqrt(y[0].numel()) * sigma_y
    if tv_weight > 0 and tv_noise_gain > 0:
        exponent = GENERIC["admm-tv"]["lam_noise_exponent"]
        tv_weight = admm_tv_weight(operator, y, tv_weight, tv_noise_gain * tv_weight, exponent)
        if info is not None:
            info["derived"] = {"tv_weight_used": float(f"{tv_weight:.4g}")}
    estimate, split = None, None

    def step(x: torch.Tensor, sigma: float, next_sigma: float, final: bool) -> torch.Tensor:
        nonlocal estimate, split
        denoised = counted.denoise(x, sigma, generator)
        weight = gamma + prior_weight * sigma_y**2 / sigma**2
        if tv_weight > 0:
            split = split or TVSplit.at(denoised)
            estimate = tv_anchored(operator, y, denoised, weight, tv_weight, cg_iterations, split)
        else:
            estimate = data_consistent(operator, y, denoised, weight, cg_iterations, fitted_enough)
        return _renoise(estimate, (x - denoised) / sigma, next_sigma, xi, generator)

    levels = _schedule(prior, steps, sigma_max, sigma_min, schedule)
    with torch.inference_mode():
        initial = _noised_start(operator, y, levels, generator, from_baseline=start == "baseline")
        diffusion_loop(initial, levels, 1, step, name="DDS", progress=progress, callback=callback)
    return _finish(estimate, counted, info)


def data_consistent(
    operator: Physics,
    y: torch.Tensor,
    anchor: torch.Tensor,
    gamma: float,
    cg_iterations: int,
    fitted_enough: float = 0.0,
) -> torch.Tensor:
    """DDS's data step: min_u ||A u - y||^2 + gamma ||u - anchor||^2, in closed form where the
    operator has one and gamma > 0, else at most ``cg_iterations`` CG steps from ``anchor``, an
    image stopping once its misfit ``||A u - y||`` is at most ``fitted_enough``."""
    if gamma > 0 and physics.has_closed_form_prox(operator):
        return operator.prox_l2(anchor, y, 1 / gamma)
    return regularised_least_squares(operator, y, anchor, gamma, cg_iterations, misfit=fitted_enough)


def tv_anchored(
    operator: Physics,
    y: torch.Tensor,
    anchor: torch.Tensor,
    gamma: float,
    tv_weight: float,
    cg_iterations: int,
    split: TVSplit,
) -> torch.Tensor:
    """DDS's data step with a TV term, min_u 1/2 ||A u - y||^2 + gamma/2 ||u - anchor||^2 +
    tv_weight TV(u): one iteration of ADMM-TV's own routine from ``anchor``, its x-step
    ``cg_iterations`` CG steps, its split warm-started from level to level (as DDS and
    DiffusionMBIR couple slices by TV). As tv_weight goes to 0 the step is DDS's CG step; with the
    prior's pull gone, the levels are ADMM-TV's iterations."""
    return tv_least_squares(
        operator,
        y,
        anchor,
        split,
        lam=tv_weight,
        rho=GENERIC["admm-tv"]["rho_factor"] * tv_weight,
        iterations=1,
        cg_iterations=cg_iterations,
        tv="isotropic",
        anchor=anchor,
        anchor_weight=gamma,
    )


def _renoise(
    estimate: torch.Tensor,
    predicted_noise: torch.Tensor,
    next_sigma: float,
    xi: float,
    generator: torch.Generator | None,
) -> torch.Tensor:
    """Move a clean estimate to noise level ``next_sigma``: a share ``xi`` of the noise variance fresh,
    the rest along the noise the sampler predicted (DDIM's eta, DiffPIR's zeta)."""
    fresh_noise = seeded_normal(estimate.shape, generator, estimate)
    return estimate + next_sigma * (math.sqrt(1 - xi) * predicted_noise + math.sqrt(xi) * fresh_noise)


def _noised_start(
    operator: Physics,
    y: torch.Tensor,
    levels: NoiseSchedule,
    generator: torch.Generator | None,
    from_baseline: bool = False,
) -> torch.Tensor:
    """sigma_max times standard normal noise of the image's shape, on the clamped baseline when
    ``from_baseline`` (DiffPIR, DDS) or alone (Langevin, PC, ``start="noise"``)."""
    noise = levels.sigma_max * seeded_normal(operator.A_adjoint(y).shape, generator, y)
    return physics.baseline(operator, y) + noise if from_baseline else noise


def _finish(x: torch.Tensor | None, counted: CountedPrior, info: dict | None) -> torch.Tensor:
    if info is not None:
        info["nfe"] = counted.nfe
    assert x is not None, "a schedule has at least two levels, so every solver made an estimate"
    return x.clamp(0, 1)


for _name, _run, _summary in (
    ("dps", dps, "VE-DPS with Langevin (PaDIS Algorithm 1): data gradient through the prior"),
    ("langevin", langevin, "annealed Langevin dynamics with a normalised data step"),
    ("pc", pc, "predictor-corrector: reverse-VE predictor, Langevin corrector, data step"),
    ("ddnm", ddnm, "VE-DDNM: null-space projection with A_dagger"),
    ("diffpir", diffpir, "DiffPIR: exact proximal data step on the denoised image, then re-noise"),
    ("dds", dds, "DDS: conjugate gradients on the data from the denoised image, then re-noise"),
):
    register(Solver(_name, _run, generic=GENERIC[_name], needs_prior=True, summary=_summary))
