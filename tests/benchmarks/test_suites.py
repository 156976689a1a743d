"""The shipped suite files parse, name the paper's numbers and fail clearly without their data."""

from pathlib import Path

import pytest

from invsolve.benchmarks.runner import run_suite
from invsolve.benchmarks.suite import line_of, load_suite
from invsolve.data import headct
from invsolve.errors import InvsolveError

SUITES = sorted((Path(__file__).parents[2] / "benchmarks").glob("*.toml"))
TABLE1 = {"ct20": {"padis": (33.57, 0.854), "admm-tv": (26.82, 0.724)}, "sr4": {"whole": (29.17, 0.827)}}


def test_every_paper_table_and_study_has_a_suite_file():
    assert {p.stem for p in SUITES} == {
        "mini",
        "mini-headct",
        "mini-headct-data-size",
        "paper-table1",
        "paper-patch-size",
        "paper-data-size",
        "paper-posenc",
        "paper-samplers",
        "solvers-ct20-64",
        "noise-ct",
        "noise-photo",
        "robust-ct",
        "volume-headct",
    }


@pytest.mark.parametrize("path", SUITES, ids=lambda p: p.stem)
def test_suite_files_parse_and_every_paper_number_belongs_to_a_method(path):
    suite = load_suite(path)
    assert suite.tasks and suite.methods
    for task in suite.tasks.values():
        assert set(task.paper) <= set(suite.methods)


def test_table1_carries_the_papers_numbers_and_mini_runs_at_cpu_scale():
    table1 = load_suite(SUITES[[p.stem for p in SUITES].index("paper-table1")])
    for task, numbers in TABLE1.items():
        for method, pair in numbers.items():
            assert table1.tasks[task].paper[method] == pair
    mini = load_suite(SUITES[[p.stem for p in SUITES].index("mini")])
    assert (mini.image_size, mini.count, list(mini.tasks)) == (128, 8, ["ct20", "ct8", "deblur", "sr4"])
    assert {t.dataset for t in mini.tasks.values()} == {"phantoms", "photos"}


def test_a_paper_suite_without_its_data_fails_naming_the_fix(tmp_path):
    suite = load_suite(SUITES[[p.stem for p in SUITES].index("paper-table1")])
    with pytest.raises(InvsolveError, match="dataset folder data/aapm does not exist; prepare it"):
        run_suite(suite, tmp_path / "out")


def test_the_head_ct_suites_without_the_volume_name_the_apt_get_command(tmp_path, monkeypatch):
    monkeypatch.setattr(headct, "DEFAULT_PATH", tmp_path / "Cranium.inv3")
    for name in ("mini-headct", "mini-headct-data-size", "volume-headct"):
        suite = load_suite(SUITES[[p.stem for p in SUITES].index(name)])
        assert {t.dataset for t in suite.tasks.values()} <= {"headct", "headct-slabs"}
        with pytest.raises(InvsolveError, match="apt-get install -y invesalius-examples"):
            run_suite(suite, tmp_path / name)


def test_line_of_finds_tables_keys_and_inline_tables():
    text = '[suite]\nname = "x"\n\n[methods.padis]\nsolver = "dps"\nsettings = { zeta = 1 }\n'
    assert line_of(text, ("suite", "name")) == 2
    assert line_of(text, ("methods", "padis", "settings", "zeta")) == 6
    assert line_of(text, ("methods", "padis", "prior")) == 4
    assert line_of(text, ("tasks", "ct8")) is None
