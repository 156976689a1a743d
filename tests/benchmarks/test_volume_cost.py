"""The volume-cost study runs a slab of the real head CT as one volume and prints its cost."""

import re

import pytest

from invsolve.benchmarks.studies import volume_cost
from invsolve.data import headct
from invsolve.errors import InvsolveError

pytestmark = pytest.mark.skipif(not headct.DEFAULT_PATH.is_file(), reason=headct.missing_message(headct.DEFAULT_PATH))


def test_the_study_prints_seconds_per_slice_and_peak_memory(capsys):
    volume_cost.main(["--slices", "76:78", "--image-size", "64", "--setting", "steps=2", "--fallback", "none"])
    line = capsys.readouterr().out.strip()
    assert line.startswith("ct20, 2 slices of 64 px (slices 76-77), dds + padis-headct-256")
    assert re.search(r"\(\d+\.\d\d s per slice\), 2 NFEs, peak memory \d+\.\d\d GiB", line)


def test_a_slab_beyond_the_volume_is_refused():
    with pytest.raises(InvsolveError, match=r"slices 100:120 are not a slab of this volume's 108 slices"):
        volume_cost.main(["--slices", "100:120", "--image-size", "64"])
