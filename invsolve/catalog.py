"""The names and conventions every part of invsolve shares, defined once and importable without
torch or deepinv: the command line's parser reads them before it loads anything heavy.

The operator and solver registries (``invsolve.operators.PRESETS``, ``invsolve.solvers.SOLVERS``)
start with exactly the built-in names listed here (a test checks it); plug-ins may add more.
"""

from os import PathLike
from pathlib import PurePath

#: Operator presets, the paper's tasks, and what data each fits: "ct" (CT slices, 1 channel) or
#: "photo" (photographs).
PRESET_DOMAINS = {"ct20": "ct", "ct8": "ct", "deblur": "photo", "sr4": "photo"}
DOMAINS = ("ct", "photo")

#: Built-in solvers: the two classical ones, then the diffusion posterior samplers.
CLASSICAL_SOLVERS = ("baseline", "admm-tv")
DIFFUSION_SOLVERS = ("dps", "langevin", "pc", "ddnm", "diffpir", "dds")
SOLVER_NAMES = CLASSICAL_SOLVERS + DIFFUSION_SOLVERS

#: The solver a prior runs with when none is named, per preset (validation logs: docs/solvers.md):
#: DDS on CT, DiffPIR on the photo tasks; elsewhere DPS, PaDIS's Algorithm 1. Without a prior: ADMM-TV.
PREFERRED_SOLVER = {"ct20": "dds", "ct8": "dds", "deblur": "diffpir", "sr4": "diffpir"}
DEFAULT_DIFFUSION_SOLVER, CLASSICAL_DEFAULT = "dps", "admm-tv"
#: The classical solver a diffusion solver is checked against on held-out views by default, and
#: whose reconstruction is kept where the prior does not fit the scan (invsolve.tasks.run_case).
DEFAULT_FALLBACK = CLASSICAL_DEFAULT

#: The largest image side the command line accepts: a CT scan is at most a few thousand pixels
#: across, and beyond this one image and its network activations exceed any workstation's memory.
MAX_IMAGE_SIDE = 8192

#: The two kinds of learned prior: PaDIS (patches with positions) and the whole-image baseline.
PRIOR_KINDS = ("padis", "whole")
#: Priors shipped inside the package, loadable by name: one of each kind per training set, the
#: built-in data of each domain (``-ct`` phantoms, ``-photo`` photographs) and the real head CT, all
#: at 128 px; and the head CT's patch prior at the scan's own 256 px, trained on ``headct-slabs``
#: (which holds out two slabs for volume reconstruction).
TRAINING_SETS = (*DOMAINS, "headct")
NATIVE_RESOLUTION_PRIORS = ("padis-headct-256",)
BUNDLED_PRIORS = (*(f"{kind}-{data}" for data in TRAINING_SETS for kind in PRIOR_KINDS), *NATIVE_RESOLUTION_PRIORS)


def prior_label(prior: str | PathLike) -> str:
    """``padis-ct`` for the bundled name or for ``.../padis-ct.safetensors``."""
    return PurePath(prior).name.removesuffix(".safetensors")


def method_label(solver: str, prior: str | PathLike | None = None) -> str:
    """``dds + padis-ct``: a solver and, where it ran with one, its prior."""
    return solver if not prior else f"{solver} + {prior_label(prior)}"


#: The noise range a prior is trained for and solvers walk by default (EDM, Karras et al. 2022).
SIGMA_MIN, SIGMA_MAX = 0.002, 10.0
SCHEDULE_KINDS = ("edm", "geometric")
DPS_STARTS = ("baseline", "noise")
SAMPLING_METHODS = ("langevin", "reverse-ve", "ddim", "heun")
NETWORK_SIZE_NAMES = ("tiny", "small", "paper")

#: Data splits: priors train on ``train``, settings are tuned on ``validation``, tables report ``test``.
SPLITS = ("train", "validation", "test")
#: The built-in image source for each domain, and the real head CT read from an installed package.
SOURCE_FOR_DOMAIN = {"ct": "phantoms", "photo": "photos"}
BUILTIN_SOURCES = (*SOURCE_FOR_DOMAIN.values(), "headct", "headct-slabs", "ct-small")

DEVICE_CHOICES = ("auto", "cpu", "cuda")
#: The learned priors' arithmetic at inference: fp32, bf16 autocast, or auto (bf16 on a CUDA GPU
#: that supports it, fp32 on CPUs, where bf16 measured no faster: docs/solvers.md).
PRECISIONS = ("auto", "fp32", "bf16")
