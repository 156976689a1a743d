"""The Python examples of docs/priors.md run as written (on a tiny prior file under the documented name)."""

import re
import shutil
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "priors.md"


def test_priors_doc_examples_run(tiny_prior_file, tmp_path, monkeypatch, capsys):
    shutil.copy(tiny_prior_file, tmp_path / "padis.safetensors")
    monkeypatch.chdir(tmp_path)
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)
    assert len(blocks) == 2
    for code in blocks:
        exec(compile(code, str(DOC), "exec"), {})
    printed = capsys.readouterr().out
    assert "1 64 0.002 10.0" in printed and "test" in printed
