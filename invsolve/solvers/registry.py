"""One table of solvers, so the CLI, the Python API and benchmark files use the same names."""

from collections.abc import Callable
from dataclasses import dataclass

import torch

from invsolve.errors import InvsolveError
from invsolve.priors.base import Prior


@dataclass(frozen=True)
class Solver:
    """A named reconstruction method: ``solver(operator, y, prior, generator=..., **settings) -> x``.

    ``parameters`` names its settings; ``defaults(operator, given)`` gives the values used for the
    settings not in ``given`` (per-preset values chosen on validation images; ``given`` lets a
    default depend on a passed setting, e.g. ADMM's rho on lam). Passed settings override them.
    """

    name: str
    run: Callable
    parameters: tuple[str, ...]
    defaults: Callable[[object], dict]
    needs_prior: bool
    summary: str

    def settings(self, operator, **overrides) -> dict:
        """The full settings a run on ``operator`` would use (defaults, then ``overrides``)."""
        given = {k: v for k, v in overrides.items() if v is not None}
        unknown = sorted(set(given) - set(self.parameters))
        if unknown:
            raise InvsolveError(f"solver {self.name} has no setting {', '.join(unknown)}; "
                                f"it takes {', '.join(self.parameters) or 'none'}")
        return {**self.defaults(operator, given), **given}

    def __call__(self, operator, y: torch.Tensor, prior=None, *, generator: torch.Generator | None = None,
                 progress: bool = False, info: dict | None = None, callback=None, **overrides) -> torch.Tensor:
        """Reconstruct; ``info`` (a dict, optional) receives ``nfe``, the prior evaluations spent;
        ``callback(level, sigma, x)`` sees a diffusion solver's iterate after each noise level."""
        if self.needs_prior and prior is None:
            raise InvsolveError(f"solver {self.name} needs a prior; pass one")
        if not self.needs_prior and prior is not None:
            raise InvsolveError(f"solver {self.name} takes no prior; drop the prior or pick a diffusion solver")
        if prior is not None and not isinstance(prior, Prior):
            raise InvsolveError(f"solver {self.name} needs an invsolve Prior, got {type(prior).__name__}; wrap a "
                                "deepinv denoiser as invsolve.priors.DenoiserPrior(denoiser, sigma_min=..., "
                                "sigma_max=...) with the noise range it was trained for")
        channels = getattr(operator, "image_shape", (None,))[0]
        if prior is not None and None not in (channels, prior.channels) and prior.channels != channels:
            raise InvsolveError(f"the prior is for {prior.channels}-channel images but the operator's images have "
                                f"{channels}; use a prior trained on {channels}-channel data")
        if hasattr(operator, "check_measurement"):
            operator.check_measurement(y)
        elif not torch.isfinite(y).all():
            raise InvsolveError("the measurement contains NaN or Inf values; clean the data first")
        settings = self.settings(operator, **overrides)
        if not self.needs_prior:
            if info is not None:
                info["nfe"] = 0
            return self.run(operator, y, prior, generator=generator, progress=progress, **settings)
        return self.run(operator, y, prior, generator=generator, progress=progress, info=info, callback=callback,
                        **settings)


SOLVERS: dict[str, Solver] = {}


def register(solver: Solver) -> Solver:
    SOLVERS[solver.name] = solver
    return solver


def get_solver(name: str) -> Solver:
    try:
        return SOLVERS[name]
    except KeyError:
        raise InvsolveError(f"unknown solver {name!r}; choose one of {', '.join(SOLVERS)}") from None
