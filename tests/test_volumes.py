"""Volume files: a DICOM series and a NIfTI file written by other tools read back in the documented
orientation and scale, written volumes round-trip, and bad series are refused in one line."""

import json
import re

import numpy as np
import pytest
import torch

from invsolve.errors import InvsolveError
from invsolve.units import CT_WINDOW_HU
from invsolve.volumes import Volume, read_volume, write_volume
from tests.helpers import write_test_dicom


def _hu_volume(slices=5, size=12, seed=0):
    """HU values (slices, rows, columns) with every voxel distinct enough to tell orientations apart."""
    rng = np.random.default_rng(seed)
    return rng.integers(-1000, 1000, size=(slices, size, size)).astype(np.float64)


def _series(folder, hu, *, spacing=2.5, positions=None, series="1.2.3"):
    folder.mkdir(parents=True, exist_ok=True)
    positions = positions if positions is not None else [10.0 + spacing * k for k in range(len(hu))]
    # written in shuffled order under unrelated names: the reader must sort by position
    for k in np.random.default_rng(1).permutation(len(hu)):
        write_test_dicom(
            folder / f"img{(7 * k) % 11:03d}", hu[k] + 1024, series=series, z=positions[k], pixel_spacing=(0.8, 0.8)
        )
    return folder


def test_a_dicom_series_reads_sorted_by_position_in_the_ct_window(tmp_path):
    hu = _hu_volume()
    volume = read_volume(_series(tmp_path / "series", hu))
    assert volume.slices.shape == (5, 12, 12) and volume.slices.dtype == torch.float32
    assert volume.spacing_mm == pytest.approx((2.5, 0.8, 0.8)) and volume.window_hu == CT_WINDOW_HU
    expected = np.clip((hu + 1000) / 2000, 0, 1)
    np.testing.assert_allclose(volume.slices.numpy(), expected, atol=1e-6)


def test_a_nifti_volume_written_by_nibabel_reads_in_the_same_orientation_as_dicom(tmp_path):
    nibabel = pytest.importorskip("nibabel")
    hu = _hu_volume()
    dicom = read_volume(_series(tmp_path / "series", hu))
    # the same anatomy as another tool stores it: RAS axes (x from the patient's left to right: the
    # columns reversed; y from posterior to anterior: the rows reversed; z up), 0.8 x 0.8 x 2.5 mm voxels
    ras = hu.transpose(2, 1, 0)[::-1, ::-1, :].astype(np.float32)
    nibabel.save(nibabel.Nifti1Image(ras, np.diag([0.8, 0.8, 2.5, 1.0])), str(tmp_path / "head.nii.gz"))
    nifti = read_volume(tmp_path / "head.nii.gz")
    torch.testing.assert_close(nifti.slices, dicom.slices)
    assert nifti.spacing_mm == pytest.approx(dicom.spacing_mm)
    # an LPS-stored copy (x and y flipped in the affine) is turned to the same orientation
    lps = np.ascontiguousarray(ras[::-1, ::-1, :])
    nibabel.save(nibabel.Nifti1Image(lps, np.diag([-0.8, -0.8, 2.5, 1.0])), str(tmp_path / "lps.nii"))
    torch.testing.assert_close(read_volume(tmp_path / "lps.nii").slices, dicom.slices)


@pytest.mark.parametrize("suffix", [".nii", ".nii.gz", ".npy"])
def test_a_written_volume_reads_back_with_its_spacing(tmp_path, suffix):
    if suffix != ".npy":
        pytest.importorskip("nibabel")
    slices = torch.rand(4, 16, 16, generator=torch.Generator().manual_seed(0))
    like = Volume(slices, (1.5, 0.9, 0.9), CT_WINDOW_HU, "test")
    path = write_volume(tmp_path / f"out{suffix}", slices, like)
    back = read_volume(path)
    torch.testing.assert_close(back.slices, slices, atol=1e-5, rtol=0)
    if suffix != ".npy":
        assert back.spacing_mm == pytest.approx(like.spacing_mm)


def test_resizing_keeps_the_field_of_view_in_millimetres(tmp_path):
    volume = read_volume(_series(tmp_path / "series", _hu_volume(size=16)), image_size=8)
    assert volume.slices.shape == (5, 8, 8) and volume.spacing_mm == pytest.approx((2.5, 1.6, 1.6))


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda d, hu: (_series(d, hu[:3], series="1.1"), _write_other_series(d, hu)), "mixes 2 DICOM series"),
        (
            lambda d, hu: _series(d, hu, positions=[0.0, 2.5, 5.0, 10.0, 12.5]),
            "1 slice(s) missing between 5.00 and 10.00",
        ),
        (lambda d, hu: _series(d, hu, positions=[0.0, 2.5, 5.0, 6.0, 8.5]), "unequal slice spacing"),
        (lambda d, hu: _series(d, hu, positions=[0.0, 2.5, 2.5, 5.0, 7.5]), "same position"),
    ],
    ids=["mixed-series", "missing-slice", "unequal-spacing", "duplicate-position"],
)
def test_bad_dicom_series_are_refused_in_one_line(tmp_path, make, message):
    folder = tmp_path / "series"
    make(folder, _hu_volume())
    with pytest.raises(InvsolveError, match=re.escape(message)) as caught:
        read_volume(folder)
    assert "\n" not in str(caught.value)


def _write_other_series(folder, hu):
    write_test_dicom(folder / "other", hu[4] + 1024, series="9.9", z=99.0)


def test_other_bad_volumes_are_refused_in_one_line(tmp_path):
    np.save(tmp_path / "flat.npy", np.zeros((8, 8), dtype=np.float32))
    np.save(tmp_path / "hu.npy", _hu_volume().astype(np.float32))
    (tmp_path / "empty").mkdir()
    (tmp_path / "notes.txt").write_text("x")
    cases = {
        tmp_path / "flat.npy": "a volume is \\(slices, H, W\\)",
        tmp_path / "hu.npy": "outside \\[0, 1\\]",
        tmp_path / "empty": "holds no DICOM files",
        tmp_path / "notes.txt": "cannot read notes.txt as a volume",
        tmp_path / "absent.nii": "no volume at",
    }
    for path, message in cases.items():
        with pytest.raises(InvsolveError, match=message):
            read_volume(path)
    assert read_volume(tmp_path / "hu.npy", window=CT_WINDOW_HU).slices.shape == (5, 12, 12)


def test_reconstruct_volume_round_trips_a_dicom_series_through_nifti(tmp_path, capsys):
    nibabel = pytest.importorskip("nibabel")
    from invsolve.cli import main as cli

    hu = _hu_volume(slices=4, size=16)
    series = _series(tmp_path / "series", hu)
    out = tmp_path / "recon.nii.gz"
    args = ["reconstruct", "--op", "ct20", "--volume", str(series), "--solver", "admm-tv", "--image-size", "16"]
    assert cli([*args, "--out", str(out), "--figure", str(tmp_path / "views.png"), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["depth"] == 4 and report["spacing_mm"] == pytest.approx([2.5, 0.8, 0.8])
    assert report["psnr"] > report["baseline_psnr"]
    written = nibabel.load(str(out))
    assert written.shape == (16, 16, 4) and written.header.get_zooms() == pytest.approx((0.8, 0.8, 2.5))
    back = read_volume(out)  # the reconstruction in HU, read as the series was
    assert back.slices.shape == (4, 16, 16) and (tmp_path / "views.png").stat().st_size > 0


def test_reconstruct_volume_takes_a_nifti_file_and_writes_npy(tmp_path, capsys):
    nibabel = pytest.importorskip("nibabel")
    from invsolve.cli import main as cli

    ras = _hu_volume(slices=3, size=16).transpose(2, 1, 0)[::-1, ::-1, :].astype(np.float32)
    nibabel.save(nibabel.Nifti1Image(ras, np.diag([1.0, 1.0, 3.0, 1.0])), str(tmp_path / "head.nii"))
    out = tmp_path / "recon.npy"
    args = ["reconstruct", "--op", "ct8", "--volume", str(tmp_path / "head.nii"), "--solver", "admm-tv"]
    assert cli([*args, "--image-size", "16", "--out", str(out), "--no-save"]) == 0
    assert np.load(out).shape == (3, 16, 16)


def test_reconstruct_volume_refuses_bad_input_in_one_line(tmp_path, capsys):
    from invsolve.cli import main as cli

    hu = _hu_volume(slices=4, size=16)
    series = _series(tmp_path / "series", hu, positions=[0.0, 2.5, 7.5, 10.0])
    base = ["reconstruct", "--op", "ct20", "--solver", "admm-tv", "--image-size", "16"]
    cases = [
        ([*base, "--volume", str(series)], "1 slice(s) missing"),
        ([*base, "--volume", str(_series(tmp_path / "ok", hu)), "--out", str(tmp_path / "ok" / "r.nii")], "--volume"),
        (
            [*base, "--volume", str(tmp_path / "ok"), "--out", str(tmp_path / "r.png")],
            "must end in .nii.gz or .nii or .npy",
        ),
        (["reconstruct", "--op", "deblur", "--volume", str(tmp_path / "ok")], "volumes are CT scans"),
    ]
    for args, message in cases:
        assert cli(args) == 2
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1, err


def test_a_slab_of_the_volume_is_reconstructed_alone(tmp_path, capsys):
    from invsolve.cli import main as cli

    series = _series(tmp_path / "series", _hu_volume(slices=5, size=16))
    args = ["reconstruct", "--op", "ct20", "--volume", str(series), "--solver", "admm-tv", "--image-size", "16"]
    assert cli([*args, "--slices", "1:4", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["depth"] == 3
    with pytest.raises(SystemExit) as stopped:  # refused as the value is parsed
        cli([*args, "--slices", "4:2"])
    assert stopped.value.code == 2 and "START:STOP with 0 <= START < STOP" in capsys.readouterr().err
    assert cli([*args, "--slices", "2:9"]) == 2  # refused when the volume is read
    assert "not a slab of this volume's 5 slices" in capsys.readouterr().err
