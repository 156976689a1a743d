"""The dependency direction the design promises: nothing but the command line (and the studies,
which drive it) imports the command line; nothing in the library imports from benchmarks."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LIBRARY = [ROOT / "invsolve", ROOT / "operators", ROOT / "priors"]
ENGINE = [ROOT / "benchmarks" / f"{name}.py" for name in ("runner", "suite", "report", "tuning", "gpu_check")]


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def files(roots):
    """The Python files under ``roots``, but the command line's own (``invsolve/cli``, ``__main__``)."""
    for root in roots:
        for path in [root] if root.is_file() else sorted(root.rglob("*.py")):
            if "cli" not in path.relative_to(ROOT).parts and path.name != "__main__.py":
                yield path


def test_no_library_or_engine_module_imports_the_command_line():
    offenders = [
        str(path.relative_to(ROOT))
        for path in files(LIBRARY + ENGINE)
        if any(name == "invsolve.cli" or name.startswith("invsolve.cli.") for name in imported_modules(path))
    ]
    assert offenders == []


def test_the_library_never_imports_the_benchmarks():
    offenders = [
        str(path.relative_to(ROOT))
        for path in files(LIBRARY)
        if any(name.startswith("invsolve.benchmarks") for name in imported_modules(path))
    ]
    assert offenders == []


def test_the_engine_and_the_studies_are_apart():
    studies = {path.stem for path in (ROOT / "benchmarks" / "studies").glob("*.py")} - {"__init__"}
    top = {path.stem for path in (ROOT / "benchmarks").glob("*.py")} - {"__init__"}
    assert top == {"runner", "suite", "report", "tuning", "gpu_check"} and studies and not studies & top
