"""Benchmark suites: TOML files naming datasets, tasks (operator + dataset), methods (solver +
prior + settings) and the paper's numbers. ``load_suite`` checks everything it can before any work
and names the line of the first problem: the file against its schema (``SuiteFile``, pydantic, strict
types and no unknown keys), then what the tables say of each other, each task's operator options by
building the operator, and each method's settings against its solvers' settings table.

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
    count = 1                     # at most this many images (optional: a dataset of one slice)
    paper = { padis = [33.57, 0.854] }   # the paper's PSNR / SSIM per method (optional)

    [methods.padis]
    solver = "dps"                # or one per domain: { ct = "dps", photo = "diffpir" }
    prior = { ct = "padis-ct.safetensors", photo = "padis-photo.safetensors" }  # or one file
    settings = { steps = 100, inner = 10 }
    task_settings = { ct20 = { zeta = 0.3 } }
    fallback = "admm-tv"          # checked against on held-out views, as invsolve reconstruct does
                                  # (optional; default none: the prior alone, as the paper measures it)

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
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from invsolve.catalog import CLASSICAL_SOLVERS, MAX_IMAGE_SIDE
from invsolve.data import BUILTIN_SOURCES
from invsolve.data.headct import read_volume
from invsolve.errors import InvsolveError
from invsolve.operators import DOMAINS, PRESETS, get_preset, make_operator
from invsolve.priors import resolve_prior_path
from invsolve.solvers import SOLVERS, get_solver
from invsolve.solvers.settings import check_setting_values
from invsolve.validation import one_line


class _Table(BaseModel):
    """A table of a suite file: strict types (2.5 is no count, "8" no number), no unknown keys."""

    model_config = ConfigDict(strict=True, extra="forbid", allow_inf_nan=False)


class SuiteHead(_Table):
    name: str
    description: str = ""
    image_size: Annotated[int, Field(ge=8, le=MAX_IMAGE_SIDE)] = 128
    count: Annotated[int, Field(ge=1)] = 25
    seeds: Annotated[list[int], Field(min_length=1)] = [0]
    validation_count: Annotated[int, Field(ge=1)] = 8
    figure_images: Annotated[int, Field(ge=0)] = 1
    plugins: list[str] = []


class TaskTable(_Table):
    op: str
    dataset: str  # a name in [datasets]
    options: dict[str, Any] = {}  # operator overrides, checked by building the operator
    count: Annotated[int, Field(ge=1)] | None = None  # at most this many images (a dataset of one slice)
    volume: Annotated[int, Field(ge=1)] | None = None  # CT: cells are volumes of this many consecutive images
    paper: dict[str, Annotated[list[float], Field(min_length=2, max_length=2)]] = {}  # method -> [PSNR, SSIM]


class MethodTable(_Table):
    solver: str | dict[str, str]
    prior: str | dict[str, str] | None = None
    settings: dict[str, Any] = {}  # checked against the solver's settings table
    task_settings: dict[str, dict[str, Any]] = {}
    fallback: Literal[CLASSICAL_SOLVERS] | None = None  # type: ignore[valid-type]  # as reconstruct's
    label: str | None = None


class SuiteFile(_Table):
    suite: SuiteHead
    datasets: dict[str, str] = {}  # a built-in source, an .inv3 file or a folder path
    tasks: Annotated[dict[str, TaskTable], Field(min_length=1)]
    methods: Annotated[dict[str, MethodTable], Field(min_length=1)]


class SuiteProblem(InvsolveError):
    """A problem at ``keys`` of a suite (``load_suite`` turns the keys into a line number)."""

    def __init__(self, keys: tuple[str, ...], message: str):
        super().__init__(message)
        self.keys = keys


@dataclass(frozen=True)
class Task:
    name: str
    op: str
    dataset: str  # a built-in source name, an .inv3 file or a folder path
    domain: str  # "ct" or "photo", from the operator preset
    options: dict = field(default_factory=dict)
    paper: dict = field(default_factory=dict)  # method -> (PSNR, SSIM)
    count: int | None = None  # at most this many images of the split, whatever the suite's count
    volume: int | None = None  # a cell is a volume of this many consecutive images of the split (CT)

    def images(self, count: int) -> int:
        """How many images of its split the task runs when the suite runs ``count``."""
        return min(count, self.count or count)

    def cells(self, count: int) -> int:
        """How many cells (images, or volumes of ``volume`` images) the task runs per method and seed."""
        return self.images(count) // (self.volume or 1)

    def slices(self, index: int) -> range:
        """The images of the split that cell ``index`` reconstructs."""
        depth = self.volume or 1
        return range(index * depth, (index + 1) * depth)


@dataclass(frozen=True)
class Method:
    name: str
    solver: str | dict  # one solver for every task, or {domain: solver}
    prior: str | dict | None = None  # one file for every task, or {domain: file}
    settings: dict = field(default_factory=dict)
    task_settings: dict = field(default_factory=dict)  # task -> settings over ``settings``
    label: str = ""
    fallback: str | None = None  # the classical solver checked against on held-out views (run_case)

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
    try:
        return build_suite(apply_overrides(raw, list(overrides)))
    except SuiteProblem as problem:
        line = line_of(text, problem.keys)
        where = f"{path}:{line}" if line else f"{path} (from --set)" if overrides else str(path)
        raise InvsolveError(f"{where}: {problem}") from None


def build_suite(raw: dict) -> Suite:
    """A checked Suite from parsed TOML: the schema first (types, ranges, known keys), then what
    the tables say of each other and of the registered operators and solvers."""
    try:
        schema = SuiteFile.model_validate(raw)
    except ValidationError as error:
        raise _schema_problem(error, raw) from None
    head = schema.suite
    for module in head.plugins:  # your own solvers / operator presets register themselves on import
        try:
            importlib.import_module(module)
        except ImportError as error:
            raise SuiteProblem(("suite", "plugins"), f"plugin module {module!r} cannot be imported: {error}") from None
    tasks = {name: _task(name, table, schema) for name, table in schema.tasks.items()}
    methods = {name: _method(name, table, tasks) for name, table in schema.methods.items()}
    for task in tasks.values():
        for method in task.paper:
            if method not in methods:
                raise SuiteProblem(
                    ("tasks", task.name, "paper"), f"task {task.name}: paper numbers for unknown method {method}"
                )
    return Suite(
        head.name,
        tasks,
        methods,
        image_size=head.image_size,
        count=head.count,
        seeds=tuple(head.seeds),
        validation_count=head.validation_count,
        figure_images=head.figure_images,
        description=head.description,
        raw=raw,
    )


def _task(name: str, table: TaskTable, schema: SuiteFile) -> Task:
    keys = ("tasks", name)
    if table.op not in PRESETS:
        raise SuiteProblem(
            (*keys, "op"), f"task {name}: unknown operator {table.op!r}; choose one of {', '.join(PRESETS)}"
        )
    if table.dataset not in schema.datasets:
        defined = ", ".join(schema.datasets) or "none defined"
        raise SuiteProblem(
            (*keys, "dataset"), f"task {name}: dataset {table.dataset!r} is not in [datasets] ({defined})"
        )
    try:  # the operator's own checks, at the suite's image size, before any work
        make_operator(table.op, schema.suite.image_size, **table.options)
    except InvsolveError as error:
        raise SuiteProblem((*keys, "options"), f"task {name}: {error}") from None
    paper = {method: (psnr, ssim) for method, (psnr, ssim) in table.paper.items()}
    domain = get_preset(table.op).domain
    if table.volume is not None and domain != "ct":
        raise SuiteProblem((*keys, "volume"), f"task {name}: volumes are CT scans; {table.op} is a {domain} task")
    if table.volume is not None and (table.count or schema.suite.count) < table.volume:
        raise SuiteProblem(
            (*keys, "volume"),
            f"task {name}: a volume of {table.volume} images needs a count of at least {table.volume}",
        )
    options, dataset = dict(table.options), schema.datasets[table.dataset]
    return Task(name, table.op, dataset, domain, options, paper, table.count, table.volume)


def _method(name: str, table: MethodTable, tasks: dict[str, Task]) -> Method:
    keys = ("methods", name)
    per_domain = table.solver if isinstance(table.solver, dict) else dict.fromkeys(DOMAINS, table.solver)
    for domain, solver_name in per_domain.items():
        if domain not in DOMAINS:
            raise SuiteProblem(
                (*keys, "solver"), f"method {name}: solver is keyed by domain ({', '.join(DOMAINS)}), got {domain!r}"
            )
        if solver_name not in SOLVERS:
            raise SuiteProblem(
                (*keys, "solver"), f"method {name}: unknown solver {solver_name!r}; choose one of {', '.join(SOLVERS)}"
            )
        solver = get_solver(solver_name)
        if solver.needs_prior and not table.prior:
            raise SuiteProblem(
                keys,
                f"method {name}: solver {solver.name} needs a prior (prior = FILE or {{ ct = FILE, photo = FILE }})",
            )
        if not solver.needs_prior and table.prior:
            raise SuiteProblem((*keys, "prior"), f"method {name}: solver {solver.name} takes no prior")
    for task_name in table.task_settings:
        if task_name not in tasks:
            raise SuiteProblem((*keys, "task_settings"), f"method {name}: task_settings names unknown task {task_name}")
    checks = [(table.settings, set(per_domain.values()))]  # shared settings: every solver takes them
    checks += [(s, {per_domain.get(tasks[t].domain)}) for t, s in table.task_settings.items()]
    for settings, solver_names in checks:
        for solver in map(get_solver, sorted(n for n in solver_names if n)):
            unknown = sorted(set(settings) - set(solver.parameters))
            if unknown:
                raise SuiteProblem(
                    (*keys, "settings"),
                    f"method {name}: solver {solver.name} has no setting {', '.join(unknown)}; "
                    f"it takes {', '.join(solver.parameters) or 'none'}",
                )
            try:
                check_setting_values(solver.name, settings)
            except InvsolveError as error:
                raise SuiteProblem((*keys, "settings"), f"method {name}: {error}") from None
    return Method(
        name,
        dict(table.solver) if isinstance(table.solver, dict) else table.solver,
        dict(table.prior) if isinstance(table.prior, dict) else table.prior,
        dict(table.settings),
        {t: dict(s) for t, s in table.task_settings.items()},
        table.label or name,
        table.fallback,
    )


#: The table model behind each top-level key, for naming the keys a table allows.
_TABLES = {"suite": SuiteHead, "tasks": TaskTable, "methods": MethodTable}


def _schema_problem(error: ValidationError, raw: dict) -> SuiteProblem:
    """The first schema error, at the keys of the file it names (pydantic's location also names
    the member of a union it tried; those parts are no keys of the file)."""
    first = error.errors()[0]
    keys: tuple[str, ...] = ()
    node: Any = raw
    for part in map(str, first["loc"]):
        if not (isinstance(node, dict) and part in node):
            break
        keys, node = (*keys, part), node[part]
    kind = first["type"]
    if kind == "extra_forbidden" and len(keys) == 1:
        return SuiteProblem(
            keys, f"unknown table [{keys[0]}]; a suite has [suite], [datasets], [tasks.NAME] and [methods.NAME]"
        )
    if kind == "extra_forbidden":
        allowed = ", ".join(_TABLES[keys[0]].model_fields)
        return SuiteProblem(keys, f"unknown key {'.'.join(keys)}; allowed: {allowed}")
    if kind in ("missing", "too_short") and first["loc"] in (("tasks",), ("methods",)):
        return SuiteProblem(keys, "a suite needs at least one [tasks.NAME] and one [methods.NAME]")
    named = ".".join(map(str, first["loc"])) if kind == "missing" else ".".join(keys)
    return SuiteProblem(keys, one_line(error, named))


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
