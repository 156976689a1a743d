"""invsolve: reconstruct images from incomplete, noisy measurements.

The pieces, each replaceable on its own:

- ``reconstruct(op, prior=...)``: the whole job (simulate or read measurements, reconstruct,
  score), as ``invsolve reconstruct`` runs it;
- ``make_operator(name, image_size, channels)``: forward models (``invsolve.operators``);
- ``get_solver(name)(operator, y, ...)``: reconstruction methods (``invsolve.solvers``), which run
  their generic settings unless told otherwise;
- ``run_case(operator, solver, prior, truth=...)`` and ``choose_settings(solver, operator, prior)``:
  the one path every run takes (``invsolve.tasks``): settings tuned for the task, solve, score;
- ``get_source(name, split, image_size)``: built-in and folder image sources (``invsolve.data``);
- ``psnr``, ``ssim``: the paper's metrics; ``read_image``, ``write_image``: file I/O.

The names load on first use, so ``import invsolve`` (and the command line's ``--help``) does not
pay for torch and deepinv until something needs them.
"""

from invsolve.lazy import lazy_exports

__version__ = "0.1.0"

_EXPORTS = {
    "reconstruct": "invsolve.reconstruction",
    "Reconstruction": "invsolve.reconstruction",
    "run_case": "invsolve.tasks",
    "choose_settings": "invsolve.tasks",
    "Outcome": "invsolve.tasks",
    "make_operator": "invsolve.operators",
    "get_solver": "invsolve.solvers",
    "get_source": "invsolve.data",
    "psnr": "invsolve.metrics",
    "ssim": "invsolve.metrics",
    "read_image": "invsolve.io",
    "read_measurement": "invsolve.io",
    "write_image": "invsolve.io",
    "InvsolveError": "invsolve.errors",
}
__all__ = [*_EXPORTS, "__version__"]
__getattr__, __dir__ = lazy_exports(globals(), _EXPORTS)
