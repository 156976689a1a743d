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
import math
import os
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from invsolve.catalog import CLASSICAL_DEFAULT, DPS_STARTS, FALLBACK_SOLVER, PREFERRED_SOLVER, SCHEDULE_KINDS
from invsolve.errors import InvsolveError

#: Settings before any tuning: the reference code's CT-20 values for the Langevin family (100
#: levels x 10, zeta 0.3, snr 0.16), deepinv's DiffPIR values (lambda 7, zeta 0.1, which is our xi), DDS
#: in its Krylov form (gamma 0) with 3 CG steps per level and fresh noise (Chung et al. 2024);
#: sigma_max / sigma_min None mean the prior's own range. ADMM-TV's lam has no generic value: the TV
#: weight depends on the scale of the data, so an untuned operator needs it passed.
#: The registered solvers take exactly these keywords.
DIFFUSION_COMMON: dict[str, Any] = {"sigma_max": None, "sigma_min": None, "schedule": "edm"}
GENERIC: dict[str, dict[str, Any]] = {
    "baseline": {},
    "admm-tv": {"lam": None, "rho_factor": 10.0, "rho": None, "iterations": 200, "cg_iterations": 3, "tv": "isotropic"},
    "dps": DIFFUSION_COMMON | {"steps": 100, "inner": 10, "zeta": 0.3, "start": "baseline"},
    "langevin": DIFFUSION_COMMON | {"steps": 100, "inner": 10, "zeta": 0.3},
    "pc": DIFFUSION_COMMON | {"steps": 100, "inner": 1, "zeta": 0.3, "snr": 0.16},
    "ddnm": DIFFUSION_COMMON | {"steps": 100, "inner": 10},
    "diffpir": DIFFUSION_COMMON | {"steps": 100, "lam": 7.0, "xi": 0.1},
    "dds": DIFFUSION_COMMON | {"steps": 50, "cg_iterations": 3, "gamma": 0.0, "xi": 1.0, "start": "baseline"},
}


def _whole(low: int) -> Callable[[object], bool]:
    return lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= low


def _number(test: Callable[[float], bool]) -> Callable[[object], bool]:
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
    return PREFERRED_SOLVER.get(preset, FALLBACK_SOLVER) if with_prior else CLASSICAL_DEFAULT


#: The tuned values the package reads (``invsolve bench tune --write`` updates it).
TUNED_FILE = Path(__file__).with_name("tuned.toml")


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
    rows = []
    for number, entry in enumerate(raw.get("tuned", []), 1):
        where = f"{path}: tuned row {number}"
        required = {"solver", "preset", "settings", "log"}
        if not isinstance(entry, dict) or set(entry) - required - {"prior"} or not required <= set(entry):
            raise InvsolveError(f"{where} must have solver, preset, settings, log (and prior for a learned one)")
        if not isinstance(entry["settings"], dict):
            raise InvsolveError(
                f"{where}: settings must be a table such as {{ steps = 50 }}, got {entry['settings']!r}"
            )
        solver = entry["solver"]
        if solver not in GENERIC:
            raise InvsolveError(f"{where}: unknown solver {solver!r}")
        settings = check_settings(solver, dict(entry["settings"]))
        rows.append(TunedRow(solver, str(entry["preset"]), entry.get("prior"), settings, str(entry["log"])))
    keys = [r.key for r in rows]
    if len(set(keys)) != len(keys):
        raise InvsolveError(f"{path}: two rows for the same solver, preset and prior")
    return TunedTable(tuple(rows), str(path))
