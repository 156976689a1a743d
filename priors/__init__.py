"""Priors: denoisers D(x, sigma) and scores behind one interface (``Prior``).

- ``PatchPrior``: PaDIS, a whole-image prior assembled from a patch network (``patches.py`` holds
  the patch partition, ``positions.py`` the positional encoding);
- ``WholeImagePrior``: the same network on the full image;
- ``GaussianPrior``: an analytic prior with an exact denoiser, for testing solvers;
- ``DenoiserPrior``: any deepinv denoiser as a prior (give it its sigma range);
- ``epsilon_prior``: a DDPM epsilon-prediction network (ours, diffusers', ADM's) as a VE prior,
  whole-image or patch (``epsilon.py``; ``load`` reads diffusers folders and described state
  dicts, ``external.py``);
- ``EDMNetwork``: EDM preconditioning around deepinv's DDPM++ U-Net, sizes tiny / small / paper;
- ``load(path)``: a trained prior from its ``.safetensors`` file; ``train(config)``: training.

Names load on first use (``invsolve.lazy``): ``TrainingConfig`` needs no torch.
"""

from invsolve.lazy import lazy_exports

_EXPORTS = {
    "Prior": "invsolve.priors.base",
    "PatchPrior": "invsolve.priors.patch_prior",
    "WholeImagePrior": "invsolve.priors.whole_image",
    "GaussianPrior": "invsolve.priors.gaussian",
    "DenoiserPrior": "invsolve.priors.denoiser",
    "epsilon_prior": "invsolve.priors.epsilon",
    "EpsilonNetwork": "invsolve.priors.epsilon",
    "EDMNetwork": "invsolve.priors.network",
    "NETWORK_SIZES": "invsolve.priors.network",
    "PatchGrid": "invsolve.priors.patches",
    "default_pad": "invsolve.priors.patches",
    "position_channels": "invsolve.priors.positions",
    "load": "invsolve.priors.checkpoint",
    "read_checkpoint": "invsolve.priors.checkpoint",
    "resolve_prior_path": "invsolve.priors.checkpoint",
    "train": "invsolve.priors.training",
    "TrainingConfig": "invsolve.priors.training_config",
    "parse_duration": "invsolve.priors.training_config",
}
__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(globals(), _EXPORTS)
