"""CT volumes: read a DICOM series, a NIfTI file, an ``.npy`` stack or an InVesalius project as
(slices, H, W) images in [0, 1], write a reconstruction back as NIfTI or ``.npy`` with the input's
spacing, and show it in three orthogonal views.

Orientation, whatever the file: slice 0 is the most inferior (feet side), row 0 the most anterior,
column 0 the patient's right (the radiological convention of the 2D readers and of the head-CT
source). DICOM and NIfTI data are Hounsfield units and go through the CT window
(``invsolve.units.CT_WINDOW_HU``, or the one given); an ``.npy`` stack follows the image rules of
``invsolve.io.to_unit_range`` (floats in [0, 1] as they are, other values need a window).

A DICOM series is checked before it is read: one series per folder, slices at distinct positions
along the slice normal, equally spaced (a gap of a whole spacing or more is named as missing
slices), all of one size.
"""

import gzip
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from invsolve.data import headct
from invsolve.errors import InvsolveError
from invsolve.io import atomic_write, is_dicom_file, read_npy, square_resize, to_unit_range
from invsolve.units import CT_WINDOW_HU, window_to_unit

#: Neighbouring slice distances may differ by this share of their median and still count as equal
#: (positions in DICOM headers are rounded to a few digits).
SPACING_TOLERANCE = 0.01
NIFTI_SUFFIXES = (".nii", ".nii.gz")
VOLUME_SUFFIXES = (*NIFTI_SUFFIXES, ".npy", ".inv3")


@dataclass(frozen=True)
class Volume:
    """Slices (D, H, W) in [0, 1]; ``spacing_mm`` (between slices, rows, columns); ``window_hu``,
    the HU range [0, 1] stands for (None where the data came in [0, 1])."""

    slices: torch.Tensor
    spacing_mm: tuple[float, float, float]
    window_hu: tuple[float, float] | None
    name: str

    def __len__(self) -> int:
        return self.slices.shape[0]

    def slab(self, start: int, stop: int) -> "Volume":
        """Slices ``start`` to ``stop`` - 1 only (a slab of consecutive slices)."""
        if not 0 <= start < stop <= len(self):
            raise InvsolveError(
                f"slices {start}:{stop} are not a slab of this volume's {len(self)} slices (0:{len(self)})"
            )
        return replace(self, slices=self.slices[start:stop])

    def resized(self, image_size: int) -> "Volume":
        """Every slice cut to its centre square and resized to ``image_size``; the in-plane spacing
        follows."""
        square = torch.stack([square_resize(s[None], image_size)[0] for s in self.slices])
        side = min(self.slices.shape[-2:])
        between, rows, columns = self.spacing_mm
        scale = side / image_size
        return replace(self, slices=square, spacing_mm=(between, rows * scale, columns * scale))


def read_volume(
    path: str | os.PathLike, *, window: tuple[float, float] | None = None, image_size: int | None = None
) -> Volume:
    """A volume from a folder of DICOM files (one series), a NIfTI file (``.nii``, ``.nii.gz``;
    needs ``nibabel``), an ``.npy`` array (slices, H, W) or an InVesalius ``.inv3`` project; with
    ``image_size``, every slice made square at that size."""
    path = Path(path)
    if path.is_dir():
        hu, spacing, name = _read_dicom_series(path)
        volume = _windowed(hu, spacing, window, name)
    elif not path.is_file():
        raise InvsolveError(f"no volume at {path}: give a DICOM folder or a {', '.join(VOLUME_SUFFIXES)} file")
    elif path.name.lower().endswith(NIFTI_SUFFIXES):
        hu, spacing = _read_nifti(path)
        volume = _windowed(hu, spacing, window, path.name)
    elif path.suffix.lower() == ".inv3":
        ct = headct.read_volume(path)
        volume = _windowed(ct.hu, ct.spacing_mm, window, ct.name)
    elif path.suffix.lower() == ".npy":
        volume = _read_npy_stack(path, window)
    else:
        raise InvsolveError(
            f"cannot read {path.name} as a volume: give a DICOM folder or a {', '.join(VOLUME_SUFFIXES)} file"
        )
    return volume.resized(image_size) if image_size is not None else volume


def write_volume(path: str | os.PathLike, slices: torch.Tensor, like: Volume) -> Path:
    """Write (D, H, W) slices in [0, 1] with ``like``'s spacing and window: ``.nii`` / ``.nii.gz``
    in HU (float32, the orientation of the module docstring as RAS axes), ``.npy`` as [0, 1] float32."""
    path = Path(path)
    array = slices.detach().float().clamp(0, 1).cpu().numpy()
    if array.ndim != 3:
        raise InvsolveError(f"a volume is (slices, H, W); got shape {tuple(array.shape)}")
    if path.suffix.lower() == ".npy":
        return atomic_write(path, lambda f: np.save(f, array))
    if not path.name.lower().endswith(NIFTI_SUFFIXES):
        raise InvsolveError(f"write a volume as {', '.join(NIFTI_SUFFIXES)} or .npy, not {path.name}")
    nibabel = _nibabel()
    low, high = like.window_hu or (0.0, 1.0)
    values = low + array * (high - low)
    between, rows, columns = like.spacing_mm
    # (slices, rows, columns) -> RAS (x, y, z): columns run to the patient's left, rows to posterior
    ras = np.ascontiguousarray(values.transpose(2, 1, 0)[::-1, ::-1, :], dtype=np.float32)
    image = nibabel.Nifti1Image(ras, np.diag([columns, rows, between, 1.0]))
    image.header.set_xyzt_units("mm")
    data = image.to_bytes()
    if path.name.lower().endswith(".gz"):
        data = gzip.compress(data, mtime=0)
    return atomic_write(path, lambda f: f.write(data))


def _windowed(
    hu: np.ndarray, spacing: tuple[float, float, float], window: tuple[float, float] | None, name: str
) -> Volume:
    """HU through ``window`` (default the CT window) as a Volume."""
    window = window or CT_WINDOW_HU
    between, rows, columns = (float(s) for s in spacing)
    return Volume(torch.from_numpy(window_to_unit(hu, window)), (between, rows, columns), window, name)


def _read_npy_stack(path: Path, window: tuple[float, float] | None) -> Volume:
    array = read_npy(path)
    if array.ndim != 3:
        raise InvsolveError(f"{path.name} holds an array of shape {array.shape}; a volume is (slices, H, W)")
    slices = to_unit_range(array, path.name, window)
    return Volume(slices, (1.0, 1.0, 1.0), window, path.stem)


def _read_nifti(path: Path) -> tuple[np.ndarray, tuple[float, float, float]]:
    """HU (slices, rows, columns) and spacing of a NIfTI file, turned to the closest RAS axes."""
    nibabel = _nibabel()
    try:
        image = nibabel.as_closest_canonical(nibabel.load(str(path)))
        data = np.asarray(image.get_fdata(dtype=np.float32))
    except Exception as err:  # nibabel raises many types for damaged files
        raise InvsolveError(f"cannot read {path.name} as NIfTI: {err}") from None
    if data.ndim == 4 and data.shape[3] == 1:
        data = data[..., 0]
    if data.ndim != 3:
        raise InvsolveError(f"{path.name} holds a {data.ndim}-D image of shape {data.shape}; a volume is 3D")
    if not np.isfinite(data).all():
        raise InvsolveError(f"{path.name} contains NaN or Inf values; clean the volume first")
    x, y, z = (float(s) for s in image.header.get_zooms()[:3])
    # RAS (x, y, z) -> (slices from inferior, rows from anterior, columns from the patient's right)
    return np.ascontiguousarray(data[::-1, ::-1, :].transpose(2, 1, 0)), (z, y, x)


def _read_dicom_series(folder: Path) -> tuple[np.ndarray, tuple[float, float, float], str]:
    """HU (slices, rows, columns), spacing and a name of the one DICOM series in ``folder``."""
    try:
        import pydicom
    except ImportError:
        raise InvsolveError("reading DICOM needs pydicom: pip install 'invsolve[dicom]'") from None
    files = sorted(p for p in folder.iterdir() if p.is_file() and is_dicom_file(p))
    if not files:
        raise InvsolveError(f"{folder} holds no DICOM files")
    headers = []
    for file in files:
        try:
            headers.append((file, pydicom.dcmread(str(file), stop_before_pixels=True)))
        except Exception as err:  # pydicom raises many types for damaged files
            raise InvsolveError(f"cannot read DICOM {file}: {err}") from None
    series = {str(getattr(h, "SeriesInstanceUID", "")) for _, h in headers}
    if len(series) > 1:
        raise InvsolveError(f"{folder} mixes {len(series)} DICOM series; give a folder with one series")
    normal = _slice_normal(headers[0][1], folder)
    positions = []
    for file, header in headers:
        position = getattr(header, "ImagePositionPatient", None)
        if position is None:
            raise InvsolveError(f"DICOM {file.name} has no ImagePositionPatient: its place in the volume is unknown")
        positions.append(float(np.dot(np.asarray(position, dtype=np.float64), normal)))
    order = np.argsort(positions)
    ordered = np.asarray(positions)[order]
    between = _even_spacing(ordered, folder)
    slices: list[np.ndarray] = []
    for index in order:
        file = headers[index][0]
        try:
            dataset = pydicom.dcmread(str(file))
            pixels = dataset.pixel_array.astype(np.float64)
        except Exception as err:
            raise InvsolveError(f"cannot read DICOM {file}: {err}") from None
        if slices and pixels.shape != slices[0].shape:
            raise InvsolveError(f"DICOM {file.name} is {pixels.shape}, the series' first slice {slices[0].shape}")
        slope, intercept = (
            float(getattr(dataset, "RescaleSlope", 1.0)),
            float(getattr(dataset, "RescaleIntercept", 0.0)),
        )
        slices.append(pixels * slope + intercept)
    first = headers[order[0]][1]
    rows, columns = (float(s) for s in getattr(first, "PixelSpacing", (1.0, 1.0)))
    name = str(getattr(first, "SeriesDescription", "") or folder.name)
    return np.stack(slices), (between, rows, columns), name


def _slice_normal(header: Any, folder: Path) -> np.ndarray:
    orientation = getattr(header, "ImageOrientationPatient", None)
    if orientation is None:
        return np.array([0.0, 0.0, 1.0])
    row, column = np.asarray(orientation[:3], dtype=np.float64), np.asarray(orientation[3:], dtype=np.float64)
    normal = np.cross(row, column)
    if np.linalg.norm(normal) < 0.5:
        raise InvsolveError(f"{folder}: ImageOrientationPatient {list(orientation)} is not two orthogonal directions")
    return normal / np.linalg.norm(normal)


def _even_spacing(positions: np.ndarray, folder: Path) -> float:
    """The distance between neighbouring slices, or a one-line error naming what is uneven."""
    if len(positions) < 2:
        raise InvsolveError(f"{folder} holds one DICOM slice; a volume needs two or more")
    steps = np.diff(positions)
    if steps.min() <= SPACING_TOLERANCE * max(np.median(steps), 1e-9):
        at = positions[int(steps.argmin())]
        raise InvsolveError(f"{folder}: two DICOM slices lie at the same position ({at:.2f} mm along the normal)")
    spacing = float(np.median(steps))
    uneven = np.abs(steps - spacing) > SPACING_TOLERANCE * spacing
    if uneven.any():
        k = int(np.flatnonzero(uneven)[0])
        gap = steps[k]
        missing = round(gap / spacing) - 1
        if missing >= 1 and abs(gap - (missing + 1) * spacing) <= SPACING_TOLERANCE * spacing * (missing + 1):
            raise InvsolveError(
                f"{folder}: {missing} slice(s) missing between {positions[k]:.2f} and {positions[k + 1]:.2f} mm "
                f"(spacing {spacing:.3g} mm)"
            )
        raise InvsolveError(
            f"{folder}: unequal slice spacing ({steps.min():.3g} to {steps.max():.3g} mm); a volume needs even spacing"
        )
    return spacing


def _nibabel() -> Any:
    try:
        import nibabel
    except ImportError:
        raise InvsolveError("reading or writing NIfTI needs nibabel: pip install 'invsolve[volume]'") from None
    return nibabel
