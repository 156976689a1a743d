"""Benchmark suites: TOML files naming datasets, tasks (operator + dataset), methods (solver +
prior + settings) and the paper's numbers. ``load_suite`` checks everything it can before any work
and names the line of the first problem.

    [suite]                       # name, description, image_size, count, seeds, validation_count,
    name = "mini"                 # figure_images, plugins (all optional but name)
    image_size = 128
    count = 8                     # test images per task (``--limit`` lowers it)

    [datasets]
    phantoms = "phantoms"         # a built-in source or a folder path

    [tasks.ct20]
    op = "ct20"                   # an operator preset
    dataset = "phantoms"
    options = { noise = 0.0 }     # operator overrides (optional)
    paper = { padis = [33.57, 0.854] }   # the paper's PSNR / SSIM per method (optional)

    [methods.padis]
    solver = "dps"                # or one per domain: { ct = "dps", photo = "diffpir" }
    prior = { ct = "padis-ct.safetensors", photo = "padis-photo.safetensors" }  # or one file
    settings = { steps = 100, inner = 10 }
    task_settings = { ct20 = { zeta = 0.3 } }

``plugins = ["my_module"]`` in [suite] imports modules first, so solvers and operator presets they
register (``invsolve.solvers.register``, ``invsolve.operators.register_preset``) can be named.
"""

import copy
import importlib
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from invsolve.data import BUILTIN_SOURCES
from invsolve.data.headct import read_volume
from invsolve.errors import InvsolveError
from invsolve.operators import DOMAINS, PRESETS, get_preset
from invsolve.priors import resolve_prior_path
from invsolve.solvers import SOLVERS, get_solver
from invsolve.solvers.settings import check_setting_values

SUITE_KEYS = {"name", "description", "image_size", "count", "seeds", "validation_count", "figure_images", "plugins"}
TASK_KEYS = {"op", "dataset", "options", "paper"}
METHOD_KEYS = {"solver", "prior", "settings", "task_settings", "label"}


@dataclass(frozen=True)
class Task:
    name: str
    op: str
    dataset: str  # a built-in source name, an .inv3 file or a folder path
    domain: str  # "ct" or "photo", from the operator preset
    options: dict = field(default_factory=dict)
    paper: dict = field(default_factory=dict)  # method -> (PSNR, SSIM)


@dataclass(frozen=True)
class Method:
    name: str
    solver: str | dict  # one solver for every task, or {domain: solver}
    prior: str | dict | None = None  # one file for every task, or {domain: file}
    settings: dict = field(default_factory=dict)
    task_settings: dict = field(default_factory=dict)  # task -> settings over ``settings``
    label: str = ""

    def prior_for(self, task: Task) -> str | None:
        if isinstance(self.prior, dict):
            return self.prior.get(task.domain)
        return self.prior

    def solver_for(self, task: Task) -> str | None:
        return self.solver.get(task.domain) if isinstance(self.solver, dict) else self.solver

    def settings_for(self, task: Task) -> dict:
        return {**self.settings, **self.task_settings.get(task.name, {})}


@dataclass(frozen=True)
class Suite:
    name: str
    tasks: dict[str, Task]
    methods: dict[str, Method]
    image_size: int = 128
    count: int = 25
    seeds: tuple[int, ...] = (0,)
    validation_count: int = 8
    figure_images: int = 1
    description: str = ""
    raw: dict = field(default_factory=dict, compare=False)  # the parsed file after --set: what results record

    def select(self, tasks: list[str] | None = None, methods: list[str] | None = None) -> "Suite":
        """The suite restricted to ``tasks`` and ``methods`` (names checked)."""
        for kind, chosen, known in (("task", tasks, self.tasks), ("method", methods, self.methods)):
            unknown = [n for n in chosen or () if n not in known]
            if unknown:
                raise InvsolveError(f"suite {self.name} has no {kind} {', '.join(unknown)}; it has {', '.join(known)}")
        return Suite(
            **{
                **self.__dict__,
                "tasks": {n: t for n, t in self.tasks.items() if tasks is None or n in tasks},
                "methods": {n: m for n, m in self.methods.items() if methods is None or n in methods},
            }
        )


def apply_overrides(raw: dict, assignments: list[str]) -> dict:
    """``key.path=value`` assignments (``--set``), values in TOML syntax (bare words are strings)."""
    raw = copy.deepcopy(raw)
    for assignment in assignments:
        key, sep, text = assignment.partition("=")
        if not sep or not key.strip():
            raise InvsolveError(f"--set {assignment!r}: expected key.path=value, e.g. methods.padis.settings.zeta=0.3")
        try:
            value = tomllib.loads(f"v = {text}")["v"]
        except tomllib.TOMLDecodeError:
            value = text
        *parents, last = key.strip().split(".")
        node = raw
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise InvsolveError(f"--set {assignment!r}: {part} is not a table")
        node[last] = value
    return raw


def load_suite(path: str | os.PathLike, overrides: list[str] = ()) -> Suite:
    """Read and check a suite file; ``overrides`` are ``--set`` assignments."""
    path = Path(path)
    if not path.is_file():
        raise InvsolveError(f"suite file {path} does not exist")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise InvsolveError(f"{path}: not a UTF-8 text file (byte {error.start}); save it as UTF-8") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise InvsolveError(f"{path}: not valid TOML: {error}") from None
    raw = apply_overrides(raw, list(overrides))

    def fail(keys: tuple[str, ...], message: str):
        line = line_of(text, keys)
        where = f"{path}:{line}" if line else f"{path} (from --set)" if overrides else str(path)
        raise InvsolveError(f"{where}: {message}")

    return build_suite(raw, fail)


def build_suite(raw: dict, fail=None) -> Suite:
    """A checked Suite from parsed TOML; ``fail(keys, message)`` raises (load_suite's names the line)."""
    if fail is None:

        def fail(keys, message):
            raise InvsolveError(message)

    def check_keys(table: dict, allowed: set, keys: tuple[str, ...]):
        for key in table:
            if key not in allowed:
                fail((*keys, key), f"unknown key {'.'.join((*keys, key))}; allowed: {', '.join(sorted(allowed))}")

    unknown_top = set(raw) - {"suite", "datasets", "tasks", "methods"}
    if unknown_top:
        top = sorted(unknown_top)[0]
        fail((top,), f"unknown table [{top}]; a suite has [suite], [datasets], [tasks.NAME] and [methods.NAME]")
    head = raw.get("suite", {})
    check_keys(head, SUITE_KEYS, ("suite",))
    for module in head.get("plugins", []):  # your own solvers / operator presets register themselves on import
        try:
            importlib.import_module(module)
        except ImportError as error:
            fail(("suite", "plugins"), f"plugin module {module!r} cannot be imported: {error}")
    if "name" not in head:
        fail(("suite",), "[suite] needs a name")
    datasets = raw.get("datasets", {})
    for name, where in datasets.items():
        if not isinstance(where, str):
            fail(
                ("datasets", name),
                f"dataset {name} must be a built-in source ({', '.join(BUILTIN_SOURCES)}), "
                "an .inv3 file or a folder path",
            )

    tasks = {}
    for name, table in raw.get("tasks", {}).items():
        keys = ("tasks", name)
        check_keys(table, TASK_KEYS, keys)
        if table.get("op") not in PRESETS:
            fail(
                (*keys, "op"), f"task {name}: unknown operator {table.get('op')!r}; choose one of {', '.join(PRESETS)}"
            )
        dataset = table.get("dataset")
        if dataset not in datasets:
            fail(
                (*keys, "dataset"),
                f"task {name}: dataset {dataset!r} is not in [datasets] ({', '.join(datasets) or 'none defined'})",
            )
        paper = table.get("paper", {})
        for method, numbers in paper.items():
            if not (isinstance(numbers, list) and len(numbers) == 2):
                fail((*keys, "paper"), f"task {name}: paper.{method} must be [PSNR, SSIM]")
        tasks[name] = Task(
            name,
            table["op"],
            datasets[dataset],
            get_preset(table["op"]).domain,
            dict(table.get("options", {})),
            {m: tuple(v) for m, v in paper.items()},
        )

    methods = {}
    for name, table in raw.get("methods", {}).items():
        keys = ("methods", name)
        check_keys(table, METHOD_KEYS, keys)
        named = table.get("solver")
        per_domain = named if isinstance(named, dict) else dict.fromkeys(DOMAINS, named)
        for domain, solver_name in per_domain.items():
            if domain not in DOMAINS:
                fail(
                    (*keys, "solver"),
                    f"method {name}: solver is keyed by domain ({', '.join(DOMAINS)}), got {domain!r}",
                )
            if solver_name not in SOLVERS:
                fail(
                    (*keys, "solver"),
                    f"method {name}: unknown solver {solver_name!r}; choose one of {', '.join(SOLVERS)}",
                )
            solver = get_solver(solver_name)
            if solver.needs_prior and not table.get("prior"):
                fail(
                    keys,
                    f"method {name}: solver {solver.name} needs a prior (prior = FILE or {{ ct = FILE, "
                    "photo = FILE }})",
                )
            if not solver.needs_prior and table.get("prior"):
                fail((*keys, "prior"), f"method {name}: solver {solver.name} takes no prior")
        task_settings = table.get("task_settings", {})
        for task_name in task_settings:
            if task_name not in tasks:
                fail((*keys, "task_settings"), f"method {name}: task_settings names unknown task {task_name}")
        checks = [(table.get("settings", {}), set(per_domain.values()))]  # shared settings: every solver takes them
        checks += [(s, {per_domain.get(tasks[t].domain)}) for t, s in task_settings.items()]
        for settings, solver_names in checks:
            for solver in map(get_solver, sorted(n for n in solver_names if n)):
                unknown = sorted(set(settings) - set(solver.parameters))
                if unknown:
                    fail(
                        (*keys, "settings"),
                        f"method {name}: solver {solver.name} has no setting "
                        f"{', '.join(unknown)}; it takes {', '.join(solver.parameters) or 'none'}",
                    )
                try:
                    check_setting_values(solver.name, settings)
                except InvsolveError as error:
                    fail((*keys, "settings"), f"method {name}: {error}")
        methods[name] = Method(
            name,
            dict(named) if isinstance(named, dict) else named,
            table.get("prior"),
            dict(table.get("settings", {})),
            {t: dict(s) for t, s in task_settings.items()},
            table.get("label", name),
        )
    if not tasks or not methods:
        fail(
            ("tasks",) if not tasks else ("methods",), "a suite needs at least one [tasks.NAME] and one [methods.NAME]"
        )
    for task in tasks.values():
        for method in task.paper:
            if method not in methods:
                fail(("tasks", task.name, "paper"), f"task {task.name}: paper numbers for unknown method {method}")

    options = {k: head[k] for k in SUITE_KEYS - {"name", "seeds", "plugins"} if k in head}
    for key in ("image_size", "count", "validation_count", "figure_images"):
        if key in options and not (
            isinstance(options[key], int) and options[key] >= (0 if key == "figure_images" else 1)
        ):
            fail(("suite", key), f"suite.{key} must be a positive integer, got {options[key]!r}")
    seeds = head.get("seeds", [0])
    if not (isinstance(seeds, list) and seeds and all(isinstance(s, int) for s in seeds)):
        fail(("suite", "seeds"), f"suite.seeds must be a list of integers, got {seeds!r}")
    return Suite(head["name"], tasks, methods, seeds=tuple(seeds), raw=raw, **options)


def check_resources(suite: Suite, split: str) -> None:
    """Before any work: every dataset folder and prior file the selected cells need exists."""
    for task in suite.tasks.values():
        if task.dataset == "headct" or Path(task.dataset).suffix == ".inv3":
            read_volume(None if task.dataset == "headct" else task.dataset)  # one line naming apt-get if absent
        elif task.dataset not in BUILTIN_SOURCES and not Path(task.dataset).is_dir():
            raise InvsolveError(
                f"task {task.name}: dataset folder {task.dataset} does not exist; prepare it "
                "(invsolve data prepare ...) or point to it with --set datasets.NAME=PATH"
            )
        elif task.dataset not in BUILTIN_SOURCES and not (Path(task.dataset) / split).is_dir():
            raise InvsolveError(f"task {task.name}: dataset folder {task.dataset} has no {split}/ subfolder")
        for method in suite.methods.values():
            solver = method.solver_for(task)
            if solver is None:
                raise InvsolveError(
                    f"method {method.name} names no solver for {task.domain} tasks like {task.name}; "
                    f"set one with --set methods.{method.name}.solver.{task.domain}=NAME"
                )
            if get_solver(solver).needs_prior:
                prior = method.prior_for(task)
                if prior is None:
                    raise InvsolveError(
                        f"method {method.name} has no prior for {task.domain} tasks like {task.name}; "
                        f"set one with --set methods.{method.name}.prior.{task.domain}=FILE"
                    )
                resolve_prior_path(prior)


_HEADER = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r"^\s*([A-Za-z0-9_\-\.\"' ]+?)\s*=")


def _split_key(text: str) -> tuple[str, ...]:
    return tuple(part.strip().strip("\"'") for part in text.split("."))


def line_of(text: str, keys: tuple[str, ...]) -> int | None:
    """The 1-based line of the TOML text that defines ``keys`` (or its longest defined prefix)."""
    best, best_depth, table = None, 0, ()
    for number, line in enumerate(text.splitlines(), 1):
        header = _HEADER.match(line)
        if header:
            table, path = _split_key(header.group(1)), _split_key(header.group(1))
        else:
            key = _KEY.match(line)
            if not key:
                continue
            path = table + _split_key(key.group(1))
        depth = 0
        while depth < min(len(path), len(keys)) and path[depth] == keys[depth]:
            depth += 1
        if depth == len(path) and depth > best_depth:  # the whole of this line's key is a prefix of ``keys``
            best, best_depth = number, depth
    return best
