"""The noise levels a diffusion solver walks down: one object for every sampler."""

from dataclasses import dataclass

import torch

from invsolve.catalog import SCHEDULE_KINDS, SIGMA_MAX, SIGMA_MIN
from invsolve.errors import InvsolveError
from invsolve.priors.base import Prior


@dataclass(frozen=True)
class NoiseSchedule:
    """``steps`` decreasing noise levels from ``sigma_max`` to ``sigma_min``.

    ``geometric``: equal ratios (the paper's text); ``edm``: Karras et al.'s rho-schedule, denser
    at small sigma (the reference code, rho = 7).
    """

    sigma_max: float = SIGMA_MAX
    sigma_min: float = SIGMA_MIN
    steps: int = 100
    kind: str = "edm"
    rho: float = 7.0

    def __post_init__(self) -> None:
        if self.kind not in SCHEDULE_KINDS:
            raise InvsolveError(f"unknown schedule {self.kind!r}; choose one of {', '.join(SCHEDULE_KINDS)}")
        if not 0 < self.sigma_min < self.sigma_max:
            raise InvsolveError(f"need 0 < sigma_min < sigma_max, got {self.sigma_min} and {self.sigma_max}")
        if self.steps < 2:
            raise InvsolveError(f"a schedule needs at least 2 noise levels, got {self.steps}")

    def sigmas(self) -> torch.Tensor:
        t = torch.linspace(0, 1, self.steps, dtype=torch.float64)
        if self.kind == "geometric":
            return self.sigma_max * (self.sigma_min / self.sigma_max) ** t
        high, low = self.sigma_max ** (1 / self.rho), self.sigma_min ** (1 / self.rho)
        return (high + t * (low - high)) ** self.rho

    @classmethod
    def for_prior(
        cls,
        prior: Prior,
        steps: int = 100,
        kind: str = "edm",
        sigma_max: float | None = None,
        sigma_min: float | None = None,
    ) -> "NoiseSchedule":
        """The prior's own sigma range unless overridden."""
        return cls(
            sigma_max if sigma_max is not None else prior.sigma_max,
            sigma_min if sigma_min is not None else prior.sigma_min,
            steps,
            kind,
        )
