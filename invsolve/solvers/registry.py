"""One table of solvers, so the CLI, the Python API and benchmark files use the same names."""

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from invsolve.errors import InvsolveError
from invsolve.operators import base as physics
from invsolve.operators.base import Physics
from invsolve.priors.base import Prior
from invsolve.solvers.loop import Callback
from invsolve.solvers.settings import check_settings


@dataclass(frozen=True)
class Solver:
    """A named reconstruction method: ``solver(operator, y, prior, generator=..., **settings) -> x``.

    ``generic`` holds every setting it takes, with the value used where the caller passes none
    (``invsolve.solvers.settings.GENERIC``). A solver looks nothing else up: the values tuned for a
    task are chosen by ``invsolve.tasks.choose_settings`` and passed in.
    """

    name: str
    run: Callable
    generic: dict
    needs_prior: bool
    summary: str

    @functools.cached_property
    def takes_info(self) -> bool:
        """Whether ``run`` takes ``info`` (optional for classical solvers, a plugin's among them)."""
        return "info" in inspect.signature(self.run).parameters

    @property
    def parameters(self) -> tuple[str, ...]:
        return tuple(self.generic)

    def complete(self, **given: Any) -> dict:
        """The full settings of a run given ``given`` (None means "the generic value"); a setting the
        solver does not take, or a value of the wrong type or range, is refused in one line."""
        return self.generic | check_settings(self.name, given)

    def __call__(
        self,
        operator: Physics,
        y: torch.Tensor,
        prior: Prior | None = None,
        *,
        generator: torch.Generator | None = None,
        progress: bool = False,
        info: dict | None = None,
        callback: Callback | None = None,
        **overrides: Any,
    ) -> torch.Tensor:
        """Reconstruct; ``info`` (a dict, optional) receives ``nfe``, the prior evaluations spent, and
        ``derived``, the values a solver's rules chose for settings left to them (ADMM-TV's lam);
        ``callback(level, sigma, x)`` sees a diffusion solver's iterate after each noise level."""
        physics.check_linear(operator)
        if self.needs_prior and prior is None:
            raise InvsolveError(f"solver {self.name} needs a prior; pass one")
        if not self.needs_prior and prior is not None:
            raise InvsolveError(f"solver {self.name} takes no prior; drop the prior or pick a diffusion solver")
        if prior is not None and not isinstance(prior, Prior):
            raise InvsolveError(
                f"solver {self.name} needs an invsolve Prior, got {type(prior).__name__}; wrap a "
                "deepinv denoiser as invsolve.priors.DenoiserPrior(denoiser, sigma_min=..., "
                "sigma_max=...) with the noise range it was trained for"
            )
        channels = physics.image_channels(operator)
        if prior is not None and None not in (channels, prior.channels) and prior.channels != channels:
            raise InvsolveError(
                f"the prior is for {prior.channels}-channel images but the operator's images have "
                f"{channels}; use a prior trained on {channels}-channel data"
            )
        physics.check_measurement(operator, y)
        settings = self.complete(**overrides)
        if not self.needs_prior:
            if info is not None:
                info["nfe"] = 0
            reports = {"info": info} if self.takes_info else {}
            return self.run(operator, y, prior, generator=generator, progress=progress, **reports, **settings)
        return self.run(
            operator, y, prior, generator=generator, progress=progress, info=info, callback=callback, **settings
        )


SOLVERS: dict[str, Solver] = {}


def register(solver: Solver) -> Solver:
    SOLVERS[solver.name] = solver
    return solver


def get_solver(name: str) -> Solver:
    try:
        return SOLVERS[name]
    except KeyError:
        raise InvsolveError(f"unknown solver {name!r}; choose one of {', '.join(SOLVERS)}") from None
