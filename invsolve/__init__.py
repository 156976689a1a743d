"""invsolve: reconstruct images from incomplete, noisy measurements.

The pieces, each replaceable on its own:

- ``make_operator(name, image_size, channels)``: forward models (``invsolve.operators``);
- ``get_solver(name)(operator, y, ...)``: reconstruction methods (``invsolve.solvers``);
- ``get_source(name, split, image_size)``: built-in and folder image sources (``invsolve.data``);
- ``psnr``, ``ssim``: the paper's metrics; ``read_image``, ``write_image``: file I/O.
"""

__version__ = "0.1.0"

from invsolve.data import get_source
from invsolve.errors import InvsolveError
from invsolve.io import read_image, read_measurement, write_image
from invsolve.metrics import psnr, ssim
from invsolve.operators import make_operator
from invsolve.solvers import get_solver

__all__ = ["make_operator", "get_solver", "get_source", "psnr", "ssim", "read_image", "read_measurement",
           "write_image", "InvsolveError", "__version__"]
