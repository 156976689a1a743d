"""invsolve data prepare on small synthetic DICOM volumes and PNG folders made here."""

import json

import numpy as np
import pytest

from invsolve.cli import main as cli
from invsolve.data import get_source
from invsolve.data.prepare import evenly_spaced, prepare_aapm, prepare_celeba
from invsolve.errors import InvsolveError
from tests.helpers import write_test_dicom


def test_evenly_spaced_takes_centred_bins():
    assert evenly_spaced(4, 8) == [1, 3, 5, 7] and evenly_spaced(25, 256)[:3] == [5, 15, 25]
    with pytest.raises(InvsolveError):
        evenly_spaced(5, 4)


@pytest.fixture
def aapm_copy(tmp_path):
    """Three volumes of 12 slices; slice k of volume v is flat at HU = 100 v + 10 k (files in shuffled order)."""
    src = tmp_path / "aapm"
    rng = np.random.default_rng(0)
    for v, patient in enumerate(["L067", "L096", "L109"]):
        (src / patient).mkdir(parents=True)
        for k in rng.permutation(12):
            pixels = np.full((40, 40), 1024 + 100 * v + 10 * k)  # stored value; HU = stored - 1024
            write_test_dicom(
                src / patient / f"IM{k:04d}.IMA", pixels, series=f"1.2.3.{v}", patient=patient, z=-2.0 * k
            )  # z decreasing: sorting by position reverses the file order
    return src


def test_aapm_splits_volumes_by_series_and_slices_by_position(aapm_copy, tmp_path):
    dst = tmp_path / "prepared"
    counts = prepare_aapm(aapm_copy, dst, size=32, slices=10, test_slices=4, validation=3)
    assert counts == {"train": 10 + 7, "validation": 3, "test": 4}
    test = get_source(str(dst), "test", 32)
    assert len(test) == 4 and test[0].shape == (1, 32, 32)
    # the middle 10 of 12 slices sorted by z (= k 10..1), evenly spaced picks 1, 3, 6, 8 -> k = 9, 7, 4, 2
    hu = [200 + 10 * k for k in (9, 7, 4, 2)]
    expected = [(h + 1000) / 2000 for h in hu]
    assert [round(float(test[i].mean()), 4) for i in range(4)] == pytest.approx(expected, abs=2e-5)  # 16-bit PNG
    record = json.loads((dst / "prepared.json").read_text())
    assert len(record["volumes"]) == 3 and all("L109" in src for src in record["splits"]["test"].values())
    assert all("L096" in src for src in record["splits"]["validation"].values())


def test_celeba_split_is_seeded_and_readable_from_the_cli(tmp_path):
    import imageio.v3 as iio

    src = tmp_path / "celeba"
    src.mkdir()
    rng = np.random.default_rng(0)
    for i in range(12):
        iio.imwrite(src / f"{i:05d}.png", rng.integers(0, 255, (40, 30, 3), dtype=np.uint8))
    args = ["data", "prepare", "celeba", str(src), "--size", "16", "--train", "6", "--test", "3", "--validation", "2"]
    assert cli([*args, str(tmp_path / "a")]) == 0 and cli([*args, str(tmp_path / "b")]) == 0
    splits = {d: json.loads((tmp_path / d / "prepared.json").read_text())["splits"] for d in "ab"}
    assert splits["a"] == splits["b"]  # the same seed draws the same test and validation images
    assert sorted(splits["a"]["train"]) == [f"{i:05d}.png" for i in range(6)]
    assert not set(splits["a"]["test"]) & set(splits["a"]["validation"])
    assert get_source(str(tmp_path / "a"), "validation", 16)[0].shape == (3, 16, 16)


def test_prepare_refuses_too_few_images_and_single_volumes(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert cli(["data", "prepare", "celeba", str(tmp_path / "empty"), str(tmp_path / "out")]) == 2
    assert "holds 0 images; the split needs 3000 train" in capsys.readouterr().err
    (tmp_path / "dicom").mkdir()
    write_test_dicom(tmp_path / "dicom" / "one.dcm", np.zeros((8, 8)), series="9.9")
    with pytest.raises(InvsolveError, match="holds 1 DICOM series"):
        prepare_aapm(tmp_path / "dicom", tmp_path / "out")


def _celeba_copy(src, count=12):
    import imageio.v3 as iio

    src.mkdir()
    rng = np.random.default_rng(0)
    for i in range(count):
        iio.imwrite(src / f"{i:05d}.png", rng.integers(0, 255, (40, 30, 3), dtype=np.uint8))
    return src


def _files(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def test_rerunning_prepare_with_other_counts_replaces_the_earlier_output_whole(tmp_path):
    src, dst = _celeba_copy(tmp_path / "celeba"), tmp_path / "out"
    base = ["data", "prepare", "celeba", str(src), str(dst), "--size", "16", "--test", "3", "--validation", "2"]
    assert cli([*base, "--train", "6"]) == 0
    assert cli([*base, "--train", "4"]) == 0
    record = json.loads((dst / "prepared.json").read_text())["splits"]
    on_disk = {split: sorted(p.name for p in (dst / split).iterdir()) for split in ("train", "validation", "test")}
    assert on_disk == {split: sorted(record[split]) for split in on_disk} and len(on_disk["train"]) == 4
    names = [n for files in on_disk.values() for n in files]
    assert len(names) == len(set(names))  # no image in two splits
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no building or old folder left


def test_a_failure_part_way_leaves_the_destination_as_it_was(tmp_path, capsys):
    src, dst = _celeba_copy(tmp_path / "celeba"), tmp_path / "out"
    base = ["data", "prepare", "celeba", str(src), str(dst), "--size", "16", "--train", "6", "--test", "3"]
    assert cli([*base, "--validation", "2"]) == 0
    before = {name: (dst / name).read_bytes() for name in _files(dst)}
    (src / "00011.png").write_bytes((src / "00011.png").read_bytes()[:60])  # truncated
    (src / "00003.png").write_bytes(b"")
    assert cli([*base, "--validation", "3"]) == 2
    assert "cannot read" in capsys.readouterr().err
    assert {name: (dst / name).read_bytes() for name in _files(dst)} == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    fresh = tmp_path / "fresh"
    assert cli([*base[:4], str(fresh), *base[5:], "--validation", "3"]) == 2
    assert "cannot read" in capsys.readouterr().err and not fresh.exists()


@pytest.mark.parametrize("make", [lambda d: (d / "notes.txt").write_text("mine"), lambda d: (d / "train").mkdir()])
def test_a_folder_that_is_not_an_earlier_output_is_refused_unless_replace(tmp_path, capsys, make):
    src, dst = _celeba_copy(tmp_path / "celeba"), tmp_path / "out"
    dst.mkdir()
    make(dst)
    args = ["data", "prepare", "celeba", str(src), str(dst), "--size", "16", "--train", "6", "--test", "3"]
    assert cli([*args, "--validation", "2"]) == 2
    err = capsys.readouterr().err
    assert "holds other files" in err and "--replace" in err and len(err.strip().splitlines()) == 1
    assert cli([*args, "--validation", "2", "--replace"]) == 0
    assert (dst / "prepared.json").is_file() and not (dst / "notes.txt").exists()
    (tmp_path / "file").write_text("x")
    with pytest.raises(InvsolveError, match="is a file; give a folder"):
        prepare_celeba(src, tmp_path / "file", size=16, train=6, test=3, validation=2)
