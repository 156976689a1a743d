"""The README's Python example runs as written and does what it says."""

import re
from pathlib import Path

from invsolve.solvers import diffusion

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_example_runs(capsys, monkeypatch):
    text = README.read_text()
    section = text[text.index("## Python API"):]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    assert len(code.strip().splitlines()) <= 10
    # The example runs the bundled prior with its tuned ct8 defaults (about a minute); a test only
    # needs to see it run, so it takes 4 levels of one step each.
    assert "ct8" in diffusion.TUNED["dps"]
    monkeypatch.setitem(diffusion.TUNED["dps"], "ct8", {**diffusion.TUNED["dps"]["ct8"], "steps": 4, "inner": 1})
    exec(compile(code, str(README), "exec"), {})
    out = capsys.readouterr().out
    scores = {name: float(re.search(rf"{name} \[([0-9.]+)\]", out).group(1))  # psnr of a batch: a list
              for name in ("FBP", "ADMM-TV", "PaDIS")}
    assert scores["ADMM-TV"] > scores["FBP"]  # as the README claims
    assert 5 < scores["PaDIS"] < 60


def test_readme_commands_match_ci():
    """CI must install and test exactly as the README's second set-up command says."""
    ci = (README.parent / ".ci" / "run").read_text()
    readme = README.read_text()
    assert 'pip install -e ".[test]" && pytest -q' in readme
    assert 'pip install -e ".[test]"' in ci and "pytest -q" in ci
