"""The bad-input matrix of benchmarks/studies/reliability.py: every case gets one line, status 2, no
traceback, and leaves the user's files as they were."""

import pytest

from invsolve.benchmarks.studies.reliability import CASES, Case, main, run_case


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_every_bad_input_gets_one_line_and_status_2(case):
    held, detail = run_case(case)
    assert held, detail


def test_the_check_itself_can_fail():
    """A case that exits 0, and one whose message lacks the expected words, do not hold."""
    assert not run_case(Case("help exits 0", ["--help"]))[0]
    held, detail = run_case(Case("wrong words", ["reconstruct", "--op", "ct9"], expect="something else"))
    assert not held and "no 'something else'" in detail


def test_the_script_counts_the_cases(capsys, monkeypatch):
    monkeypatch.setattr("invsolve.benchmarks.studies.reliability.CASES", CASES[:3])
    assert main([]) == 0
    assert capsys.readouterr().out.strip() == "3 of 3 cases hold"
