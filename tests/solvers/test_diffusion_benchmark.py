"""The diffusion benchmark script runs end to end (tiny prior, 2 images, 2 noise levels)."""

from invsolve.benchmarks import diffusion


def test_tune_and_evaluate_print_their_tables(tiny_prior_file, capsys, tmp_path):
    diffusion.main(["tune", "--op", "ct20", "--prior", str(tiny_prior_file), "--solver", "langevin",
                    "--zeta", "0.1,0.3", "--steps", "2", "--inner", "1", "--count", "2", "--threads", "1"])
    out = capsys.readouterr().out
    assert "64x64" in out and out.count("NFEs") == 2 and "best: {'steps': 2, 'inner': 1, 'zeta'" in out

    figure = tmp_path / "eval.png"
    diffusion.main(["evaluate", "--op", "ct20", "--prior", str(tiny_prior_file), "--solvers", "dps,ddnm",
                    "--steps", "2", "--inner", "1", "--count", "2", "--threads", "1", "--figure", str(figure)])
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("| ") and "PSNR" not in line]
    assert [row.split(" | ")[0] for row in rows] == ["| FBP", "| admm-tv", "| dps", "| ddnm"]
    assert rows[2].endswith("| 2 |") and figure.stat().st_size > 0
