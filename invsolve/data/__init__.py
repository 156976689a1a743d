"""Image sources: built-in data that needs no download, and users' own folders.

``get_source(name, split, image_size, channels)`` takes ``"phantoms"`` (procedural CT slices),
``"photos"`` (photographs shipped inside installed packages), ``"headct"`` (a real head CT from
the Debian package ``invesalius-examples``, or any ``.inv3`` file) or a folder path. Every source
is a sequence of (C, H, W) float32 tensors in [0, 1], square ``image_size`` x ``image_size``.
"""

import os
from collections.abc import Sequence
from pathlib import Path

import torch

from invsolve.catalog import BUILTIN_SOURCES, SOURCE_FOR_DOMAIN, SPLITS
from invsolve.data import headct
from invsolve.data.phantoms import MAX_SIZE, MIN_SIZE, ct_phantom, phantom_seed
from invsolve.data.photos import VIEWS, photo_entries
from invsolve.errors import InvsolveError
from invsolve.io import READABLE_SUFFIXES, centre_square, convert_channels, is_dicom_file, read_image, square_resize
from invsolve.units import CT_WINDOW_HU, window_to_unit


class ImageSource(Sequence):
    """A fixed, ordered list of images of one size and channel count."""

    name: str
    split: str
    image_size: int
    channels: int

    def label(self, index: int) -> str:
        """A short, stable name of image ``index`` (for result files and figure titles)."""
        raise NotImplementedError

    def provenance(self, count: int | None = None) -> dict:
        """Where the first ``count`` images (default all) come from and under which licence
        (recorded in trained priors)."""
        return {}

    def batch(self, indices) -> torch.Tensor:
        """Images ``indices`` stacked to (B, C, H, W)."""
        return torch.stack([self[i] for i in indices])

    def _check_index(self, index: int) -> int:
        if not -len(self) <= index < len(self):
            raise IndexError(f"{self.name} {self.split} has {len(self)} images, no index {index}")
        return index % len(self)


class Phantoms(ImageSource):
    """Procedural CT slices (``invsolve.data.phantoms``); image i of a split is seed base + i."""

    def __init__(self, split: str = "test", image_size: int = 128, channels: int = 1, count: int | None = None):
        _check_split(split)
        if not MIN_SIZE <= image_size <= MAX_SIZE:
            raise InvsolveError(f"phantoms come in sizes {MIN_SIZE} to {MAX_SIZE}, got {image_size}")
        self.name, self.split, self.image_size, self.channels = "phantoms", split, image_size, channels
        self.count = count if count is not None else {"train": 10_000, "validation": 100, "test": 100}[split]

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index: int) -> torch.Tensor:
        seed = phantom_seed(self.split, self._check_index(index))
        return convert_channels(torch.from_numpy(ct_phantom(seed, self.image_size))[None], self.channels)

    def label(self, index: int) -> str:
        return f"phantom-{phantom_seed(self.split, self._check_index(index))}"


class Photos(ImageSource):
    """Bundled photographs (``invsolve.data.photos``), five square views per file."""

    def __init__(self, split: str = "test", image_size: int = 128, channels: int = 3):
        _check_split(split)
        self.name, self.split, self.image_size, self.channels = "photos", split, image_size, channels
        self.entries = photo_entries(split)

    def __len__(self) -> int:
        return len(self.entries)

    def __getitem__(self, index: int) -> torch.Tensor:
        path, view = self.entries[self._check_index(index)]
        square = centre_square(read_image(path, channels=self.channels))
        if view != "full":
            half = square.shape[-1] // 2
            top = half if view.startswith("bottom") else 0
            left = half if view.endswith("right") else 0
            square = square[:, top : top + half, left : left + half]
        return square_resize(square, self.image_size)

    def label(self, index: int) -> str:
        path, view = self.entries[self._check_index(index)]
        return f"{Path(path).stem}-{view}"


class HeadCT(ImageSource):
    """Axial slices of a real head CT (``invsolve.data.headct``), windowed like DICOM.

    ``path`` is an InVesalius ``.inv3`` file (default: the one ``invesalius-examples`` installs);
    ``window`` the HU range mapped to [0, 1] (default ``CT_WINDOW_HU``). The splits keep a gap of
    ``headct.GAP`` slices between training and held-out slices (``headct.split_slices``).
    """

    def __init__(
        self,
        split: str = "test",
        image_size: int = 128,
        channels: int = 1,
        path: str | os.PathLike | None = None,
        window: tuple[float, float] | None = None,
    ):
        _check_split(split)
        self.volume = headct.read_volume(path)
        self.slices = headct.split_slices(len(self.volume))[split]
        self.name, self.split, self.image_size, self.channels = "headct", split, image_size, channels
        self.window = window or CT_WINDOW_HU

    def __len__(self) -> int:
        return len(self.slices)

    def __getitem__(self, index: int) -> torch.Tensor:
        return self.volume_slice(self.slices[self._check_index(index)])

    def volume_slice(self, slice_index: int) -> torch.Tensor:
        """Slice ``slice_index`` of the whole volume, whatever its split, as this source's images are."""
        image = torch.from_numpy(window_to_unit(self.volume.hu[slice_index], self.window))[None]
        return convert_channels(square_resize(image, self.image_size), self.channels)

    def label(self, index: int) -> str:
        return f"slice-{self.slices[self._check_index(index)]:03d}"

    def provenance(self, count: int | None = None) -> dict:
        return {
            "name": self.volume.name,
            "file": str(self.volume.path),
            "package": headct.PACKAGE,
            "licence": headct.LICENCE,
            "window_hu": list(self.window),
            "slices": list(self.slices[:count]),  # the slices trained on, in the order they are taken
        }


class Folder(ImageSource):
    """The user's own images: every readable file in a folder (sorted by name).

    If the folder has ``train/``, ``validation/`` or ``test/`` subfolders, the split picks one;
    otherwise all files form every split. DICOM slices are windowed like the phantoms.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        split: str = "test",
        image_size: int = 128,
        channels: int | None = None,
        window: tuple[float, float] | None = None,
    ):
        _check_split(split)
        root = Path(path)
        if not root.is_dir():
            raise InvsolveError(f"image folder {root} does not exist; give a folder of PNG/JPEG/TIFF/NPY/DICOM files")
        folder = root / split if (root / split).is_dir() else root
        self.files = sorted(p for p in folder.iterdir() if p.is_file() and _readable(p))
        if not self.files:
            raise InvsolveError(f"no readable images in {folder}; supported: {', '.join(sorted(READABLE_SUFFIXES))}")
        self.name, self.split, self.image_size, self.window = str(root), split, image_size, window
        self.channels = channels or read_image(self.files[0], window=window).shape[0]

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> torch.Tensor:
        return read_image(
            self.files[self._check_index(index)], channels=self.channels, image_size=self.image_size, window=self.window
        )

    def label(self, index: int) -> str:
        return self.files[self._check_index(index)].stem


def get_source(
    name: str, split: str = "test", image_size: int = 128, channels: int | None = None, **options
) -> ImageSource:
    """``"phantoms"``, ``"photos"``, ``"headct"``, an ``.inv3`` file or a folder path, as an ImageSource."""
    if name == "phantoms":
        return Phantoms(split, image_size, channels or 1, **options)
    if name == "photos":
        return Photos(split, image_size, channels or 3, **options)
    if name == "headct":
        return HeadCT(split, image_size, channels or 1, **options)
    if Path(name).suffix == ".inv3":
        return HeadCT(split, image_size, channels or 1, path=name, **options)
    if Path(name).is_dir():
        return Folder(name, split, image_size, channels, **options)
    raise InvsolveError(
        f"unknown image source {name!r}; use {', '.join(BUILTIN_SOURCES)}, an .inv3 file or a folder path"
    )


def leakage(held_out: ImageSource, train: ImageSource) -> list[tuple[str, str, float]]:
    """For each held-out image, its most similar training image and their PSNR in dB.

    A split leaks when a test image has a near-copy in training (neighbouring CT slices do): a
    prior could then score well by remembering. Compare the numbers with the PSNR of two adjacent
    slices, and with the methods' own PSNR on the held-out images.
    """
    from invsolve.metrics import psnr  # scikit-image's SSIM module loads with it: only here

    training = train.batch(range(len(train)))
    nearest = []
    for index in range(len(held_out)):
        scores = psnr(training, held_out[index].expand_as(training))
        best = max(range(len(scores)), key=scores.__getitem__)
        nearest.append((held_out.label(index), train.label(best), scores[best]))
    return nearest


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise InvsolveError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")


def _readable(path: Path) -> bool:
    suffix = path.suffix.lower()
    if suffix in READABLE_SUFFIXES:
        return True
    return suffix == "" and is_dicom_file(path)


__all__ = [
    "SOURCE_FOR_DOMAIN",
    "SPLITS",
    "VIEWS",
    "Folder",
    "HeadCT",
    "ImageSource",
    "Phantoms",
    "Photos",
    "ct_phantom",
    "get_source",
    "leakage",
    "phantom_seed",
]
