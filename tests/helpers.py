"""Small files the tests write (real formats, made on the spot)."""

import numpy as np


def write_test_dicom(
    path,
    pixels: np.ndarray,
    intercept: float = -1024.0,
    *,
    series: str | None = None,
    patient: str = "",
    z: float | None = None,
    modality: str = "CT",
    pixel_spacing: tuple[float, float] | None = None,
):
    """A minimal CT DICOM file (used by the tests of readers, folder sources and data preparation);
    ``series``/``patient``/``z``/``pixel_spacing`` set the volume, slice position and pixel size."""
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID, ds.SOPInstanceUID, ds.Modality = CTImageStorage, meta.MediaStorageSOPInstanceUID, modality
    ds.Rows, ds.Columns = pixels.shape
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
    ds.RescaleIntercept, ds.RescaleSlope = intercept, 1.0
    ds.SeriesInstanceUID = series or generate_uid()
    ds.PatientID = patient
    if z is not None:
        ds.ImagePositionPatient = [0.0, 0.0, z]
        ds.ImageOrientationPatient = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
    if pixel_spacing is not None:
        ds.PixelSpacing = list(pixel_spacing)
    ds.PixelData = pixels.astype(np.uint16).tobytes()
    ds.save_as(str(path), enforce_file_format=True)
    return path


TINY_RUN = dict(
    net="tiny", image_size=64, patch_sizes=(16, 8), patch_probs=(0.6, 0.4), max_images=8, batch=8, lr=1e-3, seed=3
)


def train_tiny(out, duration="320", **changes):
    """Train a tiny prior (``duration`` in images) on 8 phantoms; returns the file."""
    from invsolve.priors import TrainingConfig, train

    return train(
        TrainingConfig(out=str(out), duration=duration, command="test", **(TINY_RUN | changes)), progress=False
    )


def tiny_train_flags(**changes) -> list[str]:
    """``TINY_RUN`` (with ``changes``) as ``invsolve train`` flags, for the command-line tests."""
    settings = TINY_RUN | changes
    flags = []
    for key in ("net", "image_size", "patch_sizes", "patch_probs", "max_images", "batch"):
        value = settings[key]
        flags += [f"--{key.replace('_', '-')}", ",".join(map(str, value)) if isinstance(value, tuple) else str(value)]
    return flags


#: The colours of ``write_cmyk_jpeg``'s two halves, as RGB in 0..255.
CMYK_HALVES = ((200, 100, 0), (30, 60, 220))


def write_cmyk_jpeg(path) -> None:
    """A 32x32 print-ready JPEG in CMYK: its top half and bottom half in the two ``CMYK_HALVES``."""
    from PIL import Image

    rgb = np.zeros((32, 32, 3), dtype=np.uint8)
    rgb[:16], rgb[16:] = CMYK_HALVES
    Image.fromarray(rgb).convert("CMYK").save(path, quality=95)
