"""The real head-CT source: the split's gaps, reading .inv3 files, and the installed volume itself."""

import io
import itertools
import plistlib
import subprocess
import sys
import tarfile

import numpy as np
import pytest

from invsolve.data import HeadCT, get_source, headct, leakage
from invsolve.errors import InvsolveError
from invsolve.metrics import psnr

INSTALLED = headct.DEFAULT_PATH.is_file()
needs_volume = pytest.mark.skipif(
    not INSTALLED, reason=f"{headct.DEFAULT_PATH} is absent; `{headct.INSTALL_COMMAND}` provides it"
)


def write_inv3(path, hu: np.ndarray, *, spacing=(0.5, 0.6, 2.0), modality="CT", byte_count=None):
    """A minimal InVesalius project holding ``hu`` (slices, rows, columns), members in a subfolder as
    InVesalius writes them."""
    header = {
        "matrix": {"dtype": "int16", "filename": "matrix.dat", "shape": list(hu.shape)},
        "modality": modality,
        "name": "test volume",
        "spacing": list(spacing),
    }
    raw = hu.astype("<i2").tobytes()[:byte_count]
    with tarfile.open(path, "w:gz") as archive:
        for name, payload in (("main.plist", plistlib.dumps(header)), ("matrix.dat", raw)):
            member = tarfile.TarInfo(f"tmpabc/{name}")
            member.size = len(payload)
            archive.addfile(member, io.BytesIO(payload))
    return path


@pytest.mark.parametrize("count", [48, 60, 108, 150, 300])
def test_split_keeps_a_gap_between_training_and_held_out_slices(count):
    split = headct.split_slices(count)
    held_out = set(split["test"]) | set(split["validation"])
    assert len(split["test"]) == len(split["validation"]) == 2 * headct.BLOCK
    assert not set(split["test"]) & set(split["validation"])
    assert len(set(split["train"])) == len(split["train"]) > 0
    assert min(abs(t - h) for t in split["train"] for h in held_out) > headct.GAP
    assert max(held_out) < count
    assert set(split["train"]) == {
        i for i in range(count) if all(abs(i - h) > headct.GAP for h in held_out)
    }  # every slice clear of the gaps trains


def test_training_order_spreads_every_prefix_over_the_volume():
    order = headct.split_slices(108)["train"]
    first = sorted(order[:8])
    assert first[0] <= 2 and first[-1] >= 105  # both ends of the head
    assert max(b - a for a, b in itertools.pairwise(first)) <= 27  # no half of the head left out
    assert headct.spread_order([5, 1, 9]) == (5, 1, 9)


def test_too_short_a_volume_is_refused():
    with pytest.raises(InvsolveError, match="at least 48 slices"):
        headct.split_slices(40)
    with pytest.raises(InvsolveError, match="at least 60 slices for two slabs of 16, got 59"):
        headct.split_slabs(59)


@pytest.mark.parametrize("count", [60, 108, 300])
def test_the_volume_layout_holds_out_two_contiguous_slabs_with_the_gap(count):
    split = headct.split_slabs(count)
    validation, test, train = split["validation"], split["test"], split["train"]
    for slab in (validation, test):
        assert len(slab) == headct.SLAB >= 16 and list(slab) == list(range(slab[0], slab[0] + len(slab)))
    assert test[0] - validation[-1] == headct.GAP + 1  # the test slab starts GAP slices after validation
    held_out = set(validation) | set(test)
    assert set(train) == {i for i in range(count) if all(abs(i - h) > headct.GAP for h in held_out)}
    assert min(train) == 0 and max(train) == count - 1  # training slices on both sides


def test_inv3_file_round_trip_flips_rows_face_up_and_orders_spacing(tmp_path):
    hu = np.arange(60 * 4 * 3, dtype=np.int16).reshape(60, 4, 3) - 1000
    volume = headct.read_volume(write_inv3(tmp_path / "v.inv3", hu))
    assert volume.hu.shape == (60, 4, 3) and volume.hu.dtype == np.int16
    np.testing.assert_array_equal(volume.hu, hu[:, ::-1, :])
    assert volume.spacing_mm == (2.0, 0.6, 0.5) and volume.name == "test volume" and len(volume) == 60
    source = get_source(str(tmp_path / "v.inv3"), "test", image_size=8)
    assert isinstance(source, HeadCT) and len(source) == 8 and source[0].shape == (1, 8, 8)
    assert source.label(0) == f"slice-{headct.split_slices(60)['test'][0]:03d}"


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: p.write_bytes(b"not an archive"), "cannot read .* as an InVesalius project"),
        (lambda p: write_inv3(p, np.zeros((50, 4, 4), np.int16), byte_count=100), "matrix holds 100 bytes"),
        (lambda p: write_inv3(p, np.zeros((50, 4, 4), np.int16), modality="MR"), "holds no CT volume"),
    ],
)
def test_broken_inv3_files_get_one_line_errors(tmp_path, make, message):
    path = tmp_path / "broken.inv3"
    make(path)
    with pytest.raises(InvsolveError, match=message) as caught:
        headct.read_volume(path)
    assert "\n" not in str(caught.value)


def test_without_the_file_one_line_names_apt_get_and_the_path_option(tmp_path, monkeypatch):
    monkeypatch.setattr(headct, "DEFAULT_PATH", tmp_path / "absent" / "Cranium.inv3")
    with pytest.raises(InvsolveError) as caught:
        get_source("headct", "test")
    message = str(caught.value)
    assert "\n" not in message and "apt-get install -y invesalius-examples" in message
    assert "--data PATH.inv3" in message and "path=" in message


def test_cli_names_the_missing_file_in_one_line(tmp_path):
    missing = tmp_path / "Cranium.inv3"
    result = subprocess.run(
        [sys.executable, "-m", "invsolve", "train", "--data", str(missing), "--out", str(tmp_path / "p.safetensors")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "apt-get install -y invesalius-examples" in result.stderr


@needs_volume
def test_installed_volume_has_the_documented_shape_and_splits():
    volume = headct.read_volume()
    assert volume.hu.shape == (108, 256, 256) and volume.name == "ProMED CT 0051"
    assert volume.spacing_mm == pytest.approx((1.5, 0.957, 0.957), abs=1e-3)
    assert volume.hu.min() == -1024 and 2000 < volume.hu.max() < 3100
    counts = {split: len(get_source("headct", split)) for split in ("train", "validation", "test")}
    assert counts == {"train": 74, "validation": 8, "test": 8}
    test = get_source("headct", "test", image_size=128)
    assert test.label(0) == "slice-015" and test[0].shape == (1, 128, 128)
    image = test[0]
    assert image.min() >= 0 and image.max() <= 1 and 0.15 < image.mean() < 0.35  # air, skull, brain
    # face up, head holder down (as the phantoms' table): the holder's arc fills the lowest rows
    assert image[0, -16:].mean() > 3 * image[0, :8].mean()
    assert test.provenance()["licence"] == "GPL-2" and test.provenance()["package"] == "invesalius-examples"
    train = get_source("headct", "train", image_size=128)
    assert train.provenance(8)["slices"] == list(train.slices[:8]) and len(train.provenance()["slices"]) == 74


@needs_volume
def test_no_held_out_slice_has_a_near_copy_in_training():
    """The leakage figure: each held-out slice's most similar training slice stays far below the
    similarity of adjacent slices (1.5 mm apart), which a split without gaps would leak."""
    train = get_source("headct", "train", image_size=128)
    for split in ("test", "validation"):
        held_out = get_source("headct", split, image_size=128)
        nearest = leakage(held_out, train)
        assert [label for label, _, _ in nearest] == [held_out.label(i) for i in range(len(held_out))]
        assert all(int(match[-3:]) in train.slices for _, match, _ in nearest)
        for index, (_, _, score) in enumerate(nearest):
            adjacent = psnr(held_out[index], held_out.volume_slice(held_out.slices[index] + 1))
            assert score < adjacent - 5  # measured: 8 dB or more below
    assert max(score for _, _, score in leakage(get_source("headct", "test"), train)) < 22  # measured 21.2
