"""The solver registry with the built-in solvers registered (importing their modules registers them)."""

from invsolve.solvers import admm_tv as _admm_tv  # noqa: F401  (registers "admm-tv")
from invsolve.solvers import baseline as _baseline  # noqa: F401  (registers "baseline")
from invsolve.solvers import diffusion as _diffusion  # noqa: F401  (registers the six diffusion solvers)
from invsolve.solvers.registry import SOLVERS, Solver, get_solver, register

__all__ = ["SOLVERS", "Solver", "get_solver", "register"]
