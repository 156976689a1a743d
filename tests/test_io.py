import numpy as np
import pytest
import torch

from invsolve.errors import InputNotice, InvsolveError
from invsolve.io import atomic_write, read_image, read_measurement, write_image
from tests.helpers import CMYK_HALVES, write_cmyk_jpeg, write_test_dicom


def test_png_round_trip_is_8_bit_exact(tmp_path, generator):
    image = (torch.rand(3, 20, 24, generator=generator) * 255).round() / 255
    write_image(tmp_path / "a.png", image)
    back = read_image(tmp_path / "a.png")
    assert back.shape == (3, 20, 24) and back.dtype == torch.float32
    assert torch.allclose(back, image, atol=1e-6)


def test_npy_round_trip_and_layouts(tmp_path, generator):
    image = torch.rand(1, 16, 16, generator=generator)
    write_image(tmp_path / "a.npy", image)
    assert torch.equal(read_image(tmp_path / "a.npy"), image)
    hwc = np.random.default_rng(0).random((16, 16, 3)).astype(np.float32)
    np.save(tmp_path / "hwc.npy", hwc)
    np.save(tmp_path / "chw.npy", np.moveaxis(hwc, -1, 0))
    assert torch.equal(read_image(tmp_path / "hwc.npy"), read_image(tmp_path / "chw.npy"))


def test_sixteen_bit_and_tiff(tmp_path):
    import imageio.v3 as iio

    ramp = np.linspace(0, 65535, 64 * 64).reshape(64, 64).astype(np.uint16)
    iio.imwrite(tmp_path / "a.png", ramp)
    iio.imwrite(tmp_path / "a.tif", ramp)
    for name in ("a.png", "a.tif"):
        image = read_image(tmp_path / name)
        assert image.max() == pytest.approx(1.0) and image.min() == 0.0


def test_channels_and_resize(tmp_path, generator):
    write_image(tmp_path / "c.png", torch.rand(3, 40, 60, generator=generator))
    gray = read_image(tmp_path / "c.png", channels=1, image_size=32)
    assert gray.shape == (1, 32, 32)
    assert read_image(tmp_path / "c.png", channels=3, image_size=16).shape == (3, 16, 16)
    write_image(tmp_path / "g.png", torch.rand(1, 8, 8, generator=generator))
    rgb = read_image(tmp_path / "g.png", channels=3)
    assert rgb.shape == (3, 8, 8) and torch.equal(rgb[0], rgb[2])


def test_windows_map_values_to_unit_range(tmp_path):
    np.save(tmp_path / "hu.npy", np.array([[-1000.0, 0.0], [1000.0, 3000.0]]))
    with pytest.raises(InvsolveError, match=r"outside \[0, 1\].*window"):
        read_image(tmp_path / "hu.npy")
    image = read_image(tmp_path / "hu.npy", window=(-1000, 1000))
    assert image.flatten().tolist() == [0.0, 0.5, 1.0, 1.0]


def test_dicom_is_read_in_hounsfield_units_and_windowed(tmp_path):
    path = write_test_dicom(tmp_path / "slice", np.array([[0, 1000], [2000, 3000]], dtype=np.uint16), intercept=-1000.0)
    assert read_image(path).flatten().tolist() == pytest.approx([0.0, 0.5, 1.0, 1.0])
    narrow = read_image(path, window=(-200, 200))
    assert narrow.flatten().tolist() == pytest.approx([0.0, 0.5, 1.0, 1.0])  # 0 HU is mid-window


def test_a_cmyk_jpeg_is_read_in_its_colours_with_a_notice_not_as_rgba(tmp_path):
    write_cmyk_jpeg(tmp_path / "print.jpg")
    with pytest.warns(InputNotice, match="is a CMYK image: converted to RGB"):
        image = read_image(tmp_path / "print.jpg")
    assert image.shape == (3, 32, 32)
    for rows, colour in zip((slice(2, 14), slice(18, 30)), CMYK_HALVES, strict=True):
        assert torch.allclose(image[:, rows].mean((1, 2)) * 255, torch.tensor(colour, dtype=torch.float32), atol=4)


def test_bad_files_are_refused_with_a_clear_message(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "fake.png").write_text("not a png")
    (tmp_path / "empty.png").write_bytes(b"")
    np.save(tmp_path / "nan.npy", np.array([[0.0, np.nan]]))
    np.save(tmp_path / "4d.npy", np.zeros((2, 2, 2, 2)))
    np.save(tmp_path / "empty.npy", np.zeros((0, 0)))
    np.save(tmp_path / "empty3.npy", np.zeros((1, 0, 5), dtype=np.uint8))
    np.save(tmp_path / "huge.npy", np.full((4, 4), 70_000, dtype=np.int64))  # would be black: 1e-14 of int64's max
    np.save(tmp_path / "huge32.npy", np.array([[0, 3_000_000]], dtype=np.int32))
    cases = {
        "missing.png": "no such file",
        ".": "that is a folder; give a file",
        "notes.txt": "unsupported file type",
        "fake.png": "not a valid PNG image",
        "empty.png": "the file is empty",
        "nan.npy": "NaN",
        "4d.npy": "expected \\(H, W\\)",
        "empty.npy": "holds no pixels",
        "empty3.npy": "holds no pixels",
        "huge.npy": "beyond 16 bits.*give a window",
        "huge32.npy": "beyond 16 bits",
    }
    for name, message in cases.items():
        with pytest.raises(InvsolveError, match=message):
            read_image(tmp_path / name)
    with pytest.raises(InvsolveError, match="finite"):
        read_measurement(tmp_path / "nan.npy")
    with pytest.raises(InvsolveError, match=r"\.npy"):
        read_measurement(tmp_path / "notes.txt")
    with pytest.raises(InvsolveError, match="that is a folder"):
        read_measurement(tmp_path)


def test_atomic_write_leaves_nothing_behind_on_failure(tmp_path):
    target = tmp_path / "out.npy"

    def fail(f):
        f.write(b"partial")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        atomic_write(target, fail)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(InvsolveError, match="must end in"):
        write_image(tmp_path / "out.jpg", torch.zeros(1, 4, 4))


def test_written_files_get_ordinary_permissions(tmp_path):
    (tmp_path / "plain.txt").write_text("x")
    write_image(tmp_path / "image.png", torch.zeros(1, 4, 4))
    assert (tmp_path / "image.png").stat().st_mode == (tmp_path / "plain.txt").stat().st_mode
