"""The data-size table reads each prior's training-set size and kind from its file, not its name."""

import json

import pytest
import torch

from invsolve.benchmarks.studies.data_size import main, study
from invsolve.errors import InvsolveError
from invsolve.priors.checkpoint import write_checkpoint


def write_study(folder, sizes_and_psnr):
    """A finished run: ADMM-TV plus one method per (kind, training images, psnr); misleading names."""
    folder.mkdir()
    raw = {
        "suite": {"name": "sizes", "image_size": 16, "count": 2},
        "datasets": {"d": "phantoms"},
        "tasks": {"ct20": {"op": "ct20", "dataset": "d"}},
        "methods": {"admm-tv": {"solver": "admm-tv", "label": "ADMM-TV"}},
    }
    records = []
    for number, (kind, count, psnr) in enumerate(sizes_and_psnr):
        name = f"prior-{number}"
        path = folder / f"{name}.safetensors"
        write_checkpoint(path, {"w": torch.zeros(1)}, {"kind": kind, "data": {"count": count}})
        raw["methods"][name] = {"solver": "dds", "prior": str(path)}
        records += [{"task": "ct20", "method": name, "psnr": psnr + i, "ssim": psnr / 100} for i in range(2)]
    records += [{"task": "ct20", "method": "admm-tv", "psnr": 25.0, "ssim": 0.8} for _ in range(2)]
    for index, record in enumerate(records):
        record |= {"index": index % 2, "seed": 0, "seconds": 1.0, "nfe": 50, "peak_memory_mib": 1.0}
        record |= {"image": f"phantom-{index % 2}", "split": "test"}
        record["key"] = f"{record['task']}/{record['method']}/{record['index']}/0"
    (folder / "suite.json").write_text(json.dumps({"suite": raw, "split": "test"}))
    (folder / "results-rank0.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    return folder


def test_lines_come_from_the_prior_files_sorted_by_size(tmp_path):
    folder = write_study(tmp_path / "run", [("whole", 32, 30.0), ("padis", 32, 31.0), ("padis", 8, 29.0)])
    lines, classical = study(folder, "ct20")
    assert lines == {"padis": [(8, 29.5, 0.29, 2), (32, 31.5, 0.31, 2)], "whole": [(32, 30.5, 0.30, 2)]}
    assert [row["method"] for row in classical] == ["admm-tv"]
    with pytest.raises(InvsolveError, match="no finished cells of task ct8"):
        study(folder, "ct8")
    with pytest.raises(InvsolveError, match=r"no suite\.json"):
        study(tmp_path, "ct20")


def test_the_script_prints_the_table_and_writes_the_figure(tmp_path, capsys):
    folder = write_study(tmp_path / "run", [("whole", 8, 27.0), ("padis", 8, 29.0), ("whole", 16, 30.0)])
    main([str(folder), "--figure", str(tmp_path / "sizes.png")])
    out = capsys.readouterr().out
    assert "| 8 | 29.50 / 0.290 | 27.50 / 0.270 | +2.00 dB |" in out
    assert "| 16 |  | 30.50 / 0.300 |  |" in out
    assert "| ADMM-TV (no training) | 25.00 / 0.800 | | |" in out
    assert (tmp_path / "sizes.png").stat().st_size > 0
