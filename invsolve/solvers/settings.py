"""Every solver's default settings: generic values, and one table of values tuned for a task.

A tuned row names what it was tuned for, the operator preset and the kind of prior ("padis",
"whole", or None for the classical solvers), and the validation log it came from. It applies only
to an operator that *is* that preset (the same settings at any image size; ``preset_differences``);
an operator that differs from its preset, say ``make_operator("ct8", views=30)``, gets the generic
values and a one-line notice, never another task's. Settings passed to a solver override both.

Every tuned value was chosen on the validation split (``invsolve bench tune``), never on test images.
"""

import math
import warnings
from dataclasses import dataclass

from invsolve.catalog import (
    CLASSICAL_DEFAULT,
    DPS_STARTS,
    FALLBACK_SOLVER,
    PREFERRED_SOLVER,
    PRIOR_KINDS,
    SCHEDULE_KINDS,
)
from invsolve.errors import GenericSettingsNotice, InvsolveError
from invsolve.operators.presets import preset_differences

#: Settings before any tuning: the reference code's CT-20 values for the Langevin family (100
#: levels x 10, zeta 0.3, snr 0.16), deepinv's DiffPIR values (lambda 7, zeta 0.1, which is our xi), DDS
#: in its Krylov form (gamma 0) with 3 CG steps per level and fresh noise (Chung et al. 2024);
#: sigma_max / sigma_min None mean the prior's own range. ADMM-TV's lam has no generic value: the TV
#: weight depends on the scale of the data, so an untuned operator needs it passed.
DIFFUSION_COMMON = {"sigma_max": None, "sigma_min": None, "schedule": "edm"}
GENERIC = {
    "baseline": {},
    "admm-tv": {"lam": None, "rho_factor": 10.0, "rho": None, "iterations": 200, "cg_iterations": 3, "tv": "isotropic"},
    "dps": DIFFUSION_COMMON | {"steps": 100, "inner": 10, "zeta": 0.3, "start": "baseline"},
    "langevin": DIFFUSION_COMMON | {"steps": 100, "inner": 10, "zeta": 0.3},
    "pc": DIFFUSION_COMMON | {"steps": 100, "inner": 1, "zeta": 0.3, "snr": 0.16},
    "ddnm": DIFFUSION_COMMON | {"steps": 100, "inner": 10},
    "diffpir": DIFFUSION_COMMON | {"steps": 100, "lam": 7.0, "xi": 0.1},
    "dds": DIFFUSION_COMMON | {"steps": 50, "cg_iterations": 3, "gamma": 0.0, "xi": 1.0, "start": "baseline"},
}


def _whole(low):
    return lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= low


def _number(test):
    return lambda v: isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) and test(v)


#: What each setting may be, checked wherever settings enter (the Python API, suite files, --set,
#: --param): (test, what the message asks for). None always means "the default".
SETTING_RULES = {
    "steps": (_whole(1), "an integer of at least 1"),
    "inner": (_whole(1), "an integer of at least 1"),
    "iterations": (_whole(1), "an integer of at least 1"),
    "cg_iterations": (_whole(0), "an integer, 0 or more"),
    "zeta": (_number(lambda v: v >= 0), "a finite number, 0 or more"),
    "gamma": (_number(lambda v: v >= 0), "a finite number, 0 or more"),
    "xi": (_number(lambda v: 0 <= v <= 1), "a number in 0..1"),
    "lam": (_number(lambda v: v > 0), "a finite number above 0"),
    "rho": (_number(lambda v: v > 0), "a finite number above 0"),
    "rho_factor": (_number(lambda v: v > 0), "a finite number above 0"),
    "snr": (_number(lambda v: v > 0), "a finite number above 0"),
    "sigma_max": (_number(lambda v: v > 0), "a finite number above 0"),
    "sigma_min": (_number(lambda v: v > 0), "a finite number above 0"),
    "schedule": (lambda v: v in SCHEDULE_KINDS, " or ".join(SCHEDULE_KINDS)),
    "start": (lambda v: v in DPS_STARTS, " or ".join(DPS_STARTS)),
    "tv": (lambda v: v in ("isotropic", "anisotropic"), "isotropic or anisotropic"),
}


def check_setting_values(solver: str, settings: dict) -> None:
    """One line naming the first setting whose value is of the wrong type or out of range."""
    for name, value in settings.items():
        test, expected = SETTING_RULES.get(name, (lambda v: True, ""))
        if value is not None and not test(value):
            raise InvsolveError(f"solver {solver}: setting {name} must be {expected}, got {value!r}")
    low, high = settings.get("sigma_min"), settings.get("sigma_max")
    if low is not None and high is not None and not high > low:
        raise InvsolveError(f"solver {solver}: sigma_max ({high}) must exceed sigma_min ({low})")


@dataclass(frozen=True)
class Tuned:
    """Settings chosen for ``solver`` on ``preset`` with priors of ``kinds`` (None: no prior)."""

    solver: str
    preset: str
    kinds: tuple[str | None, ...]
    settings: dict
    log: str  # the validation run the values came from, a file under docs/logs


#: DPS on the bundled 128 px priors: 100 levels x 2 (200 NFEs, the main job's budget) from sigma_max 2
#: rather than the prior's 10 (starting from the baseline, that spends the NFEs where its errors are).
#: Tuned with padis-ct / padis-photo; the whole-image priors run the same values, so the two compare
#: like for like in the mini benchmark.
_DPS_BUNDLED = {"steps": 100, "inner": 2, "sigma_max": 2.0}
_LEARNED = PRIOR_KINDS  # tuned with the PaDIS prior, shared with the whole-image one
_DPS_LOG = "docs/logs/tuning/padis-tuning-128.txt"
_DIFFPIR_LOG = "docs/logs/tuning/diffpir-tuning-128.txt"
_ADMM_LOG = "docs/logs/tuning/admm-tv-tuning-128.txt"
_LANGEVIN_FAMILY_LOG = "docs/logs/tuning/solver-tuning-ct20-64.txt"
_DDS_LOG = "docs/logs/tuning/dds-tuning-128.txt"
#: DDS on CT with the bundled priors: 50 levels (50 forward NFEs; chosen for the main job's 20 s
#: budget on 2 cores: 4.5-5 s of solving and about 9 s with start-up on an AVX-512 CPU, 24-26 s on
#: an AVX2 one with the first 32 px padis-ct, docs/logs/main-job.txt) from sigma_max 1, 5 CG steps
#: each, fresh noise, gamma 0 (the Krylov form).
_DDS_CT = {"steps": 50, "cg_iterations": 5, "sigma_max": 1.0}

TUNED = (
    Tuned("admm-tv", "ct20", (None,), {"lam": 0.03, "rho_factor": 3.0}, _ADMM_LOG),
    Tuned("admm-tv", "ct8", (None,), {"lam": 0.03, "rho_factor": 30.0}, _ADMM_LOG),
    Tuned("admm-tv", "deblur", (None,), {"lam": 0.001, "rho_factor": 3.0}, _ADMM_LOG),
    Tuned("admm-tv", "sr4", (None,), {"lam": 3e-5, "rho_factor": 300.0}, _ADMM_LOG),
    Tuned("dps", "ct8", _LEARNED, _DPS_BUNDLED | {"zeta": 1.0}, _DPS_LOG),
    Tuned("dps", "ct20", _LEARNED, _DPS_BUNDLED | {"zeta": 0.3}, _DPS_LOG),
    Tuned("dps", "deblur", _LEARNED, _DPS_BUNDLED | {"zeta": 5.0}, _DPS_LOG),
    Tuned("dps", "sr4", _LEARNED, _DPS_BUNDLED | {"zeta": 30.0}, _DPS_LOG),
    Tuned("dds", "ct8", _LEARNED, _DDS_CT, _DDS_LOG),
    Tuned("dds", "ct20", _LEARNED, _DDS_CT, _DDS_LOG),
    Tuned("diffpir", "deblur", _LEARNED, {"steps": 100, "lam": 0.5, "xi": 1.0}, _DIFFPIR_LOG),
    Tuned("diffpir", "sr4", _LEARNED, {"steps": 100, "lam": 0.03, "xi": 1.0, "sigma_max": 0.1}, _DIFFPIR_LOG),
    # 300 NFEs at 64 px with a 30-minute `small` PaDIS prior (docs/solvers.md)
    Tuned("langevin", "ct20", ("padis",), {"steps": 100, "inner": 3, "zeta": 0.1}, _LANGEVIN_FAMILY_LOG),
    Tuned("pc", "ct20", ("padis",), {"steps": 100, "inner": 2, "zeta": 0.01}, _LANGEVIN_FAMILY_LOG),
    Tuned("ddnm", "ct20", ("padis",), {"steps": 100, "inner": 3}, _LANGEVIN_FAMILY_LOG),
)


def preferred_solver(preset: str, with_prior: bool = True) -> str:
    return PREFERRED_SOLVER.get(preset, FALLBACK_SOLVER) if with_prior else CLASSICAL_DEFAULT


def tuned_row(solver: str, operator, prior=None, given: dict | None = None) -> Tuned | None:
    """The table row that applies to ``solver`` on ``operator`` with ``prior``, if any. Where the
    operator differs from the row's preset there is none, with a notice unless ``given`` (the settings
    passed) replaces every value the row would have set."""
    kind = getattr(prior, "kind", None)
    name = getattr(operator, "name", None)
    rows = [row for row in TUNED if row.solver == solver and row.preset == name and kind in row.kinds]
    if not rows:
        return None
    differences = preset_differences(operator)  # {} for the preset itself
    if differences:
        if set(rows[0].settings) <= set(given or {}):
            return None
        changed = ", ".join(f"{key} {now} instead of {then}" for key, (now, then) in differences.items())
        warnings.warn(
            f"this {name} operator differs from the {name} preset ({changed}): {solver} uses its generic "
            f"settings, not those tuned for {name}",
            GenericSettingsNotice,
            stacklevel=3,
        )
        return None
    return rows[0]


def default_settings(solver, operator, prior=None, given: dict | None = None) -> dict:
    """The settings ``solver`` (a registered ``Solver``) runs with on ``operator`` with ``prior``
    for those not ``given``: its generic values, overridden by the tuned row that applies."""
    row = tuned_row(solver.name, operator, prior if solver.needs_prior else None, given)
    return solver.generic | (row.settings if row else {})
