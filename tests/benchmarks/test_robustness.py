"""The robustness study: it reads a robust-ct run cell by cell and names the cells below the bar."""

from invsolve.benchmarks.studies import robustness


def record(task, method, index, psnr, ssim, fell_back=None):
    verdict = None if fell_back is None else {"chosen": "admm-tv" if fell_back else "dds", "against": "admm-tv"}
    return {"task": task, "method": method, "index": index, "psnr": psnr, "ssim": ssim, "fallback": verdict}


def test_the_table_compares_the_defaults_with_tuned_tv_cell_by_cell(monkeypatch, capsys):
    records = [
        *(record("ct8-phantoms", "admm-tv-tuned", i, 20.0 + i, 0.70) for i in (0, 1)),
        *(record("ct8-phantoms", "padis-phantoms", i, 24.0 + i, 0.80, False) for i in (0, 1)),
        *(record("ct8-phantoms", "padis-phantoms-alone", i, 24.0 + i, 0.80) for i in (0, 1)),
        record("ct8-phantoms", "padis-headct", 0, 20.0, 0.70, True),
        record("ct8-phantoms", "padis-headct", 1, 22.0, 0.72, False),
        *(record("ct8-phantoms", "padis-headct-alone", i, 19.0 + 3 * i, 0.65) for i in (0, 1)),
        record("ct8-ctsmall-s02", "admm-tv-tuned", 0, 30.0, 0.90),
        record("ct8-ctsmall-s02", "padis-phantoms", 0, 29.5, 0.90, False),
        record("ct8-ctsmall-s02", "padis-phantoms-alone", 0, 29.5, 0.90),
    ]
    monkeypatch.setattr(robustness, "read_results", lambda out: {str(i): r for i, r in enumerate(records)})
    robustness.main(["run", "--markdown"])
    out = capsys.readouterr().out
    rows = {tuple(line.split()[:3]): line for line in out.splitlines() if line.startswith("ct8-")}
    assert "+4.00 / +0.100  0 of 2" in rows["ct8-phantoms", "phantom", "prior"]
    assert "+0.50 / +0.010  1 of 2" in rows["ct8-phantoms", "head-CT", "prior"]  # means 21.0 / 0.71 against 20.5 / 0.70
    assert "# 2 of 3 cells within 0.3 dB and 0.01 SSIM of tuned ADMM-TV" in out
    assert "misses: ct8-ctsmall-s02 with the phantom prior: -0.50 dB, +0.000 SSIM" in out
    assert "in domain the defaults lead tuned ADMM-TV by +4.00 to +4.00 dB" in out
    assert "| ct8, 0 | +4.00 / +0.100 |  |  | +0.50 / +0.010 (1/2 TV) |  |  |" in out
    assert "| ct8, sigma 0.2 |  |  | -0.50 / +0.000 |  |  |  |" in out
    assert robustness.split_task("ct20-ctsmall-p1e4") == ("ct20", "ctsmall", "-p1e4")
