import numpy as np
import pytest
import torch

from invsolve.data import Folder, Phantoms, Photos, get_source
from invsolve.data.photos import PHOTO_FILES
from invsolve.errors import InvsolveError
from invsolve.io import write_image
from tests.helpers import write_test_dicom


def test_phantom_source_uses_split_seeds():
    test = Phantoms("test", 64, count=3)
    assert len(test) == 3 and test[0].shape == (1, 64, 64)
    assert test.label(0) == "phantom-2000000"
    assert torch.equal(test[1], Phantoms("test", 64)[1])
    assert not torch.equal(test[0], Phantoms("validation", 64)[0])
    assert test.batch([0, 2]).shape == (2, 1, 64, 64)
    with pytest.raises(IndexError):
        test[3]


def test_photo_splits_are_disjoint_by_file_and_hold_enough_images():
    files = {split: {name for _, name in entries} for split, entries in PHOTO_FILES.items()}
    assert not files["test"] & files["train"] and not files["test"] & files["validation"]
    assert not files["validation"] & files["train"]
    for split in ("test", "validation"):
        source = Photos(split, 64)
        assert len(source) >= 8
        assert source[0].shape == (3, 64, 64)
    assert Photos("test", 32, channels=1)[3].shape == (1, 32, 32)
    assert len({Photos("test", 32).label(i) for i in range(10)}) == 10


def test_folder_source_reads_images_npy_and_dicom_with_splits(tmp_path, generator):
    (tmp_path / "test").mkdir()
    (tmp_path / "train").mkdir()
    write_image(tmp_path / "test" / "a.png", torch.rand(1, 40, 40, generator=generator))
    np.save(tmp_path / "test" / "b.npy", np.full((40, 40), 0.5, dtype=np.float32))
    write_test_dicom(tmp_path / "test" / "c", np.full((40, 40), 1024, dtype=np.uint16))  # no suffix, 0 HU
    (tmp_path / "test" / "readme.txt").write_text("ignored")
    write_image(tmp_path / "train" / "d.png", torch.rand(1, 40, 40, generator=generator))
    source = get_source(str(tmp_path), "test", image_size=32)
    assert isinstance(source, Folder) and len(source) == 3
    assert [source.label(i) for i in range(3)] == ["a", "b", "c"]
    assert source[2].shape == (1, 32, 32) and source[2].mean().item() == pytest.approx(0.5)
    assert len(get_source(str(tmp_path), "train", image_size=32)) == 1


def test_unknown_sources_and_empty_folders_are_refused(tmp_path):
    with pytest.raises(InvsolveError, match="unknown image source"):
        get_source("imagenet")
    with pytest.raises(InvsolveError, match="no readable images"):
        get_source(str(tmp_path))
    with pytest.raises(InvsolveError, match="unknown split"):
        get_source("phantoms", "val")


def test_ct_small_is_pydicoms_real_slice_in_the_test_split_only():
    import pydicom
    from pydicom.data import get_testdata_file

    source = get_source("ct-small", "test", 64)
    assert len(source) == 1 and source[0].shape == (1, 64, 64) and source.label(0) == "CT_small"
    hu = pydicom.dcmread(get_testdata_file("CT_small.dcm", download=False))
    assert hu.Modality == "CT" and 0 <= source[0].min() < source[0].max() <= 1
    for split in ("train", "validation"):
        with pytest.raises(InvsolveError, match="ct-small is one slice, for testing only"):
            get_source("ct-small", split)
