"""The noise-rule study: it reads a tuning grid off a bench tune folder and scores rules by regret."""

import math

import pytest

from invsolve.benchmarks.studies import noise_rule
from invsolve.benchmarks.suite import load_suite
from invsolve.benchmarks.tuning import tune

SUITE = """
[suite]
name = "noisy"
image_size = 64
count = 2
validation_count = 2

[datasets]
phantoms = "phantoms"

[tasks.ct8-s03]
op = "ct8"
dataset = "phantoms"
options = { noise = 0.3 }

[tasks.ct8-p1e3]
op = "ct8"
dataset = "phantoms"
options = { photons = 1e3 }

[methods.admm-tv]
solver = "admm-tv"
settings = { iterations = 20 }
"""


def test_the_grid_is_read_linearly_in_log_lam_and_flat_beyond_its_ends():
    grid = {0.01: 20.0, 0.1: 22.0, 1.0: 21.0}
    assert noise_rule.score_at(grid, math.sqrt(0.01 * 0.1)) == pytest.approx(21.0)
    assert noise_rule.score_at(grid, 0.001) == 20.0 and noise_rule.score_at(grid, 10.0) == 21.0


def test_the_study_finds_each_tasks_noise_and_scores_the_rules(tmp_path, capsys):
    (tmp_path / "noisy.toml").write_text(SUITE)
    out = tmp_path / "tune"
    tune(load_suite(tmp_path / "noisy.toml"), "admm-tv", {"lam": [0.03, 0.3, 3.0]}, out)
    capsys.readouterr()
    assert noise_rule.main([str(out), "--floors", "0.03", "--slopes", "0,4", "--exponents", "1.5,2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = {line.split()[0]: line.split()[1:] for line in lines if line.startswith("ct8-")}
    assert float(rows["ct8-s03"][0]) == 0.3  # Gaussian: the level given
    assert 0.1 < float(rows["ct8-p1e3"][0]) < 1.0  # photon counts: the level of the measurements
    rules = [line.split() for line in lines if line.strip().startswith("0.03")]
    assert [(rule[1], rule[2]) for rule in rules] == [("0", "1.5"), ("0", "2"), ("4", "1.5"), ("4", "2")]
    assert all(float(rule[3]) >= 0 for rule in rules)  # PSNR regret against the grid's best
    assert sum("*" in " ".join(rule) for rule in rules) == 1  # the chosen rule, marked
