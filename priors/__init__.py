"""Priors: denoisers D(x, sigma) and scores behind one interface (``Prior``).

- ``PatchPrior``: PaDIS, a whole-image prior assembled from a patch network (``patches.py`` holds
  the patch partition, ``positions.py`` the positional encoding);
- ``WholeImagePrior``: the same network on the full image;
- ``GaussianPrior``: an analytic prior with an exact denoiser, for testing solvers;
- ``DenoiserPrior``: any deepinv denoiser as a prior (give it its sigma range);
- ``EDMNetwork``: EDM preconditioning around deepinv's DDPM++ U-Net, sizes tiny / small / paper;
- ``load(path)``: a trained prior from its ``.safetensors`` file; ``train(config)``: training.
"""

from invsolve.priors.base import Prior
from invsolve.priors.checkpoint import load, read_checkpoint, resolve_prior_path
from invsolve.priors.denoiser import DenoiserPrior
from invsolve.priors.gaussian import GaussianPrior
from invsolve.priors.network import NETWORK_SIZES, EDMNetwork
from invsolve.priors.patch_prior import PatchPrior
from invsolve.priors.patches import PatchGrid, default_pad
from invsolve.priors.positions import position_channels
from invsolve.priors.training import TrainingConfig, parse_duration, train
from invsolve.priors.whole_image import WholeImagePrior

__all__ = ["Prior", "PatchPrior", "WholeImagePrior", "GaussianPrior", "DenoiserPrior", "EDMNetwork", "NETWORK_SIZES", "PatchGrid",
           "default_pad", "position_channels", "load", "read_checkpoint", "resolve_prior_path", "train", "TrainingConfig",
           "parse_duration"]
