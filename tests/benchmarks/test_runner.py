"""The benchmark runner: a tiny suite end to end, resume after a kill, two ranks, bad suite files."""

import json
import os
import re
import shutil
import subprocess
import sys
import warnings

import pytest
import torch

from invsolve.benchmarks import runner
from invsolve.benchmarks.report import report
from invsolve.benchmarks.runner import read_results, run_suite
from invsolve.benchmarks.suite import load_suite
from invsolve.benchmarks.tuning import tune
from invsolve.cli import main as cli
from invsolve.data import get_source, headct, trained_near
from invsolve.errors import InvsolveError, LeakageNotice
from invsolve.operators import PRESETS, make_operator
from invsolve.priors import load
from invsolve.solvers import SOLVERS, get_solver
from invsolve.solvers.settings import TUNED_FILE, read_tuned
from invsolve.tasks import choose_settings

TINY_SUITE = """
[suite]
name = "tiny"
description = "two tasks, three methods, 64 px"
image_size = 64
count = 2
validation_count = 2
figure_images = 1

[datasets]
phantoms = "phantoms"
photos = "photos"

[tasks.ct8]
op = "ct8"
dataset = "phantoms"
paper = { admm-tv = [23.09, 0.555] }

[tasks.sr4]
op = "sr4"
dataset = "photos"

[methods.baseline]
solver = "baseline"

[methods.admm-tv]
solver = "admm-tv"
settings = { iterations = 5 }
task_settings = { sr4 = { lam = 0.02 } }

[methods.padis]
solver = "dps"
prior = { ct = "PRIOR" }
settings = { steps = 2, inner = 1 }
"""


@pytest.fixture
def suite_file(tmp_path, tiny_prior_file):
    path = tmp_path / "tiny.toml"
    path.write_text(TINY_SUITE.replace("PRIOR", str(tiny_prior_file)))
    return path


def test_a_tiny_suite_runs_end_to_end_and_the_report_has_every_cell(suite_file, tmp_path):
    out = tmp_path / "out"
    # padis has no photo prior, so it runs on ct8 only
    assert cli(["bench", "run", str(suite_file), "--out", str(out), "--tasks", "ct8"]) == 0
    assert (
        cli(["bench", "run", str(suite_file), "--out", str(out), "--tasks", "sr4", "--methods", "baseline,admm-tv"])
        == 0
    )
    results = read_results(out)
    assert sorted(results) == sorted(
        f"{t}/{m}/{i}/0"
        for t, ms in (("ct8", ("baseline", "admm-tv", "padis")), ("sr4", ("baseline", "admm-tv")))
        for m in ms
        for i in range(2)
    )
    padis = results["ct8/padis/1/0"]
    assert padis["nfe"] == 2 and padis["settings"]["steps"] == 2 and padis["prior"].endswith("tiny.safetensors")
    assert results["sr4/admm-tv/0/0"]["settings"]["lam"] == 0.02 and 5 < results["ct8/baseline/0/0"]["psnr"] < 40
    assert {"psnr", "ssim", "seconds", "nfe", "peak_memory_mib", "seed", "versions", "settings"} <= set(padis)

    written = report(out)
    table = written["markdown"]
    for task, methods in (("ct8", ("baseline", "admm-tv", "padis")), ("sr4", ("baseline", "admm-tv"))):
        section = table.split(f"## {task}")[1].split("##")[0]
        assert [
            line.split(" | ")[0] for line in section.splitlines() if line.startswith("| ") and "PSNR" not in line
        ] == [f"| {m}" for m in methods]
    assert "23.09 / 0.555" in table  # the paper's number beside ours
    overview = table.split("## Overview (mean PSNR / SSIM)")[1].split("##")[0]
    padis_row = next(line for line in overview.splitlines() if line.startswith("| padis |"))
    ct8_padis = results["ct8/padis/0/0"], results["ct8/padis/1/0"]
    mean_psnr, mean_ssim = (sum(r[k] for r in ct8_padis) / 2 for k in ("psnr", "ssim"))
    assert padis_row == f"| padis | {mean_psnr:.2f} / {mean_ssim:.3f} | - |"  # no sr4 cells for padis
    assert (out / "results.csv").read_text().count("\n") == 10 + 1
    assert sorted(p.name for p in written["figures"]) == ["ct8.png", "sr4.png"]


def test_a_killed_run_resumes_with_every_cell_exactly_once(suite_file, tmp_path):
    out, finished = tmp_path / "out", []

    def die_after_three(record):
        finished.append(record["key"])
        if len(finished) == 3:
            raise KeyboardInterrupt

    suite = load_suite(suite_file).select(["ct8"], ["baseline", "admm-tv"])
    with pytest.raises(KeyboardInterrupt):
        run_suite(suite, out, after_cell=die_after_three)
    with (out / "results-rank0.jsonl").open("a") as f:
        f.write('{"key": "ct8/admm-tv/1/0", "psnr": 2')  # a line torn by the kill
    summary = run_suite(suite, out)
    assert summary["skipped"] == 3 and summary["ran"] == 1
    lines = (out / "results-rank0.jsonl").read_text().splitlines()
    keys = [json.loads(line)["key"] for line in lines]
    assert sorted(keys) == sorted(f"ct8/{m}/{i}/0" for m in ("baseline", "admm-tv") for i in range(2))
    assert run_suite(suite, out)["ran"] == 0


@pytest.mark.slow
def test_two_ranks_split_the_cells_without_overlap_and_the_report_merges_them(suite_file, tmp_path):
    out = tmp_path / "out"
    processes = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "invsolve",
                "bench",
                "run",
                str(suite_file),
                "--out",
                str(out),
                "--methods",
                "baseline,admm-tv",
            ],
            env={**os.environ, "RANK": str(rank), "WORLD_SIZE": "2", "OMP_NUM_THREADS": "1"},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for rank in (0, 1)
    ]
    outputs = [p.communicate(timeout=300) for p in processes]
    assert [p.returncode for p in processes] == [0, 0], outputs
    per_rank = [
        {json.loads(line)["key"] for line in (out / f"results-rank{r}.jsonl").read_text().splitlines()} for r in (0, 1)
    ]
    assert per_rank[0] and per_rank[1] and not per_rank[0] & per_rank[1]
    assert len(per_rank[0] | per_rank[1]) == 2 * 2 * 2
    assert report(out)["cells"] == 8


def test_tune_scans_the_validation_split_and_writes_the_choice(suite_file, tmp_path):
    suite = load_suite(suite_file).select(["ct8"])
    chosen = tune(suite, "admm-tv", {"lam": [0.001, 0.3]}, tmp_path / "tune")
    assert set(chosen["chosen"]) == {"ct8"} and len(chosen["table"]) == 2
    results = read_results(tmp_path / "tune")
    assert {r["split"] for r in results.values()} == {"validation"} and len(results) == 2 * 2
    assert "[methods.admm-tv.task_settings.ct8]\nlam = " in (tmp_path / "tune" / "tuned.toml").read_text()


def test_tune_write_updates_the_tuned_table_that_runs_then_read(suite_file, tmp_path, capsys):
    table = tmp_path / "tuned.toml"
    shutil.copy(TUNED_FILE, table)
    before = read_tuned(table)
    args = ["bench", "tune", str(suite_file), "--method", "padis", "--tasks", "ct8", "--out", str(tmp_path / "t")]
    assert cli([*args, "--param", "zeta=0.05,7", "--write", str(table)]) == 0
    assert f"updated the tuned table {table}" in capsys.readouterr().out
    row = read_tuned(table).row("dps", "ct8", "padis")  # the tiny prior is a PaDIS prior
    chosen = tune(load_suite(suite_file).select(["ct8"]), "padis", {"zeta": [0.05, 7]}, tmp_path / "t")["chosen"]
    assert row.settings == before.row("dps", "ct8", "padis").settings | {"steps": 2, "inner": 1} | chosen["ct8"]
    assert row.log == str(tmp_path / "t" / "tuning.txt") and (tmp_path / "t" / "tuning.txt").is_file()
    assert [r for r in read_tuned(table).rows if r.key != row.key] == [r for r in before.rows if r.key != row.key]
    op, prior = make_operator("ct8", 64), load(_prior(suite_file))
    assert choose_settings(get_solver("dps"), op, prior, tuned=table).values["zeta"] == chosen["ct8"]["zeta"]
    assert read_tuned() == read_tuned(TUNED_FILE)  # the package's own table was not touched


def _prior(suite_file):
    return load_suite(suite_file).methods["padis"].prior_for(load_suite(suite_file).tasks["ct8"])


def test_the_tune_command_prints_each_setting_as_given(suite_file, tmp_path, capsys):
    args = ["bench", "tune", str(suite_file), "--method", "admm-tv", "--tasks", "ct8", "--out", str(tmp_path / "t")]
    assert cli([*args, "--param", "lam=3e-05,0.001", "--param", "rho_factor=300"]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("task ")]
    assert [row.split("  ")[1:3] for row in rows] == [["lam 3e-05", "rho_factor 300"], ["lam 0.001", "rho_factor 300"]]
    assert all(re.search(r"psnr \d+\.\d{3}  ssim 0\.\d{3}$", row) for row in rows)


@pytest.mark.parametrize(
    "change,message",
    [
        (('solver = "baseline"', 'solver = "fbp"'), "tiny.toml:24: method baseline: unknown solver 'fbp'"),
        (('op = "sr4"', 'op = "sr3"'), "tiny.toml:20: task sr4: unknown operator 'sr3'"),
        (('photos = "photos"', 'photos = "/no/such/folder"'), "dataset folder /no/such/folder does not exist"),
        (
            ("settings = { iterations = 5 }", "settings = { iterations = 5, zeta = 1 }"),
            "tiny.toml:28: method admm-tv: solver admm-tv has no setting zeta",
        ),
        (("count = 2", "cuont = 2"), "tiny.toml:6: unknown key suite.cuont"),
        (("count = 2", "count = 2.5"), "tiny.toml:6: field suite.count is 2.5; expected an integer"),
        (('name = "tiny"\n', ""), "tiny.toml:2: field suite.name is missing"),
        (
            ('dataset = "phantoms"\npaper', 'dataset = "phantoms"\noptions = { views = 2.5 }\npaper'),
            "tiny.toml:17: task ct8: operator ct8: views must be an integer, got 2.5",
        ),
        (
            ("[23.09, 0.555]", "[23.09]"),
            "tiny.toml:17: field tasks.ct8.paper.admm-tv is [23.09]: list should have at least 2 items",
        ),
        (
            ('solver = "dps"', 'solver = { ct = "dps", mri = "dps" }'),
            "method padis: solver is keyed by domain (ct, photo)",
        ),
        (
            ('solver = "dps"', 'solver = { ct = "dps", photo = "diffpir" }'),  # shared settings must suit both
            "tiny.toml:34: method padis: solver diffpir has no setting inner",
        ),
    ],
)
def test_a_bad_suite_fails_before_any_work_naming_the_line(suite_file, tmp_path, change, message):
    suite_file.write_text(suite_file.read_text().replace(*change))
    out = tmp_path / "out"
    with pytest.raises(InvsolveError) as error:
        run_suite(load_suite(suite_file), out)
    assert message in str(error.value)
    assert not (out / "suite.json").exists()


def test_a_method_can_name_a_solver_per_domain(suite_file, tmp_path):
    per_domain = (
        'solver = { ct = "dps", photo = "diffpir" }\ntask_settings = { ct8 = { inner = 1 }, sr4 = { xi = 0.5 } }'
    )
    suite_file.write_text(
        suite_file.read_text()
        .replace('solver = "dps"', per_domain)
        .replace("settings = { steps = 2, inner = 1 }", "settings = { steps = 2 }")
    )
    suite = load_suite(suite_file)
    padis = suite.methods["padis"]
    assert (padis.solver_for(suite.tasks["ct8"]), padis.solver_for(suite.tasks["sr4"])) == ("dps", "diffpir")
    out = tmp_path / "out"
    run_suite(suite.select(["ct8"], ["padis"]), out, limit=1)
    (result,) = read_results(out).values()
    assert result["solver"] == "dps" and result["nfe"] == 2
    with pytest.raises(InvsolveError, match=r"method padis \(dps\) has no setting xi"):
        tune(suite.select(["ct8"]), "padis", {"xi": [0.5, 1.0]}, tmp_path / "tune")


def test_a_second_run_with_the_same_rank_and_folder_is_refused(suite_file, tmp_path):
    import fcntl

    out = tmp_path / "out"
    out.mkdir()
    suite = load_suite(suite_file).select(["ct8"], ["baseline"])
    with (out / "results-rank0.lock").open("w") as held:  # what a running rank 0 holds
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(InvsolveError, match="another bench run with rank 0 is writing to"):
            run_suite(suite, out, limit=1)
    assert run_suite(suite, out, limit=1)["ran"] == 1  # free again once it is released


def test_a_missing_prior_and_a_changed_suite_are_refused(suite_file, tmp_path, capsys):
    out = tmp_path / "out"
    assert cli(["bench", "run", str(suite_file), "--out", str(out), "--tasks", "sr4"]) == 2
    assert "method padis has no prior for photo tasks" in capsys.readouterr().err
    assert cli(["bench", "run", str(suite_file), "--out", str(out), "--methods", "baseline", "--tasks", "ct8"]) == 0
    assert (
        cli(
            [
                "bench",
                "run",
                str(suite_file),
                "--out",
                str(out),
                "--methods",
                "baseline",
                "--tasks",
                "ct8",
                "--set",
                "methods.baseline.label=FBP",
            ]
        )
        == 2
    )
    assert "holds results of a different suite" in capsys.readouterr().err


@pytest.fixture
def restored_registries():
    """The plugin test's registrations end with it (the tables are restored in place)."""
    saved = [(table, dict(table)) for table in (PRESETS, SOLVERS)]
    yield
    for table, content in saved:
        table.clear()
        table.update(content)


def test_plugins_register_solvers_and_operators_a_suite_can_name(tmp_path, monkeypatch, restored_registries):
    (tmp_path / "my_plugin.py").write_text(
        "import torch\n"
        "from invsolve.operators import Preset, register_preset, BoxBlur\n"
        "from invsolve.solvers import Solver, register\n"
        "register_preset(Preset('blur3', BoxBlur, {'kernel_size': 3, 'noise': 0.0}, 'photo', None, '3x3 blur'))\n"
        "register(Solver('adjoint', lambda op, y, prior, **kw: op.A_adjoint(y).clamp(0, 1), {}, False, 'A^T y'))\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "my_plugin", raising=False)
    suite = tmp_path / "plug.toml"
    suite.write_text(
        '[suite]\nname = "plug"\nimage_size = 16\ncount = 1\nplugins = ["my_plugin"]\n'
        '[datasets]\nphotos = "photos"\n[tasks.blur3]\nop = "blur3"\ndataset = "photos"\n'
        '[methods.adjoint]\nsolver = "adjoint"\n'
    )
    assert run_suite(load_suite(suite), tmp_path / "out")["ran"] == 1
    suite.write_text(suite.read_text().replace('"my_plugin"', '"no_such_plugin"'))
    with pytest.raises(InvsolveError, match=r"plug.toml:5: plugin module 'no_such_plugin' cannot be imported"):
        load_suite(suite)


def test_the_docs_solver_plugin_example_registers_a_working_solver(restored_registries):
    import re
    import textwrap
    from pathlib import Path

    import torch

    from invsolve.operators import make_operator
    from invsolve.solvers import get_solver

    doc = (Path(__file__).resolve().parents[2] / "docs" / "benchmarks.md").read_text()
    (block,) = [b for b in re.findall(r"```python\n(.*?)```", doc, re.S) if "my_solvers.py" in b]
    exec(compile(textwrap.dedent(block), "docs/benchmarks.md", "exec"), {})
    op = make_operator("deblur", 16, channels=1, noise=0.0)
    x = torch.rand(1, 1, 16, 16, generator=torch.Generator().manual_seed(0))
    y = op.simulate(x)
    error_before = (op.A(torch.zeros_like(x)) - y).norm()
    assert (op.A(get_solver("landweber")(op, y, step=0.5)) - y).norm() < 0.2 * error_before


def test_a_run_that_failed_before_its_first_cell_does_not_block_the_corrected_rerun(
    suite_file, tmp_path, capsys, monkeypatch
):
    import invsolve.benchmarks.runner as runner

    out = tmp_path / "out"
    failing = ["bench", "run", str(suite_file), "--out", str(out), "--methods", "baseline", "--tasks", "ct8"]
    real_cell = runner.run_cell

    def fail(*args, **kwargs):
        raise InvsolveError("the first cell failed")

    monkeypatch.setattr(runner, "run_cell", fail)
    assert cli([*failing, "--set", "methods.baseline.label=broken"]) == 2
    assert (out / "suite.json").exists() and not read_results(out)
    monkeypatch.setattr(runner, "run_cell", real_cell)
    capsys.readouterr()
    assert cli([*failing, "--set", "methods.baseline.label=FBP"]) == 0  # another --set: the folder held nothing
    assert len(read_results(out)) == 2
    assert cli([*failing, "--set", "methods.baseline.label=other"]) == 2  # now it holds results: refused
    assert "holds results of a different suite" in capsys.readouterr().err


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda out: (out / "suite.json").write_text("{not json"), r"suite\.json is damaged"),
        (lambda out: (out / "suite.json").write_text("[1, 2]"), r"suite\.json is damaged"),
        (lambda out: (out / "suite.json").write_bytes(b"\xff\xfe\x00"), r"suite\.json is damaged"),
        (lambda out: _prepend(out / "results-rank0.jsonl", "garbage\n"), r"results-rank0\.jsonl:1: not a result"),
        (lambda out: _prepend(out / "results-rank0.jsonl", "[1]\n"), r"results-rank0\.jsonl:1: not a result"),
    ],
)
def test_damaged_run_folders_are_named_in_one_line(suite_file, tmp_path, capsys, damage, message):
    out = tmp_path / "out"
    assert cli(["bench", "run", str(suite_file), "--out", str(out), "--methods", "baseline", "--tasks", "ct8"]) == 0
    damage(out)
    capsys.readouterr()
    assert cli(["bench", "report", str(out)]) == 2
    err = capsys.readouterr().err
    assert re.search(message, err) and len(err.strip().splitlines()) == 1


def test_a_torn_last_line_is_still_dropped_quietly(suite_file, tmp_path):
    out = tmp_path / "out"
    assert cli(["bench", "run", str(suite_file), "--out", str(out), "--methods", "baseline", "--tasks", "ct8"]) == 0
    with (out / "results-rank0.jsonl").open("a") as f:
        f.write('{"key": "ct8/base')
    assert len(read_results(out)) == 2


def test_a_suite_file_that_is_not_utf8_is_named(tmp_path):
    path = tmp_path / "latin.toml"
    path.write_bytes('[suite]\nname = "caf\xe9"\n'.encode("latin-1"))
    with pytest.raises(InvsolveError, match="not a UTF-8 text file"):
        load_suite(path)


def _prepend(path, text):
    path.write_text(text + path.read_text())


@pytest.mark.parametrize(
    "override, message",
    [
        ("methods.padis.settings={steps=2, inner=-1}", "setting inner must be an integer of at least 1"),
        ('methods.padis.settings={steps="2"}', "setting steps must be an integer"),
        ("methods.admm-tv.settings={iterations=1.5}", "setting iterations must be an integer"),
    ],
)
def test_suite_values_of_the_wrong_type_are_named_with_their_line(suite_file, override, message):
    with pytest.raises(InvsolveError, match=f"tiny.toml.*{message}"):
        load_suite(suite_file, [override])


def test_tuning_grid_values_are_checked_too(suite_file, tmp_path):
    with pytest.raises(InvsolveError, match="setting zeta must be a finite number, 0 or more, got -1"):
        tune(load_suite(suite_file), "padis", {"zeta": [0.3, -1]}, tmp_path / "t")


def test_a_method_checked_against_a_fallback_and_a_task_of_fewer_images(suite_file, tmp_path):
    """``fallback`` runs a method as ``invsolve reconstruct`` does (the verdict in every record);
    a task's ``count`` caps its images below the suite's, for a source of one slice."""
    suite_file.write_text(
        suite_file.read_text()
        .replace('dataset = "phantoms"\n', 'dataset = "phantoms"\ncount = 1\n')
        .replace("settings = { steps = 2, inner = 1 }", 'settings = { steps = 2, inner = 1 }\nfallback = "admm-tv"')
    )
    suite = load_suite(suite_file)
    assert suite.methods["padis"].fallback == "admm-tv" and suite.tasks["ct8"].count == 1
    out = tmp_path / "out"
    run_suite(suite.select(["ct8"], ["padis", "baseline"]), out)  # the suite's count is 2
    results = read_results(out).values()
    assert sorted((r["method"], r["index"]) for r in results) == [("baseline", 0), ("padis", 0)]
    (checked,) = [r for r in results if r["method"] == "padis"]
    assert checked["fallback"]["against"] == "admm-tv" and checked["solver"] == checked["fallback"]["chosen"]
    suite_file.write_text(suite_file.read_text().replace('fallback = "admm-tv"', 'fallback = "dps"'))
    with pytest.raises(InvsolveError, match="fallback"):
        load_suite(suite_file)


VOLUME_SUITE = """
[suite]
name = "volumes"
image_size = 64
count = 4
validation_count = 2
figure_images = 1

[datasets]
phantoms = "phantoms"

[tasks.ct20-volume]
op = "ct20"
dataset = "phantoms"
volume = 2

[methods.admm-tv]
solver = "admm-tv"
settings = { iterations = 5 }

[methods.dds]
solver = "dds"
prior = "PRIOR"
settings = { steps = 2, tv_weight = 0.01 }
"""


def test_a_volume_task_runs_a_cell_per_volume_and_reports_its_slice_to_slice_difference(tmp_path, tiny_prior_file):
    suite_file = tmp_path / "volumes.toml"
    suite_file.write_text(VOLUME_SUITE.replace("PRIOR", str(tiny_prior_file)))
    out = tmp_path / "run"
    run_suite(load_suite(suite_file), out)
    results = read_results(out)
    assert sorted(results) == [f"ct20-volume/{m}/{i}/0" for m in ("admm-tv", "dds") for i in (0, 1)]
    first = results["ct20-volume/dds/0/0"]
    assert first["image"] == "phantom-2000000..phantom-2000001" and first["truth_z_difference"] > 0
    assert first["operator"]["depth"] == 2 and first["operator"]["image_shape"] == [1, 2, 64, 64]
    written = report(out)
    text = (out / "report.md").read_text()
    assert "volumes of 2 slices" in text and "slice-to-slice difference (truth)" in text
    assert {"ct20-volume.png", "ct20-volume-z.png"} <= {path.name for path in written["figures"]}


def test_tuning_on_volumes_counts_a_cell_per_volume_and_writes_the_choice(tmp_path, tiny_prior_file):
    suite_file = tmp_path / "volumes.toml"
    suite_file.write_text(VOLUME_SUITE.replace("PRIOR", str(tiny_prior_file)))
    summary = tune(load_suite(suite_file), "admm-tv", {"lam": [0.01, 0.1]}, tmp_path / "tune")
    assert summary["chosen"]["ct20-volume"]["lam"] in (0.01, 0.1)
    assert (tmp_path / "tune" / "tuning.txt").read_text().count("task ct20-volume") == 2


def test_a_volume_longer_than_the_run_is_refused_in_one_line(tmp_path):
    suite_file = tmp_path / "volumes.toml"
    suite_file.write_text(
        VOLUME_SUITE.replace("volume = 2", "volume = 8").replace('prior = "PRIOR"', 'prior = "padis-ct"')
    )
    with pytest.raises(InvsolveError, match="a volume of 8 images needs a count of at least 8"):
        load_suite(suite_file)


@pytest.mark.skipif(not headct.DEFAULT_PATH.is_file(), reason=headct.missing_message(headct.DEFAULT_PATH))
def test_a_prior_scored_on_slices_it_trained_on_gets_a_leakage_notice(tmp_path, monkeypatch, tiny_prior_file):
    test_slab = get_source("headct-slabs", "test", 64)
    data = {"file": str(test_slab.volume.path), "slices": [30, 57, 80]}
    assert trained_near(data, test_slab) == [57, 58, 59, 60]  # slice 57 and the 3 after it
    assert trained_near(data | {"file": "/elsewhere/Cranium.inv3"}, test_slab) == []
    assert trained_near(data, get_source("phantoms", "test", 64)) == []

    prior = load(tiny_prior_file)
    prior.config["data"] = data
    monkeypatch.setattr(runner, "load", lambda spec, device: prior)
    suite_file = tmp_path / "slab.toml"
    suite_file.write_text(
        VOLUME_SUITE.replace('phantoms = "phantoms"', 'phantoms = "headct-slabs"')
        .replace("count = 4", "count = 16")
        .replace("volume = 2", "volume = 16")
    )
    suite = load_suite(suite_file)
    space = runner.Workspace(suite, "test", 16, torch.device("cpu"))
    task, method = suite.tasks["ct20-volume"], suite.methods["dds"]
    with pytest.warns(LeakageNotice, match=r"trained on or within 3 slices of 4 of the 16 test slices \(57-60\)"):
        space.prior(method, task)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        space.prior(method, task)  # once per task and prior
