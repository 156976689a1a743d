"""The quality-against-NFE figure averages the same validation images at every point and reads
validation runs only."""

import json

import pytest

from invsolve.benchmarks.studies.quality_vs_nfe import curves, main, read_validation_records
from invsolve.errors import InvsolveError


def record(task, solver, nfe, index, psnr, method=None, split="validation"):
    method = method or f"padis[steps={nfe}]"
    return {
        "key": f"{task}/{method}/{index}/0",
        "image": f"phantom-{index}",
        "seed": 0,
        "peak_memory_mib": 1.0,
        "task": task,
        "solver": solver,
        "prior": None if solver == "admm-tv" else "padis-ct",
        "method": method,
        "nfe": nfe,
        "index": index,
        "psnr": psnr,
        "ssim": psnr / 100,
        "seconds": 1.0,
        "split": split,
    }


def write(folder, records):
    folder.mkdir()
    (folder / "results-rank0.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    return str(folder)


def test_points_average_the_first_images_keep_the_best_setting_and_drop_incomplete_ones():
    records = [record("ct8", "dds", 10, i, 20.0 + i) for i in range(3)]  # index 2 is beyond --images 2
    records += [record("ct8", "dds", 10, i, 30.0, method="padis[steps=10,cg=5]") for i in range(2)]
    records += [record("ct8", "dds", 50, 0, 40.0)]  # image 1 missing: no point
    records += [record("ct8", "admm-tv", 0, i, 25.0, method="admm-tv[lam=1]") for i in range(2)]
    lines = curves(records, images=2)["ct8"]
    assert lines["dds + padis-ct"] == [(10, 30.0, 0.3, 1.0)]
    assert lines["admm-tv"] == [(0, 25.0, 0.25, 1.0)]


def test_test_split_results_are_refused(tmp_path):
    folder = write(tmp_path / "run", [record("ct8", "dds", 10, 0, 20.0, split="test")])
    with pytest.raises(InvsolveError, match="validation only"):
        read_validation_records([folder])
    with pytest.raises(InvsolveError, match="no results"):
        read_validation_records([str(tmp_path)])


def test_the_script_prints_the_table_and_writes_the_figure(tmp_path, capsys):
    folder = write(tmp_path / "run", [record("ct8", "dds", n, 0, 20.0 + n / 10) for n in (10, 20)])
    main([folder, "--images", "1", "--figure", str(tmp_path / "q.png")])
    out = capsys.readouterr().out
    assert "dds + padis-ct                  20  22.00" in out
    assert (tmp_path / "q.png").stat().st_size > 0
