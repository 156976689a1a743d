"""Solvers: ``get_solver(name)(operator, y, prior, generator=...) -> x`` on (B, C, H, W) batches."""

from invsolve.solvers import admm_tv as _admm_tv  # noqa: F401  (registers "admm-tv")
from invsolve.solvers import baseline as _baseline  # noqa: F401  (registers "baseline")
from invsolve.solvers import diffusion as _diffusion  # noqa: F401  (registers "dps", "langevin", "pc", "ddnm", "diffpir")
from invsolve.solvers.defaults import preferred_solver
from invsolve.solvers.registry import SOLVERS, Solver, get_solver, register

__all__ = ["SOLVERS", "Solver", "get_solver", "preferred_solver", "register"]
