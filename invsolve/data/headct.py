"""A real head CT: the example volume of InVesalius, read from the user's installed copy.

Debian's package ``invesalius-examples`` installs ``Cranium.inv3`` (the InVesalius project of the
head scan "ProMED CT 0051"; licence GPL-2, see the package's copyright file). An ``.inv3`` file is
a gzip-compressed tar: ``main.plist`` (an XML property list) describes ``matrix.dat``, the raw
Hounsfield units in C order, (slices, rows, columns) = (108, 256, 256) here, with spacing
0.957 x 0.957 mm in-plane and 1.5 mm between slices, axial from the jaw (slice 0) to the vertex.

Neighbouring slices 1.5 mm apart are near duplicates, so both splits leave a gap of ``GAP`` slices
between every training slice and every validation or test slice: ``split_slices`` holds out short
blocks in two regions (for 2D work), ``split_slabs`` two contiguous slabs of ``SLAB`` slices (for
volumes, whose reconstruction couples neighbouring slices).
"""

import functools
import itertools
import os
import plistlib
import tarfile
from dataclasses import dataclass
from pathlib import Path, PurePath

import numpy as np

from invsolve.errors import InvsolveError

#: Where ``apt-get install -y invesalius-examples`` puts the volume.
DEFAULT_PATH = Path("/usr/share/doc/invesalius-examples/examples/Cranium.inv3")
PACKAGE = "invesalius-examples"
INSTALL_COMMAND = f"apt-get install -y {PACKAGE}"
LICENCE = "GPL-2"

#: No training slice lies within GAP slices of a validation or test slice (3 x 1.5 mm = 4.5 mm).
GAP = 3
#: Held-out slices come in blocks of BLOCK, in two regions of the volume. Each region holds one
#: test and one validation block, GAP slices apart, in alternating order; on Cranium.inv3 (108
#: slices) the regions start at slices 15 (skull base, sinuses) and 61 (mid-cranium).
BLOCK = 4
REGION_STARTS = (0.14, 0.565)
#: Fewer slices than this cannot hold the two regions and leave training slices between them.
MIN_SLICES = 48
#: The volume layout: a validation slab and a test slab of SLAB slices each, GAP slices apart, the
#: first starting at SLABS_START of the volume; on Cranium.inv3 validation is slices 38-53 and test
#: 57-72 (orbits to mid-cranium, 57 to 108 mm above the first slice).
SLAB = 16
SLABS_START = 0.35


@dataclass(frozen=True)
class CTVolume:
    """A CT volume in Hounsfield units, (slices, rows, columns), rows running anterior to posterior."""

    hu: np.ndarray
    spacing_mm: tuple[float, float, float]  # (between slices, between rows, between columns)
    name: str
    path: Path

    def __len__(self) -> int:
        return self.hu.shape[0]


def missing_message(path: Path) -> str:
    """The one line a user sees when the volume is not there."""
    return (
        f"the head-CT volume {path} is missing: install it with `{INSTALL_COMMAND}`, or give the path "
        "of an .inv3 file (--data PATH.inv3, or get_source('headct', path=PATH))"
    )


def read_volume(path: str | os.PathLike | None = None) -> CTVolume:
    """Read an InVesalius ``.inv3`` project (default: the installed ``Cranium.inv3``) as a CTVolume."""
    path = Path(path) if path is not None else DEFAULT_PATH
    if not path.is_file():
        raise InvsolveError(missing_message(path))
    stat = path.stat()
    return _read_volume(path.resolve(), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=2)
def _read_volume(path: Path, mtime_ns: int, size: int) -> CTVolume:
    """Cached per file version: every split and every image of a run reads the archive once."""
    try:
        with tarfile.open(path, "r:gz") as archive:
            members = {PurePath(m.name).name: m for m in archive.getmembers() if m.isfile()}
            if "main.plist" not in members:
                raise InvsolveError(f"{path} is not an InVesalius project: it has no main.plist")
            header = plistlib.loads(archive.extractfile(members["main.plist"]).read())
            matrix = header.get("matrix", {})
            shape = tuple(int(n) for n in matrix.get("shape", ()))
            dtype = np.dtype(matrix.get("dtype", "int16")).newbyteorder("<")
            if header.get("modality") != "CT" or len(shape) != 3 or matrix.get("filename") not in members:
                raise InvsolveError(f"{path} holds no CT volume (modality {header.get('modality')!r}, shape {shape})")
            raw = archive.extractfile(members[matrix["filename"]]).read()
    except (tarfile.TarError, OSError, EOFError, plistlib.InvalidFileException, TypeError, ValueError) as error:
        raise InvsolveError(f"cannot read {path} as an InVesalius project (.inv3): {error}") from None
    if len(raw) != dtype.itemsize * int(np.prod(shape)):
        raise InvsolveError(f"{path}: matrix holds {len(raw)} bytes, but its header says {shape} of {dtype}")
    # InVesalius stores rows posterior-first (the head holder at the top); flip them so the face is up,
    # the radiological convention and the orientation of the phantoms (their table at the bottom).
    hu = np.frombuffer(raw, dtype=dtype).reshape(shape)[:, ::-1, :].astype(np.int16)
    column, row, between = (float(s) for s in header.get("spacing", (1.0, 1.0, 1.0)))
    return CTVolume(hu, (between, row, column), str(header.get("name", path.stem)), path)


def split_slices(count: int) -> dict[str, tuple[int, ...]]:
    """Slice indices of each split of a volume of ``count`` slices.

    Test and validation are two blocks of ``BLOCK`` slices in each of two regions; training is
    every slice more than ``GAP`` slices from all of them, ordered so that its first N slices spread
    over the volume (``spread_order``): ``--max-images N`` takes a sample of the whole head.
    """
    if count < MIN_SLICES:
        raise InvsolveError(f"a head-CT volume needs at least {MIN_SLICES} slices for its splits, got {count}")
    held_out: dict[str, list[int]] = {"test": [], "validation": []}
    for region, fraction in enumerate(REGION_STARTS):
        first = round(fraction * count)
        order = ("test", "validation") if region % 2 == 0 else ("validation", "test")
        for block, split in enumerate(order):
            start = first + block * (BLOCK + GAP)
            held_out[split].extend(range(start, start + BLOCK))
    excluded = {s for split in held_out.values() for i in split for s in range(i - GAP, i + GAP + 1)}
    train = [i for i in range(count) if i not in excluded]
    return {"train": spread_order(train), "validation": tuple(held_out["validation"]), "test": tuple(held_out["test"])}


def split_slabs(count: int) -> dict[str, tuple[int, ...]]:
    """Slice indices of each split of a volume of ``count`` slices in the volume layout: two
    contiguous slabs (validation, then test), and for training every slice more than ``GAP`` slices
    from both, spread over the volume as in ``split_slices``."""
    if not _slabs_fit(count):
        smallest = next(n for n in itertools.count(count + 1) if _slabs_fit(n))
        raise InvsolveError(f"a head-CT volume needs at least {smallest} slices for two slabs of {SLAB}, got {count}")
    first, last = _slab_bounds(count)
    validation, test = range(first, first + SLAB), range(first + SLAB + GAP, last)
    train = [i for i in range(count) if not first - GAP <= i < last + GAP]
    return {"train": spread_order(train), "validation": tuple(validation), "test": tuple(test)}


def _slab_bounds(count: int) -> tuple[int, int]:
    """The first slice of the validation slab and one past the last of the test slab."""
    first = round(SLABS_START * count)
    return first, first + 2 * SLAB + GAP


def _slabs_fit(count: int) -> bool:
    """Whether both slabs, their gaps and training slices on either side fit in ``count`` slices."""
    first, last = _slab_bounds(count)
    return first - GAP >= 1 and last + GAP < count


def spread_order(indices) -> tuple[int, ...]:
    """Farthest-point order: start at the middle, then always the index farthest from those taken."""
    remaining = sorted(indices)
    if not remaining:
        return ()
    taken = [remaining.pop(len(remaining) // 2)]
    while remaining:
        gaps = [min(abs(i - t) for t in taken) for i in remaining]
        taken.append(remaining.pop(gaps.index(max(gaps))))
    return tuple(taken)
