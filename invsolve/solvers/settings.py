"""The settings table: every solver's settings with their generic values and what each may be,
and the values tuned per task, read from ``tuned.toml`` beside this file.

Importable without torch: the command line's help is built from it. The solvers are registered
with exactly these settings (a test holds the two together); a solver run with settings left out
gets the generic values, and nothing else. The values tuned for a task are applied by the one
code path that runs a case (``invsolve.tasks``), where the caller can see them, never by a solver.

A tuned row names what it was tuned for, the operator preset and the kind of prior ("padis",
"whole", or none for the classical solvers), and the validation log it came from. Every tuned
value was chosen on a validation split (``invsolve bench tune``, whose ``--write`` updates the
table), never on test images.
"""

import json
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from annotated_types import Ge, Gt, Interval
from pydantic import BaseModel, ConfigDict, ValidationError

from invsolve.catalog import CLASSICAL_DEFAULT, DEFAULT_DIFFUSION_SOLVER, DPS_STARTS, PREFERRED_SOLVER, SCHEDULE_KINDS
from invsolve.errors import InvsolveError
from invsolve.validation import check_value, one_line

#: Settings before any tuning: the reference code's CT-20 values for the Langevin family (100
#: levels x 10, zeta 0.3, snr 0.16), deepinv's DiffPIR values (lambda 7, zeta 0.1, which is our xi), DDS
#: in its Krylov form (gamma 0) with 3 CG steps per level and fresh noise (Chung et al. 2024), the
#: denoised image weighed by the noise (prior_weight 0.3, best on 19 of 20 noisy CT validation tasks
#: with both patch priors, docs/logs/tuning/dds-noise-ct-128.txt), no discrepancy stop and no TV
#: term (docs/solvers.md#noise says why);
#: sigma_max / sigma_min None mean the prior's own range. ADMM-TV's lam None follows the measurement's
#: noise by its rule (lam_noiseless + lam_per_noise sigma_y^lam_noise_exponent), with the CT values as
#: generic ones.
#: The registered solvers take exactly these keywords.
DIFFUSION_COMMON: dict[str, Any] = {"sigma_max": None, "sigma_min": None, "schedule": "edm"}
GENERIC: dict[str, dict[str, Any]] = {
    "baseline": {},
    "admm-tv": {
        "lam": None,
        "lam_noiseless": 0.03,
        "lam_per_noise": 3.0,
        "lam_noise_exponent": 1.5,
        "rho_factor": 10.0,
        "rho": None,
        "iterations": 200,
        "cg_iterations": 3,
        "tv": "isotropic",
    },
    "dps": DIFFUSION_COMMON | {"steps": 100, "inner": 10, "zeta": 0.3, "start": "baseline"},
    "langevin": DIFFUSION_COMMON | {"steps": 100, "inner": 10, "zeta": 0.3},
    "pc": DIFFUSION_COMMON | {"steps": 100, "inner": 1, "zeta": 0.3, "snr": 0.16},
    "ddnm": DIFFUSION_COMMON | {"steps": 100, "inner": 10},
    "diffpir": DIFFUSION_COMMON | {"steps": 100, "lam": 7.0, "xi": 0.1},
    "dds": DIFFUSION_COMMON
    | {
        "steps": 50,
        "cg_iterations": 3,
        "gamma": 0.0,
        "prior_weight": 0.3,
        "discrepancy": 0.0,
        "tv_weight": 0.0,
        "tv_noise_gain": 0.0,
        "xi": 1.0,
        "start": "baseline",
    },
}

#: What a solver takes on a volume (a ``SliceStack``) over its image values: DDS couples the slices
#: by a TV term in its data step, as DiffusionMBIR and DDS do, at the weight best on the head CT's
#: validation slab at 256 px without noise, grown with the noise in the same proportion as ADMM-TV's
#: default weight (tv_noise_gain = lam_per_noise / lam_noiseless: 0.03 at sigma 0.2, where 0.03 was
#: the best of four weights on that slab; docs/solvers.md#volumes). Given settings still win
#: (tv_weight 0 reconstructs slice by slice).
_ADMM = GENERIC["admm-tv"]
VOLUME_SETTINGS: dict[str, dict[str, Any]] = {
    "dds": {"tv_weight": 0.003, "tv_noise_gain": _ADMM["lam_per_noise"] / _ADMM["lam_noiseless"]}
}

#: What each setting may be, as types the schema library checks (strict: 2.5 is no count, "8" no
#: number, NaN no number) wherever settings enter: the Python API, suite files, --set, --param and
#: the tuned table. The messages are made from the same types. None always means "the default".
SETTING_TYPES: dict[str, Any] = {
    "steps": Annotated[int, Ge(1)],
    "inner": Annotated[int, Ge(1)],
    "iterations": Annotated[int, Ge(1)],
    "cg_iterations": Annotated[int, Ge(0)],
    "zeta": Annotated[float, Ge(0)],
    "gamma": Annotated[float, Ge(0)],
    "discrepancy": Annotated[float, Ge(0)],
    "prior_weight": Annotated[float, Ge(0)],
    "tv_weight": Annotated[float, Ge(0)],
    "tv_noise_gain": Annotated[float, Ge(0)],
    "xi": Annotated[float, Interval(ge=0, le=1)],
    "lam": Annotated[float, Gt(0)],
    "lam_noiseless": Annotated[float, Gt(0)],
    "lam_per_noise": Annotated[float, Ge(0)],
    "lam_noise_exponent": Annotated[float, Interval(ge=0.5, le=4)],
    "rho": Annotated[float, Gt(0)],
    "rho_factor": Annotated[float, Gt(0)],
    "snr": Annotated[float, Gt(0)],
    "sigma_max": Annotated[float, Gt(0)],
    "sigma_min": Annotated[float, Gt(0)],
    "schedule": Literal[SCHEDULE_KINDS],
    "start": Literal[DPS_STARTS],
    "tv": Literal["isotropic", "anisotropic"],
}


def check_setting_values(solver: str, settings: dict) -> None:
    """One line naming the first setting whose value is of the wrong type or out of range."""
    for name, value in settings.items():
        if value is not None and name in SETTING_TYPES:
            check_value(f"setting {name}", value, SETTING_TYPES[name], f"solver {solver}")
    low, high = settings.get("sigma_min"), settings.get("sigma_max")
    if low is not None and high is not None and not high > low:
        raise InvsolveError(f"solver {solver}: sigma_max ({high}) must exceed sigma_min ({low})")


def check_settings(solver: str, settings: dict) -> dict:
    """``settings`` for ``solver`` with None values dropped (None means "the default"), after one line
    naming a setting the solver does not take or a value of the wrong type or range."""
    given = {k: v for k, v in settings.items() if v is not None}
    takes = GENERIC.get(solver)
    if takes is not None:
        unknown = sorted(set(given) - set(takes))
        if unknown:
            raise InvsolveError(
                f"solver {solver} has no setting {', '.join(unknown)}; it takes {', '.join(takes) or 'none'}"
            )
    check_setting_values(solver, given)
    return given


def parse_value(text: str) -> int | float | str:
    """A setting's value from text (a command line, a grid): an int or a float where the text is one,
    else the text."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def settings_from(assignments: list[str]) -> dict:
    """``["steps=50", "schedule=edm"]`` as ``{"steps": 50, "schedule": "edm"}``."""
    return {name.strip(): parse_value(value.strip()) for name, _, value in (a.partition("=") for a in assignments)}


def preferred_solver(preset: str, with_prior: bool = True) -> str:
    return PREFERRED_SOLVER.get(preset, DEFAULT_DIFFUSION_SOLVER) if with_prior else CLASSICAL_DEFAULT


#: The tuned values the package reads (``invsolve bench tune --write`` updates it).
TUNED_FILE = Path(__file__).with_name("tuned.toml")


class TunedEntry(BaseModel):
    """A row of a tuned-settings file as written: the schema ``read_tuned`` checks it against."""

    model_config = ConfigDict(strict=True, extra="forbid")
    solver: str
    preset: str
    prior: str | None = None  # the kind of prior; none for the classical solvers
    settings: dict[str, Any]  # each value checked against SETTING_TYPES
    log: str  # the validation log the values were chosen on


@dataclass(frozen=True)
class TunedRow:
    """Settings chosen for ``solver`` on operator preset ``preset`` with a prior of kind ``prior``
    ("padis", "whole"; None for the classical solvers), on the validation run recorded in ``log``."""

    solver: str
    preset: str
    prior: str | None
    settings: dict
    log: str

    @property
    def key(self) -> tuple[str, str, str | None]:
        return self.solver, self.preset, self.prior


@dataclass(frozen=True)
class TunedTable:
    """The tuned rows, at most one per (solver, preset, prior kind); ``source`` is the file read."""

    rows: tuple[TunedRow, ...]
    source: str = field(default=str(TUNED_FILE), compare=False)

    def __post_init__(self) -> None:  # one order, so a table written and read back compares equal
        object.__setattr__(self, "rows", tuple(sorted(self.rows, key=lambda r: (r.solver, r.preset, r.prior or ""))))

    def row(self, solver: str, preset: str | None, prior_kind: str | None) -> TunedRow | None:
        return next((r for r in self.rows if r.key == (solver, preset, prior_kind)), None)

    def with_row(self, row: TunedRow) -> "TunedTable":
        """The table with ``row`` in place of any row for the same solver, preset and prior kind."""
        rows = [r for r in self.rows if r.key != row.key]
        return TunedTable((*rows, row), self.source)

    def toml(self) -> str:
        lines = [
            "# Solver settings tuned per operator preset and prior kind, each on a validation split",
            "# (invsolve bench tune; --write updates this file). Read by invsolve.tasks, which applies a",
            "# row only to an operator that is its preset; settings a caller passes override it.",
        ]
        for r in self.rows:
            settings = ", ".join(f"{k} = {json.dumps(v)}" for k, v in r.settings.items())
            prior = [] if r.prior is None else [f"prior = {json.dumps(r.prior)}"]
            lines += ["", "[[tuned]]", f"solver = {json.dumps(r.solver)}", f"preset = {json.dumps(r.preset)}"]
            lines += [*prior, f"settings = {{ {settings} }}", f"log = {json.dumps(r.log)}"]
        return "\n".join(lines) + "\n"


def read_tuned(path: str | os.PathLike | None = None) -> TunedTable:
    """The tuned table in ``path`` (default: the package's ``tuned.toml``), every row checked:
    known solver, the settings it takes in their ranges, one row per key."""
    path = Path(TUNED_FILE if path is None else path)
    try:
        raw = tomllib.loads(path.read_text())
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise InvsolveError(f"cannot read the tuned settings {path}: {error}") from None
    if not isinstance(raw.get("tuned", []), list):
        raise InvsolveError(f"{path}: tuned must be an array of tables ([[tuned]] rows)")
    rows = []
    for number, entry in enumerate(raw.get("tuned", []), 1):
        where = f"{path}: tuned row {number}"
        try:
            row = TunedEntry.model_validate(entry)
        except ValidationError as error:
            raise InvsolveError(f"{where}: {one_line(error)}") from None
        if row.solver not in GENERIC:
            raise InvsolveError(f"{where}: unknown solver {row.solver!r}; choose one of {', '.join(GENERIC)}")
        settings = check_settings(row.solver, dict(row.settings))
        rows.append(TunedRow(row.solver, row.preset, row.prior, settings, row.log))
    keys = [r.key for r in rows]
    if len(set(keys)) != len(keys):
        raise InvsolveError(f"{path}: two rows for the same solver, preset and prior")
    return TunedTable(tuple(rows), str(path))
