"""The bad-input matrix: hostile inputs through the command line, each checked for the promise
that every bad input or fault at an output path gets one line on stderr naming the problem, exit
status 2, no traceback, and that no file the user had is changed.

    python -m invsolve.benchmarks.studies.reliability [--verbose]

Every case runs ``invsolve.cli.main`` in a fresh temporary folder (the files it needs are made
there first); the script prints each case that does not hold and "N of N cases hold".
"""

import argparse
import contextlib
import io
import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class Case:
    name: str
    args: list[str]
    setup: Callable[[Path], None] = lambda folder: None
    expect: str = ""  # a piece of the one error line
    kept: tuple[str, ...] = field(default=())  # files that must come out unchanged


def _image(folder: Path, name: str = "in.png") -> None:
    import imageio.v3 as iio

    iio.imwrite(folder / name, np.full((32, 32), 128, dtype=np.uint8))


def _write(name: str, content: bytes) -> Callable[[Path], None]:
    return lambda folder: (folder / name).write_bytes(content)


def _npy(name: str, array) -> Callable[[Path], None]:
    return lambda folder: np.save(folder / name, array)


def _bad_suite(folder: Path) -> None:
    (folder / "s.toml").write_text(
        '[suite]\nname = "x"\n[datasets]\np = "phantoms"\n[tasks.t]\nop = "ct8"\n'
        'dataset = "p"\n[methods.m]\nsolver = "dds"\nprior = "padis-ct"\n'
        'settings = { steps = "many" }\n'
    )


def _bench_folder(content: str) -> Callable[[Path], None]:
    def make(folder: Path) -> None:
        (folder / "run").mkdir()
        (folder / "run" / "suite.json").write_text(content)

    return make


def _checkpoint(change: Callable[[dict], dict]) -> Callable[[Path], None]:
    def make(folder: Path) -> None:
        from invsolve.priors.checkpoint import BUNDLED_DIR, read_checkpoint, write_checkpoint

        config, tensors = read_checkpoint(BUNDLED_DIR / "padis-ct.safetensors")
        write_checkpoint(folder / "p.safetensors", tensors, change(config))

    return make


def _photo_folder(name: str, count: int = 3) -> Callable[[Path], None]:
    def make(folder: Path) -> None:
        (folder / name).mkdir(parents=True)
        for i in range(count):
            _image(folder / name, f"{i:05d}.png")

    return make


def _suite_with_options(options: str) -> Callable[[Path], None]:
    return lambda folder: (folder / "s.toml").write_text(
        '[suite]\nname = "x"\nimage_size = 64\ncount = 1\n[datasets]\np = "phantoms"\n[tasks.t]\nop = "ct8"\n'
        f'dataset = "p"\noptions = {options}\n[methods.m]\nsolver = "baseline"\n'
    )


def _symlink_loop(folder: Path) -> None:
    (folder / "a.png").symlink_to(folder / "b.png")
    (folder / "b.png").symlink_to(folder / "a.png")


def _prior_file(folder: Path) -> None:
    from invsolve.priors.checkpoint import BUNDLED_DIR

    (folder / "p.safetensors").write_bytes((BUNDLED_DIR / "padis-ct.safetensors").read_bytes())


PHOTOS = tuple(f"celeba/{i:05d}.png" for i in range(3))
PREPARE = ["data", "prepare", "celeba"]
TRAIN = ["train", "--net", "tiny", "--image-size", "64", "--duration", "4", "--max-images", "4"]
REC = ["reconstruct", "--op", "ct8"]
MINI = Path(__file__).parents[1] / "mini.toml"
CASES = [
    # data that must never be lost, whatever --replace says
    Case(
        "prepare into its own source",
        [*PREPARE, "celeba", "celeba", "--replace"],
        _photo_folder("celeba"),
        expect="is the same path as src",
        kept=PHOTOS,
    ),
    Case(
        "prepare into a folder inside its source",
        [*PREPARE, "celeba", "celeba/out", "--replace"],
        _photo_folder("celeba"),
        expect="lies inside src",
        kept=PHOTOS,
    ),
    Case(
        "prepare into a folder holding its source",
        [*PREPARE, "celeba", ".", "--replace"],
        _photo_folder("celeba"),
        expect="holds src",
        kept=PHOTOS,
    ),
    Case(
        "train over an existing prior",
        [*TRAIN, "--out", "p.safetensors"],
        _prior_file,
        expect="exists; pass resume=True",
        kept=("p.safetensors",),
    ),
    # selections that would run nothing, or one thing twice
    Case("tasks that name nothing", ["bench", "run", str(MINI), "--tasks", ","], expect="one or more comma-separated"),
    Case(
        "a grid setting given twice",
        ["bench", "tune", str(MINI), "--method", "admm-tv", "--param", "lam=1", "--param", "lam=2"],
        expect="--param lam is given twice",
    ),
    # values that reached a library's own exception
    Case(
        "suite operator option of the wrong type",
        ["bench", "run", "s.toml", "--out", "run"],
        _suite_with_options("{ views = 2.5 }"),
        expect="views must be an integer, got 2.5",
    ),
    Case("a symlink loop at --input", [*REC, "--input", "a.png"], _symlink_loop, expect="loop of symbolic links"),
    Case("noise beyond float32", [*REC, "--noise", "1e40"], expect="noise level must be a number from 0 to"),
    Case("photon counts below one", [*REC, "--photons", "0.5"], expect="photons (per detector bin) must be a number"),
    Case(
        "photon counts for deblurring",
        ["reconstruct", "--op", "deblur", "--photons", "1e4"],
        expect="no setting photons",
    ),
    Case("samples without randomness", [*REC, "--samples", "4"], expect="samples needs a diffusion solver"),
    # usage and values
    Case("unknown operator", ["reconstruct", "--op", "ct9"], expect="invalid choice"),
    Case("inner -1", [*REC, "--prior", "padis", "--solver", "dps", "--inner", "-1"], expect="--inner"),
    Case("zeta -1", [*REC, "--prior", "padis", "--solver", "dps", "--zeta", "-1"], expect="--zeta"),
    Case("seed beyond 64 bits", [*REC, "--seed", str(2**64)], expect="--seed"),
    Case("lr nan", ["train", "--lr", "nan", "--out", "p.safetensors"], expect="--lr"),
    Case(
        "sample patch size 0",
        ["sample", "--prior", "padis-ct", "--patch-size", "0", "--out", "s.png"],
        expect="--patch-size",
    ),
    Case("xi 2", [*REC, "--prior", "padis", "--xi", "2"], expect="--xi"),
    Case("image side beyond any memory", [*REC, "--image-size", "100000"], expect="at most 8192"),
    Case(
        # 10^7 images of 8192^2 floats exceed even the address space, so the allocation fails at once
        "samples that cannot be allocated",
        [
            "sample",
            "--prior",
            "padis-ct",
            "--image-size",
            "8192",
            "--count",
            str(10**7),
            "--steps",
            "2",
            "--out",
            "s.png",
        ],
        expect="not enough memory",
    ),
    # input files
    Case("missing input", [*REC, "--input", "nope.png"], expect="no such file"),
    Case("folder as input", [*REC, "--input", "."], expect="that is a folder"),
    Case("empty png", [*REC, "--input", "e.png"], _write("e.png", b""), expect="the file is empty"),
    Case("text png", [*REC, "--input", "t.png"], _write("t.png", b"hello"), expect="not a valid PNG"),
    Case("empty npy", [*REC, "--input", "e.npy"], _npy("e.npy", np.zeros((0, 0))), expect="holds no pixels"),
    Case(
        "integer npy beyond 16 bits",
        [*REC, "--input", "h.npy"],
        _npy("h.npy", np.full((32, 32), 10**6)),
        expect="beyond 16 bits",
    ),
    Case("nan npy", [*REC, "--input", "n.npy"], _npy("n.npy", np.full((32, 32), np.nan)), expect="NaN"),
    Case(
        "measurement of the wrong shape",
        [*REC, "--measurement", "y.npy"],
        _npy("y.npy", np.zeros((3, 3))),
        expect="must have shape",
    ),
    # outputs
    Case(
        "out over the input",
        [*REC, "--input", "in.png", "--out", "in.png"],
        _image,
        expect="same path as --input",
        kept=("in.png",),
    ),
    Case(
        "figure over out",
        [*REC, "--input", "in.png", "--out", "r.png", "--figure", "r.png"],
        _image,
        expect="same path as --out",
        kept=("in.png",),
    ),
    Case("out in a missing folder", [*REC, "--out", "no/r.png"], expect="does not exist"),
    Case(
        "out under a file",
        [*REC, "--input", "in.png", "--out", "in.png/r.png"],
        _image,
        expect="is a file, not a folder",
        kept=("in.png",),
    ),
    Case("out is a folder", [*REC, "--out", "d.png"], lambda f: (f / "d.png").mkdir(), expect="that is a folder"),
    Case("out in a folder that takes no files", [*REC, "--out", "/proc/r.png"], expect="cannot create files"),
    Case("wrong out suffix", [*REC, "--out", "r.bmp"], expect="must end in"),
    # priors
    Case("prior file missing", [*REC, "--prior", "nope.safetensors"], expect="does not exist"),
    Case(
        "pickle as prior",
        [*REC, "--prior", "m.safetensors"],
        _write("m.safetensors", b"\x80\x04K\x01."),
        expect="not a safetensors",
    ),
    Case(
        "checkpoint field missing",
        [*REC, "--prior", "p.safetensors"],
        _checkpoint(lambda c: {k: v for k, v in c.items() if k != "image_size"}),
        expect="image_size is missing",
    ),
    Case(
        "checkpoint field mistyped",
        [*REC, "--prior", "p.safetensors"],
        _checkpoint(lambda c: c | {"patch_size": "32"}),
        expect="patch_size is '32'",
    ),
    Case(
        "config does not fit weights",
        [*REC, "--prior", "p.safetensors"],
        _checkpoint(lambda c: c | {"network": c["network"] | {"size": "tiny"}}),
        expect="do not match",
    ),
    # data
    Case("headct file missing", ["data", "show", "nope.inv3", "--out", "g.png"], expect="apt-get install"),
    Case(
        "inv3 that is not one",
        ["data", "show", "x.inv3", "--out", "g.png"],
        _write("x.inv3", b"junk"),
        expect="InVesalius project",
    ),
    Case(
        "prepare into someone's folder",
        ["data", "prepare", "celeba", "src", "dst"],
        lambda f: [(f / "src").mkdir(), (f / "dst").mkdir(), (f / "dst" / "mine.txt").write_text("x")],
        expect="holds other files",
        kept=("dst/mine.txt",),
    ),
    # suites and bench folders
    Case(
        "suite value of the wrong type",
        ["bench", "run", "s.toml", "--out", "run"],
        _bad_suite,
        expect="setting steps must be",
    ),
    Case(
        "suite not UTF-8",
        ["bench", "run", "s.toml"],
        _write("s.toml", b'[suite]\nname = "caf\xe9"\n'),
        expect="not a UTF-8",
    ),
    Case(
        "--set of the wrong type",
        ["bench", "run", str(MINI), "--set", "suite.count=many"],
        expect="suite.count is 'many'; expected an integer",
    ),
    Case("corrupt suite.json", ["bench", "report", "run"], _bench_folder("{broken"), expect="is damaged"),
    Case(
        "suite.json of another shape", ["bench", "report", "run"], _bench_folder(json.dumps([1])), expect="is damaged"
    ),
]


def run_case(case: Case, verbose: bool = False) -> tuple[bool, str]:
    from invsolve.cli import main

    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        case.setup(folder)
        before = {path: (folder / path).read_bytes() for path in case.kept}
        err, out = io.StringIO(), io.StringIO()
        cwd = os.getcwd()
        os.chdir(folder)
        try:
            with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
                try:
                    status = main(case.args)
                except SystemExit as stop:
                    status = stop.code
        except Exception as error:
            return False, f"raised {type(error).__name__}: {error}"
        finally:
            os.chdir(cwd)
        lines = err.getvalue().strip().splitlines()
        problems = []
        if status != 2:
            problems.append(f"exit status {status}")
        if len(lines) != 1:
            problems.append(f"{len(lines)} lines on stderr")
        if case.expect and case.expect not in err.getvalue():
            problems.append(f"no {case.expect!r} in the message")
        changed = [p for p, content in before.items() if (folder / p).read_bytes() != content]
        if changed:
            problems.append(f"changed {', '.join(changed)}")
        detail = "; ".join(problems) if problems else (lines[0] if lines else "")
        return not problems, detail


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m invsolve.benchmarks.studies.reliability", description=__doc__)
    parser.add_argument("--verbose", action="store_true", help="print every case's error line")
    args = parser.parse_args(argv)
    held = 0
    for case in CASES:
        ok, detail = run_case(case)
        held += ok
        if args.verbose or not ok:
            print(f"{'holds' if ok else 'FAILS'}  {case.name}: {detail}")
    print(f"{held} of {len(CASES)} cases hold")
    return 0 if held == len(CASES) else 1


if __name__ == "__main__":
    raise SystemExit(main())
