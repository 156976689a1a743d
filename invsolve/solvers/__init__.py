"""Solvers: ``get_solver(name)(operator, y, prior, generator=...) -> x`` on (B, C, H, W) batches.

The built-in solvers: ``baseline`` and ``admm-tv`` (classical), and the diffusion posterior samplers
``dps`` (PaDIS Algorithm 1), ``langevin``, ``pc``, ``ddnm``, ``diffpir`` and ``dds``. The settings
table (``invsolve.solvers.settings``) loads without torch; the solvers load on first use.
"""

from invsolve.lazy import lazy_exports

_EXPORTS = {
    "SOLVERS": "invsolve.solvers.builtin",
    "Solver": "invsolve.solvers.builtin",
    "get_solver": "invsolve.solvers.builtin",
    "register": "invsolve.solvers.builtin",
    "preferred_solver": "invsolve.solvers.settings",
}
__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(globals(), _EXPORTS)
