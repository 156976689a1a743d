"""The README's Python example runs as written and does what it says."""

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_example_runs(capsys):
    text = README.read_text()
    section = text[text.index("## Python API"):]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    assert len(code.strip().splitlines()) <= 10
    exec(compile(code, str(README), "exec"), {})
    out = capsys.readouterr().out
    fbp, tv = (re.search(rf"{name} \[(.*?)\]", out).group(1) for name in ("FBP", "ADMM-TV"))
    fbp_scores = [float(v) for v in fbp.split(",")]
    tv_scores = [float(v) for v in tv.split(",")]
    assert len(fbp_scores) == len(tv_scores) == 2
    assert all(t > f for t, f in zip(tv_scores, fbp_scores))  # ADMM-TV beats FBP, as the README claims


def test_readme_commands_match_ci():
    """CI must install and test exactly as the README's second set-up command says."""
    ci = (README.parent / ".ci" / "run").read_text()
    readme = README.read_text()
    assert 'pip install -e ".[test]" && pytest -q' in readme
    assert 'pip install -e ".[test]"' in ci and "pytest -q" in ci
